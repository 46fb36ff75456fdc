/** Reads of a request and what it learnt: the row, its attempts, payments and quotes, and what other buyers of the book did. */
import type { SqlClient } from "effect/sql"
import { Effect } from "effect"
import * as Decode from "./decode.js"
import { activeStatuses, type RequestRow } from "./rows.js"

export const readStatements = (sql: SqlClient.SqlClient) => ({
  request: (id: string) =>
    Effect.map(sql<Decode.StoredRequest>`SELECT * FROM purchase_requests WHERE id = ${id}`, (rows) => (rows[0] === undefined ? undefined : Decode.request(rows[0]))),

  /**
   * Requests for the same book and currency that arrived before `request` and are still in
   * progress, counted up to `atMost` (`ScarceCopies.waitsForEarlier`).
   */
  earlierInProgress: (request: Pick<RequestRow, "id" | "isbn" | "currency">, atMost: number) =>
    Effect.map(
      // The request's own created_at read in SQL: a JS Date keeps milliseconds, arrivals differ by microseconds.
      sql<{ n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT 1 FROM purchase_requests
          WHERE isbn = ${request.isbn} AND currency = ${request.currency} AND status IN ${sql.in(activeStatuses)}
            AND (created_at, id) < (SELECT created_at, id FROM purchase_requests WHERE id = ${request.id})
          LIMIT ${atMost}) AS earlier`,
      (rows) => rows[0]?.n ?? 0
    ),

  /**
   * What other requests for `isbn` learnt at these sellers, in one statement: orders confirmed
   * there since `windowStart` (`sold`, copies gone lately), and per seller since `quotedAt`
   * (`ScarceCopies.knownSoldOut`): orders confirmed and whether the seller answered out of stock.
   * A seller nobody learnt anything at is missing from `since`.
   */
  copiesGone: (input: {
    readonly requestId: string
    readonly isbn: string
    readonly sellerIds: ReadonlyArray<string>
    readonly windowStart: Date
    readonly quotedAt: Date
    readonly outOfStockAnswer: string
  }) =>
    Effect.map(
      sql<{ seller_id: string; sold_in_window: number; sold: number; said_sold_out: boolean }>`
        SELECT a.seller_id,
               count(*) FILTER (WHERE a.status = 'confirmed')::int AS sold_in_window,
               count(*) FILTER (WHERE a.status = 'confirmed' AND a.updated_at > ${input.quotedAt})::int AS sold,
               coalesce(bool_or(a.status = 'failed' AND a.reason = ${input.outOfStockAnswer} AND a.updated_at > ${input.quotedAt}), false) AS said_sold_out
        FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.request_id
        WHERE a.seller_id = ANY(${input.sellerIds}::uuid[]) AND a.updated_at > ${input.windowStart}
          AND a.request_id <> ${input.requestId} AND r.isbn = ${input.isbn}
        GROUP BY a.seller_id`,
      (rows) => ({
        sold: rows.reduce((sum, row) => sum + row.sold_in_window, 0),
        since: new Map(rows.map((row) => [row.seller_id, { sold: row.sold, saidSoldOut: row.said_sold_out === true }] as const))
      })
    ),

  attempts: (id: string) => Effect.map(sql<Decode.StoredAttempt>`SELECT * FROM purchase_attempts WHERE request_id = ${id} ORDER BY round, rank`, Decode.each(Decode.attempt)),

  payments: (id: string) => Effect.map(sql<Decode.StoredPayment>`SELECT * FROM payment_operations WHERE request_id = ${id} ORDER BY id`, Decode.each(Decode.payment)),

  quotes: (id: string, round: number) =>
    Effect.map(
      sql<Decode.StoredQuote>`SELECT seller_id, seller_name, rank, total, currency, offer FROM purchase_quotes WHERE request_id = ${id} AND round = ${round} ORDER BY rank`,
      Decode.each(Decode.quote)
    )
})
