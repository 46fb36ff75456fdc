/**
 * A confirmed order: capture the real price (never more than authorized) and end `purchased`,
 * the capture's outcome and the status in one write. An order in another currency is charged at
 * the rate the request's offers were priced at (`ctx.exchange`).
 */
import { Money } from "@bookbroker/adapter-sdk"
import { Effect } from "effect"
import type { AttemptRow, PaymentOperationRow } from "../store/PurchaseStore.js"
import * as PurchaseKeys from "../PurchaseKeys.js"
import { next, park, type RunContext } from "./Run.js"

/** What the seller charged in its own currency, when that is not the request's: told with `purchased`. */
const sellerPrice = (attempt: AttemptRow) =>
  attempt.order_currency === null || attempt.order_total === null
    ? {}
    : { seller_price: { amount: attempt.order_total, currency: attempt.order_currency } }

export const capture = (ctx: RunContext, attempt: AttemptRow) =>
  Effect.gen(function* () {
    // A confirmed attempt always has its order's total (`purchase.ts`); without one nothing is captured.
    const orderTotal =
      attempt.order_total === null
        ? undefined
        : attempt.order_currency === null
          ? attempt.order_total
          : ctx.exchange.convert(Money.make(attempt.order_total, attempt.order_currency))?.amount
    if (attempt.reason?.startsWith("order_currency_mismatch") === true || orderTotal === undefined) {
      // Nothing sensible to capture: a person settles it (the finding says how).
      return park(ctx.maxBackoff, `the order at ${attempt.seller_name} needs an operator's check before payment`)
    }
    const key = PurchaseKeys.payment(ctx.row.id, "capture", ctx.row.round)
    const authorization: PaymentOperationRow | undefined = yield* ctx.store.liveAuthorization(ctx.row.id)
    if (authorization === undefined) {
      // Settled already (the capture ends the authorization): finish from the record. Only
      // data written before capture and `purchased` were one transaction can look like this.
      const payments = yield* ctx.store.payments(ctx.row.id)
      const settled = payments.find((payment) => payment.idempotency_key === key && payment.status === "succeeded")
      if (settled === undefined) {
        yield* ctx.transition("failed", "order_without_authorization")
        return next
      }
      const authorizedBy = payments.find((payment) => payment.kind === "authorize" && payment.provider_ref === settled.provider_ref)
      yield* ctx.transition("purchased", orderTotal > (authorizedBy?.amount ?? settled.amount) ? "seller_charged_above_max" : null, {
        final_amount: settled.amount,
        seller_id: attempt.seller_id,
        order_id: attempt.order_id,
        ...sellerPrice(attempt)
      })
      return next
    }
    const authorized = authorization.amount
    // Never more than the customer authorized; an order above it is a finding (see `confirmed`).
    const amount = Math.min(orderTotal, authorized)
    const operation = yield* ctx.intent("capture", ctx.row.round, key, amount)
    const captured = yield* Effect.result(
      ctx.withQuickRetry(ctx.gateway.capture({ idempotencyKey: key, providerRef: authorization.provider_ref!, amount: Money.make(amount, ctx.currency) }))
    )
    yield* ctx.crash("capture", ctx.row.id)
    if (captured._tag === "Failure") {
      if (captured.failure._tag === "PaymentUnavailable") return park(ctx.backoff(operation.tries), "taking the payment: the payment provider did not answer; trying again")
      if (captured.failure.authorizationEnded === true) {
        // The provider's own record says the authorization is gone (it lapsed, or was
        // voided): recorded as ended with the refusal, so nobody tries to void or count it
        // as held. The seller's order stays unpaid: the reconciler's order_without_capture.
        yield* ctx.transition("failed", `capture_rejected: the authorization ended at the payment provider before the capture (${captured.failure.detail})`, undefined, [
          ctx.writes.settlePayment(key, "rejected", null, false, captured.failure.detail),
          ctx.writes.endAuthorization()
        ])
        return next
      }
      yield* ctx.transition("failed", `capture_rejected: ${captured.failure.detail}`, undefined, [ctx.writes.settlePayment(key, "rejected", null, false, captured.failure.detail)])
      return next
    }
    // The capture's outcome and `purchased` commit together: a worker that stops in between
    // must not leave a charged, ordered request for the next one to find without authorization.
    yield* ctx.transition(
      "purchased",
      orderTotal > authorized ? "seller_charged_above_max" : null,
      { final_amount: amount, seller_id: attempt.seller_id, order_id: attempt.order_id, ...sellerPrice(attempt) },
      [ctx.writes.settlePayment(key, "succeeded", authorization.provider_ref, false, null), ctx.writes.endAuthorization()]
    )
    return next
  })
