/** Current offers for a book, straight from the quote engine (cache, coalescing and the offer index included): each says where its price comes from and how old it is. */
import { HttpApiBuilder } from "effect/http-api"
import { QuoteEngine } from "@bookbroker/engine"
import { Clock, Effect } from "effect"
import { BookbrokerApi } from "../Api.js"
import { CurrentCustomer } from "../Auth.js"
import { Settings } from "../Config.js"
import { limit } from "./RateLimit.js"

export const BooksLive = HttpApiBuilder.group(BookbrokerApi, "books", (handlers) =>
  Effect.gen(function* () {
    const engine = yield* QuoteEngine.QuoteEngine
    const settings = yield* Settings
    return handlers.handle("offers", ({ params, query }) =>
      Effect.gen(function* () {
        const customer = yield* CurrentCustomer
        yield* limit(`offers:${customer.id}`, settings.customerRateLimit)
        const book = yield* engine.quotes(params.isbn, { currency: query.currency ?? "EUR", deadlineMillis: settings.offersDeadlineMillis })
        const now = yield* Clock.currentTimeMillis
        return {
          isbn: book.isbn,
          currency: book.currency,
          offers: book.offers.map((offer) => ({
            seller_id: offer.sellerId,
            seller_name: offer.sellerName,
            price: { amount: offer.offer.price.amount, currency: offer.offer.price.currency },
            shipping: { amount: offer.offer.shipping.amount, currency: offer.offer.shipping.currency },
            total: { amount: offer.total.amount, currency: offer.total.currency },
            condition: offer.offer.condition,
            quantity: offer.offer.quantity,
            expires_at: offer.offer.expiresAt.toISOString(),
            source: offer.source,
            as_of: offer.seenAt?.toISOString() ?? null,
            age_seconds: offer.seenAt === undefined ? null : Math.max(0, Math.floor((now - offer.seenAt.getTime()) / 1000))
          })),
          sellers: book.outcomes.map((outcome) => ({
            seller_id: outcome.sellerId,
            seller_name: outcome.sellerName,
            status: outcome.status,
            reason: outcome.reason ?? null,
            cached: outcome.cached,
            latency_ms: outcome.latencyMillis
          })),
          duration_ms: book.durationMillis
        }
      })
    )
  })
)
