/**
 * Checks that what bookbroker recorded about money agrees with what happened: its payment
 * operations against its seller orders (purchase attempts), and against the payment provider's
 * own records (`PaymentGateway.lookup`). The pipeline is built so these always agree; the
 * reconciler is the independent check for crashes, bugs, provider surprises and hand edits.
 *
 * It fixes only what is safe without a person — recording an outcome the provider already
 * decided (a capture it made, an authorization it voided), and voiding an authorization nobody
 * will capture (finished without a purchase, no order, no capture) with the pipeline's own key —
 * and flags the rest, one row per request and kind in `reconciliation_findings`:
 *
 * | kind | means | fixed automatically |
 * | --- | --- | --- |
 * | `duplicate_orders` | more than one confirmed seller order for one request | never |
 * | `authorization_left_open` | a live authorization on a finished request | voided, unless purchased or an order/capture exists |
 * | `provider_mismatch` | the provider's records disagree with ours | when the provider's record is the final word and safe to adopt |
 * | `capture_without_order` | money captured, no confirmed order | never (refund or find the order) |
 * | `order_without_capture` | a confirmed order on a finished request that is not purchased, or never captured | never (capture or cancel) |
 * | `captured_above_authorized` | a capture above its authorization (ours or the provider's) | never |
 * | `seller_order_unknown` | a seller holds an order under one of our keys that bookbroker never confirmed | never (the finding says the repair: cancel at the seller, or capture while the authorization lives) |
 *
 * The pipeline itself adds findings a person must settle: `attempt_unresolved` (a purchase with
 * no authoritative answer past its deadline), `order_above_agreed_price` and
 * `order_currency_mismatch` (a seller confirmed other terms than it held or quoted).
 *
 * Every finished request is compared with the provider once, in the order requests finished,
 * from a cursor stored in `reconciler_cursors` (a request the provider could not be asked about,
 * or that someone held, stops the pass there and is the first one next time). Every attempt that
 * was sent and did not end in a confirmed order is checked with the seller once (`lookupOrder`,
 * for sellers that have it), after `settleMillis`.
 *
 * Only finished requests nobody holds a lease on are looked at (in-flight ones are the
 * pipeline's, which resolves them itself), and the reconciler takes the lease while it fixes
 * one, so it never races a worker or the sweeper. A later run updates a finding's detail and
 * `fixed`; a finding whose condition is gone — the authorization no longer live, no purchase
 * waiting for an answer any more — is closed with a note saying so
 * (`internal/findingsResolved.ts`); any other finding a person resolved is theirs to mark fixed.
 */
import type { SqlClient, SqlError } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Context, Effect, Layer, Option, Result, Schema } from "effect"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { makeRepair, pipelineVoidKey, providerVoidKey } from "../internal/paymentRepair.js"
import * as FindingsResolved from "../internal/findingsResolved.js"
import { terminalStatuses, unboughtStatuses, type AttemptRow, type PaymentOperationRow, type RequestRow } from "../internal/purchaseStore.js"
import { admittedCall } from "../internal/sellerCall.js"
import { nonEmptyRows, orDie } from "../internal/sql.js"
import type { PaymentGateway, PaymentRecord } from "../payments/PaymentGateway.js"
import { SellerDirectory } from "../sellers/SellerDirectory.js"
import { SellerPool } from "../sellers/SellerPool.js"
import { SharedState } from "../state/SharedState.js"

export const FindingKind = Schema.Literals(["capture_without_order", "order_without_capture", "captured_above_authorized", "authorization_left_open", "provider_mismatch", "duplicate_orders", "seller_order_unknown", "attempt_unresolved", "order_above_agreed_price", "order_currency_mismatch"])
export type FindingKind = typeof FindingKind.Type

export interface Finding {
  readonly requestId: string
  readonly kind: FindingKind
  /** What was found and what, if anything, was done about it. */
  readonly detail: string
  /** True when the reconciler repaired it; false when a person has to look. */
  readonly fixed: boolean
  readonly foundAt: Date
}

export interface ReconcilerOptions {
  /** Requests finished within this window are checked against our own records. Default 30 days. */
  readonly windowMillis?: number
  /** Provider comparisons per run at most, oldest finished first from the stored cursor. Default 200. */
  readonly providerLimit?: number
  /** Seller order lookups per run at most. Default 200. */
  readonly sellerLimit?: number
  /**
   * How long after a request finished (an attempt was last sent) the provider (the seller) is
   * asked about it, so its own records have caught up. Default 2 min: above Stripe's search lag
   * ("under a minute" normally), which would otherwise show a fresh capture as missing.
   */
  readonly settleMillis?: number
  /** How long the reconciler holds a request while it compares and fixes it. Default 60 s. */
  readonly leaseMillis?: number
}

export interface FindingsFilter {
  /** Only findings a person still has to look at. */
  readonly unfixed?: boolean
  readonly requestId?: string
}

export interface RunningReconcilerOptions extends ReconcilerOptions {
  /** Pause between passes. Default 1 h. */
  readonly intervalMillis?: number
}

export interface ReconcilerService {
  /** One pass: checks, safe fixes, and the findings of this pass (stored). */
  readonly runOnce: Effect.Effect<ReadonlyArray<Finding>>
  /** A pass every `intervalMillis` until interrupted. */
  readonly run: Effect.Effect<never>
  /** Stored findings, oldest first. */
  readonly findings: (filter?: FindingsFilter) => Effect.Effect<ReadonlyArray<Finding>>
}

export class Reconciler extends Context.Service<Reconciler, ReconcilerService>()("@bookbroker/engine/Reconciler") {}

interface FindingRow {
  readonly request_id: string
  readonly kind: FindingKind
  readonly detail: string
  readonly fixed: boolean
  readonly found_at: Date
}

const toFinding = (row: FindingRow): Finding => ({ requestId: row.request_id, kind: row.kind, detail: row.detail, fixed: row.fixed, foundAt: row.found_at })

const describe = (op: PaymentOperationRow | undefined): string =>
  op === undefined ? "nothing" : `${op.kind} ${op.status}${op.live ? " (live)" : ""} of ${op.amount}`

export const make = (options: RunningReconcilerOptions = {}) =>
  Effect.gen(function* () {
    const owner = `reconciler-${randomUUID().slice(0, 8)}`
    const windowMillis = options.windowMillis ?? 30 * 24 * 60 * 60 * 1_000
    const providerLimit = options.providerLimit ?? 200
    const sellerLimit = options.sellerLimit ?? 200
    const settleMillis = options.settleMillis ?? 120_000
    const repair = yield* makeRepair(owner, options.leaseMillis ?? 60_000)
    const { sql, gateway, withLease, voidAuthorization } = repair
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState

    /** Finished requests within `millis`, not held by anyone. */
    const candidate = (millis: number) => sql`
      r.status IN ${sql.in(terminalStatuses)}
      AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
      AND r.completed_at >= now() - ${millis} * interval '1 millisecond'`

    type Add = (requestId: string, kind: FindingKind, detail: string, fixed: boolean) => void

    const providerPass = (add: Add) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ id: string; compare: boolean }>`
          SELECT r.id, EXISTS (SELECT 1 FROM payment_operations p WHERE p.request_id = r.id AND p.status <> 'declined') AS compare
          FROM purchase_requests r
          LEFT JOIN reconciler_cursors c ON c.name = 'provider'
          WHERE r.completed_at IS NOT NULL
            AND r.status IN ${sql.in(terminalStatuses)}
            AND r.completed_at <= now() - ${settleMillis} * interval '1 millisecond'
            AND (c.name IS NULL OR (r.completed_at, r.id) > (c.completed_at, c.request_id))
          ORDER BY r.completed_at, r.id
          LIMIT ${providerLimit}`
        for (const { id, compare: needed } of rows) {
          if (needed) {
            const records = yield* Effect.result(gateway.lookup(id))
            if (Result.isFailure(records)) {
              yield* Effect.logWarning(`could not compare purchase request ${id} with the payment provider; the next pass starts there`, records.failure.detail)
              return
            }
            const compared = yield* withLease(id, (request) => compare(request, records.success, add))
            // Someone holds it (or it was re-opened): the next pass starts there.
            if (Option.isNone(compared)) return
          }
          // The cursor takes the row's own timestamp, at the database's full precision.
          yield* sql`
            INSERT INTO reconciler_cursors (name, completed_at, request_id)
            SELECT 'provider', completed_at, id FROM purchase_requests WHERE id = ${id} AND completed_at IS NOT NULL
            ON CONFLICT (name) DO UPDATE SET completed_at = EXCLUDED.completed_at, request_id = EXCLUDED.request_id, updated_at = now()`
        }
      })

    const sellerPass = (add: Add) =>
      Effect.gen(function* () {
        const attempts = yield* sql<
          AttemptRow & { request_status: RequestRow["status"]; request_seller_id: string | null; live_authorization: boolean }
        >`
          SELECT a.*, r.status AS request_status, r.seller_id AS request_seller_id,
            EXISTS (SELECT 1 FROM payment_operations p WHERE p.request_id = r.id AND p.kind = 'authorize' AND p.live) AS live_authorization
          FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.request_id
          WHERE a.tries > 0 AND a.status <> 'confirmed' AND a.seller_checked_at IS NULL
            AND r.status IN ${sql.in(terminalStatuses)}
            AND COALESCE(a.last_sent_at, a.updated_at) <= now() - ${settleMillis} * interval '1 millisecond'
          ORDER BY a.id
          LIMIT ${sellerLimit}`
        for (const attempt of attempts) {
          const client = yield* directory.get(attempt.seller_id).pipe(Effect.flatMap((seller) => pool.client(seller)), Effect.option)
          // A seller gone from the directory, or one without order lookup, can't be asked: nothing to learn there.
          if (Option.isSome(client) && client.value.capabilities.orderLookup) {
            const isbn = (attempt.offer as { readonly isbn?: string } | null)?.isbn ?? ""
            const looked = yield* admittedCall(
              state,
              client.value,
              client.value.lookupOrder({ idempotencyKey: attempt.idempotency_key, isbn: isbn as Isbn.Isbn13 }),
              500
            )
            if (looked._tag === "Denied" || Result.isFailure(looked)) continue // asked again next pass
            if (Option.isSome(looked.success)) {
              const order = looked.success.value
              const where = `${attempt.seller_name} holds order ${order.orderId} (${order.total.amount} ${order.total.currency}) under key ${attempt.idempotency_key}`
              add(
                attempt.request_id,
                "seller_order_unknown",
                attempt.request_status === "purchased"
                  ? `${where}, but the request bought from another seller: a second order — cancel it at ${attempt.seller_name}`
                  : attempt.live_authorization
                    ? `${where}, and the request ended ${attempt.request_status} with its authorization still live: capture it for this order, or cancel the order at ${attempt.seller_name}`
                    : `${where}, but the request ended ${attempt.request_status} and nothing was charged: cancel the order at ${attempt.seller_name}`,
                false
              )
            }
          }
          yield* sql`UPDATE purchase_attempts SET seller_checked_at = now() WHERE id = ${attempt.id}`
        }
      })

    const runOnce: Effect.Effect<ReadonlyArray<Finding>> = Effect.gen(function* () {
      const found = new Map<string, { requestId: string; kind: FindingKind; details: Array<string>; fixed: boolean }>()
      const add = (requestId: string, kind: FindingKind, detail: string, fixed: boolean) => {
        const key = `${requestId}|${kind}`
        const existing = found.get(key)
        if (existing === undefined) found.set(key, { requestId, kind, details: [detail], fixed })
        else {
          existing.details.push(detail)
          existing.fixed = existing.fixed && fixed
        }
      }

      // Impossible by the unique index on confirmed attempts; checked all the same, for every request.
      const duplicates = yield* sql<{ request_id: string; orders: string }>`
        SELECT request_id, string_agg(seller_name || ' order ' || COALESCE(order_id, '?'), ', ' ORDER BY id) AS orders
        FROM purchase_attempts WHERE status = 'confirmed'
        GROUP BY request_id HAVING count(*) > 1`
      for (const row of duplicates) add(row.request_id, "duplicate_orders", `more than one confirmed seller order: ${row.orders}`, false)

      // Live authorizations of finished requests: void when nobody will capture them.
      const open = yield* sql<{
        request_id: string
        round: number
        amount: string
        provider_ref: string | null
        status: RequestRow["status"]
        has_order: boolean
        has_capture: boolean
        void_status: string | null
      }>`
        SELECT p.request_id, p.round, p.amount, p.provider_ref, r.status,
          EXISTS (SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.status = 'confirmed') AS has_order,
          EXISTS (SELECT 1 FROM payment_operations c WHERE c.request_id = r.id AND c.kind = 'capture' AND c.status IN ('pending', 'succeeded')) AS has_capture,
          (SELECT v.status FROM payment_operations v WHERE v.idempotency_key = r.id::text || ':void:' || p.round::text) AS void_status
        FROM payment_operations p JOIN purchase_requests r ON r.id = p.request_id
        WHERE p.kind = 'authorize' AND p.live AND ${candidate(windowMillis)}
        ORDER BY p.request_id`
      for (const row of open) {
        const what = `authorization ${row.provider_ref ?? "(no provider reference)"} of ${row.amount} is still live on a ${row.status} request`
        if (row.status === "purchased") {
          add(row.request_id, "authorization_left_open", `${what}; not voided: a purchased request's authorization ends with its capture — check the capture (see provider_mismatch)`, false)
        } else if (row.has_order || row.has_capture) {
          add(row.request_id, "authorization_left_open", `${what}; not voided: a seller order or a capture exists, and voiding would make it impossible to collect — needs a person`, false)
        } else if (row.void_status === "rejected") {
          add(row.request_id, "authorization_left_open", `${what}; the provider already refused to void it — needs a person`, false)
        } else if (row.provider_ref === null) {
          add(row.request_id, "authorization_left_open", `${what}; nothing to void it with — needs a person`, false)
        } else {
          const providerRef = row.provider_ref
          const outcome = yield* withLease(
            row.request_id,
            (request) =>
              Effect.gen(function* () {
                const still = yield* repair.store.liveAuthorization(request.id)
                if (still === undefined || still.provider_ref !== providerRef) return undefined
                return yield* voidAuthorization({
                  requestId: request.id,
                  round: still.round,
                  currency: request.currency,
                  providerRef,
                  idempotencyKey: pipelineVoidKey(request.id, still.round)
                })
              }),
            unboughtStatuses
          )
          if (Option.isNone(outcome) || outcome.value === undefined) continue // busy, or ended meanwhile
          const result = outcome.value
          if (result._tag === "Voided") add(row.request_id, "authorization_left_open", `${what}: voided`, true)
          else if (result._tag === "Rejected") add(row.request_id, "authorization_left_open", `${what}; the provider refused to void it (${result.detail}) — needs a person`, false)
          else add(row.request_id, "authorization_left_open", `${what}; void tried, the provider did not answer (${result.detail}): tried again next run`, false)
        }
      }

      // Our payment operations against the provider's records: every finished request once, from the cursor.
      yield* providerPass(add)
      // Attempts that were sent and not confirmed: does the seller hold an order under their key?
      yield* sellerPass(add)

      const captureWithoutOrder = yield* sql<{ request_id: string; amount: string; provider_ref: string | null; status: string }>`
        SELECT p.request_id, p.amount, p.provider_ref, r.status FROM payment_operations p JOIN purchase_requests r ON r.id = p.request_id
        WHERE p.kind = 'capture' AND p.status = 'succeeded' AND ${candidate(windowMillis)}
          AND NOT EXISTS (SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.status = 'confirmed')`
      for (const row of captureWithoutOrder) {
        add(
          row.request_id,
          "capture_without_order",
          `${row.amount} captured (${row.provider_ref ?? "?"}) on a ${row.status} request without a confirmed seller order — find the order or refund`,
          false
        )
      }

      const orderWithoutCapture = yield* sql<{ request_id: string; seller_name: string; order_id: string | null; order_total: string | null; status: string; reason: string | null }>`
        SELECT a.request_id, a.seller_name, a.order_id, a.order_total, r.status, r.reason
        FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.request_id
        WHERE a.status = 'confirmed' AND ${candidate(windowMillis)}
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
        WHERE c.kind = 'capture' AND c.status = 'succeeded' AND c.amount > a.amount AND ${candidate(windowMillis)}`
      for (const row of above) {
        add(row.request_id, "captured_above_authorized", `round ${row.round}: captured ${row.captured}, authorized only ${row.authorized}`, false)
      }

      const rows =
        found.size === 0
          ? []
          : yield* sql<FindingRow>`
              INSERT INTO reconciliation_findings ${sql.insert(
                nonEmptyRows([...found.values()].map((finding) => ({ request_id: finding.requestId, kind: finding.kind, detail: finding.details.join("; "), fixed: finding.fixed })))
              )}
              ON CONFLICT (request_id, kind) DO UPDATE SET detail = EXCLUDED.detail, fixed = EXCLUDED.fixed
              RETURNING request_id, kind, detail, fixed, found_at`
      const resolved = yield* FindingsResolved.close(sql)
      for (const finding of [...rows, ...resolved]) {
        yield* (finding.fixed ? Effect.logInfo : Effect.logWarning)(`reconciliation: ${finding.kind} on purchase request ${finding.request_id}: ${finding.detail}`)
      }
      // One finding per request and kind: a finding closed at the end of the run it was found in is reported closed.
      const latest = new Map([...rows, ...resolved].map((row) => [`${row.request_id}|${row.kind}`, row] as const))
      return [...latest.values()].map(toFinding)
    }).pipe(
      (effect: Effect.Effect<ReadonlyArray<Finding>, SqlError.SqlError>) => orDie(effect),
      Effect.withSpan("Reconciler.runOnce")
    )

    /**
     * One request's payment operations against the provider's records; fixes what the provider
     * already decided. Runs under the request's lease.
     */
    const compare = (
      request: RequestRow,
      records: ReadonlyArray<PaymentRecord>,
      add: Add
    ): Effect.Effect<void, SqlError.SqlError> =>
      Effect.gen(function* () {
        const ops = yield* repair.store.payments(request.id)
        const [orderOpen] = yield* sql<{ open: boolean }>`
          SELECT EXISTS (SELECT 1 FROM purchase_attempts WHERE request_id = ${request.id} AND status = 'confirmed')
             AND NOT EXISTS (SELECT 1 FROM payment_operations WHERE request_id = ${request.id} AND kind = 'capture' AND status = 'succeeded') AS open`
        const mismatch = (detail: string, fixed: boolean) => add(request.id, "provider_mismatch", detail, fixed)
        const endAuthorization = (ref: string) =>
          sql`UPDATE payment_operations SET live = false, updated_at = now() WHERE request_id = ${request.id} AND kind = 'authorize' AND live AND provider_ref = ${ref}`

        for (const record of records) {
          const ref = record.providerRef
          const auth = ops.find((op) => op.kind === "authorize" && op.provider_ref === ref)
          // Operations on this payment: recorded with its reference, or still pending (no reference yet) in the authorization's round.
          const on = (kind: PaymentOperationRow["kind"]) =>
            ops.filter((op) => op.kind === kind && (op.provider_ref === ref || (op.provider_ref === null && auth !== undefined && op.round === auth.round)))
          const captures = on("capture")
          const captured = captures.find((op) => op.status === "succeeded")
          const capturePending = captures.find((op) => op.status === "pending")
          const money = (amount: number) => `${amount} ${record.authorized.currency}`

          if (record.captured.amount > record.authorized.amount) {
            add(request.id, "captured_above_authorized", `the provider captured ${money(record.captured.amount)} on ${ref}, authorized only ${money(record.authorized.amount)}`, false)
          }
          switch (record.status) {
            case "declined":
              break
            case "authorized": {
              if (captured !== undefined) {
                mismatch(`we recorded a capture of ${captured.amount} on ${ref}, but the provider shows it only authorized — nothing was collected; needs a person`, false)
                break
              }
              if (auth?.live === true) break // ours and live: consistent (authorization_left_open covers finished requests)
              const unreferenced = ops.filter((op) => op.kind === "authorize" && op.provider_ref === null)
              const ours = `the provider holds an open authorization ${ref} of ${money(record.authorized.amount)}; we recorded ${
                auth !== undefined
                  ? describe(auth)
                  : `nothing with that reference${unreferenced.length === 0 ? "" : ` (our authorizations without one: ${unreferenced.map((op) => `round ${op.round} ${describe(op)}`).join(", ")})`}`
              }`
              if (capturePending !== undefined || orderOpen?.open === true) {
                mismatch(`${ours}; not voided: a seller order or a pending capture may still need it — needs a person`, false)
              } else {
                const outcome = yield* voidAuthorization({
                  requestId: request.id,
                  round: auth?.round ?? request.round,
                  currency: request.currency,
                  providerRef: ref,
                  idempotencyKey: providerVoidKey(request.id, ref)
                })
                if (outcome._tag === "Voided") mismatch(`${ours}: voided`, true)
                else mismatch(`${ours}; void ${outcome._tag === "Rejected" ? "refused" : "unanswered"} (${outcome.detail})`, false)
              }
              break
            }
            case "captured": {
              if (captured !== undefined) {
                if (Number(captured.amount) !== record.captured.amount) {
                  mismatch(`we captured ${captured.amount} on ${ref}, the provider shows ${money(record.captured.amount)} — needs a person`, false)
                }
                if (auth?.live === true) {
                  yield* endAuthorization(ref)
                  mismatch(`authorization ${ref} was marked live although the provider captured it: recorded as ended`, true)
                }
              } else if (capturePending !== undefined && Number(capturePending.amount) === record.captured.amount) {
                yield* sql.withTransaction(
                  Effect.andThen(repair.store.settlePayment(capturePending.idempotency_key, "succeeded", ref, false, "recorded by the reconciler from the provider"), endAuthorization(ref))
                )
                mismatch(`the provider captured ${money(record.captured.amount)} on ${ref} while our capture was pending: recorded as succeeded`, true)
              } else {
                mismatch(
                  `the provider captured ${money(record.captured.amount)} on ${ref}; we recorded ${captures.length === 0 ? "no capture" : captures.map(describe).join(", ")} — needs a person`,
                  false
                )
              }
              break
            }
            case "voided": {
              if (captured !== undefined) {
                mismatch(`we recorded a capture of ${captured.amount} on ${ref}, but the provider voided it — nothing was collected; needs a person`, false)
              } else if (auth?.live === true) {
                const pendingVoid = ops.find((op) => op.idempotency_key === pipelineVoidKey(request.id, auth.round) && op.status === "pending")
                yield* sql.withTransaction(
                  Effect.gen(function* () {
                    if (pendingVoid !== undefined) {
                      yield* repair.store.settlePayment(pendingVoid.idempotency_key, "succeeded", ref, false, "recorded by the reconciler from the provider")
                    }
                    yield* endAuthorization(ref)
                  })
                )
                mismatch(`authorization ${ref} was marked live although the provider voided it: recorded as ended`, true)
              }
              break
            }
            case "refunded": {
              if (!on("refund").some((op) => op.status === "succeeded")) {
                mismatch(`the provider refunded ${ref}; we recorded no refund — needs a person`, false)
              }
              break
            }
          }
        }

        // What we believe happened at the provider, that the provider does not know about.
        const known = new Set(records.map((record) => record.providerRef))
        for (const op of ops) {
          if (op.provider_ref !== null && op.status === "succeeded" && !known.has(op.provider_ref)) {
            mismatch(`we recorded ${op.kind} ${op.provider_ref} of ${op.amount} as succeeded, the provider has no such payment — needs a person`, false)
          }
        }
      })

    const findings = (filter: FindingsFilter = {}) =>
      orDie(
        sql<FindingRow>`
          SELECT request_id, kind, detail, fixed, found_at FROM reconciliation_findings
          WHERE ${filter.unfixed === true ? sql`NOT fixed` : sql`TRUE`}
            AND ${filter.requestId === undefined ? sql`TRUE` : sql`request_id = ${filter.requestId}`}
          ORDER BY found_at, id`
      ).pipe(Effect.map((rows) => rows.map(toFinding)), Effect.withSpan("Reconciler.findings"))

    const run = Effect.gen(function* () {
      while (true) {
        yield* runOnce.pipe(Effect.catchDefect((defect) => Effect.logError("reconciliation pass failed; trying again at the next interval", defect)))
        yield* Effect.sleep(options.intervalMillis ?? 60 * 60 * 1_000)
      }
    })

    return { runOnce, run: run as Effect.Effect<never>, findings } satisfies ReconcilerService
  })

type Requirements = SqlClient.SqlClient | PaymentGateway | SellerDirectory | SellerPool | SharedState

export const layer = (options: ReconcilerOptions = {}): Layer.Layer<Reconciler, never, Requirements> => Layer.effect(Reconciler, make(options))

/** Reconciles in the background, every `intervalMillis`, for as long as the layer lives. */
export const layerRunning = (options: RunningReconcilerOptions = {}): Layer.Layer<Reconciler, never, Requirements> =>
  Layer.effect(
    Reconciler,
    Effect.tap(make(options), (reconciler) => Effect.forkScoped(reconciler.run))
  )
