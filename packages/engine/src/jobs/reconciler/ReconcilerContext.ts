/** What every reconciliation check works with: the database, the payment repair, the seller side, and the run's limits. */
import type { SqlClient } from "effect/sql"
import type { RepairContext } from "../paymentRepair.js"
import { terminalStatuses } from "../../purchases/store/PurchaseStore.js"

export interface ReconcilerContext extends RepairContext {
  /** Requests finished within this window are checked against our own records. */
  readonly windowMillis: number
  /** Provider comparisons per pass at most. */
  readonly providerLimit: number
  /** Seller order lookups per pass at most. */
  readonly sellerLimit: number
  /** How long after a request finished (an attempt was last sent) the provider (the seller) is asked about it. */
  readonly settleMillis: number
}

/** Finished requests within `millis`, not held by anyone (`r` is the request). */
export const finishedAndFree = (sql: SqlClient.SqlClient, millis: number) => sql`
  r.status IN ${sql.in(terminalStatuses)}
  AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
  AND r.completed_at >= now() - ${millis} * interval '1 millisecond'`
