/**
 * When an operator may run a request again, and how — the rule that keeps a retry from buying
 * twice or holding the customer's money twice. Pure: what is recorded about the request in, the
 * decision out (`Purchases.retry` reads, decides and writes in one transaction).
 *
 * - A request set aside after repeated internal errors (`dead_letter`, not ended) is resumed where
 *   it stopped: its own steps are safe to re-run.
 * - A `failed` request starts a new round (new payment keys, fresh quotes) only when nothing of the
 *   old one may still take effect: no confirmed seller order, no attempt whose outcome is open, no
 *   live authorization, no payment operation without a known outcome, no capture — and, after a
 *   `payment_unavailable` failure, only once the sweeper has asked the provider what it holds. It
 *   needs a payment token (the request's was dropped when it ended).
 * - Anything else is refused, saying why.
 */
import { isTerminal, type AttemptRow, type PaymentOperationRow, type RequestRow } from "./store/PurchaseStore.js"

export interface RetryFacts {
  readonly request: Pick<RequestRow, "status" | "attention" | "reason" | "payment_token">
  /** Someone (the sweeper, the reconciler) holds the request's lease now. */
  readonly leased: boolean
  /** The sweeper has asked the provider what it holds for the request. */
  readonly providerLookedUp: boolean
  readonly attempts: ReadonlyArray<Pick<AttemptRow, "status" | "seller_name" | "order_id">>
  readonly payments: ReadonlyArray<Pick<PaymentOperationRow, "kind" | "status" | "live">>
  /** A new token the operator gave, if any. (Attempts and payments are only needed for a `failed` request nobody holds.) */
  readonly paymentToken?: string
}

export type RetryDecision =
  | { readonly _tag: "Resume" }
  | { readonly _tag: "NewRound"; readonly paymentToken: string }
  | { readonly _tag: "TokenRequired" }
  | { readonly _tag: "Refused"; readonly detail: string }

const refused = (detail: string): RetryDecision => ({ _tag: "Refused", detail })

export const decide = (facts: RetryFacts): RetryDecision => {
  const { request } = facts
  if (request.attention === "dead_letter" && !isTerminal(request.status)) return { _tag: "Resume" }
  if (request.status !== "failed") return refused(`it is ${request.status}; only failed requests (or ones set aside after internal errors) can be retried`)
  if (facts.leased) return refused("the sweeper or the reconciler is working on it right now; try again shortly")
  const confirmed = facts.attempts.find((attempt) => attempt.status === "confirmed")
  if (confirmed !== undefined) return refused(`${confirmed.seller_name} confirmed order ${confirmed.order_id ?? "(unknown)"} for it; settle that order instead of buying again`)
  const open = facts.attempts.find((attempt) => attempt.status !== "pending" && attempt.status !== "failed")
  if (open !== undefined) return refused(`the attempt at ${open.seller_name} is ${open.status}; its outcome must be resolved first`)
  if (facts.payments.some((payment) => payment.kind === "authorize" && payment.live)) return refused("an authorization still holds the customer's money for it; it must be voided first")
  const unsettled = facts.payments.find((payment) => payment.status === "pending")
  if (unsettled !== undefined) return refused(`the outcome of its ${unsettled.kind} payment operation is not known yet`)
  if (facts.payments.some((payment) => payment.kind === "capture" && payment.status === "succeeded")) return refused("money was captured for it")
  if (request.reason !== null && request.reason.startsWith("payment_unavailable") && !facts.providerLookedUp) {
    return refused("the payment provider may still hold an authorization from the failed try; retry once the sweeper has looked it up")
  }
  const paymentToken = facts.paymentToken ?? request.payment_token
  return paymentToken === null ? { _tag: "TokenRequired" } : { _tag: "NewRound", paymentToken }
}
