/**
 * Scarce copies go first come, first served — a surge of requests for one book (a flash sale),
 * or wants woken by the same listing. Two rules, pure and testable alone:
 *
 * - **Earlier requests first** (`waitsForEarlier`): a request ready to buy, whose offers within
 *   the maximum say how many copies they have, waits while at least as many requests for the
 *   same book (and currency) that arrived before it are still in progress as there are copies
 *   left (those quoted, less the orders confirmed there lately) — they may take every copy. It
 *   waits at most `maxWaitMillis` from the end of its quoting (an earlier request stuck on a slow
 *   seller must not hold every later one), then goes on regardless. Once every copy is known gone
 *   (`everyCopyKnownGone`) the answer is already known: the request ends at once
 *   (`everyCopyGoneReason`), without an attempt per seller. With a seller that does not say its
 *   quantity nothing is known to be scarce, and nobody waits.
 * - **A copy known gone is not asked for** (`knownSoldOut`): since this request was quoted,
 *   another request for the same book was told by the seller that it is out of stock, or bought
 *   as many copies there as this request's offer said the seller had. Then the attempt fails
 *   without a call (`soldOutReason`): the seller is asked once per copy, not once per request.
 *   Only answers newer than this request's own quotes count, and a skipped attempt is never
 *   evidence for another, so a seller that restocks is asked again by the next request quoted
 *   after its answer.
 */

/** The copies the offers within the maximum say they have; `undefined` when any does not say. */
export const copiesOffered = (quantities: ReadonlyArray<number | null>): number | undefined =>
  quantities.some((quantity) => quantity === null) ? undefined : (quantities as ReadonlyArray<number>).reduce((sum, n) => sum + n, 0)

/**
 * How far before a request's quotes the orders that took copies are counted: a quote may be
 * reused from the quote cache (30 s by default) and may predate the request by that much. Orders
 * from before the seller quoted are counted too then — the request waits a little more, never
 * less.
 */
export const soldWindowMillis = 60_000

/**
 * Wait for the requests that arrived earlier? `earlier`: those still in progress; `copies`: the
 * copies quoted less the orders confirmed since (`soldWindowMillis`), so possibly 0 or below.
 * Nobody earlier in progress: nobody to wait for.
 */
export const waitsForEarlier = (input: {
  readonly earlier: number
  readonly copies: number | undefined
  readonly waitedMillis: number
  readonly maxWaitMillis: number
}): boolean => input.copies !== undefined && input.earlier > 0 && input.earlier >= input.copies && input.waitedMillis < input.maxWaitMillis

/** The seller's own answer that closes an attempt as out of stock (what `AttemptResolution.describe` writes). */
export const outOfStockAnswer = "rejected:out_of_stock"

/** What other requests for the book learnt at one seller since this request was quoted. */
export interface SinceQuoted {
  /** Orders confirmed there. */
  readonly sold: number
  /** The seller answered out of stock (to a hold or a purchase). */
  readonly saidSoldOut: boolean
}

/** A seller no other request learnt anything at since this request's quotes. */
export const nothingLearnt: SinceQuoted = { sold: 0, saidSoldOut: false }

/** Is the copy this request's offer names known to be gone? `quantity`: what the offer said (null: unknown). */
export const knownSoldOut = (quantity: number | null, since: SinceQuoted): boolean =>
  since.saidSoldOut || (quantity !== null && since.sold >= quantity)

/**
 * Every offer within the maximum known gone (`knownSoldOut` for each, from what other requests
 * learnt since this request's quotes): there is nothing left for the earlier requests to leave
 * it, so waiting for them only delays an answer that is already known — the request goes on and
 * hears it at once (its attempts close without a call). Without this, the losers of a surge end
 * one after another, each waiting for every earlier one.
 */
export const everyCopyKnownGone = (offers: ReadonlyArray<{ readonly quantity: number | null; readonly since: SinceQuoted }>): boolean =>
  offers.length > 0 && offers.every((offer) => knownSoldOut(offer.quantity, offer.since))

/**
 * Why a request ends without trying any seller when every copy within its maximum is known gone
 * (`everyCopyKnownGone`) once its turn comes: the same knowledge that closes an attempt without a
 * call (`soldOutReason`), for all of them at once — the losers of a surge hear it in one step.
 */
export const everyCopyGoneReason = "sold_out: every copy within the maximum went to buyers who asked earlier, since this request was quoted (sellers not asked again)"

/** The reason of an attempt closed without a call. */
export const soldOutReason = (since: SinceQuoted): string =>
  since.saidSoldOut
    ? "sold_out: the seller told another buyer it is out of stock since this request was quoted (not asked again)"
    : `sold_out: other buyers took the ${since.sold === 1 ? "copy" : `${since.sold} copies`} the seller had since this request was quoted (not asked again)`
