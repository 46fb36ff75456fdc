import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/** The seller directory: who the sellers are, how to reach them, how hard they may be called. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE sellers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      adapter_kind text NOT NULL,
      adapter_version text NOT NULL,
      config jsonb NOT NULL,
      credentials bytea,
      limits jsonb NOT NULL DEFAULT '{}'::jsonb,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'disabled')),
      contact text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE UNIQUE INDEX sellers_name_unique ON sellers (lower(name))`
  yield* sql`CREATE INDEX sellers_active ON sellers (id) WHERE status = 'active'`
})
