/**
 * Uploads left unfinished by a server that stopped (`InventoryUploads.recover`): the ones still
 * `receiving` or `applying` are found without reading every upload ever made.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX inventory_uploads_unfinished ON inventory_uploads (updated_at) WHERE status IN ('receiving', 'applying')`
})
