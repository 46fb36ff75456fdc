/**
 * How far asking sellers got for one request, in numbers a customer can read: how many sellers
 * there were, how many answered, how many failed (asked with no answer, or down: circuit open),
 * and which ones were not asked
 * yet and why (their limits had no room: `rate_limited`, `concurrency`, `backoff`, or `queued`
 * behind other requests). Neither "not asked" nor "failed" is ever read as "no offer": a request
 * asks them again until its answer time, and one that ends without an offer while some of them
 * never answered is `sellers_busy`, not `not_available`.
 */
import type { OtherCurrency, QuoteProgress } from "../purchases/store/PurchaseStore.js"
import type { SellerOutcome } from "./QuoteEngine.js"

export type { QuoteProgress } from "../purchases/store/PurchaseStore.js"

export const summarize = (outcomes: Iterable<SellerOutcome>, offers: number, at: Date): QuoteProgress => {
  const otherCurrencies = new Map<string, OtherCurrency>()
  let sellers = 0
  let answered = 0
  let failed = 0
  const notAsked: Array<QuoteProgress["notAsked"][number]> = []
  for (const outcome of outcomes) {
    sellers += 1
    switch (outcome.status) {
      case "offer":
      case "unavailable":
        answered += 1
        break
      case "excluded": {
        answered += 1
        if (outcome.offered === undefined) break
        const { amount, currency } = outcome.offered
        const known = otherCurrencies.get(currency)
        const cheapest = known === undefined || amount < known.cheapest.total ? { sellerId: outcome.sellerId, sellerName: outcome.sellerName, total: amount } : known.cheapest
        otherCurrencies.set(currency, { currency, sellers: (known?.sellers ?? 0) + 1, cheapest })
        break
      }
      case "not_asked":
        notAsked.push({ sellerId: outcome.sellerId, sellerName: outcome.sellerName, reason: outcome.reason ?? "queued" })
        break
      case "error":
      case "deadline":
        failed += 1
        break
      case "skipped":
        // Down (its circuit is open): no answer from it yet, like a failed call. Misconfigured or
        // not chosen by seller selection: not a candidate, not waited for.
        if (outcome.reason === "circuit_open") failed += 1
        break
    }
  }
  return {
    sellers,
    answered,
    failed,
    notAsked,
    ...(otherCurrencies.size === 0 ? {} : { otherCurrencies: [...otherCurrencies.values()].sort((a, b) => a.currency.localeCompare(b.currency)) }),
    offers,
    updatedAt: at.toISOString()
  }
}

/** "asked 140 of 200 sellers, 60 waiting for their request limits" — for status views. */
export const describe = (progress: QuoteProgress): string => {
  const waiting = progress.notAsked.length
  const asked = progress.answered + progress.failed
  return (
    `${asked} of ${progress.sellers} sellers asked, ${progress.answered} answered` +
    (progress.failed === 0 ? "" : `, ${progress.failed} to ask again (no answer yet)`) +
    (waiting === 0 ? "" : `, ${waiting} waiting for a turn within their request limits`)
  )
}

/** The sellers to ask again: not asked yet, or asked without an answer (an error, no answer in time). */
export const unanswered = (outcomes: Iterable<SellerOutcome>): ReadonlyArray<string> => {
  const ids: Array<string> = []
  for (const outcome of outcomes) {
    if (outcome.status === "not_asked" || outcome.status === "error" || outcome.status === "deadline" || (outcome.status === "skipped" && outcome.reason === "circuit_open")) {
      ids.push(outcome.sellerId)
    }
  }
  return ids
}

/**
 * How many sellers a stored progress says never answered and could still have: not asked, or
 * failed while the retry window was still open (once it ran out, a failure is final).
 */
export const unansweredCount = (progress: QuoteProgress | null): number =>
  progress === null ? 0 : progress.notAsked.length + (progress.failedFinal === true ? 0 : progress.failed)
