/**
 * Which indexed or pushed prices are confirmed with their sellers before a purchase, and when
 * confirming stops — the rule `QuoteEngine.confirm` follows, on its own so that it is testable
 * without sellers and the selection benchmark (`bench/src/selection-feeds.ts`) runs the same rule.
 *
 * - **Cheapest first**: leads are asked in order of their indexed total, in batches as large as
 *   live offers are missing (at least one), so two sellers are asked at once when two are needed.
 * - **Enough**: confirming stops once `best` live offers are at least as cheap as the next lead's
 *   indexed total (less an optional `margin` for prices that fell since the feed): one to buy, the
 *   others to fall back to.
 * - **A failed call is not "no offer"**: a lead whose call failed (an error, no answer in time,
 *   no room in its limits) is asked once more, ahead of the dearer leads. (Measured by
 *   `pnpm bench:selection-feeds`: without the second call, 2 % of calls failing cost two points of
 *   "true cheapest found".)
 *
 * The caller owns the clock: it stops asking when its deadline has passed.
 */

/** An indexed or pushed offer not confirmed yet. */
export interface Lead {
  readonly sellerId: string
  /** The indexed total (price + shipping), minor units. */
  readonly total: number
}

/** What asking a lead's seller gave. */
export type Answer =
  /** A live offer at this total. */
  | { readonly _tag: "Offered"; readonly total: number }
  /** No offer: out of stock, not carried, another currency. */
  | { readonly _tag: "NoOffer" }
  /** No answer: the call failed, timed out, or the seller's limits had no room. */
  | { readonly _tag: "Failed" }

export interface ConfirmWalk<L extends Lead> {
  /** The next leads to ask at once; empty when confirming is done. */
  readonly next: () => ReadonlyArray<L>
  /** Records what asking a lead gave (a lead returned by `next`). */
  readonly answered: (lead: L, answer: Answer) => void
  /** Leads never asked (confirming ended before them), cheapest first. */
  readonly unasked: () => ReadonlyArray<L>
}

export interface WalkOptions {
  /**
   * How far an indexed price may have fallen since its feed and still be worth asking: confirming
   * goes on while the next lead's indexed total, less this share, could undercut the live offers
   * found (0–0.5; default 0: a lead dearer than `best` live offers is not asked). More calls for
   * more "true cheapest found" — measured by `pnpm bench:selection-feeds --margin`.
   */
  readonly margin?: number
}

/**
 * A walk over `leads` (any order), with the live offers already known (`liveTotals`) counting
 * towards `best` (default 2; at least 1).
 */
export const make = <L extends Lead>(leads: ReadonlyArray<L>, liveTotals: ReadonlyArray<number>, best = 2, options: WalkOptions = {}): ConfirmWalk<L> => {
  const wanted = Math.max(1, best)
  const keep = 1 - Math.min(0.5, Math.max(0, options.margin ?? 0))
  const live = [...liveTotals]
  /** Leads to ask, cheapest first (a failed one goes back in its place once). */
  const pending = [...leads].sort((a, b) => a.total - b.total)
  const asked = new Set<L>()
  const retried = new Set<L>()
  return {
    next: () => {
      const first = pending[0]
      if (first === undefined) return []
      const cheaper = live.filter((total) => total <= first.total * keep).length
      if (cheaper >= wanted) return []
      // Enough live offers already, and only the margin keeps confirming: every lead within it is
      // asked at once (one more round of calls, not one round per lead).
      const enoughAt = pending.findIndex((lead) => live.filter((total) => total <= lead.total * keep).length >= wanted)
      const size = live.length >= wanted ? (enoughAt === -1 ? pending.length : enoughAt) : Math.max(1, wanted - live.length)
      const batch = pending.splice(0, size)
      for (const lead of batch) asked.add(lead)
      return batch
    },
    answered: (lead, answer) => {
      switch (answer._tag) {
        case "Offered":
          live.push(answer.total)
          return
        case "NoOffer":
          return
        case "Failed": {
          if (retried.has(lead)) return
          retried.add(lead)
          const at = pending.findIndex((other) => other.total > lead.total)
          pending.splice(at === -1 ? pending.length : at, 0, lead)
          return
        }
      }
    },
    unasked: () => pending.filter((lead) => !asked.has(lead))
  }
}
