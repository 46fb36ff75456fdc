/** What every sweep works with, and what one run did (`SweepReport`). */
import type { SqlClient, SqlError } from "effect/sql"
import { Effect } from "effect"
import type { RepairContext } from "../paymentRepair.js"

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

export type Counter = { -readonly [K in keyof SweepReport]: number }

export const emptyCounter = (): Counter => ({
  authorizationsVoided: 0,
  providerLookups: 0,
  providerAuthorizationsVoided: 0,
  holdsReleased: 0,
  holdsAbandoned: 0,
  voidsRejected: 0,
  failures: 0,
  busy: 0
})

export interface SweeperContext extends RepairContext {
  /** Rows looked at per kind of leftover and run. */
  readonly batchSize: number
  /** How long after a `payment_unavailable` failure the provider is first asked what it holds. */
  readonly lookupAfterMillis: number
  /** When it is asked again, after each lookup. */
  readonly lookupRepeatMillis: ReadonlyArray<number>
}

/** Blocks a void: a confirmed order, or a capture that succeeded or may have. */
export const voidBlocked = (sql: SqlClient.SqlClient, requestId: string): Effect.Effect<boolean, SqlError.SqlError> =>
  Effect.map(
    sql<{ blocked: boolean }>`
      SELECT EXISTS (SELECT 1 FROM purchase_attempts WHERE request_id = ${requestId} AND status = 'confirmed')
          OR EXISTS (SELECT 1 FROM payment_operations WHERE request_id = ${requestId} AND kind = 'capture' AND status IN ('pending', 'succeeded'))
          AS blocked`,
    (rows) => rows[0]?.blocked === true
  )

