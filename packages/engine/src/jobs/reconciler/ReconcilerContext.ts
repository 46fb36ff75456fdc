/** What every reconciliation check works with: the database, the payment repair, the seller side, and the run's limits. */
import type { SqlClient } from "effect/sql"
import type { Effect } from "effect"
import type { makeRepair } from "../../internal/paymentRepair.js"
import { terminalStatuses } from "../../internal/purchaseStore.js"
import type { SellerDirectoryService } from "../../sellers/SellerDirectory.js"
import type { SellerPoolService } from "../../sellers/SellerPool.js"
import type { SharedStateService } from "../../state/SharedState.js"

export interface ReconcilerContext {
  readonly sql: SqlClient.SqlClient
  /** The lease on a request and voiding the way the pipeline does (`internal/paymentRepair.ts`). */
  readonly repair: Effect.Success<ReturnType<typeof makeRepair>>
  readonly directory: SellerDirectoryService
  readonly pool: SellerPoolService
  readonly state: SharedStateService
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
