/** `received`: authorize the request's maximum with the payment provider (one key per round), then quote. */
import { Money } from "@bookbroker/adapter-sdk"
import { Effect } from "effect"
import * as PurchaseKeys from "../PurchaseKeys.js"
import { next, park, type RunContext } from "./Run.js"

export const authorize = (ctx: RunContext) =>
  Effect.gen(function* () {
    const paymentToken = ctx.row.payment_token
    // Only a final request has none (cleared when it ended; whatever reopens one brings a new one):
    // nothing to authorize with, and nothing was sent.
    if (paymentToken === null) {
      yield* ctx.transition("failed", "payment_declined: no payment method token on the request")
      return next
    }
    const key = PurchaseKeys.payment(ctx.row.id, "authorize", ctx.row.round)
    const amount = ctx.row.max_amount
    const operation = yield* ctx.intent("authorize", ctx.row.round, key, amount)
    const result = yield* Effect.result(
      ctx.withQuickRetry(
        ctx.gateway.authorize({
          idempotencyKey: key,
          requestId: ctx.row.id,
          amount: Money.make(amount, ctx.currency),
          paymentToken,
          // A want may authorize again when a copy is found, without the customer: keep the payment method for that.
          ...(ctx.row.wait_until === null ? {} : { saveForLater: { idempotencyKey: PurchaseKeys.savedPaymentMethod(ctx.row.id) } })
        })
      )
    )
    yield* ctx.crash("authorize", ctx.row.id)
    if (result._tag === "Success") {
      // Authorized, and quoting starts at once: one write for both.
      yield* ctx.commit({
        transition: { to: "quoting", through: ["authorized"], reason: null },
        writes: [ctx.writes.settlePayment(key, "succeeded", result.success.providerRef, true, null)]
      })
      return next
    }
    const error = result.failure
    if (error._tag === "PaymentDeclined") {
      yield* ctx.transition("failed", `payment_declined: ${error.reason}`, undefined, [ctx.writes.settlePayment(key, "declined", null, false, error.reason)])
      return next
    }
    if (error._tag === "PaymentRejected" || operation.tries >= ctx.maxPaymentTries) {
      // Give up; the sweeper voids whatever the provider may still hold for this request.
      yield* ctx.transition("failed", `payment_unavailable: ${error.detail}`, undefined, [ctx.writes.settlePayment(key, "rejected", null, false, error.detail)])
      return next
    }
    return park(error.retryAfterMillis ?? ctx.backoff(operation.tries), "authorizing the payment: the payment provider did not answer; trying again")
  })
