/**
 * SQL for the purchase state machine. Every write a worker makes goes through `fenced`: one
 * transaction that first checks (and renews) the worker's lease on the request with its fencing
 * version, so a worker that paused past its lease can't write over the one that took over.
 */
import { SqlClient, type SqlError, type Statement } from "effect/sql"
import { Effect, Schema } from "effect"
import type { Locked } from "../exchange/Conversion.js"
import { lockedRatesWire, lockedRatesWireSql } from "../exchange/RateView.js"
import * as AttemptReuse from "../purchases/AttemptReuse.js"
import * as PurchaseKeys from "../purchases/PurchaseKeys.js"

export const terminalStatuses = ["purchased", "price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"] as const
/** The endings that bought nothing: their authorization is voided, their holds released. */
export const unboughtStatuses = ["price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"] as const satisfies ReadonlyArray<TerminalStatus>
/**
 * A want (a request with `wait_until`) that found nothing within its maximum: it holds no
 * authorization and no worker runs it; `jobs/Wants.ts` reopens it when a copy is found, or ends it.
 */
export const watchingStatus = "watching" as const
/** At rest without a purchase: what the sweeper gives back for (authorizations, holds). */
export const restingStatuses = [...unboughtStatuses, watchingStatus] as const
export { holdNotGivenBack } from "../purchases/AttemptReuse.js"

export const activeStatuses = ["received", "authorized", "quoting", "deciding", "purchasing"] as const
export const PurchaseStatus = Schema.Literals([...activeStatuses, watchingStatus, ...terminalStatuses])
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
  /** The customer's payment method token; null once the request is final (cleared by the step that ends it). */
  readonly payment_token: string | null
  readonly customer: CustomerDetails
  readonly notify_url: string | null
  readonly round: number
  readonly status: PurchaseStatus
  readonly reason: string | null
  readonly final_amount: string | null
  readonly seller_id: string | null
  readonly order_id: string | null
  readonly counter_offer: CounterOffer | null
  /** How long after the round started the request may wait for sellers' answers (null: the engine's default). */
  readonly answer_within_millis: number | null
  /** A want: until when the customer waits for a copy within the maximum (null: answer now). */
  readonly wait_until: Date | null
  /** When the current round started (a reopened want, an accepted counter-offer, a retry); null: at `created_at`. */
  readonly round_started_at: Date | null
  /** How far asking sellers got: asked, answered, still not asked and why (while quoting and after). */
  readonly quote_progress: QuoteProgress | null
  /** The exchange rate each other currency was priced at for this request (null: none converted). */
  readonly exchange: Locked | null
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

/** An offer the index or a push knows of, not yet confirmed live (`QuoteProgress.leads`). */
export interface Lead {
  readonly sellerId: string
  readonly sellerName: string
  /** The indexed total, minor units of the request's currency. */
  readonly total: number
}

/** Offers in one other currency (`QuoteProgress.otherCurrencies`). */
export interface OtherCurrency {
  readonly currency: string
  readonly sellers: number
  /** The cheapest of them, total in minor units of `currency`. */
  readonly cheapest: { readonly sellerId: string; readonly sellerName: string; readonly total: number }
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
  /**
   * Indexed or pushed offers within the maximum that were not confirmed with their sellers
   * (enough cheaper live offers were found), cheapest first: when every offer bought from fails,
   * these are confirmed next (`steps/quote.ts`, `confirmLeads`) before the request may end
   * without a purchase.
   */
  readonly leads?: ReadonlyArray<Lead>
  /**
   * Offers made in other currencies than the request's (not comparable without exchange rates):
   * the cheapest per currency and how many sellers offered in it. A request is never told the
   * book is not available when it is offered in another currency.
   */
  readonly otherCurrencies?: ReadonlyArray<OtherCurrency>
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
  /** The currency the seller confirmed the order in, when not the request's (converted at the request's locked rate). */
  readonly order_currency: string | null
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

/** What a step changes on the request besides its status. */
export interface RequestChanges {
  readonly final_amount?: number
  readonly seller_id?: string
  readonly order_id?: string | null
  readonly counter_offer?: CounterOffer
  readonly quote_progress?: QuoteProgress
  /** Why the request waits from now on, in the same statement as the move (a watching want says so at once). */
  readonly waiting?: string
  /** Told in the webhook only (the attempt keeps it): what the seller charged in its own currency, when that is not the request's. */
  readonly seller_price?: { readonly amount: number; readonly currency: string }
}

/** A move of the purchase state machine, recorded in `state_transitions` (and the outbox when final or watching). */
export interface Transition {
  readonly to: PurchaseStatus
  /** Statuses passed on the way, in order (each recorded as a transition of its own, without a reason). */
  readonly through?: ReadonlyArray<PurchaseStatus>
  readonly reason: string | null
  readonly changes?: RequestChanges
}

/**
 * Everything one step of a run writes: it commits as one statement, and only while the run
 * still holds the request's lease (`store.step`).
 */
export interface StepChanges {
  readonly transition?: Transition
  /** How far quoting got, and why the request waits (shown on its status). */
  readonly progress?: { readonly progress: QuoteProgress; readonly waiting: string | null }
  /** Asks a person to look (cleared when the request reaches a final state). */
  readonly attention?: { readonly kind: Attention; readonly detail: string }
  /** The exchange rates the request's offers were priced at (`Conversion.Locked`), kept for its hold, order and capture. */
  readonly exchange?: Locked | null
  /** Writes to the request's other records, from `store.writes`. */
  readonly writes?: ReadonlyArray<Statement.Fragment>
}

export const makeStore = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const leaseHeld = (lease: Lease) => sql`id = ${lease.requestId} AND fence = ${lease.fence} AND lease_owner = ${lease.worker}`
  /** A payment call's outcome, on its intent. */
  const settled = (status: PaymentOperationRow["status"], providerRef: string | null, live: boolean, detail: string | null) =>
    sql`status = ${status}, provider_ref = COALESCE(${providerRef}, provider_ref), live = ${live}, detail = ${detail}, updated_at = now()`
  const leaseUntil = (lease: Lease) => sql`now() + ${lease.leaseMillis} * interval '1 millisecond'`

  /**
   * A step's writes as one statement: `req` checks (and renews) the lease with its fencing
   * version and applies the request's own changes; every other write is a data-modifying CTE
   * that only acts when `req` found the lease held. So a step commits in one round trip, all or
   * nothing, and a worker that paused past its lease can't write over the one that took over.
   */
  const step = (lease: Lease, current: RequestRow, changes: StepChanges): Effect.Effect<RequestRow, LeaseLost | SqlError.SqlError> =>
    Effect.gen(function* () {
      const transition = changes.transition
      const terminal = transition !== undefined && isTerminal(transition.to)
      const set: Array<Statement.Fragment> = [sql`lease_expires_at = ${terminal ? sql`NULL` : leaseUntil(lease)}`, sql`updated_at = now()`]
      if (transition !== undefined) {
        const c = transition.changes ?? {}
        set.push(sql`
          status = ${transition.to},
          reason = ${terminal ? transition.reason : null},
          final_amount = COALESCE(${c.final_amount ?? null}::bigint, final_amount),
          seller_id = COALESCE(${c.seller_id ?? null}::uuid, seller_id),
          order_id = COALESCE(${c.order_id ?? null}, order_id),
          counter_offer = COALESCE(${c.counter_offer === undefined ? null : JSON.stringify(c.counter_offer)}::jsonb, counter_offer),
          quote_progress = COALESCE(${c.quote_progress === undefined ? null : JSON.stringify(c.quote_progress)}::jsonb, quote_progress),
          completed_at = ${terminal ? sql`now()` : sql`completed_at`},
          waiting = ${c.waiting ?? null},
          defects = 0,
          next_run_at = now(),
          lease_owner = ${terminal ? null : lease.worker}`)
      }
      if (changes.progress !== undefined) {
        set.push(sql`quote_progress = ${JSON.stringify(changes.progress.progress)}::jsonb, waiting = ${changes.progress.waiting}`)
      }
      if (changes.exchange !== undefined) set.push(sql`exchange = ${changes.exchange === null ? null : JSON.stringify(changes.exchange)}::jsonb`)
      if (terminal) {
        // The token is for authorizing; nothing after the end uses it (captures, voids and refunds go by the provider's reference).
        set.push(sql`attention = NULL, attention_detail = NULL, attention_since = NULL, payment_token = NULL`)
      } else if (changes.attention !== undefined) {
        set.push(sql`attention = ${changes.attention.kind}, attention_detail = ${changes.attention.detail}, attention_since = COALESCE(attention_since, now())`)
      }
      const ctes: Array<Statement.Fragment> = [sql`req AS (UPDATE purchase_requests SET ${sql.csv(set)} WHERE ${leaseHeld(lease)} RETURNING *)`]
      ;(changes.writes ?? []).forEach((write, i) => ctes.push(sql`${sql.literal(`w${i}`)} AS (${write})`))
      if (transition !== undefined) {
        const moves = [...(transition.through ?? []), transition.to]
        const values = moves.map((to, n) => sql`(${n}, ${n === 0 ? current.status : moves[n - 1]!}::text, ${to}::text, ${n === moves.length - 1 ? transition.reason : null}::text)`)
        ctes.push(sql`
          moved AS (
            INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
            SELECT req.id, v.from_status, v.to_status, ${lease.worker}::text, v.reason
            FROM req, (VALUES ${sql.csv(values)}) AS v (n, from_status, to_status, reason)
            ORDER BY v.n)`)
        if (terminal || transition.to === watchingStatus) {
          const c = transition.changes ?? {}
          const payload = eventPayload(
            {
              id: current.id,
              status: transition.to,
              isbn: current.isbn,
              reason: transition.reason,
              final_amount: c.final_amount === undefined ? current.final_amount : String(c.final_amount),
              currency: current.currency,
              seller_id: c.seller_id ?? current.seller_id,
              order_id: c.order_id ?? current.order_id,
              counter_offer: c.counter_offer ?? current.counter_offer,
              exchange: changes.exchange === undefined ? current.exchange : changes.exchange
            },
            c.seller_price ?? null
          )
          ctes.push(sql`
            told AS (
              INSERT INTO outbox (request_id, event, payload, notify_url)
              SELECT req.id, ${`purchase_request.${transition.to}`}::text, ${JSON.stringify(payload)}::jsonb, req.notify_url FROM req)`)
        }
      }
      const [row] = yield* sql<RequestRow>`WITH ${sql.csv(ctes)} SELECT * FROM req`
      if (row === undefined) return yield* new LeaseLost({ requestId: lease.requestId })
      // The row as this statement left it: callers need not read it again.
      return row
    })

  /** Writes a step may carry (`StepChanges.writes`): each acts only when the step's lease check (`req`) held. */
  const writes = {
    settlePayment: (key: string, status: PaymentOperationRow["status"], providerRef: string | null, live: boolean, detail: string | null) =>
      sql`UPDATE payment_operations SET ${settled(status, providerRef, live, detail)} WHERE idempotency_key = ${key} AND EXISTS (SELECT 1 FROM req)`,

    endAuthorization: () =>
      sql`UPDATE payment_operations SET live = false, updated_at = now() WHERE request_id = (SELECT id FROM req) AND kind = 'authorize' AND live`,

    saveQuotes: (round: number, rows: ReadonlyArray<Omit<QuoteRow, "total"> & { readonly total: number }>) =>
      sql`
        INSERT INTO purchase_quotes (request_id, round, seller_id, seller_name, rank, total, currency, offer)
        SELECT req.id, ${round}::int, x.seller_id, x.seller_name, x.rank, x.total, x.currency, x.offer
        FROM req, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x (seller_id uuid, seller_name text, rank int, total bigint, currency text, offer jsonb)
        ON CONFLICT (request_id, round, seller_id) DO UPDATE SET
          seller_name = EXCLUDED.seller_name, rank = EXCLUDED.rank, total = EXCLUDED.total, currency = EXCLUDED.currency, offer = EXCLUDED.offer, taken_at = now()`,

    createAttempts: (requestId: string, round: number, rows: ReadonlyArray<{ seller_id: string; seller_name: string; rank: number; offer: unknown }>) =>
      sql`
        INSERT INTO purchase_attempts (request_id, round, seller_id, seller_name, rank, idempotency_key, status, offer)
        SELECT req.id, ${round}::int, x.seller_id, x.seller_name, x.rank, x.idempotency_key, 'pending', x.offer
        FROM req, jsonb_to_recordset(${JSON.stringify(rows.map((row) => ({ ...row, idempotency_key: PurchaseKeys.attempt(requestId, row.seller_id) })))}::jsonb)
          AS x (seller_id uuid, seller_name text, rank int, idempotency_key text, offer jsonb)
        ORDER BY x.rank
        ON CONFLICT (request_id, seller_id) DO UPDATE SET
          round = EXCLUDED.round, seller_name = EXCLUDED.seller_name, rank = EXCLUDED.rank, status = 'pending', offer = EXCLUDED.offer,
          hold = NULL, reason = NULL, order_currency = NULL, updated_at = now()
        -- A seller tried in an earlier round is tried again only when no purchase was ever sent to it for this request (AttemptReuse).
        WHERE ${sql.literal(AttemptReuse.reusable("purchase_attempts"))}`,

    updateAttempt: (
      id: string,
      status: AttemptStatus,
      changes: {
        readonly hold?: unknown
        readonly orderId?: string
        readonly orderTotal?: number
        /** The order's currency, when it is not the request's. */
        readonly orderCurrency?: string
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
          order_currency = COALESCE(${changes.orderCurrency ?? null}::char(3), order_currency),
          reason = ${changes.reason ?? null},
          tries = tries + ${changes.sending === true ? 1 : 0},
          first_sent_at = ${changes.sending === true ? sql`COALESCE(first_sent_at, now())` : sql`first_sent_at`},
          last_sent_at = ${changes.sending === true ? sql`now()` : sql`last_sent_at`},
          updated_at = now()
        WHERE id = ${id} AND EXISTS (SELECT 1 FROM req)`,

    /** A reconciliation finding about the request (`reopen`: marked not fixed again if it was). */
    finding: (kind: string, detail: string, reopen: boolean) =>
      sql`
        INSERT INTO reconciliation_findings (request_id, kind, detail, fixed)
        SELECT req.id, ${kind}::text, ${detail}::text, false FROM req
        ON CONFLICT (request_id, kind) DO UPDATE SET detail = EXCLUDED.detail${reopen ? sql`, fixed = false` : sql``}`
  }

  return {
    sql,
    step,
    writes,

    /**
     * The persisted intent of a payment call, before the call, in one statement with the lease
     * check: created once per idempotency key, one more try (same key, same row) after that.
     */
    paymentIntent: (lease: Lease, kind: PaymentKind, round: number, key: string, amount: number, currency: string) =>
      Effect.flatMap(
        sql<PaymentOperationRow>`
          WITH req AS (UPDATE purchase_requests SET lease_expires_at = ${leaseUntil(lease)}, updated_at = now() WHERE ${leaseHeld(lease)} RETURNING id)
          INSERT INTO payment_operations (request_id, kind, round, idempotency_key, amount, currency, status, tries)
          SELECT req.id, ${kind}::text, ${round}::int, ${key}::text, ${amount}::bigint, ${currency}::text, 'pending', 1 FROM req
          ON CONFLICT (idempotency_key) DO UPDATE SET tries = payment_operations.tries + 1, updated_at = now()
          RETURNING *`,
        ([operation]) => (operation === undefined ? Effect.fail(new LeaseLost({ requestId: lease.requestId })) : Effect.succeed(operation))
      ),

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

    request: (id: string) => Effect.map(sql<RequestRow>`SELECT * FROM purchase_requests WHERE id = ${id}`, (rows) => rows[0]),

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
      sql`UPDATE payment_operations SET ${settled(status, providerRef, live, detail)} WHERE idempotency_key = ${key}`,

    /** The authorization that still holds money for the request, if any. */
    liveAuthorization: (requestId: string) =>
      Effect.map(
        sql<PaymentOperationRow>`SELECT * FROM payment_operations WHERE request_id = ${requestId} AND kind = 'authorize' AND live`,
        (rows) => rows[0]
      ),

    endAuthorization: (requestId: string) =>
      sql`UPDATE payment_operations SET live = false, updated_at = now() WHERE request_id = ${requestId} AND kind = 'authorize' AND live`
  }
})

export type PurchaseStore = Effect.Success<typeof makeStore>

/**
 * What a customer (and its webhook) sees of a finished request: `final_price` is what it paid;
 * `seller_price` what the seller charged in its own currency when that is not the request's (the
 * order's, known to the step that captures it), and `exchange_rates` the rates it was priced at.
 */
export const eventPayload = (
  row: Pick<RequestRow, "id" | "status" | "isbn" | "reason" | "final_amount" | "currency" | "seller_id" | "order_id" | "counter_offer" | "exchange">,
  sellerPrice: { readonly amount: number; readonly currency: string } | null = null
) => ({
  id: row.id,
  status: row.status,
  isbn: row.isbn,
  reason: row.reason,
  final_price: row.final_amount === null ? null : { amount: Number(row.final_amount), currency: row.currency.trim() },
  seller_price: sellerPrice,
  exchange_rates: lockedRatesWire(row.exchange, row.currency.trim()),
  seller_id: row.seller_id,
  order_id: row.order_id,
  counter_offer: row.counter_offer
})

/**
 * The CTEs that follow a CTE `req` moving watching wants (rows it returns) from `watching` to
 * `to`: the state transition (with the row's reason) and the webhook, as one statement with it.
 */
export const movedFromWatching = (sql: SqlClient.SqlClient, to: PurchaseStatus, actor: string) => sql`
  moved AS (
    INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
    SELECT id, ${watchingStatus}::text, ${to}::text, ${actor}::text, reason FROM req
  ), told AS (
    INSERT INTO outbox (request_id, event, payload, notify_url)
    SELECT id, ${`purchase_request.${to}`}::text, ${sql.literal(eventPayloadSql)}, notify_url FROM req
  )`

/**
 * `eventPayload` as SQL over a request row's columns, for the statements that end requests in
 * bulk (expired wants) or in one statement (a cancelled want); the same shape, key for key.
 */
export const eventPayloadSql =
  "jsonb_build_object('id', id, 'status', status, 'isbn', isbn, 'reason', reason, " +
  "'final_price', CASE WHEN final_amount IS NULL THEN NULL ELSE jsonb_build_object('amount', final_amount, 'currency', btrim(currency)) END, " +
  // Nothing was bought by the endings written this way (a cancelled or expired want).
  "'seller_price', NULL::jsonb, 'exchange_rates', " + lockedRatesWireSql + ", " +
  "'seller_id', seller_id, 'order_id', order_id, 'counter_offer', counter_offer)"
