/**
 * An upload's rows into `inventory_staging` with `COPY … FROM STDIN`: a batch of 5,000 rows costs
 * PostgreSQL about a fifth of what `INSERT … SELECT FROM unnest(…)` did (100,000 staging rows:
 * 144 ms against 760 ms; BENCHMARKS.md, "Inventory ingest"). @effect/sql-pg 4.0.5 refuses COPY
 * (its connection treats a `CopyInResponse` as a protocol desync), so the rows go through `pg`
 * and `pg-copy-streams`, on a small pool of their own (`maxConnections`, 4 by default: however
 * many sellers upload at once, staging holds no more connections than that; a batch waits for
 * one). Each batch is one COPY statement, committed on its own as each `INSERT` was: no
 * transaction stays open while a slow file trickles in.
 *
 * Text format, tab-separated: every value is escaped here (`\\`, tab, newline, carriage return)
 * and a missing one is `\N`. A NUL, which COPY (and PostgreSQL's text) cannot carry, never gets
 * here: the file parsers refuse such a row first.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect, Redacted, type Scope } from "effect"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"
import type { ListingRow } from "./InventoryFile.js"

const statement =
  "COPY inventory_staging (upload_id, line, listing_id, isbn, price, shipping, currency, condition, binding, quantity, title, author, publisher, year) FROM STDIN"

const special = /[\\\t\n\r]/
const specials = new RegExp(special.source, "g")
const escapes: Readonly<Record<string, string>> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" }

/** One value in COPY's text format (most need no escape: tested first, which costs less than a replace that finds nothing). */
export const field = (value: string | number | null): string =>
  value === null ? "\\N" : typeof value === "number" ? String(value) : special.test(value) ? value.replace(specials, (char) => escapes[char]!) : value

/** The batch as COPY text: one line per row, in the statement's column order. */
export const encode = (uploadId: string, rows: ReadonlyArray<ListingRow>): string => {
  let text = ""
  for (const row of rows) {
    text += `${uploadId}\t${row.line}\t${field(row.listingId)}\t${row.isbn}\t${field(row.price)}\t${field(row.shipping)}\t${field(row.currency)}\t${field(
      row.condition
    )}\t${field(row.binding)}\t${row.quantity}\t${field(row.title)}\t${field(row.author)}\t${field(row.publisher)}\t${field(row.year)}\n`
  }
  return text
}

export interface StagingCopy {
  /** Stages the rows (one COPY): done when PostgreSQL has committed them. */
  readonly write: (uploadId: string, rows: ReadonlyArray<ListingRow>) => Effect.Effect<void>
}

/** The connection settings of the engine's pool, for `pg`. */
const settings = (config: PgClient.PgClientConfig) =>
  Effect.gen(function* () {
    if (config.stream !== undefined) return yield* Effect.die(new Error("inventory staging: a PostgreSQL client over a custom stream cannot COPY"))
    const password = config.password === undefined ? undefined : Redacted.value(Redacted.isRedacted(config.password) ? config.password : yield* config.password)
    return {
      ...(config.url === undefined ? {} : { connectionString: Redacted.value(config.url) }),
      ...(config.host === undefined ? {} : { host: config.host }),
      ...(config.port === undefined ? {} : { port: config.port }),
      ...(config.database === undefined ? {} : { database: config.database }),
      ...(config.username === undefined ? {} : { user: config.username }),
      ...(password === undefined ? {} : { password }),
      ...(config.ssl === undefined ? {} : { ssl: config.ssl }),
      application_name: `${config.applicationName ?? "bookbroker"} (inventory staging)`
    } satisfies pg.ClientConfig
  })

/**
 * The staging pool, closed with the scope; connections open on demand and close after 10 s
 * idle. A COPY that fails is a defect, as every other statement's failure (`internal/sql.ts`),
 * and its connection is not reused.
 */
export const make = (config: PgClient.PgClientConfig, options: { readonly maxConnections?: number } = {}): Effect.Effect<StagingCopy, never, Scope.Scope> =>
  Effect.gen(function* () {
    const pool = yield* Effect.acquireRelease(
      Effect.map(settings(config), (connection) => new pg.Pool({ ...connection, max: options.maxConnections ?? 4, idleTimeoutMillis: 10_000 })),
      (pool) => Effect.promise(() => pool.end().catch(() => {}))
    )
    // An idle connection that breaks: the pool drops it, the next batch opens another.
    pool.on("error", () => {})
    const copy = (client: pg.PoolClient, uploadId: string, rows: ReadonlyArray<ListingRow>) =>
      Effect.callback<void, Error>((resume) => {
        const stream = client.query(copyFrom(statement))
        stream.once("error", (error) => resume(Effect.fail(error)))
        // `finish` comes once PostgreSQL has answered the COPY (its rows are committed).
        stream.once("finish", () => resume(Effect.void))
        stream.end(encode(uploadId, rows))
      })
    const write = (uploadId: string, rows: ReadonlyArray<ListingRow>) =>
      rows.length === 0
        ? Effect.void
        : Effect.uninterruptible(
            Effect.flatMap(Effect.promise(() => pool.connect()), (client) =>
              copy(client, uploadId, rows).pipe(
                Effect.tapError((error) => Effect.sync(() => client.release(error))),
                Effect.tap(() => Effect.sync(() => client.release())),
                Effect.orDie
              )
            )
          )
    return { write } satisfies StagingCopy
  })
