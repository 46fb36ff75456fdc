/**
 * Cleans up after purchase requests that ended while something was still held for them — the
 * states a crash, a forced state change or a lost provider answer leave behind — so no customer's
 * money and no seller's stock stays blocked for nothing:
 *
 * 1. A live authorization on a request that ended without a purchase (`price_not_met`,
 *    `not_available`, `sellers_busy`, `failed`) is
 *    voided, with the pipeline's own key `{requestId}:void:{round}`: a void the pipeline had
 *    started (and parked on) is the same operation, never a second one. Left alone, for the
 *    reconciler and a person: a `purchased` request (its authorization should have ended with the
 *    capture; a live one there is a finding, not something to void), a request with a confirmed
 *    seller order or any capture that succeeded or may have (an order bookbroker may still have
 *    to pay for: voiding would make it impossible to collect), and an authorization whose void the
 *    provider already refused (repeating the key only repeats the refusal).
 * 2. A request that `failed` with `payment_unavailable…` never learned whether the provider
 *    authorized it. The provider is asked (`lookup`, first after `lookupAfterMillis`, then again
 *    after each of `lookupRepeatMillis`: its search lags, and one empty answer proves little) and
 *    any authorization it holds is voided, keyed `{requestId}:void:{providerRef}`.
 * 3. A seller hold (`held` attempt) on a finished request that did not buy from that seller is
 *    released at the seller, best effort, and the attempt closed as `failed` with reason
 *    `hold_released` (or `hold_release_failed: …` once the seller refused or the hold expired):
 *    a finished request keeps no open attempt, which also keeps the one-open-attempt index free
 *    for a counter-offer round. The release waits for a permit within the seller's shared limits,
 *    like every seller call; a seller not admitting calls now is asked again on a later run.
 *
 * The sweeper acts only on requests nobody holds a lease on, and takes the lease itself while it
 * acts, so it never races a worker (or another sweeper, or the reconciler).
 *
 * Each sweep has a file of its own in `sweeper/`: `LeftoverAuthorizations.ts` (1),
 * `UnknownAuthorizations.ts` (2), `LeftoverHolds.ts` (3).
 */
import type { SqlClient, SqlError } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Context, Effect, Layer } from "effect"
import { makeRepairContext } from "./paymentRepair.js"
import { orDie } from "../internal/sql.js"
import type { PaymentGateway } from "../payments/PaymentGateway.js"
import type { SellerDirectory } from "../sellers/SellerDirectory.js"
import type { SellerPool } from "../sellers/SellerPool.js"
import type { SharedState } from "../state/SharedState.js"
import { sweepAuthorizations } from "./sweeper/LeftoverAuthorizations.js"
import { sweepHolds } from "./sweeper/LeftoverHolds.js"
import { emptyCounter, type SweeperContext, type SweepReport } from "./sweeper/SweeperContext.js"
import { sweepUnknownAuthorizations } from "./sweeper/UnknownAuthorizations.js"

export interface SweeperOptions {
  /** Rows looked at per kind of leftover and run. Default 100. */
  readonly batchSize?: number
  /** How long the sweeper holds a request while it acts on it. Default 60 s. */
  readonly leaseMillis?: number
  /**
   * How long after a `payment_unavailable` failure the provider is first asked what it holds.
   * Default 2 min: above Stripe's search lag ("under a minute" normally), so the first look
   * already sees what the lost call created.
   */
  readonly lookupAfterMillis?: number
  /** When it is asked again, after each lookup (the provider's search may lag). Default 10 min, 1 h, 6 h, 24 h. */
  readonly lookupRepeatMillis?: ReadonlyArray<number>
}

export interface RunningSweeperOptions extends SweeperOptions {
  /** Pause between runs. Default 60 s. */
  readonly intervalMillis?: number
}

export type { SweepReport } from "./sweeper/SweeperContext.js"

export interface SweeperService {
  readonly runOnce: Effect.Effect<SweepReport>
  /** Sweeps every `intervalMillis` until interrupted. */
  readonly run: Effect.Effect<never>
}

export class Sweeper extends Context.Service<Sweeper, SweeperService>()("@bookbroker/engine/Sweeper") {}

export const make = (options: RunningSweeperOptions = {}) =>
  Effect.gen(function* () {
    const ctx: SweeperContext = {
      ...(yield* makeRepairContext(`sweeper-${randomUUID().slice(0, 8)}`, options.leaseMillis ?? 60_000)),
      batchSize: options.batchSize ?? 100,
      lookupAfterMillis: options.lookupAfterMillis ?? 120_000,
      lookupRepeatMillis: options.lookupRepeatMillis ?? [600_000, 3_600_000, 21_600_000, 86_400_000]
    }
    const intervalMillis = options.intervalMillis ?? 60_000

    const runOnce: Effect.Effect<SweepReport> = Effect.gen(function* () {
      const count = emptyCounter()
      yield* sweepAuthorizations(ctx, count)
      yield* sweepUnknownAuthorizations(ctx, count)
      yield* sweepHolds(ctx, count)
      return count as SweepReport
    }).pipe(
      (effect: Effect.Effect<SweepReport, SqlError.SqlError>) => orDie(effect),
      Effect.withSpan("Sweeper.runOnce")
    )

    const run = Effect.gen(function* () {
      while (true) {
        yield* runOnce.pipe(Effect.catchDefect((defect) => Effect.logError("sweep failed; trying again at the next interval", defect)))
        yield* Effect.sleep(intervalMillis)
      }
    })

    return { runOnce, run: run as Effect.Effect<never> } satisfies SweeperService
  })

export const layer = (
  options: SweeperOptions = {}
): Layer.Layer<Sweeper, never, SqlClient.SqlClient | PaymentGateway | SellerDirectory | SellerPool | SharedState> => Layer.effect(Sweeper, make(options))

/** Sweeps in the background, every `intervalMillis`, for as long as the layer lives. */
export const layerRunning = (
  options: RunningSweeperOptions = {}
): Layer.Layer<Sweeper, never, SqlClient.SqlClient | PaymentGateway | SellerDirectory | SellerPool | SharedState> =>
  Layer.effect(
    Sweeper,
    Effect.tap(make(options), (sweeper) => Effect.forkScoped(sweeper.run))
  )
