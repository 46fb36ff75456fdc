import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as Metrics from "../src/Metrics.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../src/quotes/QuoteEngine.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../src/testing/index.js"

const isbns = generateIsbns({ size: 40, seed: 99 }) as ReadonlyArray<Isbn.Isbn13>
const [isbnA, isbnB] = isbns as [Isbn.Isbn13, Isbn.Isbn13]

const Infrastructure = Layer.mergeAll(
  SecretBox.layer(Redacted.make(SecretBox.generateKey())),
  AdapterRegistry.layer([referenceAdapter]),
  // The simulated sellers run on this machine.
  OutboundAddress.layerLoopback
).pipe(Layer.provideMerge(TestDatabase.layer))

/** A quote engine with in-process shared state over a fresh directory. */
const engineLayer = (options: QuoteEngine.QuoteEngineOptions = {}, circuit = { failureThreshold: 3, openMillis: 400 }) =>
  QuoteEngine.layer(options).pipe(
    Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 60_000 }), SellerPool.layer(), SharedState.layerMemory(circuit))),
    Layer.provideMerge(Infrastructure)
  )

const register = SimulatedSellers.registerActive

const stock = (price: number, quantity = 5) => isbns.map((isbn) => ({ isbn, price, quantity }))

describe("QuoteEngine", () => {
  it.live("ranks offers by total, reports every seller's outcome, leaves other currencies out", () =>
    Effect.gen(function* () {
      const sellers = yield* SimulatedSellers.startSellers([
        { name: "cheap", stock: [{ isbn: isbnA, price: 1500, quantity: 2 }] },
        { name: "pricey", stock: [{ isbn: isbnA, price: 2500, quantity: 2 }] },
        { name: "sold-out", stock: [{ isbn: isbnA, price: 900, quantity: 0 }] },
        { name: "elsewhere", stock: [] },
        { name: "dollars", currency: "USD", stock: [{ isbn: isbnA, price: 100, quantity: 1 }] }
      ])
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbnA, { currency: "EUR" })
      expect(book.offers.map((offer) => [offer.sellerName, offer.total.amount])).toEqual([
        ["cheap", 1500],
        ["pricey", 2500]
      ])
      const byName = Object.fromEntries(book.outcomes.map((outcome) => [outcome.sellerName, [outcome.status, outcome.reason]]))
      expect(byName).toEqual({
        cheap: ["offer", undefined],
        pricey: ["offer", undefined],
        "sold-out": ["unavailable", "out_of_stock"],
        elsewhere: ["unavailable", "not_carried"],
        dollars: ["excluded", "currency USD"]
      })
    }).pipe(Effect.provide(engineLayer()), Effect.scoped)
  )

  it.live("holds the deadline with hanging sellers and keeps what arrived", () =>
    Effect.gen(function* () {
      const sellers = yield* SimulatedSellers.startSellers([
        { name: "quick", stock: stock(1800) },
        { name: "hanging", stock: stock(1000), hangRate: 1 }
      ])
      yield* register(sellers, { timeoutMillis: 20_000 })
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbnA, { currency: "EUR", deadlineMillis: 300 })
      expect(book.offers.map((offer) => offer.sellerName)).toEqual(["quick"])
      expect(book.outcomes.find((outcome) => outcome.sellerName === "hanging")?.status).toBe("deadline")
      expect(book.durationMillis).toBeGreaterThanOrEqual(300)
      expect(book.durationMillis).toBeLessThan(20_000) // did not wait for the seller's own timeout
    }).pipe(Effect.provide(engineLayer()), Effect.scoped)
  )

  it.live("backs off from a seller that answered 429 until its Retry-After has passed: a request waits for it, or says it could not ask", () =>
    Effect.gen(function* () {
      const [seller] = yield* SimulatedSellers.startSellers([{ name: "busy", stock: stock(1200) }])
      seller!.simulator.inject({ operation: "quote", kind: "rate_limited" })
      yield* register([seller!])
      const engine = yield* QuoteEngine.QuoteEngine
      const first = yield* engine.quotes(isbnA, { currency: "EUR" })
      expect(first.outcomes[0]).toMatchObject({ status: "error", reason: "rate_limited" })
      // The seller said Retry-After: 1. A request that cannot wait that long was not answered: not_asked, with why.
      const impatient = yield* engine.quotes(isbnB, { currency: "EUR", deadlineMillis: 300 })
      expect(impatient.outcomes[0]).toMatchObject({ status: "not_asked", reason: "backoff" })
      expect(seller!.simulator.calls.quote).toBe(1)
      // One that can, waits in the seller's queue and gets its answer once the back-off is over.
      const patient = yield* engine.quotes(isbns[2]!, { currency: "EUR" })
      expect(patient.outcomes[0]).toMatchObject({ status: "offer" })
      expect(seller!.simulator.calls.quote).toBe(2)
    }).pipe(Effect.provide(engineLayer()), Effect.scoped)
  )

  it.live("opens a failing seller's circuit, lets one probe through after a while, and closes it", () =>
    Effect.gen(function* () {
      const [seller] = yield* SimulatedSellers.startSellers([{ name: "flaky", stock: stock(1200) }])
      seller!.simulator.inject({ operation: "quote", kind: "server_error", times: 3 })
      yield* register([seller!])
      const engine = yield* QuoteEngine.QuoteEngine
      const state = yield* SharedState.SharedState
      for (const isbn of isbns.slice(0, 3)) {
        expect((yield* engine.quotes(isbn, { currency: "EUR" })).outcomes[0]).toMatchObject({ status: "error", reason: "server_error" })
      }
      expect((yield* engine.quotes(isbns[3]!, { currency: "EUR" })).outcomes[0]).toMatchObject({ status: "skipped", reason: "circuit_open" })
      expect(seller!.simulator.calls.quote).toBe(3)
      yield* Effect.sleep(450)
      const sellerId = (yield* (yield* SellerDirectory.SellerDirectory).active)[0]!.id
      expect((yield* state.circuit(sellerId)).state).toBe("half_open")
      const probes = yield* Effect.forEach(isbns.slice(4, 8), (isbn) => engine.quotes(isbn, { currency: "EUR" }), { concurrency: "unbounded" })
      expect(probes.map((book) => book.outcomes[0]!.status).sort()).toEqual(["offer", "skipped", "skipped", "skipped"])
      expect((yield* state.circuit(sellerId)).state).toBe("closed")
      expect((yield* engine.quotes(isbns[9]!, { currency: "EUR" })).outcomes[0]!.status).toBe("offer")
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false })), Effect.scoped)
  )

  it.live("makes one fan-out for concurrent requests for one ISBN, then serves the cache", () =>
    Effect.gen(function* () {
      const sellers = yield* SimulatedSellers.startSellers([
        { name: "s1", stock: stock(1300), latency: { medianMillis: 60 } },
        { name: "s2", stock: stock(1400), latency: { medianMillis: 60 } }
      ])
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      const books = yield* Effect.forEach(Array.from({ length: 10 }), () => engine.quotes(isbnA, { currency: "EUR" }), { concurrency: "unbounded" })
      expect(sellers.map((seller) => seller.simulator.calls.quote)).toEqual([1, 1])
      expect(books.filter((book) => book.coalesced)).toHaveLength(9)
      for (const book of books) expect(book.offers.map((offer) => offer.total.amount)).toEqual([1300, 1400])
      const later = yield* engine.quotes(isbnA, { currency: "EUR" })
      expect(later.offers.every((offer) => offer.cached)).toBe(true)
      expect(sellers.map((seller) => seller.simulator.calls.quote)).toEqual([1, 1])
    }).pipe(Effect.provide(engineLayer()), Effect.scoped)
  )

  it.live("without cache and coalescing, every request asks every seller", () =>
    Effect.gen(function* () {
      const sellers = yield* SimulatedSellers.startSellers([{ name: "s1", stock: stock(1300), latency: { medianMillis: 30 } }])
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      yield* Effect.forEach(Array.from({ length: 4 }), () => engine.quotes(isbnA, { currency: "EUR" }), { concurrency: "unbounded" })
      expect(sellers[0]!.simulator.calls.quote).toBe(4)
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false })), Effect.scoped)
  )

  it.live("batches requests for different ISBNs to a batch-capable seller", () =>
    Effect.gen(function* () {
      const sellers = yield* SimulatedSellers.startSellers([{ name: "batcher", stock: stock(1100), batch: true }])
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      const books = yield* Effect.forEach(isbns.slice(0, 5), (isbn) => engine.quotes(isbn, { currency: "EUR" }), { concurrency: "unbounded" })
      expect(books.every((book) => book.offers.length === 1)).toBe(true)
      expect(sellers[0]!.simulator.quoteCalls).toHaveLength(1)
      expect([...sellers[0]!.simulator.quoteCalls[0]!].sort()).toEqual([...isbns.slice(0, 5)].sort())
    }).pipe(Effect.provide(engineLayer({ batchWindowMillis: 30 })), Effect.scoped)
  )

  it.live("never asks disabled sellers; waits for a seller's rate budget, or reports it not asked by the deadline", () =>
    Effect.gen(function* () {
      const sellers = yield* SimulatedSellers.startSellers([
        { name: "off", stock: stock(1000) },
        { name: "slow-lane", stock: stock(1200) }
      ])
      const [off] = yield* register(sellers.slice(0, 1))
      yield* register(sellers.slice(1), { requestsPerSecond: 1, burst: 1 })
      yield* (yield* SellerDirectory.SellerDirectory).setStatus(off!.id, "disabled")
      const engine = yield* QuoteEngine.QuoteEngine
      const first = yield* engine.quotes(isbnA, { currency: "EUR" })
      const second = yield* engine.quotes(isbnB, { currency: "EUR", deadlineMillis: 200 })
      expect(first.outcomes.map((outcome) => outcome.sellerName)).toEqual(["slow-lane"])
      expect(second.outcomes[0]).toMatchObject({ status: "not_asked", reason: "rate_limited" })
      expect(sellers[0]!.simulator.calls.quote).toBe(0)
      expect(sellers[1]!.simulator.calls.quote).toBe(1)
      // With time to wait for the next token (1 per second), it is asked.
      const third = yield* engine.quotes(isbnB, { currency: "EUR" })
      expect(third.outcomes[0]).toMatchObject({ status: "offer" })
      expect(sellers[1]!.simulator.calls.quote).toBe(2)
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false })), Effect.scoped)
  )

  it.live("a call a request stopped waiting for still counts against the seller's concurrency until its permit expires; the request leaves the queue", () =>
    Effect.gen(function* () {
      // One call at a time, and it hangs: the first request's call takes the only permit, the second waits in the queue.
      const [seller] = yield* SimulatedSellers.startSellers([{ name: "one-at-a-time", stock: stock(1200), hangRate: 1 }])
      yield* register([seller!], { maxConcurrency: 1, timeoutMillis: 1_000 })
      const engine = yield* QuoteEngine.QuoteEngine
      const first = yield* Effect.forkChild(engine.quotes(isbnA, { currency: "EUR", deadlineMillis: 600 }))
      while (seller!.simulator.calls.quote === 0) yield* Effect.sleep(5)
      const queued = yield* engine.quotes(isbnB, { currency: "EUR", deadlineMillis: 300 })
      const sent = yield* Fiber.join(first)
      expect(sent.outcomes[0]).toMatchObject({ status: "deadline" })
      expect(queued.outcomes[0]).toMatchObject({ status: "not_asked", reason: "concurrency" })
      // Nobody is left waiting in the queue.
      expect([...(yield* engine.queueDepth).values()].reduce((sum, depth) => sum + depth, 0)).toBe(0)
      // The seller may still be working on the first call: no second call while its permit is out
      // (the seller's 1 s timeout + 2 s after admission), then the next one goes.
      const next = yield* engine.quotes(isbns[2]!, { currency: "EUR", deadlineMillis: 300 })
      expect(next.outcomes[0]).toMatchObject({ status: "not_asked", reason: "concurrency" })
      expect(seller!.simulator.calls.quote).toBe(1)
      // The first call was interrupted, not left to run into its own 1 s timeout: its seller was not charged a failure.
      yield* Effect.sleep(600)
      const sellerId = (yield* (yield* SellerDirectory.SellerDirectory).active)[0]!.id
      expect((yield* (yield* SharedState.SharedState).circuit(sellerId)).consecutiveFailures).toBe(0)
      const later = yield* engine.quotes(isbns[3]!, { currency: "EUR", deadlineMillis: 4_000 })
      expect(later.outcomes[0]).toMatchObject({ status: "error", reason: "timeout" })
      expect(seller!.simulator.calls.quote).toBe(2)
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false })), Effect.scoped)
  )

  describe("stragglers", () => {
    // 19 quick sellers and one that hangs: 95 % of 20 is 19, so the quorum is everyone but it.
    const twenty = (timeoutMillis: number) =>
      Effect.gen(function* () {
        const quick = Array.from({ length: 19 }, (_, index) => ({ name: `quick-${index}`, stock: stock(1500 + index) }))
        const sellers = yield* SimulatedSellers.startSellers([...quick, { name: "hanging", stock: stock(900), hangRate: 1 }])
        yield* register(sellers, { timeoutMillis })
        return sellers
      })

    it.live("stops waiting for the last seller once 95 % have answered and the grace has passed", () =>
      Effect.gen(function* () {
        // The grace ends at twice the quorum's time at most: far inside the hanging seller's 5 s timeout.
        const sellers = yield* twenty(5_000)
        const book = yield* (yield* QuoteEngine.QuoteEngine).quotes(isbnA, { currency: "EUR" })
        expect(book.offers).toHaveLength(19)
        const hanging = book.outcomes.find((outcome) => outcome.sellerName === "hanging")!
        expect(hanging).toMatchObject({ status: "deadline", reason: "straggler" })
        expect(sellers.every((seller) => seller.simulator.calls.quote === 1)).toBe(true)
        // Its health shows a call that did not answer in time.
        expect(yield* Metrics.recentCalls(hanging.sellerId)).toMatchObject({ answered: 0, failed: 1 })
        expect((yield* (yield* QuoteEngine.QuoteEngine).sellerStats(hanging.sellerId)).reliability).toBeLessThan(1)
      }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false })), Effect.scoped)
    )

    it.live("with stragglers: false, the fan-out waits for the seller's own timeout", () =>
      Effect.gen(function* () {
        yield* twenty(1_000)
        const book = yield* (yield* QuoteEngine.QuoteEngine).quotes(isbnA, { currency: "EUR" })
        expect(book.offers).toHaveLength(19)
        expect(book.outcomes.find((outcome) => outcome.sellerName === "hanging")).toMatchObject({ status: "error", reason: "timeout" })
      }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false, stragglers: false })), Effect.scoped)
    )

    it.live("below the quorum's size every seller is waited for", () =>
      Effect.gen(function* () {
        const sellers = yield* SimulatedSellers.startSellers([
          { name: "quick", stock: stock(1500) },
          { name: "hanging", stock: stock(900), hangRate: 1 }
        ])
        yield* register(sellers, { timeoutMillis: 500 })
        const book = yield* (yield* QuoteEngine.QuoteEngine).quotes(isbnA, { currency: "EUR" })
        expect(book.outcomes.find((outcome) => outcome.sellerName === "hanging")).toMatchObject({ status: "error", reason: "timeout" })
      }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false })), Effect.scoped)
    )
  })
})
