/**
 * The words seller selection and the seller statistics share: what selection knows about a
 * seller (its profile), who carried a book at which total, and what one fan-out teaches.
 */

/** A seller that offered the ISBN recently, and its total then (minor units). */
export interface Carrier {
  readonly sellerId: string
  readonly total: number
}

/** What the selection knows about a seller (the engine's `SellerStats`). */
export interface SellerProfile {
  /** 0..1, recent share of calls that got an answer. */
  readonly reliability: number
  readonly latencyMillis: number
  /** 0..1, share of recent counted answers that were offers. */
  readonly coverage: number
  /** Answers counted towards `coverage`. */
  readonly answers: number
  /** 0..1, where its offers usually rank among a fan-out's offers (0 = cheapest). */
  readonly priceRank: number
  /** Fan-outs that gave `priceRank` a sample. */
  readonly priced: number
  /** Epoch ms until which this process expects admission to refuse it; 0 when not refused. */
  readonly blockedUntil: number
}

/** One seller's fresh answer in a fan-out. */
export interface Observation {
  readonly sellerId: string
  /** It offered the book (in any currency). */
  readonly offered: boolean
  /** The offer's total in the request's currency (minor units); absent when not comparable. */
  readonly total?: number
}

/** What one fan-out teaches: carrier history to write, and per-seller stats to update. */
export interface Lessons {
  /** Offers in the request's currency, cheapest first. */
  readonly carriers: ReadonlyArray<Carrier>
  /** Sellers that answered they don't have it (not carried, out of stock). */
  readonly notCarrying: ReadonlyArray<string>
  /** Answers that count towards coverage. */
  readonly answers: ReadonlyArray<{ readonly sellerId: string; readonly offered: boolean }>
  /** 0..1 rank of each comparable offer among this fan-out's offers (0 = cheapest; ties share). */
  readonly priceRanks: ReadonlyArray<{ readonly sellerId: string; readonly rank: number }>
}
