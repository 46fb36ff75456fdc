/**
 * PostgreSQL, the source of truth: the connection pool (@effect/sql-pg) and the schema
 * migrations, run at start under the migrator's lock so several processes can start at once.
 */
import { Migrator, type SqlClient, type SqlError } from "effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import * as pgTypes from "./internal/pgTypes.js"
import { migrations } from "./migrations/index.js"

export interface DatabaseOptions {
  /** `postgres://user:pass@host:port/db` */
  readonly url: string | Redacted.Redacted<string>
  readonly maxConnections?: number
  readonly applicationName?: string
}

/** Runs pending migrations; returns the ones it ran. */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError.SqlError,
  SqlClient.SqlClient
> = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "bookbroker_migrations" }).pipe(
  Effect.withSpan("Database.migrate")
)

/** The pool alone, without running migrations. */
export const layerClient = (options: DatabaseOptions): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layer({
    url: typeof options.url === "string" ? Redacted.make(options.url) : options.url,
    maxConnections: options.maxConnections ?? 20,
    applicationName: options.applicationName ?? "bookbroker",
    types: pgTypes.registry()
  })

/** The pool, with the schema migrated before anything uses it. */
export const layer = (
  options: DatabaseOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError | Migrator.MigrationError> =>
  Layer.effectDiscard(migrate).pipe(Layer.provideMerge(layerClient(options)))
