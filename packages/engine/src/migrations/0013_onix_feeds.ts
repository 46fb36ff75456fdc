/**
 * Pulled feeds may be ONIX for Books 3.0 messages too (`inventory/FeedPull.ts` reads them with
 * `OnixFile`): a feed URL's registered format allows `onix`, as an upload's does since 0011.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE seller_feeds DROP CONSTRAINT seller_feeds_pull_format_check`
  yield* sql`ALTER TABLE seller_feeds ADD CONSTRAINT seller_feeds_pull_format_check CHECK (pull_format IN ('tsv', 'jsonl', 'onix'))`
})
