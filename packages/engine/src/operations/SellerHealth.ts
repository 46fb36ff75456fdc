/**
 * A seller's health for operators: its circuit breaker (shared by every process) joined with
 * what this process saw of it lately — latency, errors, calls per second against the seller's
 * rate limit, until when admission refused it. Rates and averages are this process's own
 * (`Metrics.recentCalls`, the quote engine's seller stats): another process may see otherwise.
 */
import type { Contract } from "@bookbroker/adapter-sdk"
import { Clock, Context, Effect, Layer } from "effect"
import * as Metrics from "../Metrics.js"
import { QuoteEngine } from "../quotes/QuoteEngine.js"
import type { Seller } from "../sellers/SellerDirectory.js"
import { limitsOf, SellerViews } from "../sellers/SellerViews.js"
import { type CircuitSnapshot, SharedState } from "../state/SharedState.js"

export interface SellerHealthReport {
  readonly circuit: CircuitSnapshot
  /** The limits in force; `null` when the adapter refuses the seller's config. */
  readonly limits: Contract.Limits | null
  readonly recent: Metrics.RecentCalls
  /** Calls sent per second over the seller's rate limit; `null` without limits. */
  readonly utilization: number | null
  /** Quote calls this process has made to the seller. */
  readonly calls: number
  /** Average latency (exponentially weighted); `null` before the first call. */
  readonly latencyMillis: number | null
  /** Share of recent calls that failed (exponentially weighted); `null` before the first call. */
  readonly errorRate: number | null
  /** Until when admission refuses the seller, when that is still ahead. */
  readonly blockedUntil: Date | null
}

export interface SellerHealthService {
  readonly report: (seller: Seller) => Effect.Effect<SellerHealthReport>
}

export class SellerHealth extends Context.Service<SellerHealth, SellerHealthService>()("@bookbroker/engine/SellerHealth") {}

export const make = Effect.gen(function* () {
  const state = yield* SharedState
  const engine = yield* QuoteEngine
  const views = yield* SellerViews

  const report = (seller: Seller) =>
    Effect.gen(function* () {
      const [circuit, stat, recent, inForce, now] = yield* Effect.all([
        state.circuit(seller.id),
        engine.sellerStats(seller.id),
        Metrics.recentCalls(seller.id),
        views.inForce(seller),
        Clock.currentTimeMillis
      ])
      const limits = limitsOf(inForce)
      const called = stat.calls > 0
      return {
        circuit,
        limits,
        recent,
        utilization: limits === null ? null : recent.sentPerSecond / limits.requestsPerSecond,
        calls: stat.calls,
        latencyMillis: called ? stat.latencyMillis : null,
        errorRate: called ? 1 - stat.reliability : null,
        blockedUntil: stat.blockedUntil > now ? new Date(stat.blockedUntil) : null
      } satisfies SellerHealthReport
    }).pipe(Effect.withSpan("SellerHealth.report", { attributes: { "seller.id": seller.id } }))

  const service: SellerHealthService = { report }
  return service
})

export const layer: Layer.Layer<SellerHealth, never, SharedState | QuoteEngine | SellerViews> = Layer.effect(SellerHealth, make)
