/**
 * Bulk SQL loads of the offer index for benchmarks that need tens of millions of listings in
 * minutes (`selection-feeds.ts`, `e2e-feeds.ts`) — not the upload path, which `bench:feeds`
 * measures. Two connections with foreign-key triggers off, `INSERT … SELECT FROM unnest(…)`
 * batches sent round-robin with one in flight on each, and the listings' indexes dropped for the
 * load and rebuilt after. Only for a database of the benchmark's own.
 */
import pg from "pg"

/**
 * Runs `load` on two connections to `url` set up for a bulk load (`session_replication_role =
 * replica`: the rows' sellers exist; `maintenance_work_mem` for the index rebuilds on the first),
 * and closes them after, also on failure.
 */
export const withLoadConnections = async <A>(url: string, maintenanceWorkMem: string, load: (clients: readonly [pg.Client, pg.Client]) => Promise<A>): Promise<A> => {
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })] as const
  try {
    await Promise.all(clients.map((client) => client.connect()))
    for (const client of clients) await client.query("SET session_replication_role = replica")
    await clients[0].query(`SET maintenance_work_mem = '${maintenanceWorkMem}'`)
    return await load(clients)
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)))
  }
}

/**
 * Sends `insert` with each batch's parameters, round-robin over `clients`, one statement in flight
 * on each: `send` waits only for its connection's previous batch; `done` for all of them, and
 * answers the rows inserted. The first failure is thrown by the next `send` or by `done`.
 */
export const batchInserter = (clients: ReadonlyArray<pg.Client>, insert: string) => {
  let rows = 0
  let failure: unknown
  const inFlight: Array<Promise<void>> = clients.map(() => Promise.resolve())
  let turn = 0
  return {
    send: async (parameters: ReadonlyArray<unknown>): Promise<void> => {
      const slot = turn++ % clients.length
      await inFlight[slot]
      if (failure !== undefined) throw failure
      inFlight[slot] = clients[slot]!.query(insert, [...parameters]).then(
        (result) => {
          rows += result.rowCount ?? 0
        },
        (error: unknown) => {
          failure ??= error
        }
      )
    },
    /** Rows inserted so far (batches answered). */
    rows: () => rows,
    done: async (): Promise<number> => {
      await Promise.all(inFlight)
      if (failure !== undefined) throw failure
      return rows
    }
  }
}

/**
 * Drops the listings' primary key, unique constraints and indexes, runs `load`, then builds them
 * again and analyzes the table: one index build each instead of millions of index inserts.
 * Answers `load`'s result and the seconds the rebuild took.
 */
export const withoutListingIndexes = async <A>(db: pg.Client, load: () => Promise<A>): Promise<{ readonly result: A; readonly rebuildSeconds: number }> => {
  const constraints = (
    await db.query<{ name: string; definition: string }>(
      "SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = 'listings'::regclass AND contype IN ('p', 'u')"
    )
  ).rows
  const indexes = (
    await db.query<{ name: string; definition: string }>(
      "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'listings' AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'listings'::regclass)"
    )
  ).rows
  for (const constraint of constraints) await db.query(`ALTER TABLE listings DROP CONSTRAINT ${constraint.name}`)
  for (const index of indexes) await db.query(`DROP INDEX ${index.name}`)
  const result = await load()
  const rebuilding = performance.now()
  for (const index of indexes) await db.query(index.definition)
  for (const constraint of constraints) await db.query(`ALTER TABLE listings ADD CONSTRAINT ${constraint.name} ${constraint.definition}`)
  await db.query("ANALYZE listings")
  return { result, rebuildSeconds: (performance.now() - rebuilding) / 1000 }
}
