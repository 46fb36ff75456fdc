/**
 * "There is work": PostgreSQL NOTIFY on one channel when a request becomes runnable now (intake,
 * an accepted counter-offer, an operator retry), LISTEN in the workers so an idle worker claims
 * it at once instead of at its next poll. Delivered only after the sending transaction commits,
 * so a woken worker finds the row. A hint, never the only path: workers still poll.
 */
import type { SqlClient } from "effect/sql"
import { Effect } from "effect"

export const workChannel = "bookbroker_work"
/** What a plain "there is work" says (@effect/sql-pg's listener drops empty payloads). */
export const workPayload = "runnable"

/**
 * Sends the signal (its own statement, after the write has committed); never fails the caller.
 * `pg_notify` because a plain `NOTIFY` takes no bind parameters.
 */
export const signalWork = (sql: SqlClient.SqlClient, payload = workPayload, channel = workChannel): Effect.Effect<void> =>
  Effect.ignore(sql`SELECT pg_notify(${channel}, ${payload})`)
