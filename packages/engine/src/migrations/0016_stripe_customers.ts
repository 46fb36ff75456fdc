/**
 * A want's card kept for its later rounds on Stripe (`payments/StripeGateway.ts`): the Customer
 * made for the request, and the PaymentMethod its first authorization attached to it. Kept here
 * because Stripe's idempotency keys only find the same Customer again for about 24 hours, and a
 * want watches for up to 30 days; the key still covers a crash between creating the Customer and
 * storing it (the retry comes within seconds). `saved_by` is the authorization key that attached
 * the card: a replay of that one call must be sent with the same parameters (on-session), every
 * later one goes off-session.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE stripe_customers (
      request_id text PRIMARY KEY,
      customer text NOT NULL,
      payment_token text,
      payment_method text,
      saved_by text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
