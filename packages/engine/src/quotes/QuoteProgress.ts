/**
 * How far asking sellers got for one request, in numbers a customer can read: how many sellers
 * there were, how many answered, how many failed (asked, no answer), and which ones were not asked
 * yet and why (their limits had no room: `rate_limited`, `concurrency`, `backoff`, or `queued`
 * behind other requests). "Not asked" is the one outcome that is never read as "no offer".
 */
import type { QuoteProgress } from "../internal/purchaseStore.js"
import type { SellerOutcome } from "../QuoteEngine.js"

export type { QuoteProgress } from "../internal/purchaseStore.js"

export const summarize = (outcomes: Iterable<SellerOutcome>, offers: number, at: Date): QuoteProgress => {
  let sellers = 0
  let answered = 0
  let failed = 0
  const notAsked: Array<QuoteProgress["notAsked"][number]> = []
  for (const outcome of outcomes) {
    sellers += 1
    switch (outcome.status) {
      case "offer":
      case "unavailable":
      case "excluded":
        answered += 1
        break
      case "not_asked":
        notAsked.push({ sellerId: outcome.sellerId, sellerName: outcome.sellerName, reason: outcome.reason ?? "queued" })
        break
      case "error":
      case "deadline":
        failed += 1
        break
      case "skipped":
        // Down (open circuit), misconfigured or not chosen by seller selection: not waited for.
        break
    }
  }
  return { sellers, answered, failed, notAsked, offers, updatedAt: at.toISOString() }
}

/** "asked 140 of 200 sellers, 60 waiting for their request limits" — for status views. */
export const describe = (progress: QuoteProgress): string => {
  const waiting = progress.notAsked.length
  const asked = progress.answered + progress.failed
  return `${asked} of ${progress.sellers} sellers asked, ${progress.answered} answered` + (waiting === 0 ? "" : `, ${waiting} waiting for a turn within their request limits`)
}
