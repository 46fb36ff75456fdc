/**
 * Does a seller hold an order bookbroker never confirmed? Every attempt that was sent and did not
 * end in a confirmed order is checked with its seller once (`lookupOrder` under the attempt's
 * idempotency key, for sellers that have it), `settleMillis` after it was last sent. An order
 * found there is `seller_order_unknown`, with the repair a person has to make (`unknownOrder`).
 */
import type { SqlError } from "effect/sql"
import { Effect, Option, Result } from "effect"
import type { Contract, Isbn } from "@bookbroker/adapter-sdk"
import { Decode, terminalStatuses, type AttemptRow, type RequestRow } from "../../purchases/store/PurchaseStore.js"
import { admittedCall } from "../../sellers/SellerCall.js"
import type { Add } from "./FindingSet.js"
import type { ReconcilerContext } from "./ReconcilerContext.js"

export interface CheckedAttempt {
  readonly seller_name: string
  readonly idempotency_key: string
  /** How the attempt's request ended. */
  readonly request_status: RequestRow["status"]
  /** The request's own authorization is still live. */
  readonly live_authorization: boolean
}

/** The finding for an order a seller holds under one of our keys that we never confirmed: what to do depends on how the request ended. */
export const unknownOrder = (attempt: CheckedAttempt, order: Pick<Contract.Order, "orderId" | "total">): string => {
  const where = `${attempt.seller_name} holds order ${order.orderId} (${order.total.amount} ${order.total.currency}) under key ${attempt.idempotency_key}`
  return attempt.request_status === "purchased"
    ? `${where}, but the request bought from another seller: a second order — cancel it at ${attempt.seller_name}`
    : attempt.live_authorization
      ? `${where}, and the request ended ${attempt.request_status} with its authorization still live: capture it for this order, or cancel the order at ${attempt.seller_name}`
      : `${where}, but the request ended ${attempt.request_status} and nothing was charged: cancel the order at ${attempt.seller_name}`
}

export const sellerOrdersPass = (ctx: ReconcilerContext, add: Add): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, directory, pool, state } = ctx
    type Row = AttemptRow & { request_status: RequestRow["status"]; request_seller_id: string | null; live_authorization: boolean }
    const attempts = yield* Effect.map(sql<Decode.StoredAttempt<Row>>`
      SELECT a.*, r.status AS request_status, r.seller_id AS request_seller_id,
        EXISTS (SELECT 1 FROM payment_operations p WHERE p.request_id = r.id AND p.kind = 'authorize' AND p.live) AS live_authorization
      FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.request_id
      WHERE a.tries > 0 AND a.status <> 'confirmed' AND a.seller_checked_at IS NULL
        AND r.status IN ${sql.in(terminalStatuses)}
        AND COALESCE(a.last_sent_at, a.updated_at) <= now() - ${ctx.settleMillis} * interval '1 millisecond'
      ORDER BY a.id
      LIMIT ${ctx.sellerLimit}`, Decode.each(Decode.attempt<Row>))
    for (const attempt of attempts) {
      const client = yield* directory.get(attempt.seller_id).pipe(Effect.flatMap((seller) => pool.client(seller)), Effect.option)
      // A seller gone from the directory, or one without order lookup, can't be asked: nothing to learn there.
      if (Option.isSome(client) && client.value.capabilities.orderLookup) {
        const isbn = (attempt.offer as { readonly isbn?: string } | null)?.isbn ?? ""
        const looked = yield* admittedCall(state, client.value, client.value.lookupOrder({ idempotencyKey: attempt.idempotency_key, isbn: isbn as Isbn.Isbn13 }), 500)
        if (looked._tag === "Denied" || Result.isFailure(looked)) continue // asked again next pass
        if (Option.isSome(looked.success)) add(attempt.request_id, "seller_order_unknown", unknownOrder(attempt, looked.success.value), false)
      }
      yield* sql`UPDATE purchase_attempts SET seller_checked_at = now() WHERE id = ${attempt.id}`
    }
  })
