/**
 * A run's writes: every write of one step as one statement, fenced by the request's lease (`step`,
 * with the writes it may carry, `writes`), and a payment call's intent persisted with the lease
 * check before the call (`paymentIntent`).
 */
import type { SqlClient, SqlError, Statement } from "effect/sql"
import { Effect } from "effect"
import * as AttemptReuse from "../AttemptReuse.js"
import * as PurchaseKeys from "../PurchaseKeys.js"
import * as Decode from "./decode.js"
import { fragments, type Fragments } from "./fragments.js"
import {
  type AttemptStatus,
  eventPayload,
  isTerminal,
  type Lease,
  LeaseLost,
  type PaymentKind,
  type PaymentOperationRow,
  type QuoteRow,
  type RequestRow,
  type StepChanges,
  watchingStatus
} from "./rows.js"

/**
 * A step's writes as one statement: `req` checks (and renews) the lease with its fencing
 * version and applies the request's own changes; every other write is a data-modifying CTE
 * that only acts when `req` found the lease held. So a step commits in one round trip, all or
 * nothing, and a worker that paused past its lease can't write over the one that took over.
 */
const step = (sql: SqlClient.SqlClient, { leaseHeld, leaseUntil }: Fragments) => (lease: Lease, current: RequestRow, changes: StepChanges): Effect.Effect<RequestRow, LeaseLost | SqlError.SqlError> =>
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
            final_amount: c.final_amount ?? current.final_amount,
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
    const [row] = yield* sql<Decode.StoredRequest>`WITH ${sql.csv(ctes)} SELECT * FROM req`
    if (row === undefined) return yield* new LeaseLost({ requestId: lease.requestId })
    // The row as this statement left it: callers need not read it again.
    return Decode.request(row)
  })

/** Writes a step may carry (`StepChanges.writes`): each acts only when the step's lease check (`req`) held. */
const writes = (sql: SqlClient.SqlClient, { settled }: Fragments) => ({
  settlePayment: (key: string, status: PaymentOperationRow["status"], providerRef: string | null, live: boolean, detail: string | null) =>
    sql`UPDATE payment_operations SET ${settled(status, providerRef, live, detail)} WHERE idempotency_key = ${key} AND EXISTS (SELECT 1 FROM req)`,

  endAuthorization: () =>
    sql`UPDATE payment_operations SET live = false, updated_at = now() WHERE request_id = (SELECT id FROM req) AND kind = 'authorize' AND live`,

  saveQuotes: (round: number, rows: ReadonlyArray<QuoteRow>) =>
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
})


/**
 * The persisted intent of a payment call, before the call, in one statement with the lease
 * check: created once per idempotency key, one more try (same key, same row) after that.
 */
const paymentIntent = (sql: SqlClient.SqlClient, { leaseHeld, leaseUntil }: Fragments) => (lease: Lease, kind: PaymentKind, round: number, key: string, amount: number, currency: string) =>
  Effect.flatMap(
    sql<Decode.StoredPayment>`
      WITH req AS (UPDATE purchase_requests SET lease_expires_at = ${leaseUntil(lease)}, updated_at = now() WHERE ${leaseHeld(lease)} RETURNING id)
      INSERT INTO payment_operations (request_id, kind, round, idempotency_key, amount, currency, status, tries)
      SELECT req.id, ${kind}::text, ${round}::int, ${key}::text, ${amount}::bigint, ${currency}::text, 'pending', 1 FROM req
      ON CONFLICT (idempotency_key) DO UPDATE SET tries = payment_operations.tries + 1, updated_at = now()
      RETURNING *`,
    ([operation]) => (operation === undefined ? Effect.fail(new LeaseLost({ requestId: lease.requestId })) : Effect.succeed(Decode.payment(operation)))
  )

export const stepStatements = (sql: SqlClient.SqlClient) => {
  const shared = fragments(sql)
  return { step: step(sql, shared), writes: writes(sql, shared), paymentIntent: paymentIntent(sql, shared) }
}
