/**
 * What the quote fan-out promises, as types: a seller's fate in a fan-out (`SellerOutcome`), the
 * offers ranked (`OfferBook`), what a caller may ask (`QuoteOptions`, `ConfirmOptions`), how the
 * engine is tuned (`QuoteEngineOptions`) and the service itself. `QuoteEngine.ts` re-exports them.
 */
import type { Contract, Isbn, Money } from "@bookbroker/adapter-sdk"
import type { Effect } from "effect"
import type { SellerStat } from "../sellers/SellerStats.js"

export type OutcomeStatus =
  /** The seller offered the book. */
  | "offer"
  /** The seller answered: out of stock or not carried. */
  | "unavailable"
  /** The call failed (see `reason`). */
  | "error"
  /**
   * Not asked: circuit open, no rate budget, seller backing off, a broken config, or not chosen
   * by seller selection (`not_selected`: in no wave, or its wave had no time left to start).
   */
  | "skipped"
  /**
   * Still out when the deadline hit (`deadline`), or when the fan-out stopped waiting for the
   * last few sellers (`straggler`, see `QuoteEngineOptions.stragglers`).
   */
  | "deadline"
  /** Answered in another currency than the request's, without an exchange rate to compare it at (`QuoteOptions.convert`). */
  | "excluded"
  /**
   * Never sent: the seller's budget (rate, concurrency, its own back-off — `reason`) had no room
   * for it before the deadline. Not an answer: ask it again later.
   */
  | "not_asked"

export interface SellerOutcome {
  readonly sellerId: string
  readonly sellerName: string
  readonly status: OutcomeStatus
  /** Why, in a word or two: `out_of_stock`, `timeout`, `rate_limited`, `circuit_open`, … */
  readonly reason?: string
  /** What an `excluded` seller offered, in its own currency (minor units). */
  readonly offered?: { readonly amount: number; readonly currency: string }
  readonly cached: boolean
  readonly latencyMillis: number
}

/**
 * Where an offer's price comes from: the seller's answer to bookbroker (`live`), or what the
 * seller published — its inventory feed (`feed`) or a pushed price (`push`). Only a live offer
 * is bought from; the others are confirmed live first (`QuoteEngineService.confirm`).
 */
export type OfferSource = "live" | "feed" | "push"

export interface RankedOffer {
  readonly sellerId: string
  readonly sellerName: string
  readonly offer: Contract.Offer
  /** In the request's currency: converted (`QuoteOptions.convert`) when the seller offered in another. */
  readonly total: Money.Money
  /** The seller's own total, when it offered in another currency than the request's. */
  readonly sellerTotal?: Money.Money
  /** 0..1, this process's recent success rate with the seller; breaks ties. */
  readonly reliability: number
  readonly cached: boolean
  readonly source: OfferSource
  /** When the source stated the price (indexed offers; absent for live ones). */
  readonly seenAt?: Date
  /** The seller's listing in the offer index the price comes from (indexed and pushed offers). */
  readonly listingId?: string
}

export interface OfferBook {
  readonly isbn: Isbn.Isbn13
  readonly currency: string
  /** Cheapest total first, ties by reliability. */
  readonly offers: ReadonlyArray<RankedOffer>
  readonly outcomes: ReadonlyArray<SellerOutcome>
  /** This request waited for another request's fan-out instead of starting one. */
  readonly coalesced: boolean
  readonly durationMillis: number
}

export interface QuoteOptions {
  readonly currency: string
  /** Overrides the engine's deadline for this request. */
  readonly deadlineMillis?: number
  /** Only these sellers (e.g. the purchase pipeline re-quoting); default every active seller. */
  readonly sellerIds?: ReadonlyArray<string>
  /** Whose request this is (the customer id): a seller's queue takes turns between customers. */
  readonly tenant?: string
  /**
   * Read cached answers (engine-made or pushed by sellers) for this request; default true.
   * False asks every seller afresh, e.g. the purchase pipeline re-checking pushed prices.
   */
  readonly cache?: boolean
  /**
   * Prices an offer made in another currency in the request's (`exchange/Conversion.ts`):
   * `undefined` when there is no rate for it (the seller is then `excluded`). Absent: offers in
   * other currencies are excluded.
   */
  readonly convert?: (total: Money.Money) => Money.Money | undefined
}

export interface QuoteEngineOptions {
  /** Global deadline for one fan-out; default 10 s. */
  readonly deadlineMillis?: number
  /** Use cached answers; default true. */
  readonly cache?: boolean
  /** Longest a cached answer lives (always shorter than the quote's own validity); default 30 s. */
  readonly cacheTtlMillis?: number
  /** How long "out of stock" / "not carried" is remembered; default 30 s. */
  readonly unavailableTtlMillis?: number
  /** Concurrent requests for one ISBN share one fan-out; default true. */
  readonly coalesce?: boolean
  /** How long batch-capable sellers' requests are gathered after a permit; default 5 ms. */
  readonly batchWindowMillis?: number
  /** Seller selection, for when there are too many sellers to ask them all (see `SellerSelection`). */
  readonly selection?: SelectionOptions
  /** When to stop waiting for the last few sellers of a fan-out; `false`: wait for every one. */
  readonly stragglers?: StragglerOptions | false
  /**
   * How far an indexed price may have fallen since its feed and still be confirmed
   * (`ConfirmWalk` `margin`, 0–0.5); default 0. 0.05 found the true cheapest 99.4 % of the time
   * instead of 97.2 %, at 5.2 seller calls per request instead of 2.1 (`pnpm bench:selection-feeds`).
   */
  readonly confirmMargin?: number
}

/**
 * Not waiting for stragglers: once `quorum` of the sellers asked at once have settled (answered,
 * failed or been refused), the fan-out waits `max(graceMillis, graceFactor × time to quorum)`
 * more, then stops; sellers still out end as `deadline` / `straggler` and their calls are
 * cancelled (permits go back). With 170 sellers and a 1 % slow tail, most fan-outs otherwise wait
 * for one seller's full timeout. Fewer than `1 / (1 − quorum)` sellers (20 by default) are always
 * all waited for; selection waves are not cut (they have their own schedule).
 */
export interface StragglerOptions {
  /** Share of the sellers asked that must have settled; default 0.95. */
  readonly quorum?: number
  /** Least grace after the quorum; default 250 ms. */
  readonly graceMillis?: number
  /** Grace as a multiple of the time the quorum took; default 1. */
  readonly graceFactor?: number
}

export const defaultStragglers: Required<StragglerOptions> = { quorum: 0.95, graceMillis: 250, graceFactor: 1 }

export interface SelectionOptions {
  /**
   * More sellers to ask than this (after cached answers) and only a selection is asked, in
   * waves; at most this many and everyone is asked at once. Default 200.
   */
  readonly threshold?: number
  /** Sellers per wave; default 200. */
  readonly waveSize?: number
  /** Sellers asked per request, at most; default 600. */
  readonly maxSellers?: number
  /**
   * The next wave starts when the previous one has finished or this long after it started,
   * whichever comes first — and only while the deadline leaves its sellers' typical (median)
   * timeout; default 1,500 ms.
   */
  readonly waveIntervalMillis?: number
  /** Share of each wave drawn at random from sellers with little history; default 0.1. */
  readonly explorationShare?: number
}

export interface ConfirmOptions {
  readonly currency: string
  readonly deadlineMillis: number
  readonly tenant?: string
  /** Stop once this many live offers are at least as cheap as the next unconfirmed one; default 2 (one to buy, one to fall back to). */
  readonly best?: number
  /** As `QuoteOptions.convert`. */
  readonly convert?: (total: Money.Money) => Money.Money | undefined
}

export interface Confirmed {
  /** Live offers only, cheapest first. */
  readonly offers: ReadonlyArray<RankedOffer>
  /** The sellers asked to confirm (their live outcome), and those left unasked (`skipped: not_needed`). */
  readonly outcomes: ReadonlyArray<SellerOutcome>
}

export interface QuoteEngineService {
  readonly quotes: (isbn: Isbn.Isbn13, options: QuoteOptions) => Effect.Effect<OfferBook>
  /**
   * Offers as they may be bought: the indexed and pushed ones among `offers` are confirmed with
   * their sellers, cheapest first, until `best` live offers are at least as cheap as the next
   * unconfirmed one; every live answer corrects the index. Live offers pass through.
   */
  readonly confirm: (isbn: Isbn.Isbn13, offers: ReadonlyArray<RankedOffer>, options: ConfirmOptions) => Effect.Effect<Confirmed>
  /** What this process has seen of a seller lately (read-only snapshot, for health views). */
  readonly sellerStats: (sellerId: string) => Effect.Effect<SellerStat>
  /** Quotes waiting for a turn within each seller's limits in this process, by seller id. */
  readonly queueDepth: Effect.Effect<ReadonlyMap<string, number>>
}

