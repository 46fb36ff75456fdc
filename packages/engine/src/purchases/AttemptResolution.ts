/**
 * When is a purchase attempt closed? Promise 2 — at most one seller order per purchase request —
 * rests on this rule alone: the pipeline moves to the next seller only once the attempt at this
 * one is *known* to have no order. Once a purchase may have reached the seller, only an
 * authoritative answer about **its idempotency key** closes the attempt:
 *
 * - an order (from the purchase or its replay, or from an order lookup) → `Confirmed`;
 * - a business rejection of that key (out of stock, price changed, quote or hold expired): a
 *   seller that honours idempotency keys answers a replay with the first try's outcome, so a
 *   rejection now means the first try was rejected too → `Failed`;
 * - an order lookup that finds no order for the key → the key is free; a replay that is then
 *   not processed leaves no order behind → `Failed`.
 *
 * "This retry was not processed" says nothing about the first try: a 429, a 409 "in progress",
 * a refused connection, an authentication or validation refusal of the replay, a timeout, a
 * dropped connection. Those keep the attempt `Unresolved`: parked and asked again later, within
 * the seller's limits, until an authoritative answer comes or its deadline sends it to a person.
 * Before anything may have been sent, the same refusals are plain failures of this seller.
 */
import type { Contract, SellerError } from "@bookbroker/adapter-sdk"
import type { Option, Result } from "effect"

export type Resolution =
  | { readonly _tag: "Confirmed"; readonly order: Contract.Order }
  /** Known: no order exists (or will exist) under this key. The next offer may be tried. */
  | { readonly _tag: "Failed"; readonly reason: string }
  /**
   * Unknown: an order may exist. Nothing else may be bought until this is settled. `detail` is
   * the seller's own account (its bytes), for operators only: never where a customer reads it.
   */
  | { readonly _tag: "Unresolved"; readonly reason: string; readonly retryAfterMillis: number | undefined; readonly detail?: string }

/** Rejections that are answers about the key itself (a replay gets the first try's outcome). */
export const authoritativeRejections: ReadonlySet<SellerError.RejectedReason> = new Set<SellerError.RejectedReason>([
  "out_of_stock",
  "price_changed",
  "quote_expired",
  "hold_expired"
])

/**
 * How an error is written in an attempt's `reason`, which the customer reads: our words (the
 * error's kind and reason), never the seller's answer — its bytes stay in `detail` and the logs.
 */
export const describe = (error: SellerError.SellerError): string => {
  switch (error._tag) {
    case "SellerRejected":
      return `rejected:${error.reason}`
    case "SellerUnavailable":
      return `unavailable:${error.reason}`
    case "MalformedSellerResponse":
      return "malformed_response"
    case "OutcomeUnknown":
      return "no_answer"
  }
}

/**
 * The attempt after one purchase call (a first try or a same-key replay).
 *
 * `maybeSentBefore`: an earlier try of this key may have reached the seller and was never
 * answered authoritatively (the attempt was `unknown`, or was being purchased when its worker
 * stopped), and no order lookup has since found the key free.
 */
export const afterPurchase = (answer: Result.Result<Contract.Order, SellerError.SellerError>, maybeSentBefore: boolean): Resolution => {
  if (answer._tag === "Success") return { _tag: "Confirmed", order: answer.success }
  const error = answer.failure
  switch (error._tag) {
    case "OutcomeUnknown":
    case "MalformedSellerResponse":
      // This try itself may have placed the order.
      return { _tag: "Unresolved", reason: `outcome_unknown: ${describe(error)}`, retryAfterMillis: undefined, detail: error.detail }
    case "SellerRejected":
      if (authoritativeRejections.has(error.reason) || !maybeSentBefore) return { _tag: "Failed", reason: describe(error) }
      return { _tag: "Unresolved", reason: `replay_refused: ${describe(error)}`, retryAfterMillis: undefined }
    case "SellerUnavailable":
      if (error.mayHaveBeenProcessed) return { _tag: "Unresolved", reason: `outcome_unknown: ${describe(error)}`, retryAfterMillis: error.retryAfterMillis, detail: error.detail }
      if (!maybeSentBefore) return { _tag: "Failed", reason: describe(error) }
      return { _tag: "Unresolved", reason: `replay_not_processed: ${describe(error)}`, retryAfterMillis: error.retryAfterMillis }
  }
}

export type LookupResult =
  | { readonly _tag: "Found"; readonly order: Contract.Order }
  /** The seller has no order under the key: authoritative, a replay may follow as a fresh try. */
  | { readonly _tag: "NotFound" }
  /** The lookup told us nothing; a replay with the same key is still safe. */
  | { readonly _tag: "NoAnswer"; readonly reason: string }

/** What an order lookup says about the key. */
export const afterLookup = (answer: Result.Result<Option.Option<Contract.Order>, SellerError.SellerError>): LookupResult => {
  if (answer._tag === "Failure") return { _tag: "NoAnswer", reason: describe(answer.failure) }
  return answer.success._tag === "Some" ? { _tag: "Found", order: answer.success.value } : { _tag: "NotFound" }
}

/**
 * After a hold call that failed: may the seller have taken the hold anyway (the call timed out,
 * the answer was lost or garbled)? Then the hold is asked for once more under the same key: a
 * seller that keeps holds per key answers with the hold it took, so its copy is not left
 * reserved for nobody; any other seller takes a copy of its own or says it has none, as the
 * next request would have been told. A refusal (a rejection, a connection refused) took nothing.
 */
export const holdMayExist = (error: SellerError.SellerError): boolean => {
  switch (error._tag) {
    case "OutcomeUnknown":
    case "MalformedSellerResponse":
      return true
    case "SellerUnavailable":
      return error.mayHaveBeenProcessed
    case "SellerRejected":
      return false
  }
}
