/**
 * What the sweeper and the reconciler share when they act on a finished purchase request behind
 * the pipeline's back: a short lease on the request (the same lease columns and fencing version
 * the workers use, so no worker runs the request while they act, and they never act on a
 * request a live worker holds), and voiding an authorization the way the pipeline does — intent
 * persisted as a payment operation under a stable idempotency key before the call, outcome after
 * it — so a void the pipeline already started and the repair are one and the same operation.
 */
import type { SqlClient, SqlError } from "effect/sql"
import { Effect, Option } from "effect"
import { PaymentGateway, type PaymentGatewayService } from "../payments/PaymentGateway.js"
import { SellerDirectory, type SellerDirectoryService } from "../sellers/SellerDirectory.js"
import { SellerPool, type SellerPoolService } from "../sellers/SellerPool.js"
import { SharedState, type SharedStateService } from "../state/SharedState.js"
import { Decode, makeStore, terminalStatuses, type PurchaseStatus, type RequestRow } from "../purchases/store/PurchaseStore.js"

/** The pipeline's own key for voiding the authorization of a round; reusing it makes a started void the same operation. */
export const pipelineVoidKey = (requestId: string, round: number) => `${requestId}:void:${round}`

/** The key for voiding a provider authorization bookbroker never recorded as live (found only by a lookup). */
export const providerVoidKey = (requestId: string, providerRef: string) => `${requestId}:void:${providerRef}`

export type VoidOutcome =
  | { readonly _tag: "Voided" }
  /** The provider refused the void: the operation is recorded as rejected, the authorization left as it was. */
  | { readonly _tag: "Rejected"; readonly detail: string }
  /** Outcome unknown: the operation stays pending and is repeated with the same key next time. */
  | { readonly _tag: "Unavailable"; readonly detail: string }

export interface VoidTarget {
  readonly requestId: string
  readonly round: number
  readonly currency: string
  readonly providerRef: string
  readonly idempotencyKey: string
}

export const makeRepair = (owner: string, leaseMillis: number) =>
  Effect.gen(function* () {
    const store = yield* makeStore
    const gateway: PaymentGatewayService = yield* PaymentGateway
    const sql = store.sql

    /**
     * Runs `body` holding the request's lease, if the request is in one of `statuses` and nobody
     * (no live worker, no other sweeper or reconciler) holds it; `None` when it is busy or moved on.
     */
    const withLease = <A, E, R>(
      requestId: string,
      body: (request: RequestRow) => Effect.Effect<A, E, R>,
      statuses: ReadonlyArray<PurchaseStatus> = terminalStatuses
    ): Effect.Effect<Option.Option<A>, E | SqlError.SqlError, R> =>
      Effect.acquireUseRelease(
        Effect.map(sql<Decode.StoredRequest>`
          UPDATE purchase_requests
          SET lease_owner = ${owner}, lease_expires_at = now() + ${leaseMillis} * interval '1 millisecond', fence = fence + 1
          WHERE id = ${requestId}
            AND status IN ${sql.in(statuses)}
            AND (lease_expires_at IS NULL OR lease_expires_at < now())
          RETURNING *`, Decode.each(Decode.request<RequestRow>)),
        ([request]) =>
          request === undefined
            ? Effect.succeed(Option.none<A>())
            : // Renewed while the body waits on a provider or seller call (a seller may take up to two minutes).
              Effect.raceFirst(Effect.map(body(request), Option.some), heartbeat(requestId, request.fence)),
        ([request]) =>
          request === undefined
            ? Effect.void
            : sql`
                UPDATE purchase_requests SET lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ${requestId} AND lease_owner = ${owner} AND fence = ${request.fence}`.pipe(
                // If this fails the lease simply runs out.
                Effect.ignore
              )
      )

    /**
     * Keeps the lease while the body runs. Once someone else holds the request it answers
     * `None` (as for a busy request), which stops the body.
     */
    const heartbeat = (requestId: string, fence: string): Effect.Effect<Option.Option<never>, SqlError.SqlError> =>
      Effect.gen(function* () {
        while (true) {
          yield* Effect.sleep(Math.max(50, Math.floor(leaseMillis / 3)))
          const renewed = yield* sql`
            UPDATE purchase_requests SET lease_expires_at = now() + ${leaseMillis} * interval '1 millisecond'
            WHERE id = ${requestId} AND lease_owner = ${owner} AND fence = ${fence}
            RETURNING id`
          if (renewed.length === 0) return Option.none()
        }
      })

    /** Voids one authorization at the provider and records it; never retried here (the next run repeats the same key). */
    const voidAuthorization = (target: VoidTarget): Effect.Effect<VoidOutcome, SqlError.SqlError> =>
      Effect.gen(function* () {
        const key = target.idempotencyKey
        yield* store.ensurePayment(target.requestId, "void", target.round, key, 0, target.currency)
        const voided = yield* Effect.result(gateway.void({ idempotencyKey: key, providerRef: target.providerRef }))
        if (voided._tag === "Success") {
          yield* sql.withTransaction(
            Effect.andThen(
              store.settlePayment(key, "succeeded", target.providerRef, false, null),
              sql`
                UPDATE payment_operations SET live = false, updated_at = now()
                WHERE request_id = ${target.requestId} AND kind = 'authorize' AND live AND provider_ref = ${target.providerRef}`
            )
          )
          return { _tag: "Voided" } as const
        }
        if (voided.failure._tag === "PaymentRejected") {
          yield* store.settlePayment(key, "rejected", target.providerRef, false, voided.failure.detail)
          return { _tag: "Rejected", detail: voided.failure.detail } as const
        }
        return { _tag: "Unavailable", detail: voided.failure.detail } as const
      })

    return { store, sql, gateway, withLease, voidAuthorization }
  })

/** What a job acting behind the pipeline's back (the sweeper, the reconciler) works with: the database, the repair, the seller side. */
export interface RepairContext {
  readonly sql: SqlClient.SqlClient
  /** The lease on a request and voiding the way the pipeline does. */
  readonly repair: Effect.Success<ReturnType<typeof makeRepair>>
  readonly directory: SellerDirectoryService
  readonly pool: SellerPoolService
  readonly state: SharedStateService
}

export const makeRepairContext = (owner: string, leaseMillis: number) =>
  Effect.gen(function* () {
    const repair = yield* makeRepair(owner, leaseMillis)
    return { sql: repair.sql, repair, directory: yield* SellerDirectory, pool: yield* SellerPool, state: yield* SharedState } satisfies RepairContext
  })
