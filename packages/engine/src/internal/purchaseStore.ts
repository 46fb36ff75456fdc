/**
 * SQL for the purchase state machine. Every write a worker makes goes through `fenced`: one
 * transaction that first checks (and renews) the worker's lease on the request with its fencing
 * version, so a worker that paused past its lease can't write over the one that took over.
 */
import { SqlClient, type SqlError } from "effect/sql"
import { Effect, Schema } from "effect"
import * as PurchaseKeys from "../purchases/PurchaseKeys.js"
import { nonEmptyRows } from "./sql.js"

export const terminalStatuses = ["purchased", "price_not_met", "not_available", "sellers_busy", "failed"] as const
/** The endings that bought nothing: their authorization is voided, their holds released. */
export const unboughtStatuses = ["price_not_met", "not_available", "sellers_busy", "failed"] as const satisfies ReadonlyArray<TerminalStatus>
/**
 * Ends the reason of a failed attempt whose seller hold could not be given back at once (the
 * seller's limits had no room, or it did not answer): the sweeper gives it back later.
 */
export const holdNotGivenBack = "; hold not given back yet"

export const activeStatuses = ["received", "authorized", "quoting", "deciding", "purchasing"] as const
export const PurchaseStatus = Schema.Literals([...activeStatuses, ...terminalStatuses])
export type PurchaseStatus = typeof PurchaseStatus.Type
export type TerminalStatus = (typeof terminalStatuses)[number]
export const isTerminal = (status: PurchaseStatus): status is TerminalStatus => (terminalStatuses as ReadonlyArray<string>).includes(status)

export interface CustomerDetails {
  readonly name: string
  readonly email: string
  readonly shipping_address: unknown
}

export interface CounterOffer {
  /** The round whose quotes it came from: accepting it buys from those (absent on rows from before rounds were recorded: 0). */
  readonly round?: number
  readonly seller_id: string
  readonly seller_name: string
  readonly total: number
  readonly currency: string
  readonly expires_at: string
}

export interface RequestRow {
  readonly id: string
  readonly customer_id: string
  readonly idempotency_key: string
  readonly request_hash: string
  readonly isbn: string
  readonly currency: string
  readonly original_max: string
  readonly max_amount: string
  readonly payment_token: string
  readonly customer: CustomerDetails
  readonly notify_url: string | null
  readonly round: number
  readonly status: PurchaseStatus
  readonly reason: string | null
  readonly final_amount: string | null
  readonly seller_id: string | null
  readonly order_id: string | null
  readonly counter_offer: CounterOffer | null
  /** How long after `created_at` the request may wait for sellers' answers (null: the engine's default). */
  readonly answer_within_millis: number | null
  /** How far asking sellers got: asked, answered, still not asked and why (while quoting and after). */
  readonly quote_progress: QuoteProgress | null
  /** Why the request is parked right now, in words a customer may read. */
  readonly waiting: string | null
  /** Set when a person has to look; cleared when the request moves on to a final state. */
  readonly attention: Attention | null
  readonly attention_detail: string | null
  readonly attention_since: Date | null
  /** Runs in a row that ended in a defect (reset by any regular step). */
  readonly defects: number
  readonly fence: string
  readonly lease_owner: string | null
  readonly next_run_at: Date
  readonly created_at: Date
  readonly updated_at: Date
  readonly completed_at: Date | null
}

export interface QuoteProgress {
  /** Sellers that were to be asked. */
  readonly sellers: number
  /** Sellers that answered (an offer, or "not carried / out of stock"). */
  readonly answered: number
  /** Sellers whose call failed or timed out (asked, no answer). */
  readonly failed: number
  /** Sellers not asked yet: their limits were full; with why (`rate_limited`, `concurrency`, `backoff`, `queued`). */
  readonly notAsked: ReadonlyArray<{ readonly sellerId: string; readonly sellerName: string; readonly reason: string }>
  /**
   * The failed sellers were asked again until the retry window (`retryFailedForMillis`) ran out:
   * their failure is final ("a dead seller means fewer quotes"), not a reason to wait.
   */
  readonly failedFinal?: boolean
  readonly offers: number
  readonly updatedAt: string
}

export type Attention = "unresolved_attempt" | "dead_letter" | "order_mismatch"

export type AttemptStatus = "pending" | "holding" | "held" | "purchasing" | "unknown" | "confirmed" | "failed"

export interface AttemptRow {
  readonly id: string
  readonly request_id: string
  readonly round: number
  readonly seller_id: string
  readonly seller_name: string
  readonly rank: number
  readonly idempotency_key: string
  readonly status: AttemptStatus
  readonly offer: unknown
  readonly hold: unknown
  readonly order_id: string | null
  readonly order_total: string | null
  readonly reason: string | null
  readonly tries: number
  /** When a purchase was first / last sent for this attempt (null: never). */
  readonly first_sent_at: Date | null
  readonly last_sent_at: Date | null
  readonly created_at: Date
  readonly updated_at: Date
}

export type PaymentKind = "authorize" | "capture" | "void" | "refund"

export interface PaymentOperationRow {
  readonly id: string
  readonly request_id: string
  readonly kind: PaymentKind
  readonly round: number
  readonly idempotency_key: string
  readonly amount: string
  readonly currency: string
  readonly status: "pending" | "succeeded" | "declined" | "rejected"
  readonly provider_ref: string | null
  readonly live: boolean
  readonly detail: string | null
  readonly tries: number
}

export interface QuoteRow {
  readonly seller_id: string
  readonly seller_name: string
  readonly rank: number
  readonly total: string
  readonly currency: string
  readonly offer: unknown
}

/** Another worker holds the request now: stop touching it. */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", { requestId: Schema.String }) {}

export interface Lease {
  readonly requestId: string
  readonly worker: string
  readonly fence: string
  readonly leaseMillis: number
}

export const makeStore = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  /** Runs `body` in a transaction after checking and renewing the lease. */
  const fenced = <A, E, R>(lease: Lease, body: Effect.Effect<A, E, R>): Effect.Effect<A, E | LeaseLost | SqlError.SqlError, R> =>
    sql.withTransaction(
      Effect.gen(function* () {
        const renewed = yield* sql`
          UPDATE purchase_requests
          SET lease_expires_at = now() + ${lease.leaseMillis} * interval '1 millisecond', updated_at = now()
          WHERE id = ${lease.requestId} AND fence = ${lease.fence} AND lease_owner = ${lease.worker}
          RETURNING id`
        if (renewed.length === 0) return yield* new LeaseLost({ requestId: lease.requestId })
        return yield* body
      })
    )

  const transition = (lease: Lease, from: PurchaseStatus, to: PurchaseStatus, reason: string | null, changes: Partial<Record<string, unknown>> = {}) =>
    Effect.gen(function* () {
      const terminal = isTerminal(to)
      const [row] = yield* sql<RequestRow>`
        UPDATE purchase_requests SET
          status = ${to},
          reason = ${terminal ? reason : null},
          final_amount = COALESCE(${(changes["final_amount"] as number | undefined) ?? null}::bigint, final_amount),
          seller_id = COALESCE(${(changes["seller_id"] as string | undefined) ?? null}::uuid, seller_id),
          order_id = COALESCE(${(changes["order_id"] as string | undefined) ?? null}, order_id),
          counter_offer = COALESCE(${changes["counter_offer"] === undefined ? null : JSON.stringify(changes["counter_offer"])}::jsonb, counter_offer),
          quote_progress = COALESCE(${changes["quote_progress"] === undefined ? null : JSON.stringify(changes["quote_progress"])}::jsonb, quote_progress),
          completed_at = ${terminal ? sql`now()` : sql`completed_at`},
          waiting = NULL,
          defects = 0,
          attention = ${terminal ? sql`NULL` : sql`attention`},
          attention_detail = ${terminal ? sql`NULL` : sql`attention_detail`},
          attention_since = ${terminal ? sql`NULL` : sql`attention_since`},
          next_run_at = now(),
          lease_owner = ${terminal ? null : lease.worker},
          lease_expires_at = ${terminal ? sql`NULL` : sql`lease_expires_at`}
        WHERE id = ${lease.requestId}
        RETURNING *`
      yield* sql`
        INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
        VALUES (${lease.requestId}, ${from}, ${to}, ${lease.worker}, ${reason})`
      if (terminal) {
        yield* sql`
          INSERT INTO outbox (request_id, event, payload, notify_url)
          VALUES (${lease.requestId}, ${`purchase_request.${to}`}, ${JSON.stringify(eventPayload(row!))}::jsonb, ${row!.notify_url})`
      }
      // The row as this transaction left it: callers need not read it again.
      return row!
    })

  return {
    sql,
    fenced,
    transition,

    /**
     * Claims up to `limit` runnable requests, taking turns between customers: a customer's n-th
     * oldest runnable request comes after every customer's (n-1)-th, counting the requests each
     * customer already has in progress (leased) — so a worker with one free slot gives it to the
     * customer with the least in progress, and one customer's flood waits behind everyone else's
     * requests instead of holding every worker.
     */
    claim: (worker: string, leaseMillis: number, limit: number) =>
      sql<RequestRow>`
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
          SELECT r.id FROM purchase_requests r JOIN candidates c ON c.id = r.id
          WHERE r.next_run_at <= now() AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
          ORDER BY c.turn, c.next_run_at
          LIMIT ${limit}
          FOR UPDATE OF r SKIP LOCKED
        )
        UPDATE purchase_requests r
        SET lease_owner = ${worker}, lease_expires_at = now() + ${leaseMillis} * interval '1 millisecond', fence = r.fence + 1
        FROM picked WHERE r.id = picked.id
        RETURNING r.*`,

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

    /** Records how far quoting got (shown on the request's status while it waits for sellers). */
    progress: (requestId: string, progress: QuoteProgress, waiting: string) =>
      sql`UPDATE purchase_requests SET quote_progress = ${JSON.stringify(progress)}::jsonb, waiting = ${waiting} WHERE id = ${requestId}`,

    /** Renews the lease alone (the heartbeat of a run waiting on a long call); false when it was lost. */
    renew: (lease: Lease) =>
      Effect.map(
        sql`
          UPDATE purchase_requests
          SET lease_expires_at = now() + ${lease.leaseMillis} * interval '1 millisecond'
          WHERE id = ${lease.requestId} AND fence = ${lease.fence} AND lease_owner = ${lease.worker}
          RETURNING id`,
        (rows) => rows.length > 0
      ),

    /**
     * Asks a person to look, once per kind: the request's attention flag and a reconciliation
     * finding carrying what is known. The request itself goes on as it was.
     */
    flag: (requestId: string, attention: Attention, finding: string, detail: string) =>
      Effect.andThen(
        sql`
          UPDATE purchase_requests
          SET attention = ${attention}, attention_detail = ${detail}, attention_since = COALESCE(attention_since, now())
          WHERE id = ${requestId}`,
        sql`
          INSERT INTO reconciliation_findings (request_id, kind, detail, fixed) VALUES (${requestId}, ${finding}, ${detail}, false)
          ON CONFLICT (request_id, kind) DO UPDATE SET detail = EXCLUDED.detail, fixed = false`
      ),

    /** A finding alone (the request is fine, something about it needs a person's eye). */
    finding: (requestId: string, kind: string, detail: string) =>
      sql`
        INSERT INTO reconciliation_findings (request_id, kind, detail, fixed) VALUES (${requestId}, ${kind}, ${detail}, false)
        ON CONFLICT (request_id, kind) DO UPDATE SET detail = EXCLUDED.detail`,

    request: (id: string) => Effect.map(sql<RequestRow>`SELECT * FROM purchase_requests WHERE id = ${id}`, (rows) => rows[0]),

    attempts: (id: string) => sql<AttemptRow>`SELECT * FROM purchase_attempts WHERE request_id = ${id} ORDER BY round, rank`,

    payments: (id: string) => sql<PaymentOperationRow>`SELECT * FROM payment_operations WHERE request_id = ${id} ORDER BY id`,

    quotes: (id: string, round: number) =>
      sql<QuoteRow>`SELECT seller_id, seller_name, rank, total, currency, offer FROM purchase_quotes WHERE request_id = ${id} AND round = ${round} ORDER BY rank`,

    /** The persisted intent of a payment call: created once per idempotency key, then reused. */
    ensurePayment: (requestId: string, kind: PaymentKind, round: number, key: string, amount: number, currency: string) =>
      Effect.map(
        // One statement: the intent the first time, one more try (same key, same row) after that.
        sql<PaymentOperationRow>`
          INSERT INTO payment_operations (request_id, kind, round, idempotency_key, amount, currency, status, tries)
          VALUES (${requestId}, ${kind}, ${round}, ${key}, ${amount}, ${currency}, 'pending', 1)
          ON CONFLICT (idempotency_key) DO UPDATE SET tries = payment_operations.tries + 1, updated_at = now()
          RETURNING *`,
        (rows) => rows[0]!
      ),

    settlePayment: (key: string, status: PaymentOperationRow["status"], providerRef: string | null, live: boolean, detail: string | null) =>
      sql`
        UPDATE payment_operations
        SET status = ${status}, provider_ref = COALESCE(${providerRef}, provider_ref), live = ${live}, detail = ${detail}, updated_at = now()
        WHERE idempotency_key = ${key}`,

    /** The authorization that still holds money for the request, if any. */
    liveAuthorization: (requestId: string) =>
      Effect.map(
        sql<PaymentOperationRow>`SELECT * FROM payment_operations WHERE request_id = ${requestId} AND kind = 'authorize' AND live`,
        (rows) => rows[0]
      ),

    endAuthorization: (requestId: string) =>
      sql`UPDATE payment_operations SET live = false, updated_at = now() WHERE request_id = ${requestId} AND kind = 'authorize' AND live`,

    saveQuotes: (requestId: string, round: number, rows: ReadonlyArray<Omit<QuoteRow, "total"> & { readonly total: number }>) =>
      Effect.gen(function* () {
        yield* sql`DELETE FROM purchase_quotes WHERE request_id = ${requestId} AND round = ${round}`
        if (rows.length === 0) return
        yield* sql`INSERT INTO purchase_quotes ${sql.insert(
          nonEmptyRows(rows.map((row) => ({
            request_id: requestId,
            round,
            seller_id: row.seller_id,
            seller_name: row.seller_name,
            rank: row.rank,
            total: row.total,
            currency: row.currency,
            offer: JSON.stringify(row.offer)
          })))
        )}`
      }),

    createAttempts: (requestId: string, round: number, rows: ReadonlyArray<{ seller_id: string; seller_name: string; rank: number; offer: unknown }>): Effect.Effect<void, SqlError.SqlError> =>
      rows.length === 0
        ? Effect.void
        : Effect.asVoid(sql`INSERT INTO purchase_attempts ${sql.insert(
            nonEmptyRows(rows.map((row) => ({
              request_id: requestId,
              round,
              seller_id: row.seller_id,
              seller_name: row.seller_name,
              rank: row.rank,
              idempotency_key: PurchaseKeys.attempt(requestId, row.seller_id),
              status: "pending",
              offer: JSON.stringify(row.offer)
            })))
          )} ON CONFLICT (request_id, seller_id) DO NOTHING`),

    updateAttempt: (
      id: string,
      status: AttemptStatus,
      changes: {
        readonly hold?: unknown
        readonly orderId?: string
        readonly orderTotal?: number
        readonly reason?: string
        /** A purchase (or its replay) is about to be sent: counts the try and stamps the time. */
        readonly sending?: boolean
      } = {}
    ) =>
      sql`
        UPDATE purchase_attempts SET
          status = ${status},
          hold = COALESCE(${changes.hold === undefined ? null : JSON.stringify(changes.hold)}::jsonb, hold),
          order_id = COALESCE(${changes.orderId ?? null}, order_id),
          order_total = COALESCE(${changes.orderTotal ?? null}::bigint, order_total),
          reason = ${changes.reason ?? null},
          tries = tries + ${changes.sending === true ? 1 : 0},
          first_sent_at = ${changes.sending === true ? sql`COALESCE(first_sent_at, now())` : sql`first_sent_at`},
          last_sent_at = ${changes.sending === true ? sql`now()` : sql`last_sent_at`},
          updated_at = now()
        WHERE id = ${id}`
  }
})

export type PurchaseStore = Effect.Success<typeof makeStore>

/** What a customer (and its webhook) sees of a finished request. */
export const eventPayload = (
  row: Pick<RequestRow, "id" | "status" | "isbn" | "reason" | "final_amount" | "currency" | "seller_id" | "order_id" | "counter_offer">
) => ({
  id: row.id,
  status: row.status,
  isbn: row.isbn,
  reason: row.reason,
  final_price: row.final_amount === null ? null : { amount: Number(row.final_amount), currency: row.currency.trim() },
  seller_id: row.seller_id,
  order_id: row.order_id,
  counter_offer: row.counter_offer
})
