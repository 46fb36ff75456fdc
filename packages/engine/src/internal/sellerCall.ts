/**
 * One guarded call to one seller: admission (circuit, back-off, rate, concurrency — shared by
 * every process) first, then the call, then the permit back with the outcome for the circuit
 * breaker. A seller that says "slow down" slows down for every process. Quotes never wait for a
 * permit (`callSeller`); holds, purchases and releases wait a little (`admittedCall`): they are
 * calls against the same limits, and a seller counts them like any other.
 */
import type { Contract, Isbn, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Clock, Effect, Either, Exit } from "effect"
import { recordSellerCall } from "../Metrics.js"
import type { DenialReason, SharedStateService } from "../SharedState.js"
import type { SellerStats } from "./sellerStats.js"

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

/**
 * What every seller call shares: a permit first (or the denial), the call — the only part a
 * deadline may interrupt, and then the permit goes back as `cancelled` —, then the permit back
 * with the outcome for the circuit, and the seller's "slow down" recorded for every process.
 */
const guarded = <A>(state: SharedStateService, client: SellerClient.SellerClient, call: Effect.Effect<A, SellerError.SellerError>) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const admission = yield* state.admit(client.sellerId, client.limits)
      if (admission._tag === "Denied") return admission
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(restore(Effect.either(call)))
      const latencyMillis = (yield* Clock.currentTimeMillis) - started
      if (Exit.isFailure(exit)) {
        // Interrupted (the request's deadline): not the seller's fault, give the permit back.
        yield* state.complete(client.sellerId, admission.permit, "cancelled", admission.probe)
        return yield* Effect.interrupt
      }
      const result = exit.value
      if (Either.isLeft(result)) {
        const error = result.left
        if (error._tag === "SellerUnavailable" && (error.reason === "rate_limited" || error.retryAfterMillis !== undefined)) {
          yield* state.backoff(client.sellerId, error.retryAfterMillis ?? 1_000)
        }
      }
      const failed = Either.isLeft(result) && unhealthy(result.left)
      yield* state.complete(client.sellerId, admission.permit, failed ? "failure" : "success", admission.probe)
      return { _tag: "Called", result, latencyMillis, failed } as const
    })
  )

export const callSeller = (
  state: SharedStateService,
  stats: SellerStats,
  client: SellerClient.SellerClient,
  isbns: ReadonlyArray<Isbn.Isbn13>
): Effect.Effect<CallResult> =>
  Effect.gen(function* () {
    const outcome = yield* guarded(state, client, client.quote(isbns))
    if (outcome._tag === "Denied") {
      // Seller selection leaves it out until then: it would be refused again.
      stats.recordDenial(client.sellerId, (yield* Clock.currentTimeMillis) + outcome.retryAfterMillis)
      yield* recordSellerCall(client.sellerId, "denied")
      return outcome
    }
    const { result, latencyMillis, failed } = outcome
    stats.record(client.sellerId, !failed, latencyMillis)
    if (Either.isLeft(result)) {
      yield* recordSellerCall(client.sellerId, "failed", latencyMillis)
      return { _tag: "Failed", error: result.left, latencyMillis } as const
    }
    yield* recordSellerCall(client.sellerId, "answered", latencyMillis)
    return { _tag: "Answered", answers: result.right, latencyMillis } as const
  })

export type Denial = { readonly _tag: "Denied"; readonly reason: DenialReason; readonly retryAfterMillis: number }

/**
 * A hold, purchase, release or order lookup under the seller's shared admission. A permit
 * denied for rate, concurrency or back-off is waited for (in steps of at most 500 ms) until
 * `patienceMillis` have passed; an open circuit, or no permit within that time, answers the
 * denial and the caller decides (move on, or park the request: it is never lost).
 */
export const admittedCall = <A>(
  state: SharedStateService,
  client: SellerClient.SellerClient,
  call: Effect.Effect<A, SellerError.SellerError>,
  patienceMillis = 2_000
): Effect.Effect<Either.Either<A, SellerError.SellerError> | Denial> =>
  Effect.gen(function* () {
    const giveUpAt = (yield* Clock.currentTimeMillis) + patienceMillis
    for (;;) {
      const outcome = yield* guarded(state, client, call)
      if (outcome._tag === "Called") return outcome.result
      const wait = Math.max(10, Math.min(outcome.retryAfterMillis, 500))
      if (outcome.reason === "circuit_open" || (yield* Clock.currentTimeMillis) + wait > giveUpAt) return outcome
      yield* Effect.sleep(wait)
    }
  })
