/**
 * Wants (standing orders, `purchases/Wants.ts`): a purchase request may say how long the customer
 * will wait for a copy within the maximum (`wait_until`, up to 30 days). Nothing offered within the
 * maximum now: it is `watching` (no authorization held) until a copy is listed or found — then it
 * runs the normal purchase flow in a new round — or until `wait_until`, when it ends `expired`. The
 * customer may cancel it while it watches (`cancelled`). `round_started_at`: a reopened round's
 * answer time counts from when it started, not from when the request was made. Two indexes serve
 * scarce copies going first come, first served (`purchases/ScarceCopies.ts`).
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE purchase_requests ADD COLUMN wait_until timestamptz, ADD COLUMN round_started_at timestamptz`
  yield* sql`ALTER TABLE purchase_requests DROP CONSTRAINT purchase_requests_status_check`
  yield* sql`
    ALTER TABLE purchase_requests ADD CONSTRAINT purchase_requests_status_check CHECK (status IN (
      'received', 'authorized', 'quoting', 'deciding', 'purchasing', 'watching',
      'purchased', 'price_not_met', 'not_available', 'sellers_busy', 'failed', 'expired', 'cancelled'))
  `
  // The wants of one ISBN, oldest first (who gets a copy), and the wants due to be looked at again.
  yield* sql`CREATE INDEX purchase_requests_watching ON purchase_requests (isbn, created_at) WHERE status = 'watching'`
  yield* sql`CREATE INDEX purchase_requests_watching_due ON purchase_requests (next_run_at) WHERE status = 'watching'`
  // Scarce copies, first come first served (`purchases/ScarceCopies.ts`): the requests for one book
  // still in progress, in order of arrival; what other requests learnt at a seller lately.
  yield* sql`
    CREATE INDEX purchase_requests_in_progress_by_isbn ON purchase_requests (isbn, created_at, id)
    WHERE status IN ('received', 'authorized', 'quoting', 'deciding', 'purchasing')
  `
  yield* sql`CREATE INDEX purchase_attempts_by_seller_recent ON purchase_attempts (seller_id, updated_at)`
})
