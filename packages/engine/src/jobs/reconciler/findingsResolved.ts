/**
 * Open findings whose condition is gone are closed, with a note saying why, so that the
 * operators' list of open findings is what still needs a person:
 *
 * | kind | gone when |
 * | --- | --- |
 * | `authorization_left_open` | the request has no live authorization any more (voided, captured, lapsed — recorded) |
 * | `attempt_unresolved` | no purchase of the request is waiting for an answer (`purchasing` / `unknown`) any more |
 *
 * Other kinds stay until a person settles them: their condition is history (money moved, an
 * order existed), not a state that can heal.
 */
import type { SqlClient, SqlError } from "effect/sql"
import type { Effect } from "effect"

export interface ClosedFinding {
  readonly request_id: string
  readonly kind: "authorization_left_open" | "attempt_unresolved"
  readonly detail: string
  readonly fixed: boolean
  readonly found_at: Date
}

export const close = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<ClosedFinding>, SqlError.SqlError> =>
  sql<ClosedFinding>`
    UPDATE reconciliation_findings f
    SET fixed = true,
        detail = f.detail || '; resolved since: ' || CASE f.kind
          WHEN 'authorization_left_open' THEN 'the authorization is no longer live'
          ELSE 'no purchase of this request is waiting for an answer any more' END
    WHERE NOT f.fixed AND (
      (f.kind = 'authorization_left_open' AND NOT EXISTS (
        SELECT 1 FROM payment_operations p WHERE p.request_id = f.request_id AND p.kind = 'authorize' AND p.live))
      OR (f.kind = 'attempt_unresolved' AND NOT EXISTS (
        SELECT 1 FROM purchase_attempts a WHERE a.request_id = f.request_id AND a.status IN ('purchasing', 'unknown')))
    )
    RETURNING f.request_id, f.kind, f.detail, f.fixed, f.found_at`
