/**
 * The demo: a fleet of simulated sellers over HTTP on 127.0.0.1 (varied prices, latency, stock
 * and failures) — sellers on the reference seller API and one on each platform with an adapter
 * (WooCommerce, Shopify, eBay, AbeBooks: their API shapes, through their adapters) — registered
 * and active, plus a demo customer with a fresh API key — so
 * `bookbroker buy` works at once. Restarting the demo points the same sellers at their new ports.
 */
import { SellerSimulator, serveHandlers, generateIsbns, type StockItem } from "@bookbroker/adapter-sdk/testing"
import { Access, SellerDirectory } from "@bookbroker/engine"
import { Effect, Redacted, type Scope } from "effect"
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

const stockFor = (spec: Spec, index: number): ReadonlyArray<StockItem> =>
  catalog.flatMap((isbn, book) => {
    // Deterministic "coverage": each seller skips a few books.
    if (((book * 7 + index * 3) % 10) / 10 >= spec.coverage) return []
    return [{ isbn, price: spec.base + ((book * 137 + index * 53) % 400), shipping: 0, quantity: spec.name === "demo-last-copy" ? 1 : 25 }]
  })

export const setup = (): Effect.Effect<DemoSetup, never, Scope.Scope | SellerDirectory.SellerDirectory | Access.Access> =>
  Effect.gen(function* () {
    const directory = yield* SellerDirectory.SellerDirectory
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
        if (known === undefined) {
          yield* Effect.orDie(directory.register({ name: spec.name, kind: platform.kind, config, credentials: platform.credentials, limits, status: "active" }))
        } else {
          yield* Effect.orDie(directory.update(known.id, { config, credentials: platform.credentials, limits }))
          if (known.status !== "active") yield* Effect.orDie(directory.setStatus(known.id, "active"))
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
