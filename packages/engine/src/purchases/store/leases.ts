/** Who runs a request: claiming runnable requests (turns between customers), parking, defects, renewing a lease. */
import type { SqlClient } from "effect/sql"
import { Effect } from "effect"
import * as Decode from "./decode.js"
import type { ClaimedRow, Lease } from "./rows.js"

export const leaseStatements = (sql: SqlClient.SqlClient) => ({
  /**
   * Claims up to `limit` runnable requests, taking turns between customers: a customer's n-th
   * oldest runnable request comes after every customer's (n-1)-th, counting the requests each
   * customer already has in progress (leased) — so a worker with one free slot gives it to the
   * customer with the least in progress, and one customer's flood waits behind everyone else's
   * requests instead of holding every worker. Each row says whether the run before stopped
   * without giving the request back (`ClaimedRow.interrupted`).
   */
  claim: (worker: string, leaseMillis: number, limit: number) =>
    Effect.map(sql<Decode.StoredRequest<ClaimedRow>>`
      WITH active AS (
        SELECT id, customer_id, next_run_at, lease_expires_at FROM purchase_requests
        WHERE status IN ('received', 'authorized', 'quoting', 'deciding', 'purchasing')
      ), in_progress AS (
        SELECT customer_id, count(*) AS n FROM active WHERE lease_expires_at >= now() GROUP BY customer_id
      ), runnable AS (
        SELECT id, customer_id, next_run_at,
               row_number() OVER (PARTITION BY customer_id ORDER BY next_run_at) AS nth
        FROM active
        WHERE next_run_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
      ), candidates AS (
        SELECT r.id, r.next_run_at, r.nth + coalesce(p.n, 0) AS turn
        FROM runnable r LEFT JOIN in_progress p USING (customer_id)
        WHERE r.nth <= ${limit}
      ), picked AS (
        SELECT r.id, (r.lease_owner IS NOT NULL OR r.defects > 0) AS interrupted FROM purchase_requests r JOIN candidates c ON c.id = r.id
        WHERE r.next_run_at <= now() AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
        ORDER BY c.turn, c.next_run_at
        LIMIT ${limit}
        FOR UPDATE OF r SKIP LOCKED
      )
      UPDATE purchase_requests r
      SET lease_owner = ${worker}, lease_expires_at = now() + ${leaseMillis} * interval '1 millisecond', fence = r.fence + 1
      FROM picked WHERE r.id = picked.id
      RETURNING r.*, picked.interrupted`, Decode.each(Decode.request<ClaimedRow>)),

  /** Gives the request back, to be picked up again after `delayMillis`; `why` is shown on its status. */
  park: (lease: Lease, delayMillis: number, why: string) =>
    sql`
      UPDATE purchase_requests
      SET lease_owner = NULL, lease_expires_at = NULL, next_run_at = now() + ${delayMillis} * interval '1 millisecond',
          waiting = ${why}, defects = 0
      WHERE id = ${lease.requestId} AND fence = ${lease.fence}`,

  /**
   * A run that ended in a defect gives the request back (if it still holds it) with a delay
   * that grows with each one in a row; after `maxDefects` it waits for an operator.
   */
  recordDefect: (requestId: string, fence: string, maxDefects: number, detail: string) =>
    sql`
      UPDATE purchase_requests SET
        defects = defects + 1,
        lease_owner = NULL,
        lease_expires_at = NULL,
        next_run_at = CASE WHEN defects + 1 >= ${maxDefects} THEN 'infinity'::timestamptz
                           ELSE now() + least(300, power(2, defects + 1)) * interval '1 second' END,
        attention = CASE WHEN defects + 1 >= ${maxDefects} THEN 'dead_letter' ELSE attention END,
        attention_detail = CASE WHEN defects + 1 >= ${maxDefects}
                                THEN ${`processing failed ${maxDefects} times in a row with a defect; set aside for an operator (last: ${detail})`}
                                ELSE attention_detail END,
        attention_since = CASE WHEN defects + 1 >= ${maxDefects} THEN now() ELSE attention_since END,
        waiting = CASE WHEN defects + 1 >= ${maxDefects} THEN 'set aside after repeated internal errors; an operator has been asked to look'
                       ELSE 'an internal error interrupted processing; trying again' END
      WHERE id = ${requestId} AND fence = ${fence}`,

  /** Renews the lease alone (the heartbeat of a run waiting on a long call); false when it was lost. */
  renew: (lease: Lease) =>
    Effect.map(
      sql`
        UPDATE purchase_requests
        SET lease_expires_at = now() + ${lease.leaseMillis} * interval '1 millisecond'
        WHERE id = ${lease.requestId} AND fence = ${lease.fence} AND lease_owner = ${lease.worker}
        RETURNING id`,
      (rows) => rows.length > 0
    )
})
