/**
 * Inventory uploads may be ONIX for Books 3.0 messages (`inventory/OnixFile.ts`): the upload's
 * recorded format allows `onix`. A pulled feed's format stays tab-separated or JSON Lines.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE inventory_uploads DROP CONSTRAINT inventory_uploads_format_check`
  yield* sql`ALTER TABLE inventory_uploads ADD CONSTRAINT inventory_uploads_format_check CHECK (format IN ('tsv', 'jsonl', 'onix'))`
})
