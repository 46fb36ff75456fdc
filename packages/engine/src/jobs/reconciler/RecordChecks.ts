/**
 * Our own records against each other, for requests finished within the window: money and seller
 * orders must go together. None of these is ever repaired automatically — each says what a person
 * has to do:
 * - `duplicate_orders`: more than one confirmed seller order for one request (impossible by the
 *   unique index on confirmed attempts; checked all the same, for every request);
 * - `capture_without_order`: money captured, no confirmed order (find the order or refund);
 * - `order_without_capture`: a confirmed order on a request that is not purchased, or never
 *   captured (capture or cancel the order);
 * - `captured_above_authorized`: a capture above its authorization.
 */
import type { SqlError } from "effect/sql"
import { Effect } from "effect"
import type { Add } from "./FindingSet.js"
import { finishedAndFree, type ReconcilerContext } from "./ReconcilerContext.js"

export const duplicateOrders = (ctx: ReconcilerContext, add: Add): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const rows = yield* ctx.sql<{ request_id: string; orders: string }>`
      SELECT request_id, string_agg(seller_name || ' order ' || COALESCE(order_id, '?'), ', ' ORDER BY id) AS orders
      FROM purchase_attempts WHERE status = 'confirmed'
      GROUP BY request_id HAVING count(*) > 1`
    for (const row of rows) add(row.request_id, "duplicate_orders", `more than one confirmed seller order: ${row.orders}`, false)
  })

export const moneyWithoutOrders = (ctx: ReconcilerContext, add: Add): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql } = ctx
    const captureWithoutOrder = yield* sql<{ request_id: string; amount: string; provider_ref: string | null; status: string }>`
      SELECT p.request_id, p.amount, p.provider_ref, r.status FROM payment_operations p JOIN purchase_requests r ON r.id = p.request_id
      WHERE p.kind = 'capture' AND p.status = 'succeeded' AND ${finishedAndFree(sql, ctx.windowMillis)}
        AND NOT EXISTS (SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.status = 'confirmed')`
    for (const row of captureWithoutOrder) {
      add(row.request_id, "capture_without_order", `${row.amount} captured (${row.provider_ref ?? "?"}) on a ${row.status} request without a confirmed seller order — find the order or refund`, false)
    }

    const orderWithoutCapture = yield* sql<{ request_id: string; seller_name: string; order_id: string | null; order_total: string | null; status: string; reason: string | null }>`
      SELECT a.request_id, a.seller_name, a.order_id, a.order_total, r.status, r.reason
      FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.request_id
      WHERE a.status = 'confirmed' AND ${finishedAndFree(sql, ctx.windowMillis)}
        AND (r.status <> 'purchased'
             OR NOT EXISTS (SELECT 1 FROM payment_operations c WHERE c.request_id = r.id AND c.kind = 'capture' AND c.status = 'succeeded'))`
    for (const row of orderWithoutCapture) {
      add(
        row.request_id,
        "order_without_capture",
        `order ${row.order_id ?? "?"} at ${row.seller_name} (${row.order_total ?? "?"}) confirmed, but the request is ${row.status}${row.reason === null ? "" : ` (${row.reason})`} and nothing was captured for it — capture or cancel the order`,
        false
      )
    }

    const above = yield* sql<{ request_id: string; captured: string; authorized: string; round: number }>`
      SELECT c.request_id, c.amount AS captured, a.amount AS authorized, c.round
      FROM payment_operations c
      JOIN payment_operations a ON a.request_id = c.request_id AND a.kind = 'authorize' AND a.round = c.round AND a.status = 'succeeded'
      JOIN purchase_requests r ON r.id = c.request_id
      WHERE c.kind = 'capture' AND c.status = 'succeeded' AND c.amount > a.amount AND ${finishedAndFree(sql, ctx.windowMillis)}`
    for (const row of above) add(row.request_id, "captured_above_authorized", `round ${row.round}: captured ${row.captured}, authorized only ${row.authorized}`, false)
  })
