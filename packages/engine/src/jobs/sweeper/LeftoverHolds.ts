/**
 * 3. A seller hold (`held` attempt) on a finished or watching request that did not buy from that
 * seller, or one the pipeline could not give back at once, is released at the seller, best
 * effort, within the seller's shared limits, and the attempt closed (`hold_released`, or
 * `hold_release_failed: …` once the seller refused or the hold expired).
 */
import { Contract } from "@bookbroker/adapter-sdk"
import type { SqlError } from "effect/sql"
import { Effect, Option, Result, Schema } from "effect"
import { Decode, holdNotGivenBack, terminalStatuses, watchingStatus } from "../../purchases/store/PurchaseStore.js"
import { admittedCall } from "../../sellers/SellerCall.js"
import * as AttemptResolution from "../../purchases/AttemptResolution.js"
import type { Counter, SweeperContext } from "./SweeperContext.js"

const decodeHold = Schema.decodeUnknownResult(Contract.Hold)

/** A hold left behind is given back once its request ended or watches (no run will buy from it). */
const holdStatuses = [...terminalStatuses, watchingStatus] as const
export const sweepHolds = (ctx: SweeperContext, count: Counter): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, repair, batchSize, directory, pool, state } = ctx
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
      const done = yield* repair.withLease(row.request_id, (request) =>
        Effect.gen(function* () {
          const [stored] = yield* sql<Decode.StoredAttempt>`SELECT * FROM purchase_attempts WHERE id = ${row.id} AND status IN ('held', 'failed')`
          const attempt = stored === undefined ? undefined : Decode.attempt(stored)
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

