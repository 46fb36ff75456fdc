/**
 * A want's card kept at Stripe for its later rounds (migration 0016, `stripe_customers`): which
 * Customer was made for the request, which PaymentMethod its first authorization attached, and
 * the rule for how the next authorization is sent. Only `StripeGateway` uses it.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"
import { orDie } from "../../internal/sql.js"

export interface SavedCard {
  readonly customer: string
  /** The customer's token whose PaymentMethod is attached, and that PaymentMethod (Stripe may name a new one). */
  readonly payment_token: string | null
  readonly payment_method: string | null
  /** The authorization key that attached it. */
  readonly saved_by: string | null
}

export type Confirmation =
  /** With the customer's token, attaching it to the Customer (`setup_future_usage: "off_session"`). */
  | { readonly _tag: "Save"; readonly customer: string | undefined }
  /** Off-session with the attached PaymentMethod. */
  | { readonly _tag: "OffSession"; readonly customer: string; readonly paymentMethod: string }

/**
 * Off-session once the request's token is attached — except for a replay of the very call that
 * attached it (a retry under its key after a lost answer must send the same parameters, or Stripe
 * refuses the key). A new token (an operator's retry, an accepted counter-offer) is saved again.
 */
export const confirmation = (saved: SavedCard | undefined, request: { readonly paymentToken: string; readonly idempotencyKey: string }): Confirmation =>
  saved !== undefined && saved.payment_method !== null && saved.payment_token === request.paymentToken && saved.saved_by !== request.idempotencyKey
    ? { _tag: "OffSession", customer: saved.customer, paymentMethod: saved.payment_method }
    : { _tag: "Save", customer: saved?.customer }

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const find = (requestId: string) =>
    orDie(sql<SavedCard>`SELECT customer, payment_token, payment_method, saved_by FROM stripe_customers WHERE request_id = ${requestId}`).pipe(
      Effect.map((rows) => rows[0])
    )
  return {
    find,
    /** Keeps the request's Customer; the first one kept stays (a concurrent retry made the same one, under the same key). */
    keepCustomer: (requestId: string, customer: string) =>
      orDie(sql<{ customer: string }>`
        INSERT INTO stripe_customers (request_id, customer) VALUES (${requestId}, ${customer})
        ON CONFLICT (request_id) DO UPDATE SET updated_at = stripe_customers.updated_at
        RETURNING customer`).pipe(Effect.map((rows) => rows[0]!.customer)),
    /**
     * Cards of wants that are over, claimed for detaching (at most `limit`, none another process
     * claimed in the last `reclaimAfterSeconds`): at once once the want bought, was cancelled or
     * expired; after `graceDays` when it ended otherwise (an operator may still retry a failed
     * one with the same card).
     */
    claimEnded: (limit: number, graceDays: number, reclaimAfterSeconds: number) =>
      orDie(sql<{ request_id: string; payment_method: string }>`
        UPDATE stripe_customers SET detach_claimed_at = now()
        WHERE request_id IN (
          SELECT sc.request_id FROM stripe_customers sc
          JOIN purchase_requests r ON r.id = CASE WHEN sc.request_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN sc.request_id::uuid END
          WHERE sc.payment_method IS NOT NULL AND sc.detached_at IS NULL
            AND (sc.detach_claimed_at IS NULL OR sc.detach_claimed_at < now() - make_interval(secs => ${reclaimAfterSeconds}))
            AND (r.status IN ('purchased', 'cancelled', 'expired')
                 OR (r.status IN ('failed', 'not_available', 'price_not_met') AND r.completed_at < now() - make_interval(days => ${graceDays})))
          ORDER BY sc.request_id LIMIT ${limit}
          FOR UPDATE OF sc SKIP LOCKED)
        RETURNING request_id, payment_method`),
    /** The card is no longer on file at Stripe. */
    detached: (requestId: string) => orDie(sql`UPDATE stripe_customers SET detached_at = now(), updated_at = now() WHERE request_id = ${requestId}`).pipe(Effect.asVoid),
    /** The token's PaymentMethod is attached to the request's Customer, by the authorization `savedBy`. */
    saved: (requestId: string, paymentToken: string, paymentMethod: string, savedBy: string) =>
      orDie(sql`
        UPDATE stripe_customers SET payment_token = ${paymentToken}, payment_method = ${paymentMethod}, saved_by = ${savedBy}, updated_at = now()
        WHERE request_id = ${requestId}`).pipe(Effect.asVoid)
  }
})
