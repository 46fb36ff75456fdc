/**
 * 1. A live authorization on a request that ended without a purchase is voided, with the
 * pipeline's own key `{requestId}:void:{round}` (a void the pipeline had started is the same
 * operation). Left alone: a purchased request, one with a confirmed order or a capture that
 * succeeded or may have (`voidBlocked`), and an authorization whose void the provider refused.
 */
import type { SqlError } from "effect/sql"
import { Effect, Option } from "effect"
import { pipelineVoidKey } from "../paymentRepair.js"
import { restingStatuses } from "../../purchases/store/PurchaseStore.js"
import { voidBlocked, type Counter, type SweeperContext } from "./SweeperContext.js"

export const sweepAuthorizations = (ctx: SweeperContext, count: Counter): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, repair, batchSize } = ctx
    const rows = yield* sql<{ request_id: string }>`
      SELECT p.request_id FROM payment_operations p
      JOIN purchase_requests r ON r.id = p.request_id
      WHERE p.kind = 'authorize' AND p.live AND p.provider_ref IS NOT NULL
        AND r.status IN ${sql.in(restingStatuses)}
        AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
        AND NOT EXISTS (SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.status = 'confirmed')
        AND NOT EXISTS (
          SELECT 1 FROM payment_operations c
          WHERE c.request_id = r.id AND c.kind = 'capture' AND c.status IN ('pending', 'succeeded'))
        AND NOT EXISTS (
          SELECT 1 FROM payment_operations v
          WHERE v.idempotency_key = r.id::text || ':void:' || p.round::text AND v.status = 'rejected')
      ORDER BY p.updated_at
      LIMIT ${batchSize}`
    for (const { request_id } of rows) {
      const done = yield* repair.withLease(
        request_id,
        (request) =>
          Effect.gen(function* () {
            // Look again under the lease: the request may have moved on since the scan.
            const authorization = yield* repair.store.liveAuthorization(request.id)
            if (authorization === undefined || authorization.provider_ref === null || (yield* voidBlocked(sql, request.id))) return
            const [refused] = yield* sql`
              SELECT 1 FROM payment_operations WHERE idempotency_key = ${pipelineVoidKey(request.id, authorization.round)} AND status = 'rejected'`
            if (refused !== undefined) return
            const outcome = yield* repair.voidAuthorization({
              requestId: request.id,
              round: authorization.round,
              currency: request.currency,
              providerRef: authorization.provider_ref,
              idempotencyKey: pipelineVoidKey(request.id, authorization.round)
            })
            if (outcome._tag === "Voided") count.authorizationsVoided += 1
            else if (outcome._tag === "Rejected") {
              count.voidsRejected += 1
              yield* Effect.logWarning(`the provider refused to void the authorization of purchase request ${request.id}; left for the reconciler`, outcome.detail)
            } else count.failures += 1
          }),
        restingStatuses
      )
      if (Option.isNone(done)) count.busy += 1
    }
  })

