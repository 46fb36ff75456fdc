/**
 * A want's card is given back when the want is over (`payments/internal/savedCards.ts`
 * `claimEnded`): when its PaymentMethod was detached from the request's Customer, and which
 * process is detaching it now. The partial index keeps the cards still on file findable however
 * many wants ended before.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE stripe_customers ADD COLUMN detached_at timestamptz, ADD COLUMN detach_claimed_at timestamptz`
  yield* sql`CREATE INDEX stripe_customers_on_file ON stripe_customers (request_id) WHERE payment_method IS NOT NULL AND detached_at IS NULL`
})
