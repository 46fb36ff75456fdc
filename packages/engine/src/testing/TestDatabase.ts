/**
 * A real, throw-away PostgreSQL database per test layer: created on the server named by
 * `BOOKBROKER_TEST_DATABASE_URL` (default the local `postgres` database as user postgres),
 * migrated, and dropped when the layer is released. Tests never share or mock a database.
 */
import { randomUUID } from "node:crypto"
import { type Migrator, SqlClient, type SqlError } from "effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, type Scope } from "effect"
import * as Database from "../Database.js"

export const adminUrl = process.env["BOOKBROKER_TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"

const withAdmin = (statement: string): Effect.Effect<void> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 })),
    Effect.asVoid,
    Effect.orDie
  )

/** The URL of a database on the same server. */
export const urlFor = (database: string): string => {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** Creates an empty database and drops it when the scope closes. */
export const scopedDatabase = (prefix = "bb_test"): Effect.Effect<{ readonly name: string; readonly url: string }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 16)}`
      yield* withAdmin(`CREATE DATABASE ${name}`)
      return { name, url: urlFor(name) }
    }),
    ({ name }) => withAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  )

/** A fresh migrated database for the layer's lifetime. */
export const layer: Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError | Migrator.MigrationError> = Layer.unwrap(
  Effect.map(scopedDatabase(), ({ url }) => Database.layer({ url, maxConnections: 10 }))
)
