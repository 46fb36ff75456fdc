import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/**
 * The purchase state machine. Invariants the database enforces, not only the code: one request
 * per (customer, idempotency key); at most one confirmed seller order per request; at most one
 * attempt whose outcome is open (so nobody moves on while an earlier order may exist); at most
 * one live authorization per request; one idempotency key per external call.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE purchase_requests (
      id uuid PRIMARY KEY,
      customer_id text NOT NULL,
      idempotency_key text NOT NULL,
      request_hash text NOT NULL,
      isbn text NOT NULL,
      currency char(3) NOT NULL,
      original_max bigint NOT NULL CHECK (original_max > 0),
      max_amount bigint NOT NULL CHECK (max_amount > 0),
      payment_token text NOT NULL,
      customer jsonb NOT NULL,
      notify_url text,
      round int NOT NULL DEFAULT 0,
      status text NOT NULL CHECK (status IN (
        'received', 'authorized', 'quoting', 'deciding', 'purchasing',
        'purchased', 'price_not_met', 'not_available', 'failed')),
      reason text,
      final_amount bigint,
      seller_id uuid,
      order_id text,
      counter_offer jsonb,
      next_run_at timestamptz NOT NULL DEFAULT now(),
      lease_owner text,
      lease_expires_at timestamptz,
      fence bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      UNIQUE (customer_id, idempotency_key)
    )
  `
  yield* sql`
    CREATE INDEX purchase_requests_runnable ON purchase_requests (next_run_at)
    WHERE status IN ('received', 'authorized', 'quoting', 'deciding', 'purchasing')
  `
  yield* sql`CREATE INDEX purchase_requests_by_customer ON purchase_requests (customer_id, created_at DESC, id DESC)`

  yield* sql`
    CREATE TABLE purchase_quotes (
      request_id uuid NOT NULL REFERENCES purchase_requests (id),
      round int NOT NULL,
      seller_id uuid NOT NULL,
      seller_name text NOT NULL,
      rank int NOT NULL,
      total bigint NOT NULL,
      currency char(3) NOT NULL,
      offer jsonb NOT NULL,
      taken_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (request_id, round, seller_id)
    )
  `
  yield* sql`
    CREATE TABLE purchase_attempts (
      id bigserial PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES purchase_requests (id),
      round int NOT NULL,
      seller_id uuid NOT NULL,
      seller_name text NOT NULL,
      rank int NOT NULL,
      idempotency_key text NOT NULL UNIQUE,
      status text NOT NULL CHECK (status IN ('pending', 'holding', 'held', 'purchasing', 'unknown', 'confirmed', 'failed')),
      offer jsonb NOT NULL,
      hold jsonb,
      order_id text,
      order_total bigint,
      reason text,
      tries int NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (request_id, seller_id)
    )
  `
  yield* sql`CREATE UNIQUE INDEX purchase_attempts_one_order ON purchase_attempts (request_id) WHERE status = 'confirmed'`
  yield* sql`
    CREATE UNIQUE INDEX purchase_attempts_one_open ON purchase_attempts (request_id)
    WHERE status IN ('holding', 'held', 'purchasing', 'unknown')
  `

  yield* sql`
    CREATE TABLE payment_operations (
      id bigserial PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES purchase_requests (id),
      kind text NOT NULL CHECK (kind IN ('authorize', 'capture', 'void', 'refund')),
      round int NOT NULL,
      idempotency_key text NOT NULL UNIQUE,
      amount bigint NOT NULL CHECK (amount >= 0),
      currency char(3) NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'rejected')),
      provider_ref text,
      live boolean NOT NULL DEFAULT false,
      detail text,
      tries int NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE UNIQUE INDEX payment_operations_one_live_authorization ON payment_operations (request_id) WHERE kind = 'authorize' AND live`
  yield* sql`CREATE INDEX payment_operations_by_request ON payment_operations (request_id)`

  yield* sql`
    CREATE TABLE state_transitions (
      id bigserial PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES purchase_requests (id),
      from_status text,
      to_status text NOT NULL,
      actor text NOT NULL,
      reason text,
      at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE INDEX state_transitions_by_request ON state_transitions (request_id, id)`

  yield* sql`
    CREATE TABLE outbox (
      id bigserial PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES purchase_requests (id),
      event text NOT NULL,
      payload jsonb NOT NULL,
      notify_url text,
      attempts int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      delivered_at timestamptz,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL`

  yield* sql`
    CREATE TABLE sandbox_payments (
      id text PRIMARY KEY,
      request_id text NOT NULL,
      token text NOT NULL,
      currency char(3) NOT NULL,
      authorized bigint NOT NULL,
      captured bigint NOT NULL DEFAULT 0,
      refunded bigint NOT NULL DEFAULT 0,
      status text NOT NULL CHECK (status IN ('authorized', 'captured', 'voided', 'declined', 'refunded')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE INDEX sandbox_payments_by_request ON sandbox_payments (request_id)`
  yield* sql`
    CREATE TABLE sandbox_operations (
      idempotency_key text PRIMARY KEY,
      kind text NOT NULL,
      fingerprint text NOT NULL,
      payment_id text,
      outcome jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
