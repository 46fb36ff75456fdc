/**
 * One fan-out: asks the sellers in parallel until the deadline — everyone at once (leaving the
 * last few stragglers after a grace), or, past `threshold` sellers, the waves seller selection
 * chooses — and records each seller's answer or fate, then what the fan-out taught (carrier
 * history, coverage and price stats, the quote cache).
 */
import { Contract, type Isbn } from "@bookbroker/adapter-sdk"
import { Clock, Deferred, Effect, Fiber, Option } from "effect"
import { recordSellerCall } from "../Metrics.js"
import * as SellerSelection from "../sellers/SellerSelection.js"
import { encodeAnswer, ttlFor } from "./KnownAnswers.js"
import type { Answer, Entry, QuoteContext } from "./QuoteContext.js"
import type { SellerOutcome } from "./QuoteTypes.js"
import type * as SellerQueue from "./SellerQueue.js"

/** Known carriers read per selecting fan-out: as many as history keeps by default. */
const carriersRead = 64

/**
 * Launches the waves in order: the next when the previous has finished or `waveInterval`
 * after it started, while `SellerSelection.waveFits` says the deadline leaves it room.
 * Marks every seller it launches in `asked`.
 */
const runWaves = (ctx: QuoteContext, waves: ReadonlyArray<ReadonlyArray<Entry>>, deadlineAt: number, ask: (entries: ReadonlyArray<Entry>) => Effect.Effect<void>, asked: Set<string>) =>
  Effect.gen(function* () {
    const running: Array<Fiber.Fiber<void>> = []
    for (const [index, wave] of waves.entries()) {
      if (index > 0) {
        const remaining = deadlineAt - (yield* Clock.currentTimeMillis)
        if (!SellerSelection.waveFits(remaining, wave.map((entry) => entry.client.limits.timeoutMillis))) break
      }
      for (const entry of wave) asked.add(entry.seller.id)
      const fiber = yield* Effect.forkChild(ask(wave))
      running.push(fiber)
      if (index < waves.length - 1) yield* Effect.timeoutOption(Fiber.await(fiber), ctx.waveInterval)
    }
    // Forked fibers are this fiber's children: the deadline's interruption reaches them too.
    yield* Fiber.joinAll(running)
  })

/** A fresh answer from a seller, for the quote cache and what selection learns. */
interface Fresh {
  readonly sellerId: string
  readonly answer: Contract.QuoteResult
}

/** Records one seller's answer (`answers`, `fresh`) or its fate (`outcomes`). */
const record = (answers: Map<string, Answer>, outcomes: Map<string, SellerOutcome>, fresh: Array<Fresh>) => (entry: Entry, result: SellerQueue.QueueResult): void => {
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
}

/**
 * Asks each entry's seller in its queue and records each answer as it comes (`onSettled` after
 * each); done when all have settled (`SellerQueue.askAll`: one fiber for the fan-out, a waiting
 * call one small object in its seller's queue, kept in `tickets`). Interrupted (the deadline),
 * it stops every wait still open.
 */
const askAll = (
  ctx: QuoteContext,
  isbn: Isbn.Isbn13,
  tenant: string,
  tickets: Map<string, SellerQueue.Waiting>,
  settled: (entry: Entry, result: SellerQueue.QueueResult) => void,
  onSettled?: () => void
) => (entries: ReadonlyArray<Entry>): Effect.Effect<void> =>
  ctx.queues.askAll(
    entries.map((entry) => ({ client: entry.client, about: entry })),
    isbn,
    tenant,
    (result, entry) => {
      settled(entry, result)
      onSettled?.()
    },
    // Its own waiters: a later fan-out of the same request puts new ones in `tickets`, never for these entries.
    (entry, ticket) => {
      tickets.set(entry.seller.id, ticket)
    }
  )

/**
 * Asks the entries in parallel until the deadline — all of them, or with more than
 * `threshold` of them and no `sellerIds` in the request, the waves seller selection chooses —
 * and records answers and outcomes as they come, then what the fan-out taught (carrier
 * history, coverage and price stats).
 */
export const fanOut = (
  ctx: QuoteContext,
  isbn: Isbn.Isbn13,
  entries: ReadonlyArray<Entry>,
  deadlineAt: number,
  answers: Map<string, Answer>,
  outcomes: Map<string, SellerOutcome>,
  tickets: Map<string, SellerQueue.Waiting>,
  context: { readonly currency: string; readonly restricted: boolean; readonly keepHistory: boolean; readonly tenant?: string }
) =>
  Effect.gen(function* () {
    const fresh: Array<Fresh> = []
    const settled = record(answers, outcomes, fresh)
    const clock = yield* Clock.Clock
    const now = clock.currentTimeMillisUnsafe()
    const select = !context.restricted && entries.length > ctx.threshold
    let knownCarriers: ReadonlySet<string> = new Set()
    if (!select) {
      const quorum = ctx.stragglers === undefined ? entries.length : Math.ceil(entries.length * ctx.stragglers.quorum)
      if (quorum >= entries.length) {
        yield* askAll(ctx, isbn, context.tenant ?? "", tickets, settled)(entries).pipe(Effect.timeoutOption(Math.max(0, deadlineAt - now)))
      } else {
        // Everyone at once; once `quorum` have settled, a grace period races the rest.
        const reached = Deferred.makeUnsafe<number>()
        let count = 0
        const counted = askAll(ctx, isbn, context.tenant ?? "", tickets, settled, () => {
          if (++count === quorum) Deferred.doneUnsafe(reached, Effect.succeed(clock.currentTimeMillisUnsafe() - now))
        })
        const grace = Effect.flatMap(Deferred.await(reached), (took) => Effect.sleep(Math.max(ctx.stragglers!.graceMillis, took * ctx.stragglers!.graceFactor)))
        const cut = yield* Effect.raceFirst(Effect.as(counted(entries), false), Effect.as(grace, true)).pipe(Effect.timeoutOption(Math.max(0, deadlineAt - now)))
        if (Option.isSome(cut) && cut.value) {
          const waited = (yield* Clock.currentTimeMillis) - now
          for (const entry of entries) {
            if (answers.has(entry.seller.id) || outcomes.has(entry.seller.id)) continue
            const ticket = tickets.get(entry.seller.id)
            // Still waiting for its turn: not a slow seller, a busy one — never asked.
            if (ticket !== undefined && !ticket.dispatched) continue
            outcomes.set(entry.seller.id, { sellerId: entry.seller.id, sellerName: entry.seller.name, status: "deadline", reason: "straggler", cached: false, latencyMillis: waited })
            // For the seller's health and history it did not answer in time (its circuit is not charged).
            ctx.stats.record(entry.seller.id, false, waited)
            yield* recordSellerCall(entry.seller.id, "failed", waited)
          }
        }
      }
    } else {
      const carriers = yield* ctx.state.carriers(isbn, carriersRead)
      knownCarriers = new Set(carriers.map((carrier) => carrier.sellerId))
      const byId = new Map(entries.map((entry) => [entry.seller.id, entry]))
      const waves = SellerSelection.plan({
        candidates: entries.map((entry) => entry.seller.id),
        carriers,
        stats: (sellerId) => ctx.stats.get(sellerId),
        now,
        options: ctx.selectionOptions
      })
      const asked = new Set<string>()
      const entryWaves = waves.map((wave) => wave.map((sellerId) => byId.get(sellerId)!))
      yield* runWaves(ctx, entryWaves, deadlineAt, askAll(ctx, isbn, context.tenant ?? "", tickets, settled), asked).pipe(Effect.timeoutOption(Math.max(0, deadlineAt - now)))
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
    ctx.stats.learn(learned)
    const writes: Array<Effect.Effect<void>> = []
    if (fresh.length > 0 && (ctx.useCache || ctx.coalesce)) {
      writes.push(
        ctx.state.putQuotes(
          isbn,
          fresh.map(({ sellerId, answer }) => ({ sellerId, value: JSON.stringify(encodeAnswer(answer)), ttlMillis: ttlFor(ctx, answer, end) }))
        )
      )
    }
    if (context.keepHistory && (learned.carriers.length > 0 || learned.notCarrying.length > 0)) {
      writes.push(ctx.state.recordCarriers(isbn, learned.carriers, learned.notCarrying))
    }
    yield* Effect.all(writes, { concurrency: "unbounded", discard: true })
  })
