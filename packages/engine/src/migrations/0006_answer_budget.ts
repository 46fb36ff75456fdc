import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/**
 * True answers under load: a request may say how long it can wait for an answer
 * (`answer_within_millis`; the engine's default otherwise), and
 * until then sellers that could not be asked yet (their limits were full) are asked later instead
 * of being read as "no offer"; how far asking got is on the request (`quote_progress`). When the
 * time runs out with sellers still not asked and nothing bought, the request ends `sellers_busy` —
 * never `not_available` or `price_not_met`, which need every seller that mattered to have answered.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    ALTER TABLE purchase_requests
      ADD COLUMN answer_within_millis integer CHECK (answer_within_millis > 0),
      ADD COLUMN quote_progress jsonb
  `
  yield* sql`ALTER TABLE purchase_requests DROP CONSTRAINT purchase_requests_status_check`
  yield* sql`
    ALTER TABLE purchase_requests ADD CONSTRAINT purchase_requests_status_check CHECK (status IN (
      'received', 'authorized', 'quoting', 'deciding', 'purchasing',
      'purchased', 'price_not_met', 'not_available', 'sellers_busy', 'failed'))
  `
})
