/**
 * A live authorization on a finished request holds the customer's money for nothing — unless the
 * request bought (its capture ends it) or a seller order or capture exists (voiding would make it
 * impossible to collect). `judge` is the rule, pure; `openAuthorizationsPass` voids what it may,
 * under the request's lease, with the pipeline's own void key (a void the pipeline started and
 * this one are the same operation), and reports the rest as `authorization_left_open`.
 */
import type { SqlError } from "effect/sql"
import { Effect, Option } from "effect"
import { pipelineVoidKey, type VoidOutcome } from "../paymentRepair.js"
import { unboughtStatuses, type RequestRow } from "../../purchases/store/PurchaseStore.js"
import type { Add } from "./FindingSet.js"
import { finishedAndFree, type ReconcilerContext } from "./ReconcilerContext.js"

export interface OpenAuthorization {
  readonly request_id: string
  readonly round: number
  readonly amount: string
  readonly provider_ref: string | null
  readonly status: RequestRow["status"]
  /** A confirmed seller order exists. */
  readonly has_order: boolean
  /** A capture succeeded or is pending. */
  readonly has_capture: boolean
  /** Our void of this round under the pipeline's key, if one was recorded. */
  readonly void_status: string | null
}

export type Judgement =
  | { readonly _tag: "LeaveIt"; readonly detail: string }
  | { readonly _tag: "Void"; readonly what: string; readonly providerRef: string }

/** What to do about one live authorization of a finished request. */
export const judge = (row: OpenAuthorization): Judgement => {
  const what = `authorization ${row.provider_ref ?? "(no provider reference)"} of ${row.amount} is still live on a ${row.status} request`
  if (row.status === "purchased") {
    return { _tag: "LeaveIt", detail: `${what}; not voided: a purchased request's authorization ends with its capture — check the capture (see provider_mismatch)` }
  }
  if (row.has_order || row.has_capture) {
    return { _tag: "LeaveIt", detail: `${what}; not voided: a seller order or a capture exists, and voiding would make it impossible to collect — needs a person` }
  }
  if (row.void_status === "rejected") return { _tag: "LeaveIt", detail: `${what}; the provider already refused to void it — needs a person` }
  if (row.provider_ref === null) return { _tag: "LeaveIt", detail: `${what}; nothing to void it with — needs a person` }
  return { _tag: "Void", what, providerRef: row.provider_ref }
}

/** What a void came to, as the finding says it. */
export const voidedDetail = (what: string, outcome: VoidOutcome): string =>
  outcome._tag === "Voided"
    ? `${what}: voided`
    : outcome._tag === "Rejected"
      ? `${what}; the provider refused to void it (${outcome.detail}) — needs a person`
      : `${what}; void tried, the provider did not answer (${outcome.detail}): tried again next run`

export const openAuthorizationsPass = (ctx: ReconcilerContext, add: Add): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, repair } = ctx
    const open = yield* sql<OpenAuthorization>`
      SELECT p.request_id, p.round, p.amount, p.provider_ref, r.status,
        EXISTS (SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.status = 'confirmed') AS has_order,
        EXISTS (SELECT 1 FROM payment_operations c WHERE c.request_id = r.id AND c.kind = 'capture' AND c.status IN ('pending', 'succeeded')) AS has_capture,
        (SELECT v.status FROM payment_operations v WHERE v.idempotency_key = r.id::text || ':void:' || p.round::text) AS void_status
      FROM payment_operations p JOIN purchase_requests r ON r.id = p.request_id
      WHERE p.kind = 'authorize' AND p.live AND ${finishedAndFree(sql, ctx.windowMillis)}
      ORDER BY p.request_id`
    for (const row of open) {
      const judgement = judge(row)
      if (judgement._tag === "LeaveIt") {
        add(row.request_id, "authorization_left_open", judgement.detail, false)
        continue
      }
      const { providerRef } = judgement
      const outcome = yield* repair.withLease(
        row.request_id,
        (request) =>
          Effect.gen(function* () {
            // Looked at again under the lease: still live, still the same authorization.
            const still = yield* repair.store.liveAuthorization(request.id)
            if (still === undefined || still.provider_ref !== providerRef) return undefined
            return yield* repair.voidAuthorization({ requestId: request.id, round: still.round, currency: request.currency, providerRef, idempotencyKey: pipelineVoidKey(request.id, still.round) })
          }),
        unboughtStatuses
      )
      if (Option.isNone(outcome) || outcome.value === undefined) continue // busy, or ended meanwhile
      add(row.request_id, "authorization_left_open", voidedDetail(judgement.what, outcome.value), outcome.value._tag === "Voided")
    }
  })
