/**
 * Several bookbroker processes, simulated as two engine instances that share only PostgreSQL
 * and a real Redis (127.0.0.1:6379), against simulated sellers counting what they receive.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import type { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Context, Effect, Layer, Redacted } from "effect"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../src/quotes/QuoteEngine.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../src/testing/index.js"

const isbns = generateIsbns({ size: 400, seed: 7 }) as ReadonlyArray<Isbn.Isbn13>
const stock = (price: number) => isbns.map((isbn) => ({ isbn, price, quantity: 50 }))

// The simulated sellers run on this machine.
const Shared = Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback).pipe(
  Layer.provideMerge(TestDatabase.layer)
)

/** One "process": its own directory cache, connection pool, Redis connection and engine. */
const processStack = (prefix: string, options: QuoteEngine.QuoteEngineOptions) =>
  QuoteEngine.layer(options).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        SellerDirectory.layer({ refreshMillis: 60_000 }),
        SellerPool.layer(),
        SharedState.layerRedis({ url: "redis://127.0.0.1:6379", keyPrefix: prefix })
      )
    )
  )

/** Builds two processes over the shared database; returns their engines. */
const twoProcesses = (options: QuoteEngine.QuoteEngineOptions) =>
  Effect.gen(function* () {
    const prefix = `bbtest-${randomUUID()}`
    const shared = yield* Effect.context<SqlClient.SqlClient | SecretBox.SecretBox | AdapterRegistry.AdapterRegistry>()
    const build = () => Layer.build(processStack(prefix, options).pipe(Layer.provide(Layer.succeedContext(shared))))
    const first = yield* build()
    const second = yield* build()
    return [Context.get(first, QuoteEngine.QuoteEngine), Context.get(second, QuoteEngine.QuoteEngine)] as const
  })

const register = (sellers: ReadonlyArray<SimulatedSellers.RunningSeller>, limits: Record<string, number>) =>
  Effect.gen(function* () {
    const directory = yield* SellerDirectory.SellerDirectory
    yield* Effect.forEach(sellers, (seller) =>
      directory.register({ name: seller.name, kind: "reference", config: seller.config, credentials: { apiKey: seller.apiKey }, limits, status: "active" })
    )
  }).pipe(Effect.provide(SellerDirectory.layer()))

describe("QuoteEngine across processes (Redis)", () => {
    it.live("two processes together never exceed a seller's rate", () =>
      Effect.gen(function* () {
        // bookbroker may send 10/s with a burst of 3; the seller counts a violation past 10/s
        // with a burst of 4 (one request of slack for network jitter between the two clocks).
        const [seller] = yield* SimulatedSellers.startSellers([
          { name: `strict-${randomUUID()}`, stock: stock(1500), rateLimit: { requestsPerSecond: 10, burst: 4 } }
        ])
        yield* register([seller!], { requestsPerSecond: 10, burst: 3, maxConcurrency: 100 })
        const [a, b] = yield* twoProcesses({ cache: false, coalesce: false })
        let offers = 0
        let next = 0
        const started = Date.now()
        const loop = (engine: QuoteEngine.QuoteEngineService) =>
          Effect.gen(function* () {
            const until = Date.now() + 1_500
            while (Date.now() < until) {
              const book = yield* engine.quotes(isbns[next++ % isbns.length]!, { currency: "EUR" })
              offers += book.offers.length
              yield* Effect.sleep(5)
            }
          })
        yield* Effect.all([loop(a), loop(a), loop(b), loop(b)], { concurrency: "unbounded" })
        // Quotes wait in the seller's queue for their turn, so the last ones end after the 1.5 s of calling.
        const elapsedSeconds = (Date.now() - started) / 1000
        const calls = seller!.simulator.calls.quote
        expect(seller!.simulator.violations.rate).toBe(0)
        expect(offers).toBe(calls)
        expect(calls).toBeGreaterThanOrEqual(10) // both kept calling within the budget…
        expect(calls).toBeLessThanOrEqual(3 + 10 * (elapsedSeconds + 0.1)) // …and never above it
      }).pipe(Effect.provide(Shared))
    )

    it.live("a 429 seen by one process throttles the seller for the other", () =>
      Effect.gen(function* () {
        const [seller] = yield* SimulatedSellers.startSellers([{ name: `busy-${randomUUID()}`, stock: stock(1500) }])
        seller!.simulator.inject({ operation: "quote", kind: "rate_limited" })
        yield* register([seller!], { requestsPerSecond: 100, burst: 100 })
        const [a, b] = yield* twoProcesses({ cache: false, coalesce: false })
        expect((yield* a.quotes(isbns[0]!, { currency: "EUR" })).outcomes[0]).toMatchObject({ status: "error", reason: "rate_limited" })
        expect((yield* b.quotes(isbns[1]!, { currency: "EUR", deadlineMillis: 300 })).outcomes[0]).toMatchObject({ status: "not_asked", reason: "backoff" })
        expect(seller!.simulator.calls.quote).toBe(1)
      }).pipe(Effect.provide(Shared))
    )

    it.live("concurrent requests for one ISBN in two processes make one fan-out", () =>
      Effect.gen(function* () {
        const sellers = yield* SimulatedSellers.startSellers([
          { name: `slow-a-${randomUUID()}`, stock: stock(1500), latency: { medianMillis: 80 } },
          { name: `slow-b-${randomUUID()}`, stock: stock(1700), latency: { medianMillis: 80 } }
        ])
        yield* register(sellers, { requestsPerSecond: 100, burst: 100 })
        const [a, b] = yield* twoProcesses({})
        const books = yield* Effect.all(
          [a, b, a, b, a, b].map((engine) => engine.quotes(isbns[5]!, { currency: "EUR" })),
          { concurrency: "unbounded" }
        )
        expect(sellers.map((seller) => seller.simulator.calls.quote)).toEqual([1, 1])
        expect(books.filter((book) => book.coalesced)).toHaveLength(5)
        for (const book of books) expect(book.offers.map((offer) => offer.total.amount)).toEqual([1500, 1700])
      }).pipe(Effect.provide(Shared))
    )
})
