import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/**
 * What an operator and a customer need to see of a request that is not moving on by itself:
 * why it is parked now (`waiting`), and when a person has to look (`attention`: an attempt whose
 * outcome stayed unknown past its deadline, a request whose processing kept failing with a
 * defect, an order that disagrees with what was agreed). When each purchase call was first and
 * last sent (the deadline of an unresolved attempt counts from the first), and when the reconciler
 * asked the seller about an attempt that was sent but not confirmed. The sweeper asks the
 * payment provider more than once (its search lags), and the reconciler walks every finished
 * request once, in order, from a stored cursor.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    ALTER TABLE purchase_requests
      ADD COLUMN waiting text,
      ADD COLUMN attention text CHECK (attention IN ('unresolved_attempt', 'dead_letter', 'order_mismatch')),
      ADD COLUMN attention_detail text,
      ADD COLUMN attention_since timestamptz,
      ADD COLUMN defects int NOT NULL DEFAULT 0
  `
  yield* sql`CREATE INDEX purchase_requests_attention ON purchase_requests (attention_since) WHERE attention IS NOT NULL`
  yield* sql`
    ALTER TABLE purchase_attempts
      ADD COLUMN first_sent_at timestamptz,
      ADD COLUMN last_sent_at timestamptz,
      ADD COLUMN seller_checked_at timestamptz
  `
  yield* sql`
    ALTER TABLE sweeper_lookups
      ADD COLUMN lookups int NOT NULL DEFAULT 1,
      ADD COLUMN next_lookup_at timestamptz
  `
  yield* sql`
    CREATE TABLE reconciler_cursors (
      name text PRIMARY KEY,
      completed_at timestamptz NOT NULL,
      request_id uuid NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE INDEX purchase_requests_completed ON purchase_requests (completed_at, id) WHERE completed_at IS NOT NULL`
})
