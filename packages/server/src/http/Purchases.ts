/** Customer purchase handlers: thin mapping between the wire and the engine's `Purchases`. */
import { HttpApiBuilder } from "effect/http-api"
import { Purchases } from "@bookbroker/engine"
import type { Money } from "@bookbroker/adapter-sdk"
import { Effect } from "effect"
import { BookbrokerApi } from "../Api.js"
import { CurrentCustomer } from "../Auth.js"
import * as Problem from "../Problem.js"
import { answer } from "./RateLimit.js"
import { SubmitPurchase } from "./SubmitPurchase.js"

const money = (value: Money.Money) => ({ amount: value.amount, currency: value.currency })

export const toWire = (view: Purchases.PurchaseView) => ({
  id: view.id,
  status: view.status,
  terminal: view.terminal,
  ...view.request,
  reason: view.reason,
  final_price: view.finalPrice === null ? null : money(view.finalPrice),
  seller_price: view.sellerPrice === null ? null : money(view.sellerPrice),
  exchange_rates: view.exchangeRates.map((rate) => ({
    from: rate.from,
    to: rate.to,
    rate: rate.rate,
    margin_percent: rate.marginPercent,
    date: rate.date,
    source: rate.source
  })),
  seller_id: view.sellerId,
  order_id: view.orderId,
  counter_offer:
    view.counterOffer === null
      ? null
      : {
          seller_id: view.counterOffer.sellerId,
          seller_name: view.counterOffer.sellerName,
          price: money(view.counterOffer.price),
          expires_at: view.counterOffer.expiresAt,
          accept_url: `/v1/purchase-requests/${view.id}/accept`
        },
  attempts: view.attempts.map((attempt) => ({
    seller_id: attempt.sellerId,
    seller_name: attempt.sellerName,
    rank: attempt.rank,
    status: attempt.status,
    reason: attempt.reason,
    order_id: attempt.orderId,
    total: attempt.total === null ? null : money(attempt.total)
  })),
  quote_progress:
    view.quoteProgress === null
      ? null
      : {
          sellers: view.quoteProgress.sellers,
          answered: view.quoteProgress.answered,
          failed: view.quoteProgress.failed,
          not_asked: view.quoteProgress.notAsked.length,
          offers: view.quoteProgress.offers,
          updated_at: view.quoteProgress.updatedAt
        },
  waiting: view.waiting,
  created_at: view.createdAt.toISOString(),
  updated_at: view.updatedAt.toISOString(),
  completed_at: view.completedAt === null ? null : view.completedAt.toISOString()
})

export const invalidCursor = Problem.badRequest("cursor is not one this API handed out", [{ pointer: "query:cursor", detail: "unknown cursor" }])

const notFound = (id: string) => Problem.notFound(`no purchase request ${Problem.shownId(id)} for this customer`)

export const PurchasesLive = HttpApiBuilder.group(BookbrokerApi, "purchases", (handlers) =>
  Effect.gen(function* () {
    const purchases = yield* Purchases.Purchases
    const { submit } = yield* SubmitPurchase
    return handlers
      .handle("create", ({ headers, payload }) =>
        Effect.flatMap(CurrentCustomer, (customer) => submit(customer.id, headers["idempotency-key"], payload).pipe(Effect.catchTag("RateLimited", answer)))
      )
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const customer = yield* CurrentCustomer
          const view = yield* purchases.get(params.id, customer.id).pipe(Effect.catchTag("PurchaseNotFound", () => Effect.fail(notFound(params.id))))
          return toWire(view)
        })
      )
      .handle("accept", ({ params, payload }) =>
        Effect.gen(function* () {
          const customer = yield* CurrentCustomer
          const view = yield* purchases.acceptCounterOffer(params.id, customer.id, payload.payment.token).pipe(
            Effect.catchTags({
              PurchaseNotFound: () => Effect.fail(notFound(params.id)),
              CounterOfferNotAvailable: (error) => Effect.fail(Problem.conflict(error.message))
            })
          )
          return toWire(view)
        })
      )
      .handle("cancel", ({ params }) =>
        Effect.gen(function* () {
          const customer = yield* CurrentCustomer
          const view = yield* purchases.cancel(params.id, customer.id).pipe(
            Effect.catchTags({
              PurchaseNotFound: () => Effect.fail(notFound(params.id)),
              CancelNotAllowed: (error) => Effect.fail(Problem.conflict(error.message))
            })
          )
          return toWire(view)
        })
      )
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const customer = yield* CurrentCustomer
          const page = yield* purchases
            .list(customer.id, {
              ...(query.status === undefined ? {} : { status: query.status }),
              ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
              ...(query.limit === undefined ? {} : { limit: query.limit })
            })
            .pipe(Effect.catchTag("InvalidCursor", () => Effect.fail(invalidCursor)))
          return { items: page.items.map(toWire), next_cursor: page.nextCursor }
        })
      )
  })
)
