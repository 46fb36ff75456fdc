/**
 * AbeBooks' two-digit order statuses (Purchase API appendix B) as outcomes of a purchase. The
 * max-price guard and "item unavailable" arrive here, as statuses of an order that was already
 * created, not as request errors — so a purchase is only settled once its order shows one of
 * these, and the rule deciding which statuses are an order, a refusal or "not settled yet" lives
 * in this one pure function.
 */
import type { SellerError } from "@bookbroker/adapter-sdk"

export type StatusOutcome =
  /** The order stands: bookbroker has bought the book. */
  | { readonly _tag: "Confirmed" }
  /** The order will not be fulfilled: nothing was bought under this request id. */
  | { readonly _tag: "Refused"; readonly reason: SellerError.RejectedReason; readonly meaning: string }
  /** Not settled yet: still processing (no status), or waiting for a decision on extra shipping. */
  | { readonly _tag: "Pending"; readonly meaning: string; readonly needsOperator: boolean }

const confirmed: StatusOutcome = { _tag: "Confirmed" }

const outcomes: ReadonlyMap<string, StatusOutcome> = new Map<string, StatusOutcome>([
  ["05", confirmed],
  ["35", confirmed],
  // The seller asked for more postage and it was accepted: the order stands (at the shipping it now shows).
  ["04", confirmed],
  ["14", { _tag: "Refused", reason: "out_of_stock", meaning: "Item Unavailable" }],
  ["54", { _tag: "Refused", reason: "out_of_stock", meaning: "Inactive Seller" }],
  ["53", { _tag: "Refused", reason: "price_changed", meaning: "Max Price Exceeded" }],
  ["90", { _tag: "Refused", reason: "price_changed", meaning: "Extra Shipping Rejected" }],
  ["17", { _tag: "Refused", reason: "out_of_stock", meaning: "Cancelled By Buyer" }],
  ["24", { _tag: "Refused", reason: "out_of_stock", meaning: "Refunded" }],
  ["19", { _tag: "Refused", reason: "auth_failed", meaning: "Credit Card Rejected — update the card behind creditCardToken on the AbeBooks account" }],
  ["93", { _tag: "Pending", meaning: "Extra Shipping Requested — accept (04) or reject (90) it in the AbeBooks account", needsOperator: true }]
])

/**
 * What an order item's status means. `null` (no status yet) is still processing. A status
 * AbeBooks does not document is never guessed into an order or a refusal: it is pending for an
 * operator.
 */
export const outcomeOf = (status: string | null): StatusOutcome =>
  status === null
    ? { _tag: "Pending", meaning: "being processed", needsOperator: false }
    : outcomes.get(status) ?? { _tag: "Pending", meaning: `undocumented status "${status}"`, needsOperator: true }
