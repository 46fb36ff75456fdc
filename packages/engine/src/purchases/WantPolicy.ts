/**
 * Wants (standing orders): a purchase request that says `wait_until` is willing to wait for a
 * copy within its maximum. The rules, pure and testable alone:
 *
 * - **Placing one**: `wait_until` is in the future and at most 30 days away (`waitUntilRefusal`).
 * - **Watching instead of ending**: a want whose round ends without a purchase — nothing within
 *   the maximum (`price_not_met`), nothing offered (`not_available`) or sellers that could not
 *   answer (`sellers_busy`) — is `watching` instead, while its `wait_until` is ahead
 *   (`watches`). A failure (a declined card, a payment provider that refuses) still ends it.
 *   While it watches no authorization is held: the payment method is authorized again when a
 *   copy is found.
 * - **Woken**: a listing within the maximum that appeared or changed since the want last looked
 *   (a feed, a push, an index entry corrected by a live answer) from a seller not yet tried for
 *   it; or a live look at the sellers at a slow, budgeted pace (`nextLook`). Copies go first come,
 *   first served: per ISBN, the oldest wants first, no more of them than the copies listed
 *   (`jobs/Wants.ts` does this in one statement).
 * - **Ends** `expired` at `wait_until`, or `cancelled` by the customer while it watches.
 *
 * One seller is tried at most once per request, in any round (`PurchaseKeys.attempt`: one order
 * per request and seller, ever): a seller whose attempt failed for a want is not tried for it
 * again, even if it lists the book later.
 */
import type { TerminalStatus } from "./store/PurchaseStore.js"

/** The longest a customer may ask bookbroker to watch for a copy. */
export const maxWaitMillis = 30 * 24 * 60 * 60 * 1_000

/** Why a `wait_until` is refused, or `undefined` when it is fine. */
export const waitUntilRefusal = (waitUntil: Date, nowMillis: number): string | undefined => {
  const at = waitUntil.getTime()
  if (!Number.isFinite(at)) return "is not a date and time"
  if (at <= nowMillis) return "is not in the future"
  if (at - nowMillis > maxWaitMillis) return "is more than 30 days away"
  return undefined
}

/** The endings a want watches instead of (a failure still ends it). */
const watchedEndings: ReadonlySet<TerminalStatus> = new Set(["price_not_met", "not_available", "sellers_busy"])

/** Does this ending become `watching`? Only for a want whose `wait_until` is still ahead. */
export const watches = (ending: TerminalStatus, waitUntil: Date | null, nowMillis: number): boolean =>
  waitUntil !== null && watchedEndings.has(ending) && waitUntil.getTime() > nowMillis

/** When a watching want is looked at live again: after `recheckMillis`, never after its `wait_until` (when it expires). */
export const nextLook = (nowMillis: number, waitUntil: Date, recheckMillis: number): Date =>
  new Date(Math.min(nowMillis + recheckMillis, waitUntil.getTime()))

/** What a watching want's status says while it waits (`waiting`). */
export const watchingText = (waitUntil: Date, why: string): string =>
  `watching for a copy within the maximum until ${waitUntil.toISOString()} (${why}); no payment is held meanwhile`
