/**
 * The offer index for `e2e.ts --feeds all`: every simulated seller's in-stock books (the lazy
 * catalog of `e2e-stock.ts`, exactly what the fleet will answer) as a fresh snapshot feed in the
 * run's database — as if each seller had uploaded its inventory file just before the load.
 *
 * It runs in a short-lived process of its own (generating the million-ISBN catalog costs about
 * 300 MB), and it is a **bulk SQL load**, not the upload path (`bench:feeds` measures that):
 * `INSERT … SELECT FROM unnest(…)` in batches of 50,000 rows over two connections, with the
 * listings' indexes dropped during the load and rebuilt after, foreign-key checks off. The table stays logged, as in
 * production. A sold-out book (quantity 0 in the lazy catalog) is not listed, as a seller's
 * snapshot would not list it.
 *
 *   tsx bench/src/e2e-feeds.ts --url postgres://… --size 1000000 --seed 1 --coverage 0.1 --sold-out 0.1 < sellers.json
 */
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import pg from "pg"
import { stockFor, type LazyStockOptions } from "./e2e-stock.js"

/** A registered seller and its index in the fleet (what `stockFor` is keyed by). */
export interface FedSeller {
  readonly id: string
  readonly index: number
}

export interface FeedsLoaded {
  readonly listings: number
  readonly sellers: number
  readonly seconds: number
  /** Of which rebuilding the indexes and ANALYZE. */
  readonly indexSeconds: number
}

/** Loads every seller's stock into the index of the database at `url`, in a child process. */
export const loadFeeds = (url: string, catalogSize: number, stock: LazyStockOptions, sellers: ReadonlyArray<FedSeller>): Promise<FeedsLoaded> =>
  new Promise((resolve, reject) => {
    const args = ["--url", url, "--size", String(catalogSize), "--seed", String(stock.seed), "--coverage", String(stock.coverage), "--sold-out", String(stock.soldOut)]
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), ...args], { stdio: ["pipe", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`the feeds process exited with ${code}`))
      try {
        resolve(JSON.parse(output) as FeedsLoaded)
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
    child.stdin.end(JSON.stringify(sellers))
  })

const batchRows = 50_000

const load = async (url: string, isbns: ReadonlyArray<string>, stock: LazyStockOptions, sellers: ReadonlyArray<FedSeller>): Promise<FeedsLoaded> => {
  const started = performance.now()
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })]
  await Promise.all(clients.map((client) => client.connect()))
  const db = clients[0]!
  try {
    // The sellers exist: foreign-key checks (triggers) off for the load's own connections.
    for (const client of clients) await client.query("SET session_replication_role = replica")
    await db.query("SET maintenance_work_mem = '512MB'")
    await db.query(
      `INSERT INTO seller_feeds (seller_id, currency, last_snapshot_at, last_upload_at)
       SELECT id, 'EUR', now(), now() FROM unnest($1::uuid[]) AS id`,
      [sellers.map((seller) => seller.id)]
    )
    const indexes = (
      await db.query<{ name: string; definition: string }>(
        "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'listings' AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'listings'::regclass)"
      )
    ).rows
    await db.query("ALTER TABLE listings DROP CONSTRAINT listings_pkey")
    for (const index of indexes) await db.query(`DROP INDEX ${index.name}`)

    const insert = `
      INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, quantity, source, seen_at)
      SELECT r.seller_id, r.isbn, r.isbn, r.price, r.shipping, 'EUR', 'new', r.quantity, 'feed', now()
      FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::int4[]) AS r (seller_id, isbn, price, shipping, quantity)`
    let listings = 0
    let failure: unknown
    const inFlight: Array<Promise<void>> = clients.map(() => Promise.resolve())
    let turn = 0
    const send = async (rows: { ids: Array<string>; isbns: Array<string>; prices: Array<number>; shippings: Array<number>; quantities: Array<number> }) => {
      const slot = turn++ % clients.length
      await inFlight[slot]
      if (failure !== undefined) throw failure
      inFlight[slot] = clients[slot]!.query(insert, [rows.ids, rows.isbns, rows.prices, rows.shippings, rows.quantities]).then(
        (result) => {
          listings += result.rowCount ?? 0
        },
        (error: unknown) => {
          failure ??= error
        }
      )
    }
    const empty = () => ({ ids: [] as Array<string>, isbns: [] as Array<string>, prices: [] as Array<number>, shippings: [] as Array<number>, quantities: [] as Array<number> })
    let rows = empty()
    for (const seller of sellers) {
      const has = stockFor(stock, seller.index)
      for (const isbn of isbns) {
        const item = has(isbn)
        if (item === undefined || item.quantity === 0) continue
        rows.ids.push(seller.id)
        rows.isbns.push(isbn)
        rows.prices.push(item.price)
        rows.shippings.push(item.shipping ?? 0)
        rows.quantities.push(item.quantity)
        if (rows.ids.length === batchRows) {
          await send(rows)
          rows = empty()
        }
      }
    }
    if (rows.ids.length > 0) await send(rows)
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure
    const inserted = performance.now()
    await db.query("ALTER TABLE listings ADD CONSTRAINT listings_pkey PRIMARY KEY (seller_id, listing_id)")
    for (const index of indexes) await db.query(index.definition)
    await db.query("ANALYZE listings, seller_feeds")
    const finished = performance.now()
    return { listings, sellers: sellers.length, seconds: Math.round((finished - started) / 100) / 10, indexSeconds: Math.round((finished - inserted) / 100) / 10 }
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { url: { type: "string" }, size: { type: "string" }, seed: { type: "string", default: "1" }, coverage: { type: "string" }, "sold-out": { type: "string" } }
  })
  let input = ""
  for await (const chunk of process.stdin) input += String(chunk)
  const sellers = JSON.parse(input) as Array<FedSeller>
  const isbns = generateIsbns({ size: Number(values.size), seed: Number(values.seed) })
  const loaded = await load(values.url!, isbns, { seed: Number(values.seed), coverage: Number(values.coverage), soldOut: Number(values["sold-out"]) }, sellers)
  process.stdout.write(JSON.stringify(loaded))
}
