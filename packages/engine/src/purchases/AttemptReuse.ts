/**
 * When a seller may be tried again for the same request, in a later round (a woken want, an
 * accepted counter-offer, an operator's retry): its attempt failed before any purchase was sent
 * under the attempt's key — no try was ever stamped — and it left no hold to give back. The key
 * (`PurchaseKeys.attempt`: one per request and seller, ever) was never used for an order, so a
 * purchase under it now cannot be a second one.
 *
 * Why it matters: a hold refused as out of stock (or an attempt closed as `sold_out` because
 * another buyer heard so) can be caused by a hold of our own, lost with a worker killed while it
 * was on its way. Once that hold expires the copy is there again; a want must be able to buy it
 * when the seller lists it again or a live look finds it, instead of watching while it stays
 * unsold. An attempt that may have ordered is never reused: it stays open, or failed for good.
 */

/**
 * Ends the reason of a failed attempt whose seller hold could not be given back at once (the
 * seller's limits had no room, or it did not answer): the sweeper gives it back later — and until
 * then the attempt is not reused.
 */
export const holdNotGivenBack = "; hold not given back yet"

/** The rule as SQL over an attempt row aliased `alias` (trusted text: no input goes into it). */
export const reusable = (alias: string): string =>
  `(${alias}.status = 'failed' AND ${alias}.tries = 0 AND ${alias}.first_sent_at IS NULL AND ${alias}.last_sent_at IS NULL ` +
  `AND coalesce(${alias}.reason, '') NOT LIKE '%${holdNotGivenBack}')`

/** The same rule over a row already read (the wants job's live look). */
export const isReusable = (attempt: {
  readonly status: string
  readonly tries: number
  readonly first_sent_at: Date | null
  readonly last_sent_at: Date | null
  readonly reason: string | null
}): boolean =>
  attempt.status === "failed" && attempt.tries === 0 && attempt.first_sent_at === null && attempt.last_sent_at === null && !(attempt.reason ?? "").endsWith(holdNotGivenBack)
