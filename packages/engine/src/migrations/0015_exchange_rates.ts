/**
 * Offers in other currencies, converted at the operator's exchange rates (`exchange/`): a
 * request keeps the rate each currency was priced at (`exchange`, `Conversion.Locked`), so its
 * hold, order and capture are converted at that rate; an attempt keeps the currency its seller
 * confirmed the order in (`order_currency`; null: the request's own).
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE purchase_requests ADD COLUMN IF NOT EXISTS exchange jsonb`
  yield* sql`ALTER TABLE purchase_attempts ADD COLUMN IF NOT EXISTS order_currency char(3)`
})
