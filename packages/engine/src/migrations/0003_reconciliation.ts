import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/**
 * What the reconciler found when it compared payment operations, seller orders and the payment
 * provider's records: one row per request and kind of finding (a later run updates it), kept
 * for a person to read, with whether the reconciler could fix it safely itself. And the
 * sweeper's memory of which failed requests it already asked the provider about, so a request
 * whose authorization outcome was unknown is looked up once, not on every sweep.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE reconciliation_findings (
      id bigserial PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES purchase_requests (id),
      kind text NOT NULL,
      detail text NOT NULL,
      fixed boolean NOT NULL DEFAULT false,
      found_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (request_id, kind)
    )
  `
  yield* sql`CREATE INDEX reconciliation_findings_open ON reconciliation_findings (found_at) WHERE NOT fixed`

  yield* sql`
    CREATE TABLE sweeper_lookups (
      request_id uuid PRIMARY KEY REFERENCES purchase_requests (id),
      authorizations_found int NOT NULL,
      looked_up_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
