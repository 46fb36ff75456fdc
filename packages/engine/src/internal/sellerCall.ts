/**
 * One guarded quote call to one seller: admission (circuit, back-off, rate, concurrency —
 * shared by every process) first and never waited for, then the call, then the permit back
 * with the outcome for the circuit breaker. A seller that says "slow down" slows down for
 * every process.
 */
import type { Contract, Isbn, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Clock, Effect, Exit } from "effect"
import { recordSellerCall } from "../Metrics.js"
import type { DenialReason, SharedStateService } from "../SharedState.js"
import type { SellerStats } from "./sellerStats.js"

export type CallResult =
  | { readonly _tag: "Answered"; readonly answers: ReadonlyArray<Contract.QuoteResult>; readonly latencyMillis: number }
  | { readonly _tag: "Failed"; readonly error: SellerError.SellerError; readonly latencyMillis: number }
  | { readonly _tag: "Denied"; readonly reason: DenialReason; readonly retryAfterMillis: number }

/** Errors that say the seller is unhealthy (count towards opening its circuit). */
const unhealthy = (error: SellerError.SellerError): boolean =>
  error._tag === "MalformedSellerResponse" || (error._tag === "SellerUnavailable" && error.reason !== "rate_limited")

export const callSeller = (
  state: SharedStateService,
  stats: SellerStats,
  client: SellerClient.SellerClient,
  isbns: ReadonlyArray<Isbn.Isbn13>
): Effect.Effect<CallResult> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const admission = yield* state.admit(client.sellerId, client.limits)
      if (admission._tag === "Denied") {
        // Seller selection leaves it out until then: it would be refused again.
        stats.recordDenial(client.sellerId, (yield* Clock.currentTimeMillis) + admission.retryAfterMillis)
        yield* recordSellerCall(client.sellerId, "denied")
        return admission
      }
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(restore(Effect.either(client.quote(isbns))))
      const latencyMillis = (yield* Clock.currentTimeMillis) - started
      if (Exit.isFailure(exit)) {
        // Interrupted (the request's deadline): not the seller's fault, give the permit back.
        yield* state.complete(client.sellerId, admission.permit, "cancelled", admission.probe)
        return yield* Effect.interrupt
      }
      const result = exit.value
      if (result._tag === "Left") {
        const error = result.left
        if (error._tag === "SellerUnavailable" && (error.reason === "rate_limited" || error.retryAfterMillis !== undefined)) {
          yield* state.backoff(client.sellerId, error.retryAfterMillis ?? 1_000)
        }
        yield* state.complete(client.sellerId, admission.permit, unhealthy(error) ? "failure" : "success", admission.probe)
        stats.record(client.sellerId, !unhealthy(error), latencyMillis)
        yield* recordSellerCall(client.sellerId, "failed", latencyMillis)
        return { _tag: "Failed", error, latencyMillis } as const
      }
      yield* state.complete(client.sellerId, admission.permit, "success", admission.probe)
      stats.record(client.sellerId, true, latencyMillis)
      yield* recordSellerCall(client.sellerId, "answered", latencyMillis)
      return { _tag: "Answered", answers: result.right, latencyMillis } as const
    })
  )
