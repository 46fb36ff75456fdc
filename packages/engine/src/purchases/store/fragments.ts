/** Fragments the purchase statements share: the lease check, a lease's new expiry, a payment's settlement. */
import type { SqlClient } from "effect/sql"
import type { Lease, PaymentOperationRow } from "./rows.js"

export const fragments = (sql: SqlClient.SqlClient) => {
  const leaseHeld = (lease: Lease) => sql`id = ${lease.requestId} AND fence = ${lease.fence} AND lease_owner = ${lease.worker}`
  /** A payment call's outcome, on its intent. */
  const settled = (status: PaymentOperationRow["status"], providerRef: string | null, live: boolean, detail: string | null) =>
    sql`status = ${status}, provider_ref = COALESCE(${providerRef}, provider_ref), live = ${live}, detail = ${detail}, updated_at = now()`
  const leaseUntil = (lease: Lease) => sql`now() + ${lease.leaseMillis} * interval '1 millisecond'`
  return { leaseHeld, settled, leaseUntil }
}

export type Fragments = ReturnType<typeof fragments>
