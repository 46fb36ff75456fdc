/** Current offers for a book, straight from the quote engine (cache, coalescing and the offer index included): each says where its price comes from and how old it is. */
import { HttpApiBuilder } from "effect/http-api"
import { Money } from "@bookbroker/adapter-sdk"
import { BookSearch, Conversion, ExchangeRates, QuoteEngine, RequestBudget } from "@bookbroker/engine"
import { Clock, Effect, Option, Result } from "effect"
import { BookbrokerApi } from "../Api.js"
import { CurrentCustomer } from "../Auth.js"
import { Settings } from "../Config.js"
import * as Problem from "../Problem.js"
import { limit } from "./RateLimit.js"

export const BooksLive = HttpApiBuilder.group(BookbrokerApi, "books", (handlers) =>
  Effect.gen(function* () {
    const engine = yield* QuoteEngine.QuoteEngine
    // Optional: a server built without the engine's rates (tests, embedders) quotes as before.
    const exchangeRates = Option.getOrUndefined(yield* Effect.serviceOption(ExchangeRates.ExchangeRates))
    const books = yield* BookSearch.BookSearch
    const budget = yield* RequestBudget.RequestBudget
    const settings = yield* Settings
    return handlers
      .handle("search", ({ query }) =>
        Effect.gen(function* () {
          const customer = yield* CurrentCustomer
          yield* limit(budget.search, customer.id, settings.customerRateLimit)
          const currency = query.currency ?? "EUR"
          const maxTotal = query.max_total === undefined ? undefined : Money.fromDecimal(query.max_total, currency)
          if (maxTotal !== undefined && Result.isFailure(maxTotal)) {
            return yield* Effect.fail(Problem.validation(`max_total is not an amount in ${currency}`, [{ pointer: "query:max_total", detail: maxTotal.failure }]))
          }
          const page = yield* books
            .search({
              q: query.q,
              currency,
              ...(query.condition === undefined ? {} : { condition: query.condition }),
              ...(query.in_stock === undefined ? {} : { inStock: query.in_stock }),
              ...(maxTotal === undefined ? {} : { maxTotal: maxTotal.success.amount }),
              ...(query.sort === undefined ? {} : { sort: query.sort }),
              ...(query.limit === undefined ? {} : { limit: query.limit }),
              ...(query.cursor === undefined ? {} : { cursor: query.cursor })
            })
            .pipe(Effect.catchTag("InvalidCursor", (error) => Effect.fail(Problem.badRequest(`cursor: ${error.reason}`, [{ pointer: "query:cursor", detail: error.reason }]))))
          const now = yield* Clock.currentTimeMillis
          return {
            isbn: page.isbn,
            currency,
            hits: page.hits.map((hit) => ({
              isbn: hit.isbn,
              title: hit.title,
              author: hit.author,
              publisher: hit.publisher,
              year: hit.year,
              offers: hit.offers,
              other_currencies: hit.otherCurrencies,
              score: hit.score,
              best_offer:
                hit.bestOffer === null
                  ? null
                  : {
                      seller_id: hit.bestOffer.sellerId,
                      seller_name: hit.bestOffer.sellerName,
                      price: hit.bestOffer.price,
                      shipping: hit.bestOffer.shipping,
                      total: hit.bestOffer.total,
                      condition: hit.bestOffer.condition,
                      source: hit.bestOffer.source,
                      as_of: hit.bestOffer.asOf.toISOString(),
                      age_seconds: Math.max(0, Math.floor((now - hit.bestOffer.asOf.getTime()) / 1000))
                    }
            })),
            next_cursor: page.nextCursor
          }
        })
      )
      .handle("offers", ({ params, query }) =>
      Effect.gen(function* () {
        const customer = yield* CurrentCustomer
        yield* limit(budget.offerLookup, customer.id, settings.customerRateLimit)
        const currency = query.currency ?? "EUR"
        // With the operator's rates, offers in other currencies are priced in this one, as a purchase would price them.
        const pricing = exchangeRates === undefined ? undefined : yield* exchangeRates.pricing
        const book = yield* engine.quotes(params.isbn, {
          currency,
          deadlineMillis: settings.offersDeadlineMillis,
          ...(pricing === undefined ? {} : { convert: Conversion.make(currency, null, pricing).convert })
        })
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
