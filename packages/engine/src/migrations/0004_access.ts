import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/** Who may call the API: customers and their keys, seller keys. Keys are stored hashed only. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE customers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      email text,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`
    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL CHECK (kind IN ('customer', 'seller')),
      owner_id uuid NOT NULL,
      key_hash text NOT NULL UNIQUE,
      key_prefix text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    )
  `
  yield* sql`CREATE INDEX api_keys_by_owner ON api_keys (kind, owner_id) WHERE revoked_at IS NULL`
})
