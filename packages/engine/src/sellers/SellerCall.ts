/**
 * One guarded call to one seller: admission (circuit, back-off, rate, concurrency — shared by
 * every process) first, then the call, then the permit back with the outcome for the circuit
 * breaker. A seller that says "slow down" slows down for every process. Quotes wait for a permit
 * in the seller's queue (`quotes/SellerQueue.ts`, which calls `quoteWithPermit`); holds,
 * purchases, releases and lookups wait a little here (`admittedCall`): they are calls against the
 * same limits, and a seller counts them like any other.
 */
import type { Contract, Isbn, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Clock, Effect, Exit, type Fiber, Result } from "effect"
import { recordSellerCallOn } from "../Metrics.js"
import type { Admission, DenialReason, PermitReturn, SharedStateService } from "../state/SharedState.js"
import type { SellerStats } from "./SellerStats.js"

export type CallResult =
  | { readonly _tag: "Answered"; readonly answers: ReadonlyArray<Contract.QuoteResult>; readonly latencyMillis: number }
  | { readonly _tag: "Failed"; readonly error: SellerError.SellerError; readonly latencyMillis: number }
  | { readonly _tag: "Denied"; readonly reason: DenialReason; readonly retryAfterMillis: number }

/**
 * Errors that say the seller is unhealthy (count towards opening its circuit). "Slow down" (429)
 * and "that key is still in progress" (409) are a healthy seller's answers.
 */
const unhealthy = (error: SellerError.SellerError): boolean =>
  error._tag === "MalformedSellerResponse" ||
  error._tag === "OutcomeUnknown" ||
  (error._tag === "SellerUnavailable" && error.reason !== "rate_limited" && error.reason !== "conflict")

type Admitted = Extract<Admission, { readonly _tag: "Admitted" }>

/** The seller said "slow down": every process slows down. */
const slowsDown = (error: SellerError.SellerError): boolean =>
  error._tag === "SellerUnavailable" && (error.reason === "rate_limited" || error.retryAfterMillis !== undefined)

/** The permit back with the call's outcome for the circuit (and the seller's "slow down" first, for every process). */
const giveBack = <A>(state: SharedStateService, client: SellerClient.SellerClient, admission: Admitted, result: Result.Result<A, SellerError.SellerError>, failed: boolean) =>
  giveBackMany(state, [{ client, admission, result, failed }])

/**
 * A call under a permit already taken: `beforeSend` (what must be recorded before anything is
 * sent: a purchase's intent), then the call — the only parts a deadline may interrupt —, then the
 * permit back with the outcome for the circuit, and the seller's "slow down" recorded for every
 * process. Interrupted during the call, the permit stays out until it expires (`abandoned`: the
 * seller may still be at it); during `beforeSend`, or when it fails, it goes back (`cancelled`).
 */
const withPermit = <A, E = never>(
  state: SharedStateService,
  client: SellerClient.SellerClient,
  admission: Admitted,
  call: Effect.Effect<A, SellerError.SellerError>,
  beforeSend: Effect.Effect<void, E> = Effect.void
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const ready = yield* Effect.exit(restore(beforeSend))
      if (Exit.isFailure(ready)) {
        yield* state.complete(client.sellerId, admission.permit, "cancelled", admission.probe)
        return yield* Effect.failCause(ready.cause)
      }
      return yield* called(state, client, admission, call, restore)
    })
  )

/** How a call under a permit went: its result, how long it took, and whether it counts against the seller's health. */
interface Called<A> {
  readonly _tag: "Called"
  readonly result: Result.Result<A, SellerError.SellerError>
  readonly latencyMillis: number
  readonly failed: boolean
}

/**
 * The call itself under the permit (to be run uninterruptibly; `restore` lets the deadline
 * interrupt the call, and then the permit is `abandoned`: out until it expires), then the permit
 * back. `observe` sees the outcome on the call's fiber first (records it: no step of its own,
 * this runs on every seller call).
 */
const called = <A>(
  state: SharedStateService,
  client: SellerClient.SellerClient,
  admission: Admitted,
  call: Effect.Effect<A, SellerError.SellerError>,
  restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
  observe?: (fiber: Fiber.Fiber<unknown, unknown>, called: Called<A>) => void
): Effect.Effect<Called<A>> =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const started = clock.currentTimeMillisUnsafe()
    return Effect.flatMap(Effect.exit(restore(Effect.result(call))), (exit) => {
      if (Exit.isFailure(exit)) {
        // Interrupted (the request's deadline): not the seller's fault, but the call may be at the
        // seller still, so its permit stays out until it expires (never more calls at once than
        // the seller takes).
        return Effect.andThen(state.complete(client.sellerId, admission.permit, "abandoned", admission.probe), Effect.interrupt)
      }
      const result = exit.value
      const failed = Result.isFailure(result) && unhealthy(result.failure)
      const outcome: Called<A> = { _tag: "Called", result, latencyMillis: clock.currentTimeMillisUnsafe() - started, failed }
      observe?.(fiber, outcome)
      return Effect.as(giveBack(state, client, admission, result, failed), outcome)
    })
  })

/** What every seller call shares: a permit first (or the denial), then the call under it. */
const guarded = <A, E>(state: SharedStateService, client: SellerClient.SellerClient, call: Effect.Effect<A, SellerError.SellerError>, beforeSend: Effect.Effect<void, E>) =>
  Effect.flatMap(
    state.admit(client.sellerId, client.limits),
    (admission): Effect.Effect<Denial | Effect.Success<ReturnType<typeof withPermit<A, E>>>, E> =>
      admission._tag === "Denied" ? Effect.succeed(admission) : withPermit(state, client, admission, call, beforeSend)
  )

/**
 * What a finished quote call teaches, recorded on `fiber` without a step of its own (this runs
 * on every seller call): the seller's health and latency history, the call metrics. Answers
 * whether it counts against the seller's health (`failed`).
 */
export const recordQuote = (
  fiber: Fiber.Fiber<unknown, unknown>,
  stats: SellerStats,
  sellerId: string,
  result: Result.Result<unknown, SellerError.SellerError>,
  latencyMillis: number
): boolean => {
  const failed = Result.isFailure(result) && unhealthy(result.failure)
  stats.record(sellerId, !failed, latencyMillis)
  recordSellerCallOn(fiber, sellerId, Result.isFailure(result) ? "failed" : "answered", latencyMillis)
  return failed
}

/** A finished call whose permit goes back (`giveBackMany`). */
export interface Finished {
  readonly client: SellerClient.SellerClient
  readonly admission: Admitted
  readonly result: Result.Result<unknown, SellerError.SellerError>
  readonly failed: boolean
}

/**
 * The permits of finished calls back at once (one pass in memory, one round trip to Redis),
 * each with its outcome for the circuit; a seller that said "slow down" slows down for every
 * process first (one call's: `giveBack`).
 */
export const giveBackMany = (state: SharedStateService, calls: ReadonlyArray<Finished>): Effect.Effect<void> => {
  const permits: Array<PermitReturn> = []
  for (const { client, admission, failed } of calls) {
    permits.push({ sellerId: client.sellerId, permit: admission.permit, outcome: failed ? "failure" : "success", probe: admission.probe })
  }
  const slowing: Array<{ readonly sellerId: string; readonly millis: number }> = []
  for (const { client, result } of calls) {
    if (Result.isFailure(result) && slowsDown(result.failure)) {
      slowing.push({ sellerId: client.sellerId, millis: (result.failure as SellerError.SellerUnavailable).retryAfterMillis ?? 1_000 })
    }
  }
  const completed = state.completeMany(permits)
  if (slowing.length === 0) return completed
  return Effect.andThen(
    Effect.forEach(slowing, ({ sellerId, millis }) => state.backoff(sellerId, millis), { discard: true }),
    completed
  )
}

/** A quote call under a permit, run uninterruptibly with `restore` around the call (see `called`). */
const quoteUnder = (
  state: SharedStateService,
  stats: SellerStats,
  client: SellerClient.SellerClient,
  admission: Admitted,
  isbns: ReadonlyArray<Isbn.Isbn13>,
  restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
): Effect.Effect<Exclude<CallResult, { readonly _tag: "Denied" }>> => {
  return Effect.map(
    called(state, client, admission, client.quote(isbns), restore, (fiber, { result, latencyMillis }) => {
      recordQuote(fiber, stats, client.sellerId, result, latencyMillis)
    }),
    ({ result, latencyMillis }): Exclude<CallResult, { readonly _tag: "Denied" }> =>
      Result.isFailure(result) ? { _tag: "Failed", error: result.failure, latencyMillis } : { _tag: "Answered", answers: result.success, latencyMillis }
  )
}

/**
 * A quote call under a permit the caller already holds (`SellerQueue` takes permits as the
 * seller's budget allows, then sends): the answer or the failure, with the seller's health,
 * history and metrics updated.
 */
export const quoteWithPermit = (
  state: SharedStateService,
  stats: SellerStats,
  client: SellerClient.SellerClient,
  admission: Admitted,
  isbns: ReadonlyArray<Isbn.Isbn13>
): Effect.Effect<Exclude<CallResult, { readonly _tag: "Denied" }>> =>
  Effect.uninterruptibleMask((restore) => quoteUnder(state, stats, client, admission, isbns, restore))

/**
 * A permit now, and then the quote call under it — or the denial, without waiting. Admission and
 * the hand-over to the call are one uninterruptible step, so a permit taken is always given back.
 * `onAdmitted` runs once the permit is held, right before the call.
 */
export const quoteIfAdmitted = (
  state: SharedStateService,
  stats: SellerStats,
  client: SellerClient.SellerClient,
  isbns: ReadonlyArray<Isbn.Isbn13>,
  onAdmitted: () => void
): Effect.Effect<CallResult> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(state.admit(client.sellerId, client.limits), (admission): Effect.Effect<CallResult> => {
      if (admission._tag === "Denied") return Effect.succeed(admission)
      onAdmitted()
      return quoteUnder(state, stats, client, admission, isbns, restore)
    })
  )

export type Denial = { readonly _tag: "Denied"; readonly reason: DenialReason; readonly retryAfterMillis: number }

/**
 * A hold, purchase, release or order lookup under the seller's shared admission. A permit
 * denied for rate, concurrency or back-off is waited for (in steps of at most 500 ms) until
 * `patienceMillis` have passed; an open circuit, or no permit within that time, answers the
 * denial and the caller decides (move on, or park the request: it is never lost).
 * `beforeSend` runs once the permit is held, right before the call (a purchase records its
 * intent there: a denied permit sent nothing, and records nothing); when it fails, nothing is
 * sent and the failure is the answer.
 */
export const admittedCall = <A, E = never>(
  state: SharedStateService,
  client: SellerClient.SellerClient,
  call: Effect.Effect<A, SellerError.SellerError>,
  patienceMillis = 2_000,
  beforeSend: Effect.Effect<void, E> = Effect.void
): Effect.Effect<Result.Result<A, SellerError.SellerError> | Denial, E> =>
  Effect.gen(function* () {
    const giveUpAt = (yield* Clock.currentTimeMillis) + patienceMillis
    for (;;) {
      const outcome = yield* guarded(state, client, call, beforeSend)
      if (outcome._tag === "Called") return outcome.result
      const wait = Math.max(10, Math.min(outcome.retryAfterMillis, 500))
      if (outcome.reason === "circuit_open" || (yield* Clock.currentTimeMillis) + wait > giveUpAt) return outcome
      yield* Effect.sleep(wait)
    }
  })
