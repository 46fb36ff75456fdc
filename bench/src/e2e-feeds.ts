/**
 * The offer index for `e2e.ts --feeds all`: every simulated seller's in-stock books (the lazy
 * catalog of `e2e-stock.ts`, exactly what the fleet will answer) as a fresh snapshot feed in the
 * run's database — as if each seller had uploaded its inventory file just before the load.
 *
 * It runs in a short-lived process of its own (generating the million-ISBN catalog costs about
 * 300 MB), and it is a **bulk SQL load** (`bulk-listings.ts`), not the upload path (`bench:feeds`
 * measures that), in batches of 50,000 rows. The table stays logged, as in production. A
 * sold-out book (quantity 0 in the lazy catalog) is not listed, as a seller's snapshot would not
 * list it.
 *
 *   tsx bench/src/e2e-feeds.ts --url postgres://… --size 1000000 --seed 1 --coverage 0.1 --sold-out 0.1 < sellers.json
 */
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { batchInserter, withLoadConnections, withoutListingIndexes } from "./bulk-listings.js"
import { stockFor, type LazyStockOptions } from "./e2e-stock.js"
import { runHelper } from "./support.js"

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
  runHelper(
    import.meta.url,
    ["--url", url, "--size", String(catalogSize), "--seed", String(stock.seed), "--coverage", String(stock.coverage), "--sold-out", String(stock.soldOut)],
    sellers
  )

const batchRows = 50_000

const load = (url: string, isbns: ReadonlyArray<string>, stock: LazyStockOptions, sellers: ReadonlyArray<FedSeller>): Promise<FeedsLoaded> =>
  withLoadConnections(url, "512MB", async (clients) => {
    const started = performance.now()
    const db = clients[0]
    await db.query(
      `INSERT INTO seller_feeds (seller_id, currency, last_snapshot_at, last_upload_at)
       SELECT id, 'EUR', now(), now() FROM unnest($1::uuid[]) AS id`,
      [sellers.map((seller) => seller.id)]
    )
    const { result: listings, rebuildSeconds } = await withoutListingIndexes(db, async () => {
      const inserter = batchInserter(
        clients,
        `INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, quantity, source, seen_at)
         SELECT r.seller_id, r.isbn, r.isbn, r.price, r.shipping, 'EUR', 'new', r.quantity, 'feed', now()
         FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::int4[]) AS r (seller_id, isbn, price, shipping, quantity)`
      )
      const empty = () => ({ ids: [] as Array<string>, isbns: [] as Array<string>, prices: [] as Array<number>, shippings: [] as Array<number>, quantities: [] as Array<number> })
      let rows = empty()
      const send = () => inserter.send([rows.ids, rows.isbns, rows.prices, rows.shippings, rows.quantities])
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
            await send()
            rows = empty()
          }
        }
      }
      if (rows.ids.length > 0) await send()
      return inserter.done()
    })
    await db.query("ANALYZE seller_feeds")
    const seconds = (performance.now() - started) / 1000
    return { listings, sellers: sellers.length, seconds: Math.round(seconds * 10) / 10, indexSeconds: Math.round(rebuildSeconds * 10) / 10 }
  })

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
