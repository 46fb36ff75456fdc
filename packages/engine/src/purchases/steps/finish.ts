/**
 * How a request ends: voiding a live payment authorization first (the customer is charged only
 * for a confirmed order), then the terminal status — and the endings the fallback policy names.
 */
import type { SqlError } from "effect/sql"
import { Effect } from "effect"
import type { LeaseLost, RequestChanges, TerminalStatus } from "../../internal/purchaseStore.js"
import * as FallbackPolicy from "../FallbackPolicy.js"
import * as PurchaseKeys from "../PurchaseKeys.js"
import { decodeOffer, next, park, type RunContext, type Step } from "./Run.js"

/** Ends the request, voiding a live authorization first. */
export const finish = (ctx: RunContext, status: TerminalStatus, reason: string, changes?: RequestChanges): Effect.Effect<Step, LeaseLost | SqlError.SqlError> =>
  Effect.gen(function* () {
    const authorization = yield* ctx.store.liveAuthorization(ctx.row.id)
    if (authorization !== undefined) {
      const key = PurchaseKeys.payment(ctx.row.id, "void", authorization.round)
      const operation = yield* ctx.intent("void", authorization.round, key, 0)
      const voided = yield* Effect.result(ctx.withQuickRetry(ctx.gateway.void({ idempotencyKey: key, providerRef: authorization.provider_ref! })))
      yield* ctx.crash("void", ctx.row.id)
      if (voided._tag === "Failure") {
        if (voided.failure._tag === "PaymentUnavailable") {
          return park(ctx.backoff(operation.tries), "releasing the payment authorization: the payment provider did not answer; trying again")
        }
        // The provider refuses to void: leave the authorization marked live for the reconciler, end the request.
        yield* ctx.transition("failed", `void_rejected: ${voided.failure.detail}`, undefined, [ctx.writes.settlePayment(key, "rejected", null, false, voided.failure.detail)])
        return next
      }
      yield* ctx.transition(status, reason, changes, [ctx.writes.settlePayment(key, "succeeded", authorization.provider_ref, false, null), ctx.writes.endAuthorization()])
      return next
    }
    yield* ctx.transition(status, reason, changes)
    return next
  })

/** Ends the request as the fallback policy says (a counter-offer with `price_not_met`). */
export const end = (ctx: RunContext, ending: FallbackPolicy.Ending) => {
  switch (ending._tag) {
    case "SellersBusy":
      return finish(ctx, "sellers_busy", ending.reason)
    case "NotAvailable":
      return finish(ctx, "not_available", ending.reason)
    case "PriceNotMet":
      return finish(ctx, "price_not_met", ending.reason, {
        counter_offer: FallbackPolicy.counterOffer(ctx.row.round, ending.cheapest, decodeOffer(ending.cheapest.offer).expiresAt)
      })
  }
}
