/**
 * The purchase repository: every statement the purchase state machine sends about a request, its
 * attempts and its payment operations. A run's writes are fenced by the request's lease, each
 * step's as one statement (`step`), so a worker that paused past its lease can't write over the
 * one that took over.
 *
 * The statements live beside this file, by concern — `stepWrites.ts` (a run's fenced
 * writes and a payment's intent), `leases.ts` (claiming, parking, defects, renewing), `reads.ts`,
 * `payments.ts` (settlements outside a run: the sweeper's and the reconciler's repairs) — and the
 * rows and statuses in `rows.ts`, re-exported here, decoded once as they are read (`decode.ts`).
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"
import { leaseStatements } from "./leases.js"
import { paymentStatements } from "./payments.js"
import { readStatements } from "./reads.js"
import { stepStatements } from "./stepWrites.js"

export * from "./rows.js"
/** Rows decoded where they leave PostgreSQL: for statements outside this folder that read whole records. */
export * as Decode from "./decode.js"

export const makeStore = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return { sql, ...stepStatements(sql), ...leaseStatements(sql), ...readStatements(sql), ...paymentStatements(sql) }
})

export type PurchaseStore = Effect.Success<typeof makeStore>
