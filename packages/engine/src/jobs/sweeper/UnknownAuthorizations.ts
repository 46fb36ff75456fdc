/**
 * 2. A request that `failed` with `payment_unavailable…` never learned whether the provider
 * authorized it: the provider is asked (`lookup`, first after `lookupAfterMillis`, then after
 * each of `lookupRepeatMillis`) and any authorization it holds is voided, keyed
 * `{requestId}:void:{providerRef}` — unless an order or a capture exists after all (the
 * reconciler reports that).
 */
import type { SqlError } from "effect/sql"
import { Effect, Option, Result } from "effect"
import { providerVoidKey } from "../paymentRepair.js"
import { voidBlocked, type Counter, type SweeperContext } from "./SweeperContext.js"

export const sweepUnknownAuthorizations = (ctx: SweeperContext, count: Counter): Effect.Effect<void, SqlError.SqlError> =>
  Effect.gen(function* () {
    const { sql, repair, batchSize, lookupAfterMillis, lookupRepeatMillis } = ctx
    const rows = yield* sql<{ id: string }>`
      SELECT r.id FROM purchase_requests r
      LEFT JOIN sweeper_lookups s ON s.request_id = r.id
      WHERE r.status = 'failed' AND r.reason LIKE 'payment_unavailable%'
        AND r.completed_at <= now() - ${lookupAfterMillis} * interval '1 millisecond'
        AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
        AND NOT EXISTS (SELECT 1 FROM payment_operations p WHERE p.request_id = r.id AND p.kind = 'authorize' AND p.live)
        AND (s.request_id IS NULL OR s.next_lookup_at <= now())
      ORDER BY r.completed_at
      LIMIT ${batchSize}`
    for (const { id } of rows) {
      const done = yield* repair.withLease(
        id,
        (request) =>
          Effect.gen(function* () {
            const records = yield* Effect.result(repair.gateway.lookup(request.id))
            if (Result.isFailure(records)) {
              count.failures += 1
              return
            }
            count.providerLookups += 1
            const open = records.success.filter((record) => record.status === "authorized")
            // Asked again after the next delay of the schedule, if it has one left.
            const [previous] = yield* sql<{ lookups: number }>`SELECT lookups FROM sweeper_lookups WHERE request_id = ${request.id}`
            const done = previous?.lookups ?? 0
            const delay = lookupRepeatMillis[done]
            const remember = sql`
              INSERT INTO sweeper_lookups (request_id, authorizations_found, lookups, next_lookup_at)
              VALUES (${request.id}, ${open.length}, ${done + 1}, ${delay === undefined ? null : sql`now() + ${delay} * interval '1 millisecond'`})
              ON CONFLICT (request_id) DO UPDATE SET
                authorizations_found = sweeper_lookups.authorizations_found + EXCLUDED.authorizations_found,
                lookups = EXCLUDED.lookups,
                next_lookup_at = EXCLUDED.next_lookup_at,
                looked_up_at = now()`
            if (open.length > 0 && (yield* voidBlocked(sql, request.id))) {
              // An order exists after all: not ours to void. The reconciler reports the mismatch.
              yield* Effect.logWarning(`purchase request ${request.id} failed on payment but has an order or a capture; its open authorization is left for the reconciler`)
              yield* remember
              return
            }
            let unanswered = 0
            for (const record of open) {
              const outcome = yield* repair.voidAuthorization({
                requestId: request.id,
                round: request.round,
                currency: request.currency,
                providerRef: record.providerRef,
                idempotencyKey: providerVoidKey(request.id, record.providerRef)
              })
              if (outcome._tag === "Voided") count.providerAuthorizationsVoided += 1
              else if (outcome._tag === "Rejected") count.voidsRejected += 1
              else {
                count.failures += 1
                unanswered += 1
              }
            }
            // Done with this request unless a void is still without an answer (then: again next run, same key).
            if (unanswered === 0) yield* remember
          }),
        ["failed"]
      )
      if (Option.isNone(done)) count.busy += 1
    }
  })

