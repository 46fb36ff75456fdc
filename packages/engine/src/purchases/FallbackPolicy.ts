/**
 * The fallback policy: which offer is bought from, what happens when it fails, and how a
 * request ends when nothing more can be tried. Pure: rows in, a decision out; the pipeline
 * (`PurchasePipeline.ts`) carries the decisions out. When an attempt is *closed* (known to have
 * no order) is a separate rule, `AttemptResolution.ts`; this module only ever moves past closed
 * attempts.
 *
 * - **Decide** (after quoting): offers within the maximum are tried cheapest first. With none,
 *   the answer must be true: sellers not asked (or not answered) before the answer time may have
 *   had it → `sellers_busy`; no offer at all → `not_available` (naming the currencies it is
 *   offered in, if only in others); offers only above the maximum →
 *   `price_not_met` with the cheapest as a counter-offer. An accepted counter-offer buys what the
 *   customer saw: sellers not asked then do not hold it back.
 * - **Next attempt**: a confirmed order is captured; otherwise the open attempt (held,
 *   purchasing, unknown) is carried on — nothing else is bought while an order may exist — and
 *   only then the cheapest pending one, with the one after it as the price its hold is held to.
 * - **Held price**: a hold is refused (given back, the next offer tried) when it comes in another
 *   currency, above the maximum, or dearer than quoted *and* dearer than the next offer in line.
 * - **Every offer failed**: (after the offer index's unconfirmed leads were confirmed and tried —
 *   `steps/quote.ts`, `confirmLeads`) again only a true answer — `sellers_busy`, then `price_not_met` with
 *   the cheapest offer above the maximum, and `not_available` only otherwise.
 */
import { Money } from "@bookbroker/adapter-sdk"
import type { AttemptRow, CounterOffer, Lead, QuoteRow, RequestRow } from "./store/PurchaseStore.js"
import * as QuoteProgress from "../quotes/QuoteProgress.js"

/** How a request ends when it cannot (or can no longer) buy. */
export type Ending =
  | { readonly _tag: "SellersBusy"; readonly reason: string }
  | { readonly _tag: "NotAvailable"; readonly reason: string }
  /** `cheapest`: the offer above the maximum the customer may accept in a new round. */
  | { readonly _tag: "PriceNotMet"; readonly reason: string; readonly cheapest: QuoteRow }

export type Decision =
  | Ending
  /** Buy: `within` are the offers within the maximum, cheapest first. */
  | { readonly _tag: "Purchase"; readonly within: ReadonlyArray<QuoteRow>; readonly reason: string }

/** The request as far as the policy looks at it. */
export type PolicyRequest = Pick<RequestRow, "max_amount" | "currency" | "counter_offer" | "quote_progress" | "round">

/** Sellers the answer time ran out for (none count once the customer accepted a counter-offer). */
const unanswered = (request: PolicyRequest) => (request.counter_offer === null ? QuoteProgress.unansweredCount(request.quote_progress) : 0)

/** The round whose offers are bought from: an accepted counter-offer's, the request's own otherwise. */
export const offersRound = (request: Pick<RequestRow, "counter_offer" | "round">): number =>
  request.counter_offer !== null ? (request.counter_offer.round ?? 0) : request.round

/**
 * The reason a request ends without an offer in its currency: `no_offers` (or `fallback`) when
 * nobody offered it, else which other currencies it is offered in and the cheapest in each —
 * never "not available" when sellers offer it, only in another currency.
 */
export const notAvailableReason = (request: PolicyRequest, fallback: string): string => {
  const others = request.quote_progress?.otherCurrencies ?? []
  if (others.length === 0) return fallback
  const offered = others
    .map((other) => `${Money.toDecimal(Money.make(other.cheapest.total, other.currency))} ${other.currency} from ${other.cheapest.sellerName}${other.sellers > 1 ? ` (${other.sellers} sellers)` : ""}`)
    .join("; ")
  return `offered_in_other_currency: ${offered}; not comparable with ${request.currency} prices`
}

/** After quoting: `quotes` are the round's offers, cheapest first. */
export const decide = (request: PolicyRequest, quotes: ReadonlyArray<QuoteRow>): Decision => {
  const max = request.max_amount
  const within = quotes.filter((quote) => quote.total <= max)
  const notAsked = unanswered(request)
  if (within.length === 0 && notAsked > 0) {
    return { _tag: "SellersBusy", reason: `${notAsked} of ${request.quote_progress!.sellers} sellers could not be asked or did not answer before the request's answer time` }
  }
  if (quotes.length === 0) return { _tag: "NotAvailable", reason: notAvailableReason(request, "no_offers") }
  if (within.length === 0) return { _tag: "PriceNotMet", reason: "cheapest_offer_above_max", cheapest: quotes[0]! }
  return {
    _tag: "Purchase",
    within,
    reason: `${within.length} offers within the maximum${notAsked > 0 ? `; ${notAsked} sellers could not be asked or did not answer in time` : ""}`
  }
}

export type NextAttempt =
  | { readonly _tag: "Capture"; readonly attempt: AttemptRow }
  /** `nextInLine`: the offer after this one, which a dearer hold is compared with. */
  | { readonly _tag: "Try"; readonly attempt: AttemptRow; readonly nextInLine: AttemptRow | undefined }
  | { readonly _tag: "EveryOfferFailed" }

/** `attempts`: the request's attempts, cheapest first (any round: a confirmed one counts from any). */
export const nextAttempt = (attempts: ReadonlyArray<AttemptRow>, round: number): NextAttempt => {
  const current = attempts.filter((attempt) => attempt.round === round || attempt.status === "confirmed")
  const confirmed = current.find((attempt) => attempt.status === "confirmed")
  if (confirmed !== undefined) return { _tag: "Capture", attempt: confirmed }
  const open = current.find((attempt) => attempt.status !== "pending" && attempt.status !== "failed")
  const pending = current.filter((attempt) => attempt.status === "pending")
  const attempt = open ?? pending[0]
  if (attempt === undefined) return { _tag: "EveryOfferFailed" }
  return { _tag: "Try", attempt, nextInLine: pending.find((other) => other.id !== attempt.id) }
}

/** A purchase may have been sent for this attempt: it stays open whatever else happens. */
export const mayHaveOrdered = (attempt: Pick<AttemptRow, "status" | "tries">): boolean =>
  attempt.status === "purchasing" || attempt.status === "unknown" || attempt.tries > 0

/** Why a hold is not bought from, or `undefined` to buy. Amounts in minor units. */
export const heldPriceRefusal = (held: {
  readonly total: { readonly amount: number; readonly currency: string }
  readonly currency: string
  readonly maxAmount: number
  readonly quotedTotal: number
  readonly nextInLine: { readonly sellerName: string; readonly total: number } | undefined
}): string | undefined => {
  const { total, nextInLine } = held
  if (total.currency !== held.currency) return `hold_currency_mismatch: ${total.currency}`
  if (total.amount > held.maxAmount) return "held_price_above_max"
  if (total.amount > held.quotedTotal && nextInLine !== undefined && nextInLine.total < total.amount) {
    return `held_price_above_next_offer: held at ${total.amount}, quoted ${held.quotedTotal}, ${nextInLine.sellerName} offers ${nextInLine.total}`
  }
  return undefined
}

/**
 * The offer index's leads (indexed prices not confirmed yet) to confirm before the request may
 * end without a purchase: those within the maximum; once none is left, all of them while the
 * round has no offer above the maximum (so the ending can be a true counter-offer). None for an
 * accepted counter-offer's round (it buys what the customer saw). `attempted`: sellers with an
 * attempt already. `quotes`: the round's offers.
 */
export const leadsToConfirm = (request: PolicyRequest, quotes: ReadonlyArray<QuoteRow>, attempted: ReadonlySet<string>): ReadonlyArray<Lead> => {
  if (request.counter_offer !== null) return []
  const max = request.max_amount
  const open = (request.quote_progress?.leads ?? []).filter((lead) => !attempted.has(lead.sellerId))
  const within = open.filter((lead) => lead.total <= max)
  if (within.length > 0) return within
  return quotes.some((quote) => quote.total > max) ? [] : open
}

/**
 * Every offer within the maximum failed at purchase (or was known gone before it was tried:
 * `noneLeft` then says why). `quotes`: the round's offers, cheapest first.
 */
export const afterEveryOfferFailed = (request: PolicyRequest, quotes: ReadonlyArray<QuoteRow>, noneLeft = "all_offers_failed"): Ending => {
  const notAsked = unanswered(request)
  if (notAsked > 0) {
    return { _tag: "SellersBusy", reason: `every offer within the maximum failed, and ${notAsked} sellers could not be asked or did not answer before the request's answer time` }
  }
  const cheapestAbove = quotes.find((quote) => quote.total > request.max_amount)
  if (cheapestAbove === undefined || request.counter_offer !== null) return { _tag: "NotAvailable", reason: notAvailableReason(request, noneLeft) }
  return { _tag: "PriceNotMet", reason: "offers_within_max_failed", cheapest: cheapestAbove }
}

/** The counter-offer a `PriceNotMet` ending makes: the customer may accept it in a new round. */
export const counterOffer = (round: number, cheapest: QuoteRow, expiresAt: Date): CounterOffer => ({
  round,
  seller_id: cheapest.seller_id,
  seller_name: cheapest.seller_name,
  total: cheapest.total,
  currency: cheapest.currency,
  expires_at: expiresAt.toISOString()
})
