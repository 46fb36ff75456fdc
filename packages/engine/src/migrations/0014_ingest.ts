/**
 * Faster inventory staging (`inventory/InventoryUploads.ts`): the staging table is indexed by
 * upload alone. An upload's rows are only ever read whole (`WHERE upload_id = …`, then sorted in
 * memory), and keeping `(upload_id, listing_id)` in order cost as much as writing the rows
 * themselves; an index of one upload id per row is almost free (B-tree deduplication).
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX inventory_staging_by_upload ON inventory_staging (upload_id)`
  yield* sql`DROP INDEX inventory_staging_upload`
})
