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
 */
import { Contract } from "@bookbroker/adapter-sdk"
import type { SqlClient, SqlError } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Context, Effect, Layer, Option, Result, Schema } from "effect"
import { makeRepair, pipelineVoidKey, providerVoidKey } from "../internal/paymentRepair.js"
import { holdNotGivenBack, restingStatuses, terminalStatuses, watchingStatus, type AttemptRow } from "../internal/purchaseStore.js"
import { admittedCall } from "../internal/sellerCall.js"
import { orDie } from "../internal/sql.js"
import type { PaymentGateway } from "../payments/PaymentGateway.js"
import * as AttemptResolution from "../purchases/AttemptResolution.js"
import { SellerDirectory } from "../sellers/SellerDirectory.js"
import { SellerPool } from "../sellers/SellerPool.js"
import { SharedState } from "../state/SharedState.js"

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

/** What one run did. Anything that failed for now is tried again on the next run. */
export interface SweepReport {
  /** Live authorizations of finished requests voided (1). */
  readonly authorizationsVoided: number
  /** Failed requests whose provider records were looked up (2). */
  readonly providerLookups: number
  /** Authorizations found only at the provider and voided (2). */
  readonly providerAuthorizationsVoided: number
  /** Seller holds released and their attempts closed (3). */
  readonly holdsReleased: number
  /** Holds the seller would not release (refused, or expired while unreachable): attempts closed anyway (3). */
  readonly holdsAbandoned: number
  /** Provider voids refused: the authorization stays live, for the reconciler. */
  readonly voidsRejected: number
  /** Calls without an answer now (provider or seller unavailable). */
  readonly failures: number
  /** Rows left alone because a worker (or another sweeper) held the request when we got to it. */
  readonly busy: number
}

export interface SweeperService {
  readonly runOnce: Effect.Effect<SweepReport>
  /** Sweeps every `intervalMillis` until interrupted. */
  readonly run: Effect.Effect<never>
}

export class Sweeper extends Context.Service<Sweeper, SweeperService>()("@bookbroker/engine/Sweeper") {}

type Counter = { -readonly [K in keyof SweepReport]: number }

const decodeHold = Schema.decodeUnknownResult(Contract.Hold)


export const make = (options: RunningSweeperOptions = {}) =>
  Effect.gen(function* () {
    const owner = `sweeper-${randomUUID().slice(0, 8)}`
    const batchSize = options.batchSize ?? 100
    const lookupAfterMillis = options.lookupAfterMillis ?? 120_000
    const lookupRepeatMillis = options.lookupRepeatMillis ?? [600_000, 3_600_000, 21_600_000, 86_400_000]
    const intervalMillis = options.intervalMillis ?? 60_000
    const repair = yield* makeRepair(owner, options.leaseMillis ?? 60_000)
    const { sql, gateway, withLease, voidAuthorization } = repair
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState

    /** Blocks a void: a confirmed order, or a capture that succeeded or may have. */
    const voidBlocked = (requestId: string) =>
      Effect.map(
        sql<{ blocked: boolean }>`
          SELECT EXISTS (SELECT 1 FROM purchase_attempts WHERE request_id = ${requestId} AND status = 'confirmed')
              OR EXISTS (SELECT 1 FROM payment_operations WHERE request_id = ${requestId} AND kind = 'capture' AND status IN ('pending', 'succeeded'))
              AS blocked`,
        (rows) => rows[0]?.blocked === true
      )

    // 1. Live authorizations of requests that ended without a purchase.
    const sweepAuthorizations = (count: Counter) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ request_id: string }>`
          SELECT p.request_id FROM payment_operations p
          JOIN purchase_requests r ON r.id = p.request_id
          WHERE p.kind = 'authorize' AND p.live AND p.provider_ref IS NOT NULL
            AND r.status IN ${sql.in(restingStatuses)}
            AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
            AND NOT EXISTS (SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.status = 'confirmed')
            AND NOT EXISTS (
              SELECT 1 FROM payment_operations c
              WHERE c.request_id = r.id AND c.kind = 'capture' AND c.status IN ('pending', 'succeeded'))
            AND NOT EXISTS (
              SELECT 1 FROM payment_operations v
              WHERE v.idempotency_key = r.id::text || ':void:' || p.round::text AND v.status = 'rejected')
          ORDER BY p.updated_at
          LIMIT ${batchSize}`
        for (const { request_id } of rows) {
          const done = yield* withLease(
            request_id,
            (request) =>
              Effect.gen(function* () {
                // Look again under the lease: the request may have moved on since the scan.
                const authorization = yield* repair.store.liveAuthorization(request.id)
                if (authorization === undefined || authorization.provider_ref === null || (yield* voidBlocked(request.id))) return
                const [refused] = yield* sql`
                  SELECT 1 FROM payment_operations WHERE idempotency_key = ${pipelineVoidKey(request.id, authorization.round)} AND status = 'rejected'`
                if (refused !== undefined) return
                const outcome = yield* voidAuthorization({
                  requestId: request.id,
                  round: authorization.round,
                  currency: request.currency,
                  providerRef: authorization.provider_ref,
                  idempotencyKey: pipelineVoidKey(request.id, authorization.round)
                })
                if (outcome._tag === "Voided") count.authorizationsVoided += 1
                else if (outcome._tag === "Rejected") {
                  count.voidsRejected += 1
                  yield* Effect.logWarning(`the provider refused to void the authorization of purchase request ${request.id}; left for the reconciler`, outcome.detail)
                } else count.failures += 1
              }),
            restingStatuses
          )
          if (Option.isNone(done)) count.busy += 1
        }
      })

    // 2. Authorizations the provider may hold for requests that failed not knowing.
    const sweepUnknownAuthorizations = (count: Counter) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ id: string }>`
          SELECT r.id FROM purchase_requests r
          LEFT JOIN sweeper_lookups s ON s.request_id = r.id
          WHERE r.status = 'failed' AND r.reason LIKE 'payment_unavailable%'
            AND r.completed_at <= now() - ${lookupAfterMillis} * interval '1 millisecond'
            AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
            AND NOT EXISTS (SELECT 1 FROM payment_operations p WHERE p.request_id = r.id AND p.kind = 'authorize' AND p.live)
            AND (s.request_id IS NULL OR s.next_lookup_at <= now())
          ORDER BY r.completed_at
          LIMIT ${batchSize}`
        for (const { id } of rows) {
          const done = yield* withLease(
            id,
            (request) =>
              Effect.gen(function* () {
                const records = yield* Effect.result(gateway.lookup(request.id))
                if (Result.isFailure(records)) {
                  count.failures += 1
                  return
                }
                count.providerLookups += 1
                const open = records.success.filter((record) => record.status === "authorized")
                // Asked again after the next delay of the schedule, if it has one left.
                const [previous] = yield* sql<{ lookups: number }>`SELECT lookups FROM sweeper_lookups WHERE request_id = ${request.id}`
                const done = previous?.lookups ?? 0
                const delay = lookupRepeatMillis[done]
                const remember = sql`
                  INSERT INTO sweeper_lookups (request_id, authorizations_found, lookups, next_lookup_at)
                  VALUES (${request.id}, ${open.length}, ${done + 1}, ${delay === undefined ? null : sql`now() + ${delay} * interval '1 millisecond'`})
                  ON CONFLICT (request_id) DO UPDATE SET
                    authorizations_found = sweeper_lookups.authorizations_found + EXCLUDED.authorizations_found,
                    lookups = EXCLUDED.lookups,
                    next_lookup_at = EXCLUDED.next_lookup_at,
                    looked_up_at = now()`
                if (open.length > 0 && (yield* voidBlocked(request.id))) {
                  // An order exists after all: not ours to void. The reconciler reports the mismatch.
                  yield* Effect.logWarning(`purchase request ${request.id} failed on payment but has an order or a capture; its open authorization is left for the reconciler`)
                  yield* remember
                  return
                }
                let unanswered = 0
                for (const record of open) {
                  const outcome = yield* voidAuthorization({
                    requestId: request.id,
                    round: request.round,
                    currency: request.currency,
                    providerRef: record.providerRef,
                    idempotencyKey: providerVoidKey(request.id, record.providerRef)
                  })
                  if (outcome._tag === "Voided") count.providerAuthorizationsVoided += 1
                  else if (outcome._tag === "Rejected") count.voidsRejected += 1
                  else {
                    count.failures += 1
                    unanswered += 1
                  }
                }
                // Done with this request unless a void is still without an answer (then: again next run, same key).
                if (unanswered === 0) yield* remember
              }),
            ["failed"]
          )
          if (Option.isNone(done)) count.busy += 1
        }
      })

    // 3. Seller holds of finished requests.
    /** A hold left behind is given back once its request ended or watches (no run will buy from it). */
    const holdStatuses = [...terminalStatuses, watchingStatus] as const
    const sweepHolds = (count: Counter) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ request_id: string; id: string }>`
          SELECT a.request_id, a.id FROM purchase_attempts a
          JOIN purchase_requests r ON r.id = a.request_id
          WHERE a.hold IS NOT NULL
            AND ((a.status = 'held' AND (r.seller_id IS NULL OR r.seller_id <> a.seller_id))
                 OR (a.status = 'failed' AND a.reason LIKE ${`%${holdNotGivenBack}`}))
            AND r.status IN ${sql.in(holdStatuses)}
            AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
          ORDER BY a.updated_at
          LIMIT ${batchSize}`
        for (const row of rows) {
          const done = yield* withLease(row.request_id, (request) =>
            Effect.gen(function* () {
              const [attempt] = yield* sql<AttemptRow>`SELECT * FROM purchase_attempts WHERE id = ${row.id} AND status IN ('held', 'failed')`
              if (attempt === undefined || attempt.hold === null) return
              // A failed attempt whose hold the pipeline could not give back at once (its reason says so).
              const leftOver = attempt.status === "failed" && attempt.reason?.endsWith(holdNotGivenBack) === true
              if (!leftOver && (attempt.status !== "held" || request.seller_id === attempt.seller_id)) return
              const close = (reason: string) =>
                leftOver
                  ? sql`UPDATE purchase_attempts SET reason = ${`${attempt.reason!.slice(0, -holdNotGivenBack.length)}; ${reason}`}, updated_at = now() WHERE id = ${attempt.id} AND status = 'failed'`
                  : sql`UPDATE purchase_attempts SET status = 'failed', reason = ${reason}, updated_at = now() WHERE id = ${attempt.id} AND status = 'held'`
              const hold = decodeHold(attempt.hold)
              if (Result.isFailure(hold)) {
                count.holdsAbandoned += 1
                yield* close("hold_release_failed: the stored hold is unreadable")
                return
              }
              const client = yield* directory.get(attempt.seller_id).pipe(Effect.flatMap((seller) => pool.client(seller)), Effect.result)
              // A release is a call to the seller like any other: within its shared limits and circuit
              // (waiting at most half a second; the next run comes back for a hold not released now).
              const outcome = Result.isFailure(client) ? undefined : yield* admittedCall(state, client.success, client.success.release(hold.success), 500)
              const released: Result.Result<void, { readonly detail: string; readonly retryable: boolean }> =
                outcome === undefined
                  ? Result.fail({ detail: "seller_not_available", retryable: true })
                  : outcome._tag === "Denied"
                    ? Result.fail({ detail: `seller_not_admitted: ${outcome.reason}`, retryable: true })
                    : Result.mapError(outcome, (error) => ({ detail: AttemptResolution.describe(error), retryable: error._tag === "SellerUnavailable" }))
              if (Result.isSuccess(released)) {
                count.holdsReleased += 1
                yield* close("hold_released")
                return
              }
              const error = released.failure
              if (error.retryable && hold.success.expiresAt.getTime() > Date.now()) {
                // The seller may answer next time; the hold still blocks its stock until then.
                count.failures += 1
                return
              }
              count.holdsAbandoned += 1
              yield* close(`hold_release_failed: ${error.detail}`)
            }),
            holdStatuses
          )
          if (Option.isNone(done)) count.busy += 1
        }
      })

    const runOnce: Effect.Effect<SweepReport> = Effect.gen(function* () {
      const count: Counter = {
        authorizationsVoided: 0,
        providerLookups: 0,
        providerAuthorizationsVoided: 0,
        holdsReleased: 0,
        holdsAbandoned: 0,
        voidsRejected: 0,
        failures: 0,
        busy: 0
      }
      yield* sweepAuthorizations(count)
      yield* sweepUnknownAuthorizations(count)
      yield* sweepHolds(count)
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
