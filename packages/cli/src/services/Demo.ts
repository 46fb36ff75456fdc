/**
 * The demo: a fleet of simulated sellers over HTTP on 127.0.0.1 (varied prices, latency, stock
 * and failures) — sellers on the reference seller API and one on each platform with an adapter
 * (WooCommerce, Shopify, eBay, AbeBooks: their API shapes, through their adapters) — registered
 * and active, plus a demo customer with a fresh API key — so
 * `bookbroker buy` works at once. The AbeBooks seller publishes its inventory as AbeBooks sellers
 * do (a feed with titles and authors), so `bookbroker search` finds books in the demo too. Restarting the demo points the same sellers at their new ports.
 */
import { SellerSimulator, serveHandlers, generateIsbns, type StockItem } from "@bookbroker/adapter-sdk/testing"
import { Access, InventoryUploads, SellerDirectory } from "@bookbroker/engine"
import { Effect, Redacted, type Scope, Stream } from "effect"
import * as SimulatedPlatforms from "./SimulatedPlatforms.js"

export interface DemoSeller {
  readonly name: string
  readonly baseUrl: string
}

export interface DemoSetup {
  readonly sellers: ReadonlyArray<DemoSeller>
  readonly customerKey: string
  readonly customerId: string
  readonly isbns: ReadonlyArray<string>
}

interface Spec {
  readonly name: string
  /** The seller's platform (its API and adapter); default the reference seller API. */
  readonly platform?: SimulatedPlatforms.Platform
  readonly mode: "hold" | "atomic"
  readonly batch: boolean
  /** Price = base + offset per book; lower base = cheaper seller. */
  readonly base: number
  readonly latency: number
  readonly coverage: number
  readonly errorRate?: number
  readonly lostResponseRate?: number
}

const specs: ReadonlyArray<Spec> = [
  { name: "demo-paper-moon", mode: "hold", batch: false, base: 1250, latency: 60, coverage: 1 },
  { name: "demo-book-barn", mode: "hold", batch: true, base: 1390, latency: 40, coverage: 1 },
  { name: "demo-dusty-shelf", mode: "atomic", batch: false, base: 1480, latency: 90, coverage: 0.8 },
  { name: "demo-page-turner", mode: "hold", batch: false, base: 1620, latency: 25, coverage: 0.9 },
  { name: "demo-chapter-one", mode: "atomic", batch: true, base: 1750, latency: 120, coverage: 0.7 },
  { name: "demo-flaky-folio", mode: "hold", batch: false, base: 1900, latency: 80, coverage: 0.9, errorRate: 0.2 },
  { name: "demo-lost-letters", mode: "hold", batch: false, base: 2050, latency: 70, coverage: 0.9, lostResponseRate: 0.3 },
  { name: "demo-last-copy", mode: "atomic", batch: false, base: 2200, latency: 150, coverage: 0.6 },
  { name: "demo-woo-corner", platform: "woocommerce", mode: "atomic", batch: true, base: 1320, latency: 70, coverage: 0.8 },
  { name: "demo-shopify-stacks", platform: "shopify", mode: "atomic", batch: true, base: 1440, latency: 50, coverage: 0.8 },
  { name: "demo-ebay-finds", platform: "ebay", mode: "atomic", batch: false, base: 1530, latency: 40, coverage: 0.8 },
  { name: "demo-abe-antiquarian", platform: "abebooks", mode: "atomic", batch: false, base: 1580, latency: 30, coverage: 0.8 }
]

export const catalog = generateIsbns({ size: 12, seed: 2026 })

/** What the demo's feed says about its books (classics; the ISBNs are the simulation's own). */
const titles: ReadonlyArray<readonly [title: string, author: string, publisher: string, year: number]> = [
  ["Pride and Prejudice", "Austen, Jane", "T. Egerton", 1813],
  ["Moby-Dick", "Melville, Herman", "Harper & Brothers", 1851],
  ["Middlemarch", "Eliot, George", "William Blackwood and Sons", 1871],
  ["The Count of Monte Cristo", "Dumas, Alexandre", "Chapman and Hall", 1846],
  ["Great Expectations", "Dickens, Charles", "Chapman & Hall", 1861],
  ["Anna Karenina", "Tolstoy, Leo", "The Russian Messenger", 1878],
  ["Jane Eyre", "Brontë, Charlotte", "Smith, Elder & Co.", 1847],
  ["Wuthering Heights", "Brontë, Emily", "Thomas Cautley Newby", 1847],
  ["Frankenstein", "Shelley, Mary", "Lackington, Hughes, Harding, Mavor & Jones", 1818],
  ["Dracula", "Stoker, Bram", "Archibald Constable and Company", 1897],
  ["The Time Machine", "Wells, H. G.", "William Heinemann", 1895],
  ["Emma", "Austen, Jane", "John Murray", 1815]
]

/** The demo seller that publishes a feed: its stock, as an AbeBooks-style TSV snapshot. */
const feedSeller = "demo-abe-antiquarian"
const feedFile = (stock: ReadonlyArray<StockItem>): string => {
  const header = "listingid\tisbn\ttitle\tauthor\tpublishername\tyearpublished\tprice\tshipping\tquantity\tbookcondition"
  const rows = stock.map((item) => {
    const [title, author, publisher, year] = titles[catalog.indexOf(item.isbn as (typeof catalog)[number])]!
    const money = (minor: number) => (minor / 100).toFixed(2)
    return [`ABE-${item.isbn}`, item.isbn, title, author, publisher, year, money(item.price), money(item.shipping ?? 0), item.quantity, "New"].join("\t")
  })
  return [header, ...rows].join("\n") + "\n"
}

const stockFor = (spec: Spec, index: number): ReadonlyArray<StockItem> =>
  catalog.flatMap((isbn, book) => {
    // Deterministic "coverage": each seller skips a few books.
    if (((book * 7 + index * 3) % 10) / 10 >= spec.coverage) return []
    return [{ isbn, price: spec.base + ((book * 137 + index * 53) % 400), shipping: 0, quantity: spec.name === "demo-last-copy" ? 1 : 25 }]
  })

export const setup = (): Effect.Effect<DemoSetup, never, Scope.Scope | SellerDirectory.SellerDirectory | Access.Access | InventoryUploads.InventoryUploads> =>
  Effect.gen(function* () {
    const directory = yield* SellerDirectory.SellerDirectory
    const uploads = yield* InventoryUploads.InventoryUploads
    const access = yield* Access.Access
    const existing = new Map((yield* directory.list()).map((seller) => [seller.name, seller]))
    const sellers = yield* Effect.forEach(specs, (spec, index) =>
      Effect.gen(function* () {
        const key = `${spec.name}-key`
        const simulator = new SellerSimulator({
          name: spec.name,
          apiKey: key,
          currency: "EUR",
          stock: stockFor(spec, index),
          latency: { medianMillis: spec.latency, tailProbability: 0.02, tailMaxMillis: spec.latency * 10 },
          ...(spec.errorRate === undefined ? {} : { errorRate: spec.errorRate }),
          ...(spec.lostResponseRate === undefined ? {} : { lostResponseRate: spec.lostResponseRate }),
          seed: index + 1
        })
        const platform = SimulatedPlatforms.shop(spec.platform ?? "reference", simulator, { name: spec.name, key, mode: spec.mode, batch: spec.batch })
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => serveHandlers(platform.handlers, { onClose: () => simulator.close() })),
          (server) => Effect.promise(() => server.close())
        )
        const config = platform.config(server.url)
        const known = existing.get(spec.name)
        const limits = { requestsPerSecond: 50, burst: 100, maxConcurrency: 32, timeoutMillis: 2_000 }
        let sellerId = known?.id
        if (known === undefined) {
          sellerId = (yield* Effect.orDie(directory.register({ name: spec.name, kind: platform.kind, config, credentials: platform.credentials, limits, status: "active" }))).id
        } else {
          yield* Effect.orDie(directory.update(known.id, { config, credentials: platform.credentials, limits }))
          if (known.status !== "active") yield* Effect.orDie(directory.setStatus(known.id, "active"))
        }
        if (spec.name === feedSeller && sellerId !== undefined) {
          // A fresh snapshot at every start: the feed is what the seller has now.
          const feed = Stream.make(new TextEncoder().encode(feedFile(stockFor(spec, index))))
          yield* uploads.upload(sellerId, { mode: "snapshot", format: "tsv", currency: "EUR" }, feed).pipe(
            Effect.catchTag("UploadRefused", (refused) => Effect.logWarning(`the demo feed was refused: ${refused.reason}`))
          )
        }
        return { name: spec.name, baseUrl: server.url }
      })
    )
    const customers = yield* access.listCustomers
    const demoCustomer = customers.find((customer) => customer.name === "Demo Customer")
    const { id, key } =
      demoCustomer === undefined
        ? yield* Effect.map(access.createCustomer("Demo Customer", "demo@bookbroker.local"), ({ customer, apiKey }) => ({ id: customer.id, key: apiKey }))
        : { id: demoCustomer.id, key: yield* access.issueKey({ kind: "customer", id: demoCustomer.id }, { rotate: true }) }
    // The books where the cheapest sellers (reliable ones) carry the book: good first purchases.
    return { sellers, customerKey: Redacted.value(key), customerId: id, isbns: catalog.slice(0, 5) }
  })
