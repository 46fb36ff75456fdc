/** Payment operations outside a run's fenced step (the sweeper's and the reconciler's repairs): intent, settlement, the live authorization. */
import type { SqlClient } from "effect/sql"
import { Effect } from "effect"
import { fragments } from "./fragments.js"
import * as Decode from "./decode.js"
import type { PaymentKind, PaymentOperationRow } from "./rows.js"

export const paymentStatements = (sql: SqlClient.SqlClient) => {
  const { settled } = fragments(sql)
  return {
  /** The persisted intent of a payment call: created once per idempotency key, then reused. */
  ensurePayment: (requestId: string, kind: PaymentKind, round: number, key: string, amount: number, currency: string) =>
    Effect.map(
      // One statement: the intent the first time, one more try (same key, same row) after that.
      sql<Decode.StoredPayment>`
        INSERT INTO payment_operations (request_id, kind, round, idempotency_key, amount, currency, status, tries)
        VALUES (${requestId}, ${kind}, ${round}, ${key}, ${amount}, ${currency}, 'pending', 1)
        ON CONFLICT (idempotency_key) DO UPDATE SET tries = payment_operations.tries + 1, updated_at = now()
        RETURNING *`,
      (rows) => Decode.payment(rows[0]!)
    ),

  settlePayment: (key: string, status: PaymentOperationRow["status"], providerRef: string | null, live: boolean, detail: string | null) =>
    sql`UPDATE payment_operations SET ${settled(status, providerRef, live, detail)} WHERE idempotency_key = ${key}`,

  /** The authorization that still holds money for the request, if any. */
  liveAuthorization: (requestId: string) =>
    Effect.map(
      sql<Decode.StoredPayment>`SELECT * FROM payment_operations WHERE request_id = ${requestId} AND kind = 'authorize' AND live`,
      (rows) => (rows[0] === undefined ? undefined : Decode.payment(rows[0]))
    ),

  endAuthorization: (requestId: string) =>
    sql`UPDATE payment_operations SET live = false, updated_at = now() WHERE request_id = ${requestId} AND kind = 'authorize' AND live`
}
}
