import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/**
 * A customer's payment method token is kept only while the request may still authorize with it:
 * the step that writes a final status clears it in the same statement (`store.step`), and what
 * reopens a request — accepting a counter-offer, an operator's retry — brings a new one. Nothing
 * after the end needs it: captures, voids and refunds, the sweeper and the reconciler go by the
 * provider's reference of the authorization. Requests that ended before this migration lose
 * theirs here.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE purchase_requests ALTER COLUMN payment_token DROP NOT NULL`
  yield* sql`
    UPDATE purchase_requests SET payment_token = NULL
    WHERE status IN ('purchased', 'price_not_met', 'not_available', 'sellers_busy', 'failed') AND payment_token IS NOT NULL
  `
})
