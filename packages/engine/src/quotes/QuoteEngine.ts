/**
 * The quote fan-out: every eligible seller's answer for an ISBN within a deadline, without ever
 * breaking a seller's limits. Eligible = active, circuit not open and — once there are more than
 * `selection.threshold` sellers to ask — chosen by seller selection (`SellerSelection`): the
 * ISBN's known carriers first, then by estimated chance of carrying it, asked in waves inside
 * the deadline. A seller without budget right now is waited for in its queue
 * (`quotes/SellerQueue.ts`), first come first served; one still not reached by the deadline is
 * `not_asked` — an outcome the caller must not read as "no offer". Answers are cached per
 * (ISBN, seller) for less than the quote's validity;
 * concurrent requests for one ISBN share one fan-out (single-flight, across processes with
 * Redis); batch-capable sellers get batched calls. It does not wait for stragglers: once 95 %
 * of the sellers asked at once have settled, the rest get a short grace and are then left out
 * (`StragglerOptions`). `quotes` never fails: every seller's fate is an outcome in the result.
 *
 * With the offer index (`inventory/OfferIndex.ts`, provided by the engine), sellers whose feed
 * lists the book answer from the index (an offer whose `source` is `feed` or `push`, never bought
 * from), sellers whose complete, fresh feed does not list it are `unavailable: not_listed`
 * without being asked, and only the rest are asked live. `confirm` turns the best of those
 * indexed offers into live ones before a purchase, walking down the list when the index was
 * wrong, and corrects the index with every answer.
 */
import { Contract, type Isbn, Money, type SellerClient } from "@bookbroker/adapter-sdk"
import { Clock, Context, Deferred, Effect, Fiber, Layer, Option, Schema } from "effect"
import { type IndexedListing, OfferIndex, pushListingId } from "../inventory/OfferIndex.js"
import * as ConfirmWalk from "./ConfirmWalk.js"
import { recordSellerCall } from "../Metrics.js"
import { type SellerStat, SellerStats } from "../internal/sellerStats.js"
import * as PushedOffers from "./PushedOffers.js"
import * as SellerQueue from "./SellerQueue.js"
import { type Seller, SellerDirectory } from "../sellers/SellerDirectory.js"
import { SellerPool } from "../sellers/SellerPool.js"
import * as SellerSelection from "../sellers/SellerSelection.js"
import { SharedState } from "../state/SharedState.js"

export type { SellerStat } from "../internal/sellerStats.js"

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

export class QuoteEngine extends Context.Service<QuoteEngine, QuoteEngineService>()("@bookbroker/engine/QuoteEngine") {}

interface Entry {
  readonly seller: Seller
  readonly client: SellerClient.SellerClient
}

interface Answer {
  readonly answer: Contract.QuoteResult
  readonly cached: boolean
  readonly latencyMillis: number
  /** From the offer index (absent: the seller's own answer, fresh or cached). */
  readonly indexed?: IndexedListing
}

/** An indexed listing as an offer to show and rank (never to buy from: its quote id is ours). */
const indexedOffer = (listing: IndexedListing): Contract.Offer =>
  new Contract.Offer({
    available: true,
    isbn: listing.isbn,
    quoteId: `${listing.source === "push" ? PushedOffers.quoteIdPrefix : "feed-"}${listing.listingId}`,
    price: Money.make(listing.price, listing.currency),
    shipping: Money.make(listing.shipping, listing.currency),
    condition: listing.condition,
    quantity: listing.quantity,
    expiresAt: listing.freshUntil
  })

/** Each seller's listing for a request: its cheapest in the request's currency, else its cheapest. */
const listingsBySeller = (listings: ReadonlyArray<IndexedListing>, currency: string): Map<string, IndexedListing> => {
  const chosen = new Map<string, IndexedListing>()
  for (const listing of listings) {
    const current = chosen.get(listing.sellerId)
    if (current === undefined || (current.currency !== currency && listing.currency === currency)) chosen.set(listing.sellerId, listing)
  }
  return chosen
}

/** Known carriers read per selecting fan-out: as many as history keeps by default. */
const carriersRead = 64

const encodeAnswer = Schema.encodeSync(Contract.QuoteResult)
const decodeAnswer = Schema.decodeUnknownOption(Schema.fromJsonString(Contract.QuoteResult))

export const make = (options: QuoteEngineOptions = {}) =>
  Effect.gen(function* () {
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState
    const index = Option.getOrUndefined(yield* Effect.serviceOption(OfferIndex))
    const confirmMargin = options.confirmMargin ?? 0
    const scope = yield* Effect.scope
    const stats = new SellerStats()
    const deadlineDefault = options.deadlineMillis ?? 10_000
    const useCache = options.cache ?? true
    const coalesce = options.coalesce ?? true
    const cacheTtl = options.cacheTtlMillis ?? 30_000
    const unavailableTtl = options.unavailableTtlMillis ?? 30_000
    const selection = options.selection ?? {}
    const threshold = selection.threshold ?? SellerSelection.defaults.threshold
    const waveInterval = selection.waveIntervalMillis ?? 1_500
    const stragglers = options.stragglers === false ? undefined : { ...defaultStragglers, ...options.stragglers }
    const selectionOptions: SellerSelection.SelectionOptions = {
      threshold,
      ...(selection.waveSize === undefined ? {} : { waveSize: selection.waveSize }),
      ...(selection.maxSellers === undefined ? {} : { maxSellers: selection.maxSellers }),
      ...(selection.explorationShare === undefined ? {} : { explorationShare: selection.explorationShare })
    }
    const queues = SellerQueue.make(state, stats, scope, {
      coalesce,
      ...(options.batchWindowMillis === undefined ? {} : { batchWindowMillis: options.batchWindowMillis })
    })

    const ttlFor = (answer: Contract.QuoteResult, now: number): number =>
      answer instanceof Contract.Offer ? Math.min(cacheTtl, Math.floor((answer.expiresAt.getTime() - now) * 0.8)) : unavailableTtl

    const readCache = (isbn: Isbn.Isbn13, entries: ReadonlyArray<Entry>, answers: Map<string, Answer>) =>
      Effect.gen(function* () {
        if (entries.length === 0) return
        const values = yield* state.getQuotes(isbn, entries.map((entry) => entry.seller.id))
        values.forEach((value, index) => {
          if (value === undefined) return
          const decoded = decodeAnswer(value)
          if (Option.isSome(decoded)) answers.set(entries[index]!.seller.id, { answer: decoded.value, cached: true, latencyMillis: 0 })
        })
      })

    /**
     * What the offer index says, for the sellers with no answer yet: an indexed offer, or — a
     * complete, fresh feed without the book — `unavailable: not_listed`. Neither is asked live.
     */
    const readIndex = (
      offerIndex: typeof OfferIndex.Service,
      isbn: Isbn.Isbn13,
      currency: string,
      entries: ReadonlyArray<Entry>,
      answers: Map<string, Answer>,
      outcomes: Map<string, SellerOutcome>
    ) =>
      Effect.gen(function* () {
        if (entries.length === 0) return
        const listed = yield* offerIndex.lookup(isbn)
        if (listed.listings.length === 0 && listed.unlistedBy.size === 0) return
        const bySeller = listingsBySeller(listed.listings, currency)
        for (const { seller } of entries) {
          if (answers.has(seller.id) || outcomes.has(seller.id)) continue
          const listing = bySeller.get(seller.id)
          if (listing !== undefined) answers.set(seller.id, { answer: indexedOffer(listing), cached: true, latencyMillis: 0, indexed: listing })
          else if (listed.unlistedBy.has(seller.id)) {
            outcomes.set(seller.id, { sellerId: seller.id, sellerName: seller.name, status: "unavailable", reason: "not_listed", cached: true, latencyMillis: 0 })
          }
        }
      })

    /**
     * Launches the waves in order: the next when the previous has finished or `waveInterval`
     * after it started, while `SellerSelection.waveFits` says the deadline leaves it room.
     * Marks every seller it launches in `asked`.
     */
    const runWaves = (waves: ReadonlyArray<ReadonlyArray<Entry>>, deadlineAt: number, one: (entry: Entry) => Effect.Effect<void>, asked: Set<string>) =>
      Effect.gen(function* () {
        const running: Array<Fiber.Fiber<void>> = []
        for (const [index, wave] of waves.entries()) {
          if (index > 0) {
            const remaining = deadlineAt - (yield* Clock.currentTimeMillis)
            if (!SellerSelection.waveFits(remaining, wave.map((entry) => entry.client.limits.timeoutMillis))) break
          }
          for (const entry of wave) asked.add(entry.seller.id)
          const fiber = yield* Effect.forkChild(Effect.forEach(wave, one, { concurrency: "unbounded", discard: true }))
          running.push(fiber)
          if (index < waves.length - 1) yield* Effect.timeoutOption(Fiber.await(fiber), waveInterval)
        }
        // Forked fibers are this fiber's children: the deadline's interruption reaches them too.
        yield* Fiber.joinAll(running)
      })

    /**
     * Asks the entries in parallel until the deadline — all of them, or with more than
     * `threshold` of them and no `sellerIds` in the request, the waves seller selection chooses —
     * and records answers and outcomes as they come, then what the fan-out taught (carrier
     * history, coverage and price stats).
     */
    const fanOut = (
      isbn: Isbn.Isbn13,
      entries: ReadonlyArray<Entry>,
      deadlineAt: number,
      answers: Map<string, Answer>,
      outcomes: Map<string, SellerOutcome>,
      tickets: Map<string, SellerQueue.Ticket>,
      context: { readonly currency: string; readonly restricted: boolean; readonly keepHistory: boolean; readonly tenant?: string }
    ) =>
      Effect.gen(function* () {
        const fresh: Array<{ sellerId: string; answer: Contract.QuoteResult }> = []
        const one = (entry: Entry) =>
          Effect.suspend(() => {
            const ticket: SellerQueue.Ticket = { dispatched: false, heldBy: undefined, since: Date.now() }
            tickets.set(entry.seller.id, ticket)
            return queues.quote(entry.client, isbn, ticket, context.tenant)
          }).pipe(Effect.map((result) => {
            const base = { sellerId: entry.seller.id, sellerName: entry.seller.name, cached: false }
            switch (result._tag) {
              case "Answered":
                answers.set(entry.seller.id, { answer: result.answer, cached: false, latencyMillis: result.latencyMillis })
                fresh.push({ sellerId: entry.seller.id, answer: result.answer })
                return
              case "Failed":
                outcomes.set(entry.seller.id, {
                  ...base,
                  status: "error",
                  reason: result.error._tag === "SellerRejected" || result.error._tag === "SellerUnavailable" ? result.error.reason : result.error._tag,
                  latencyMillis: result.latencyMillis
                })
                return
              case "CircuitOpen":
                outcomes.set(entry.seller.id, { ...base, status: "skipped", reason: "circuit_open", latencyMillis: 0 })
                return
            }
          }))
        const now = yield* Clock.currentTimeMillis
        const select = !context.restricted && entries.length > threshold
        let knownCarriers: ReadonlySet<string> = new Set()
        if (!select) {
          const quorum = stragglers === undefined ? entries.length : Math.ceil(entries.length * stragglers.quorum)
          if (quorum >= entries.length) {
            yield* Effect.forEach(entries, one, { concurrency: "unbounded", discard: true }).pipe(Effect.timeoutOption(Math.max(0, deadlineAt - now)))
          } else {
            // Everyone at once; once `quorum` have settled, a grace period races the rest.
            const reached = yield* Deferred.make<number>()
            let settled = 0
            const counted = (entry: Entry) =>
              Effect.andThen(
                one(entry),
                Effect.suspend(() => (++settled === quorum ? Effect.flatMap(Clock.currentTimeMillis, (at) => Deferred.succeed(reached, at - now)) : Effect.void))
              )
            const grace = Effect.flatMap(Deferred.await(reached), (took) => Effect.sleep(Math.max(stragglers!.graceMillis, took * stragglers!.graceFactor)))
            const cut = yield* Effect.raceFirst(
              Effect.as(Effect.forEach(entries, counted, { concurrency: "unbounded", discard: true }), false),
              Effect.as(grace, true)
            ).pipe(Effect.timeoutOption(Math.max(0, deadlineAt - now)))
            if (Option.isSome(cut) && cut.value) {
              const waited = (yield* Clock.currentTimeMillis) - now
              for (const entry of entries) {
                if (answers.has(entry.seller.id) || outcomes.has(entry.seller.id)) continue
                const ticket = tickets.get(entry.seller.id)
                // Still waiting for its turn: not a slow seller, a busy one — never asked.
                if (ticket !== undefined && !ticket.dispatched) continue
                outcomes.set(entry.seller.id, { sellerId: entry.seller.id, sellerName: entry.seller.name, status: "deadline", reason: "straggler", cached: false, latencyMillis: waited })
                // For the seller's health and history it did not answer in time (its circuit is not charged).
                stats.record(entry.seller.id, false, waited)
                yield* recordSellerCall(entry.seller.id, "failed", waited)
              }
            }
          }
        } else {
          const carriers = yield* state.carriers(isbn, carriersRead)
          knownCarriers = new Set(carriers.map((carrier) => carrier.sellerId))
          const byId = new Map(entries.map((entry) => [entry.seller.id, entry]))
          const waves = SellerSelection.plan({
            candidates: entries.map((entry) => entry.seller.id),
            carriers,
            stats: (sellerId) => stats.get(sellerId),
            now,
            options: selectionOptions
          })
          const asked = new Set<string>()
          const entryWaves = waves.map((wave) => wave.map((sellerId) => byId.get(sellerId)!))
          yield* runWaves(entryWaves, deadlineAt, one, asked).pipe(Effect.timeoutOption(Math.max(0, deadlineAt - now)))
          for (const entry of entries) {
            if (asked.has(entry.seller.id)) continue
            outcomes.set(entry.seller.id, {
              sellerId: entry.seller.id,
              sellerName: entry.seller.name,
              status: "skipped",
              reason: "not_selected",
              cached: false,
              latencyMillis: 0
            })
          }
        }
        const end = yield* Clock.currentTimeMillis

        const learned = SellerSelection.lessons(
          fresh.map(({ sellerId, answer }) =>
            // Price and shipping share a currency (checked for every answer); `answer.total` would build and re-validate a Money.
            answer instanceof Contract.Offer
              ? answer.price.currency === context.currency
                ? { sellerId, offered: true, total: answer.price.amount + answer.shipping.amount }
                : { sellerId, offered: true }
              : { sellerId, offered: false }
          ),
          { knownCarriers, coverage: !context.restricted }
        )
        stats.learn(learned)
        const writes: Array<Effect.Effect<void>> = []
        if (fresh.length > 0 && (useCache || coalesce)) {
          writes.push(
            state.putQuotes(
              isbn,
              fresh.map(({ sellerId, answer }) => ({ sellerId, value: JSON.stringify(encodeAnswer(answer)), ttlMillis: ttlFor(answer, end) }))
            )
          )
        }
        if (context.keepHistory && (learned.carriers.length > 0 || learned.notCarrying.length > 0)) {
          writes.push(state.recordCarriers(isbn, learned.carriers, learned.notCarrying))
        }
        yield* Effect.all(writes, { concurrency: "unbounded", discard: true })
      })

    const quotes = (isbn: Isbn.Isbn13, request: QuoteOptions): Effect.Effect<OfferBook> =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const deadlineAt = started + (request.deadlineMillis ?? deadlineDefault)
        const answers = new Map<string, Answer>()
        const outcomes = new Map<string, SellerOutcome>()
        const tickets = new Map<string, SellerQueue.Ticket>()

        const active = yield* directory.active
        const wanted = request.sellerIds === undefined ? active : active.filter((seller) => request.sellerIds!.includes(seller.id))
        const entries: Array<Entry> = []
        for (const seller of wanted) {
          const client = yield* Effect.result(pool.client(seller))
          if (client._tag === "Success") entries.push({ seller, client: client.success })
          else outcomes.set(seller.id, { sellerId: seller.id, sellerName: seller.name, status: "skipped", reason: "invalid_config", cached: false, latencyMillis: 0 })
        }

        if (useCache && request.cache !== false) yield* readCache(isbn, entries, answers)
        if (index !== undefined && request.cache !== false) {
          // Without the index (PostgreSQL away) every seller is simply asked live: quotes never fail.
          yield* readIndex(index, isbn, request.currency, entries, answers, outcomes).pipe(
            Effect.catchDefect((defect) => Effect.logWarning("offer index unavailable: asking every seller live", defect))
          )
        }
        const pending = () => entries.filter((entry) => !answers.has(entry.seller.id) && !outcomes.has(entry.seller.id))
        let coalesced = false
        if (pending().length > 0) {
          const shared = coalesce && request.sellerIds === undefined
          const leadership = shared ? yield* state.lead(`quotes:${isbn}`, deadlineAt - started + 1_000) : Option.none()
          if (!shared || Option.isSome(leadership)) {
            // History is kept once the fleet is big enough for selection to use it.
            const context = {
              currency: request.currency,
              restricted: request.sellerIds !== undefined,
              keepHistory: active.length > threshold,
              ...(request.tenant === undefined ? {} : { tenant: request.tenant })
            }
            yield* fanOut(isbn, pending(), deadlineAt, answers, outcomes, tickets, context).pipe(
              Effect.ensuring(Option.isSome(leadership) ? state.finish(leadership.value) : Effect.void)
            )
          } else {
            coalesced = true
            // With this many sellers to ask, the leader asked only a selection of them.
            const selected = pending().length > threshold
            yield* state.awaitLeader(`quotes:${isbn}`, Math.max(0, deadlineAt - (yield* Clock.currentTimeMillis)))
            yield* readCache(isbn, pending(), answers)
            if (selected) {
              for (const entry of pending()) {
                outcomes.set(entry.seller.id, { sellerId: entry.seller.id, sellerName: entry.seller.name, status: "skipped", reason: "not_selected", cached: false, latencyMillis: 0 })
              }
            } else if (pending().length > 0) {
              // What the shared fan-out did not learn (a seller it could not reach, or that failed for
              // it), this request asks itself, in the sellers' queues: never concluded from silence.
              const context = { currency: request.currency, restricted: true, keepHistory: false, ...(request.tenant === undefined ? {} : { tenant: request.tenant }) }
              yield* fanOut(isbn, pending(), deadlineAt, answers, outcomes, tickets, context)
            }
          }
        }
        for (const entry of pending()) {
          const ticket = tickets.get(entry.seller.id)
          if (ticket !== undefined && !ticket.dispatched) {
            // Its turn within the seller's limits never came: not asked, and said so.
            outcomes.set(entry.seller.id, {
              sellerId: entry.seller.id,
              sellerName: entry.seller.name,
              status: "not_asked",
              reason: ticket.heldBy ?? "queued",
              cached: false,
              latencyMillis: deadlineAt - ticket.since
            })
            yield* recordSellerCall(entry.seller.id, "denied")
            continue
          }
          outcomes.set(entry.seller.id, { sellerId: entry.seller.id, sellerName: entry.seller.name, status: "deadline", reason: "deadline", cached: false, latencyMillis: deadlineAt - started })
        }

        const offers: Array<RankedOffer> = []
        const byId = new Map(entries.map((entry) => [entry.seller.id, entry.seller]))
        for (const [sellerId, { answer, cached, latencyMillis, indexed }] of answers) {
          const seller = byId.get(sellerId)!
          const base = { sellerId, sellerName: seller.name, cached, latencyMillis }
          const converted = answer instanceof Contract.Offer && answer.price.currency !== request.currency ? request.convert?.(answer.total) : undefined
          if (!(answer instanceof Contract.Offer)) {
            outcomes.set(sellerId, { ...base, status: "unavailable", reason: answer.reason })
          } else if (answer.price.currency !== request.currency && converted === undefined) {
            outcomes.set(sellerId, {
              ...base,
              status: "excluded",
              reason: `currency ${answer.price.currency}`,
              offered: { amount: answer.price.amount + answer.shipping.amount, currency: answer.price.currency }
            })
          } else {
            outcomes.set(sellerId, { ...base, status: "offer" })
            offers.push({
              sellerId,
              sellerName: seller.name,
              offer: answer,
              ...(converted === undefined ? { total: answer.total } : { total: converted, sellerTotal: answer.total }),
              reliability: stats.get(sellerId).reliability,
              cached,
              ...(indexed === undefined
                ? PushedOffers.isPushed(answer)
                  ? // A push read from the quote cache: kept in the index too, under its book's push listing.
                    { source: "push", listingId: pushListingId(isbn) }
                  : { source: "live" }
                : { source: indexed.source, seenAt: indexed.seenAt, listingId: indexed.listingId })
            })
          }
        }
        offers.sort(
          (a, b) =>
            a.total.amount - b.total.amount ||
            b.reliability - a.reliability ||
            stats.get(a.sellerId).latencyMillis - stats.get(b.sellerId).latencyMillis ||
            a.sellerId.localeCompare(b.sellerId)
        )
        return {
          isbn,
          currency: request.currency,
          offers,
          outcomes: entries.map((entry) => outcomes.get(entry.seller.id)!).concat(
            [...outcomes.values()].filter((outcome) => !byId.has(outcome.sellerId))
          ),
          coalesced,
          durationMillis: (yield* Clock.currentTimeMillis) - started
        }
      }).pipe(Effect.withSpan("QuoteEngine.quotes", { attributes: { isbn, currency: request.currency } }, { captureStackTrace: false }))

    const confirm = (isbn: Isbn.Isbn13, offers: ReadonlyArray<RankedOffer>, options: ConfirmOptions): Effect.Effect<Confirmed> =>
      Effect.gen(function* () {
        const deadlineAt = (yield* Clock.currentTimeMillis) + options.deadlineMillis
        const live = offers.filter((offer) => offer.source === "live")
        const leads = offers.filter((offer) => offer.source !== "live").map((offer) => ({ sellerId: offer.sellerId, total: offer.total.amount, offer }))
        // Which leads are asked, and when it is enough: `ConfirmWalk.ts`.
        const walk = ConfirmWalk.make(leads, live.map((offer) => offer.total.amount), options.best ?? 2, { margin: confirmMargin })
        const outcomes = new Map<string, SellerOutcome>()
        while (true) {
          const left = deadlineAt - (yield* Clock.currentTimeMillis)
          if (left <= 0) break
          const batch = walk.next()
          if (batch.length === 0) break
          const asked = yield* quotes(isbn, {
            currency: options.currency,
            sellerIds: batch.map((lead) => lead.sellerId),
            cache: false,
            deadlineMillis: left,
            ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
            ...(options.convert === undefined ? {} : { convert: options.convert })
          })
          for (const outcome of asked.outcomes) outcomes.set(outcome.sellerId, outcome)
          for (const offer of asked.offers) live.push(offer)
          for (const lead of batch) {
            const offered = asked.offers.find((offer) => offer.sellerId === lead.sellerId)
            const status = outcomes.get(lead.sellerId)?.status
            walk.answered(
              lead,
              offered !== undefined
                ? { _tag: "Offered", total: offered.total.amount }
                : status === "unavailable" || status === "excluded"
                  ? { _tag: "NoOffer" }
                  : { _tag: "Failed" }
            )
          }
          if (index === undefined) continue
          // Every answer about a listing corrects the index: sold elsewhere removes it, a new price is written.
          yield* Effect.forEach(
            batch,
            ({ offer: lead }) => {
              if (lead.listingId === undefined) return Effect.void
              const offer = asked.offers.find((candidate) => candidate.sellerId === lead.sellerId)
              if (offer !== undefined) {
                return index.learn(lead.sellerId, lead.listingId, {
                  _tag: "Offered",
                  price: offer.offer.price.amount,
                  shipping: offer.offer.shipping.amount,
                  currency: offer.offer.price.currency,
                  condition: offer.offer.condition,
                  quantity: offer.offer.quantity
                })
              }
              return outcomes.get(lead.sellerId)?.status === "unavailable" ? index.learn(lead.sellerId, lead.listingId, { _tag: "Gone" }) : Effect.void
            },
            { concurrency: 4, discard: true }
          )
        }
        for (const { offer: lead } of walk.unasked()) {
          if (outcomes.has(lead.sellerId)) continue
          outcomes.set(lead.sellerId, { sellerId: lead.sellerId, sellerName: lead.sellerName, status: "skipped", reason: "not_needed", cached: true, latencyMillis: 0 })
        }
        // A seller asked twice (its first call failed) offers once.
        const offered = new Map(live.map((offer) => [offer.sellerId, offer]))
        const ranked = [...offered.values()].sort((a, b) => a.total.amount - b.total.amount || b.reliability - a.reliability)
        return { offers: ranked, outcomes: [...outcomes.values()] }
      }).pipe(Effect.withSpan("QuoteEngine.confirm", { attributes: { isbn, offers: offers.length } }, { captureStackTrace: false }))

    const sellerStats = (sellerId: string): Effect.Effect<SellerStat> => Effect.sync(() => ({ ...stats.get(sellerId) }))

    return { quotes, confirm, sellerStats, queueDepth: Effect.sync(() => queues.depth()) } satisfies QuoteEngineService
  })

export const layer = (options: QuoteEngineOptions = {}): Layer.Layer<QuoteEngine, never, SellerDirectory | SellerPool | SharedState> =>
  Layer.effect(QuoteEngine, make(options))
