/**
 * One finished request's payment operations against the payment provider's own records
 * (`PaymentGateway.lookup`): what disagrees, and what may be repaired without a person. The rule
 * is `compare`, pure: our operations and the provider's records in, the steps to take out —
 * findings, adopting an outcome the provider already decided (recording a pending capture or void
 * as succeeded, ending an authorization it captured or voided), voiding an authorization it holds
 * open that nobody will capture. `providerPass` runs it over finished requests from a stored
 * cursor, each under the request's lease.
 */
import type { SqlError } from "effect/sql"
import { Effect, Option, Result } from "effect"
import { pipelineVoidKey, providerVoidKey, type VoidOutcome, type VoidTarget } from "../paymentRepair.js"
import { terminalStatuses, type PaymentOperationRow, type RequestRow } from "../../purchases/store/PurchaseStore.js"
import type { PaymentRecord } from "../../payments/PaymentGateway.js"
import type { Add } from "./FindingSet.js"
import type { ReconcilerContext } from "./ReconcilerContext.js"

/** What the comparison asks for, in order. */
export type Step =
  /** A disagreement a person has to look at. */
  | { readonly _tag: "Found"; readonly kind: "provider_mismatch" | "captured_above_authorized"; readonly detail: string }
  /**
   * The provider's record is the final word: our pending operation under `settle` (if any) is
   * recorded as succeeded and the authorization `endAuthorization` as no longer live, together.
   */
  | { readonly _tag: "Adopt"; readonly detail: string; readonly settle: string | undefined; readonly endAuthorization: string }
  /** An open authorization nobody will capture: voided at the provider; `ours` is what we had recorded. */
  | { readonly _tag: "Void"; readonly ours: string; readonly target: VoidTarget }

export interface ComparedRequest {
  readonly id: string
  readonly round: number
  readonly currency: string
}

const describe = (op: PaymentOperationRow | undefined): string =>
  op === undefined ? "nothing" : `${op.kind} ${op.status}${op.live ? " (live)" : ""} of ${op.amount}`

/**
 * The steps for one request: `ops` are our payment operations, `orderOpen` whether a confirmed
 * seller order waits for a capture, `records` the provider's.
 */
export const compare = (
  request: ComparedRequest,
  ops: ReadonlyArray<PaymentOperationRow>,
  orderOpen: boolean,
  records: ReadonlyArray<PaymentRecord>
): ReadonlyArray<Step> => {
  const steps: Array<Step> = []
  const mismatch = (detail: string) => steps.push({ _tag: "Found", kind: "provider_mismatch", detail })
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
      steps.push({ _tag: "Found", kind: "captured_above_authorized", detail: `the provider captured ${money(record.captured.amount)} on ${ref}, authorized only ${money(record.authorized.amount)}` })
    }
    switch (record.status) {
      case "declined":
        break
      case "authorized": {
        if (captured !== undefined) {
          mismatch(`we recorded a capture of ${captured.amount} on ${ref}, but the provider shows it only authorized — nothing was collected; needs a person`)
          break
        }
        if (auth?.live === true) break // ours and live: consistent (authorization_left_open covers finished requests)
        const unreferenced = ops.filter((op) => op.kind === "authorize" && op.provider_ref === null)
        const ours = `the provider holds an open authorization ${ref} of ${money(record.authorized.amount)}; we recorded ${
          auth !== undefined
            ? describe(auth)
            : `nothing with that reference${unreferenced.length === 0 ? "" : ` (our authorizations without one: ${unreferenced.map((op) => `round ${op.round} ${describe(op)}`).join(", ")})`}`
        }`
        if (capturePending !== undefined || orderOpen) {
          mismatch(`${ours}; not voided: a seller order or a pending capture may still need it — needs a person`)
        } else {
          steps.push({
            _tag: "Void",
            ours,
            target: { requestId: request.id, round: auth?.round ?? request.round, currency: request.currency, providerRef: ref, idempotencyKey: providerVoidKey(request.id, ref) }
          })
        }
        break
      }
      case "captured": {
        if (captured !== undefined) {
          if (captured.amount !== record.captured.amount) {
            mismatch(`we captured ${captured.amount} on ${ref}, the provider shows ${money(record.captured.amount)} — needs a person`)
          }
          if (auth?.live === true) {
            steps.push({ _tag: "Adopt", detail: `authorization ${ref} was marked live although the provider captured it: recorded as ended`, settle: undefined, endAuthorization: ref })
          }
        } else if (capturePending !== undefined && capturePending.amount === record.captured.amount) {
          steps.push({
            _tag: "Adopt",
            detail: `the provider captured ${money(record.captured.amount)} on ${ref} while our capture was pending: recorded as succeeded`,
            settle: capturePending.idempotency_key,
            endAuthorization: ref
          })
        } else {
          mismatch(`the provider captured ${money(record.captured.amount)} on ${ref}; we recorded ${captures.length === 0 ? "no capture" : captures.map(describe).join(", ")} — needs a person`)
        }
        break
      }
      case "voided": {
        if (captured !== undefined) {
          mismatch(`we recorded a capture of ${captured.amount} on ${ref}, but the provider voided it — nothing was collected; needs a person`)
        } else if (auth?.live === true) {
          const pendingVoid = ops.find((op) => op.idempotency_key === pipelineVoidKey(request.id, auth.round) && op.status === "pending")
          steps.push({ _tag: "Adopt", detail: `authorization ${ref} was marked live although the provider voided it: recorded as ended`, settle: pendingVoid?.idempotency_key, endAuthorization: ref })
        }
        break
      }
      case "refunded": {
        if (!on("refund").some((op) => op.status === "succeeded")) mismatch(`the provider refunded ${ref}; we recorded no refund — needs a person`)
        break
      }
    }
  }
  // What we believe happened at the provider, that the provider does not know about.
  const known = new Set(records.map((record) => record.providerRef))
  for (const op of ops) {
    if (op.provider_ref !== null && op.status === "succeeded" && !known.has(op.provider_ref)) {
      mismatch(`we recorded ${op.kind} ${op.provider_ref} of ${op.amount} as succeeded, the provider has no such payment — needs a person`)
    }
  }
  return steps
}

/** What a void the comparison asked for came to. */
export const voidedDetail = (ours: string, outcome: VoidOutcome): string =>
  outcome._tag === "Voided" ? `${ours}: voided` : `${ours}; void ${outcome._tag === "Rejected" ? "refused" : "unanswered"} (${outcome.detail})`

/** Compares one request and takes the steps; runs under the request's lease. */
const compareOne = (ctx: ReconcilerContext, request: RequestRow, records: ReadonlyArray<PaymentRecord>, add: Add): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, repair } = ctx
    const ops = yield* repair.store.payments(request.id)
    const [orderOpen] = yield* sql<{ open: boolean }>`
      SELECT EXISTS (SELECT 1 FROM purchase_attempts WHERE request_id = ${request.id} AND status = 'confirmed')
         AND NOT EXISTS (SELECT 1 FROM payment_operations WHERE request_id = ${request.id} AND kind = 'capture' AND status = 'succeeded') AS open`
    for (const step of compare(request, ops, orderOpen?.open === true, records)) {
      switch (step._tag) {
        case "Found":
          add(request.id, step.kind, step.detail, false)
          break
        case "Adopt": {
          yield* sql.withTransaction(
            Effect.gen(function* () {
              if (step.settle !== undefined) yield* repair.store.settlePayment(step.settle, "succeeded", step.endAuthorization, false, "recorded by the reconciler from the provider")
              yield* sql`
                UPDATE payment_operations SET live = false, updated_at = now()
                WHERE request_id = ${request.id} AND kind = 'authorize' AND live AND provider_ref = ${step.endAuthorization}`
            })
          )
          add(request.id, "provider_mismatch", step.detail, true)
          break
        }
        case "Void": {
          const outcome = yield* repair.voidAuthorization(step.target)
          add(request.id, "provider_mismatch", voidedDetail(step.ours, outcome), outcome._tag === "Voided")
          break
        }
      }
    }
  })

/**
 * Every finished request once, in the order they finished, from the cursor in
 * `reconciler_cursors`, after `settleMillis` (the provider's records catch up). A request the
 * provider could not be asked about, or that someone holds, stops the pass: it is the first one
 * next time.
 */
export const providerPass = (ctx: ReconcilerContext, add: Add): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, repair } = ctx
    const rows = yield* sql<{ id: string; compare: boolean }>`
      SELECT r.id, EXISTS (SELECT 1 FROM payment_operations p WHERE p.request_id = r.id AND p.status <> 'declined') AS compare
      FROM purchase_requests r
      LEFT JOIN reconciler_cursors c ON c.name = 'provider'
      WHERE r.completed_at IS NOT NULL
        AND r.status IN ${sql.in(terminalStatuses)}
        AND r.completed_at <= now() - ${ctx.settleMillis} * interval '1 millisecond'
        AND (c.name IS NULL OR (r.completed_at, r.id) > (c.completed_at, c.request_id))
      ORDER BY r.completed_at, r.id
      LIMIT ${ctx.providerLimit}`
    for (const { id, compare: needed } of rows) {
      if (needed) {
        const records = yield* Effect.result(repair.gateway.lookup(id))
        if (Result.isFailure(records)) {
          yield* Effect.logWarning(`could not compare purchase request ${id} with the payment provider; the next pass starts there`, records.failure.detail)
          return
        }
        const compared = yield* repair.withLease(id, (request) => compareOne(ctx, request, records.success, add))
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
