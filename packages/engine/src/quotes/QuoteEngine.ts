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
 *
 * Here: the service and one request's quotes (`quotes`). Its parts: what is known without asking
 * (`KnownAnswers.ts`: the quote cache, the offer index), one fan-out (`FanOut.ts`: everyone at
 * once or selection waves, stragglers, what it taught), confirming indexed offers (`Confirm.ts`),
 * the types (`QuoteTypes.ts`) and what the parts share (`QuoteContext.ts`).
 */
import { Contract, type Isbn } from "@bookbroker/adapter-sdk"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { OfferIndex, pushListingId } from "../inventory/OfferIndex.js"
import { recordSellerCall } from "../Metrics.js"
import { type SellerStat, SellerStats } from "../sellers/SellerStats.js"
import { type Seller, SellerDirectory } from "../sellers/SellerDirectory.js"
import { SellerPool } from "../sellers/SellerPool.js"
import * as SellerSelection from "../sellers/SellerSelection.js"
import { SharedState } from "../state/SharedState.js"
import { confirm } from "./Confirm.js"
import { fanOut } from "./FanOut.js"
import { readCache, readIndex } from "./KnownAnswers.js"
import * as PushedOffers from "./PushedOffers.js"
import type { Answer, Entry, QuoteContext } from "./QuoteContext.js"
import { defaultStragglers, type QuoteEngineOptions, type QuoteEngineService, type QuoteOptions, type RankedOffer, type SellerOutcome } from "./QuoteTypes.js"
import * as SellerQueue from "./SellerQueue.js"

export type { SellerStat } from "../sellers/SellerStats.js"

export * from "./QuoteTypes.js"

export class QuoteEngine extends Context.Service<QuoteEngine, QuoteEngineService>()("@bookbroker/engine/QuoteEngine") {}

/**
 * The answers as offers, cheapest total first (ties: the more reliable, then the faster seller),
 * each seller's outcome recorded: an offer, unavailable, or excluded (another currency without a
 * rate to compare it at).
 */
const rank = (
  ctx: QuoteContext,
  isbn: Isbn.Isbn13,
  request: QuoteOptions,
  byId: ReadonlyMap<string, Seller>,
  answers: ReadonlyMap<string, Answer>,
  outcomes: Map<string, SellerOutcome>
): Array<RankedOffer> => {
  const offers: Array<RankedOffer> = []
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
        reliability: ctx.stats.get(sellerId).reliability,
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
      ctx.stats.get(a.sellerId).latencyMillis - ctx.stats.get(b.sellerId).latencyMillis ||
      a.sellerId.localeCompare(b.sellerId)
  )
  return offers
}

const quotes = (ctx: QuoteContext): QuoteEngineService["quotes"] => (isbn, request) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const deadlineAt = started + (request.deadlineMillis ?? ctx.deadlineDefault)
    const answers = new Map<string, Answer>()
    const outcomes = new Map<string, SellerOutcome>()
    const tickets = new Map<string, SellerQueue.Waiting>()

    const active = yield* ctx.directory.active
    const wanted = request.sellerIds === undefined ? active : active.filter((seller) => request.sellerIds!.includes(seller.id))
    const entries: Array<Entry> = []
    const clients = yield* ctx.pool.clients(wanted)
    for (let i = 0; i < wanted.length; i++) {
      const seller = wanted[i]!
      const client = clients[i]!
      if (client._tag === "Success") entries.push({ seller, client: client.success })
      else outcomes.set(seller.id, { sellerId: seller.id, sellerName: seller.name, status: "skipped", reason: "invalid_config", cached: false, latencyMillis: 0 })
    }

    if (ctx.useCache && request.cache !== false) yield* readCache(ctx, isbn, entries, answers)
    if (ctx.index !== undefined && request.cache !== false) {
      // Without the index (PostgreSQL away) every seller is simply asked live: quotes never fail.
      yield* readIndex(ctx.index, isbn, request.currency, entries, answers, outcomes).pipe(
        Effect.catchDefect((defect) => Effect.logWarning("offer index unavailable: asking every seller live", defect))
      )
    }
    const pending = () => entries.filter((entry) => !answers.has(entry.seller.id) && !outcomes.has(entry.seller.id))
    let coalesced = false
    if (pending().length > 0) {
      const shared = ctx.coalesce && request.sellerIds === undefined
      const leadership = shared ? yield* ctx.state.lead(`quotes:${isbn}`, deadlineAt - started + 1_000) : Option.none()
      if (!shared || Option.isSome(leadership)) {
        // History is kept once the fleet is big enough for selection to use it.
        const context = {
          currency: request.currency,
          restricted: request.sellerIds !== undefined,
          keepHistory: active.length > ctx.threshold,
          ...(request.tenant === undefined ? {} : { tenant: request.tenant })
        }
        yield* fanOut(ctx, isbn, pending(), deadlineAt, answers, outcomes, tickets, context).pipe(
          Effect.ensuring(Option.isSome(leadership) ? ctx.state.finish(leadership.value) : Effect.void)
        )
      } else {
        coalesced = true
        // With this many sellers to ask, the leader asked only a selection of them.
        const selected = pending().length > ctx.threshold
        yield* ctx.state.awaitLeader(`quotes:${isbn}`, Math.max(0, deadlineAt - (yield* Clock.currentTimeMillis)))
        yield* readCache(ctx, isbn, pending(), answers)
        if (selected) {
          for (const entry of pending()) {
            outcomes.set(entry.seller.id, { sellerId: entry.seller.id, sellerName: entry.seller.name, status: "skipped", reason: "not_selected", cached: false, latencyMillis: 0 })
          }
        } else if (pending().length > 0) {
          // What the shared fan-out did not learn (a seller it could not reach, or that failed for
          // it), this request asks itself, in the sellers' queues: never concluded from silence.
          const context = { currency: request.currency, restricted: true, keepHistory: false, ...(request.tenant === undefined ? {} : { tenant: request.tenant }) }
          yield* fanOut(ctx, isbn, pending(), deadlineAt, answers, outcomes, tickets, context)
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

    const byId = new Map(entries.map((entry) => [entry.seller.id, entry.seller]))
    const offers = rank(ctx, isbn, request, byId, answers, outcomes)
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

    const ctx: QuoteContext = {
      directory,
      pool,
      state,
      index,
      stats,
      queues,
      deadlineDefault,
      useCache,
      coalesce,
      cacheTtl,
      unavailableTtl,
      threshold,
      waveInterval,
      stragglers,
      selectionOptions,
      confirmMargin
    }
    const quoted = quotes(ctx)

    const sellerStats = (sellerId: string): Effect.Effect<SellerStat> => Effect.sync(() => ({ ...stats.get(sellerId) }))

    return { quotes: quoted, confirm: confirm(ctx, quoted), sellerStats, queueDepth: Effect.sync(() => queues.depth()) } satisfies QuoteEngineService
  })

export const layer = (options: QuoteEngineOptions = {}): Layer.Layer<QuoteEngine, never, SellerDirectory | SellerPool | SharedState> =>
  Layer.effect(QuoteEngine, make(options))
