/**
 * Where an upload's seconds go, in process (session 10 profiling aid): `InventoryUploads.upload`
 * of a generated TSV snapshot (`--rows`), twice (first, then unchanged), on a fresh database with
 * auto_explain on (statements over 300 ms land, with their plans, in PostgreSQL's log).
 *   node ../scripts/node.mjs --import tsx src/ingest-profile.ts --rows 1000000
 * `--delta N`: then three deltas of the first N listings (new prices), each timed; `--log-ms M`:
 * every statement of this database over M ms is logged by PostgreSQL with its duration.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { AdapterRegistry, Database, InventoryUploads, OutboundAddress, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { SimulatedSellers } from "@bookbroker/engine/testing"
import { Effect, Layer, ManagedRuntime, Redacted, Stream } from "effect"
import { parseArgs } from "node:util"
import pg from "pg"
import * as Processes from "./e2e-processes.js"

const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, explain: { type: "boolean", default: false }, "staging-by-upload": { type: "boolean", default: false }, batch: { type: "string", default: "5000" }, runs: { type: "string", default: "2" }, delta: { type: "string", default: "0" }, "log-ms": { type: "string" } } })
const rows = Number(values.rows)
const isbnOf = (row: number): string => {
  const body = `9780${String((row * 48_271 + 1_234_567) % 100_000_000).padStart(8, "0")}`
  let sum = 0
  for (let k = 0; k < 12; k++) sum += (body.charCodeAt(k) - 48) * (k % 2 === 0 ? 1 : 3)
  return body + String((10 - (sum % 10)) % 10)
}
const header = ["listingid", "isbn", "title", "author", "price", "quantity", "bookcondition", "bindingtext", "publishername", "yearpublished", "description"].join("\t")
const words = ["The", "Silent", "River", "Garden", "Night", "History", "Letters", "Winter", "House", "Memory", "Atlas", "Stone", "Light", "Empire", "Secret", "Harbour"]
function* chunks(count = rows, shift = 0): Generator<Uint8Array> {
  let lines: Array<string> = [header]
  for (let row = 0; row < count; row++) {
    const cents = 300 + ((row * 7_919 + shift) % 20_000)
    lines.push([`BB-${row}`, isbnOf(row), `${words[row % 16]} ${words[(row >> 4) % 16]} of the ${words[(row >> 8) % 16]}`, `Okafor, Ada${row % 7}`,
      `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`, String(1 + (row % 3)), "Very Good", "Paperback", "Penguin", String(1950 + (row % 75)),
      "Light shelf wear to the edges, pages clean and unmarked, no inscriptions."].join("\t"))
    if (lines.length === 500) {
      yield Buffer.from(`${lines.join("\n")}\n`)
      lines = []
    }
  }
  if (lines.length > 0) yield Buffer.from(`${lines.join("\n")}\n`)
}

const database = await Processes.createDatabase("bb_s10_profile")
try {
  const runtime = ManagedRuntime.make(
    InventoryUploads.layer({ batchRows: Number(values.batch), ...(process.env["BOOKS_WAIT"] === undefined ? {} : { booksWaitMillis: Number(process.env["BOOKS_WAIT"]) }) }).pipe(
      Layer.provideMerge(SellerDirectory.layer({ refreshMillis: 600_000 })),
      Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
      Layer.provideMerge(Database.layer({ url: database.url, maxConnections: 10 })),
      Layer.orDie
    )
  )
  if (values["staging-by-upload"]) {
    // What migration 0014 does.
    await runtime.runPromise(Effect.void)
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    await client.query(`CREATE INDEX inventory_staging_by_upload ON inventory_staging (upload_id)`)
    await client.query(`DROP INDEX inventory_staging_upload`)
    await client.end()
  }
  if (values.explain) {
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    await client.query(`ALTER DATABASE ${database.name} SET session_preload_libraries = 'auto_explain'`)
    await client.query(`ALTER DATABASE ${database.name} SET auto_explain.log_min_duration = 300`)
    await client.query(`ALTER DATABASE ${database.name} SET auto_explain.log_analyze = on`)
    await client.query(`ALTER DATABASE ${database.name} SET auto_explain.log_buffers = on`)
    await client.query(`ALTER DATABASE ${database.name} SET auto_explain.log_nested_statements = on`)
    await client.end()
  }
  if (values["log-ms"] !== undefined) {
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    await client.query(`ALTER DATABASE ${database.name} SET log_min_duration_statement = ${Number(values["log-ms"])}`)
    await client.end()
  }
  // The seller is never called: an upload only needs it registered.
  const [seller] = await runtime.runPromise(Effect.scoped(Effect.flatMap(SimulatedSellers.startSellers([{ name: "profile", stock: [] }]), SimulatedSellers.registerActive)))
  if (seller === undefined) throw new Error("no seller registered")
  for (let run = 0; run < Number(values.runs); run++) {
    const t0 = performance.now()
    const status = await runtime.runPromise(
      Effect.flatMap(InventoryUploads.InventoryUploads, (uploads) => uploads.upload(seller.id, { mode: "snapshot", format: "tsv", currency: "EUR" }, Stream.fromIterable(chunks())))
    )
    const s = (performance.now() - t0) / 1000
    console.log(JSON.stringify({ run, seconds: Math.round(s * 10) / 10, rowsPerSecond: Math.round(rows / s), applied: status.rowsApplied, retired: status.listingsRetired, rss: Math.round(process.memoryUsage().rss / 2 ** 20), peak: Processes.memory(process.pid)?.peakMiB }))
  }
  const delta = Number(values.delta)
  for (let run = 0; delta > 0 && run < 3; run++) {
    const t0 = performance.now()
    const status = await runtime.runPromise(
      Effect.flatMap(InventoryUploads.InventoryUploads, (uploads) => uploads.upload(seller.id, { mode: "delta", format: "tsv", currency: "EUR" }, Stream.fromIterable(chunks(delta, 101 * (run + 1)))))
    )
    console.log(JSON.stringify({ delta: run, rows: delta, millis: Math.round(performance.now() - t0), applied: status.rowsApplied }))
  }
  await runtime.dispose()
} finally {
  await Processes.dropDatabase(database.name)
}
