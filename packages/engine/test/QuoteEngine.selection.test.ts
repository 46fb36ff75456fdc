/**
 * Seller selection in the fan-out, with a threshold low enough for a handful of simulated
 * sellers over real HTTP: who is asked, in which wave, and what the fan-out remembers.
 * Sellers answer after an exact latency, so "called by now" tells the waves apart.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../src/quotes/QuoteEngine.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../src/testing/index.js"

const isbns = generateIsbns({ size: 4, seed: 1234 }) as ReadonlyArray<Isbn.Isbn13>
const [isbnA, isbnB] = isbns as [Isbn.Isbn13, Isbn.Isbn13]

const Infrastructure = Layer.mergeAll(
  SecretBox.layer(Redacted.make(SecretBox.generateKey())),
  AdapterRegistry.layer([referenceAdapter]),
  // The simulated sellers run on this machine.
  OutboundAddress.layerLoopback
).pipe(Layer.provideMerge(TestDatabase.layer))

const engineLayer = (options: QuoteEngine.QuoteEngineOptions) =>
  QuoteEngine.layer(options).pipe(
    Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 60_000 }), SellerPool.layer(), SharedState.layerMemory())),
    Layer.provideMerge(Infrastructure)
  )

/** Answers after exactly `millis`. */
const exactly = (millis: number) => ({ medianMillis: millis, tailProbability: 1, tailMaxMillis: millis })

/** Six sellers: four carry isbnA (s2 cheapest), two carry nothing. */
const sixSellers = (latencyMillis: number) =>
  SimulatedSellers.startSellers(
    [
      { name: "s0", price: 2_000 },
      { name: "s1", price: 1_500 },
      { name: "s2", price: 1_200 },
      { name: "s3", price: 1_800 },
      { name: "s4", price: undefined },
      { name: "s5", price: undefined }
    ].map(({ name, price }) => ({
      name,
      latency: exactly(latencyMillis),
      stock: price === undefined ? [] : isbns.map((isbn) => ({ isbn, price, quantity: 5 }))
    }))
  )

const register = SimulatedSellers.registerActive

/** Names of the sellers whose quote calls grew since `before`. */
const calledSince = (sellers: ReadonlyArray<SimulatedSellers.RunningSeller>, before: ReadonlyArray<number>) =>
  sellers.filter((seller, i) => seller.simulator.calls.quote > before[i]!).map((seller) => seller.name).sort()

const counts = (sellers: ReadonlyArray<SimulatedSellers.RunningSeller>) => sellers.map((seller) => seller.simulator.calls.quote)

const statusOf = (book: QuoteEngine.OfferBook) =>
  Object.fromEntries(book.outcomes.map((outcome) => [outcome.sellerName, `${outcome.status}${outcome.reason === undefined ? "" : `/${outcome.reason}`}`]))

describe("QuoteEngine with seller selection", () => {
  it.live("asks a limited set in waves, leaves the rest not_selected, then asks the cheapest known carriers first", () =>
    Effect.gen(function* () {
      const sellers = yield* sixSellers(300)
      const registered = yield* register(sellers)
      const nameOf = new Map(registered.map((seller) => [seller.id, seller.name]))
      const engine = yield* QuoteEngine.QuoteEngine
      const state = yield* SharedState.SharedState

      // First request, nothing known: 4 of 6 asked, two waves of two, one after the other.
      const first = yield* Effect.forkChild(engine.quotes(isbnA, { currency: "EUR" }))
      yield* Effect.sleep(150)
      const wave1 = calledSince(sellers, [0, 0, 0, 0, 0, 0])
      expect(wave1).toHaveLength(2)
      const book = yield* Fiber.join(first)
      const asked = calledSince(sellers, [0, 0, 0, 0, 0, 0])
      expect(asked).toHaveLength(4)
      expect(asked).toEqual(expect.arrayContaining(wave1))
      expect(book.durationMillis).toBeGreaterThanOrEqual(600)
      const statuses = statusOf(book)
      const notSelected = Object.keys(statuses).filter((name) => statuses[name] === "skipped/not_selected").sort()
      expect(notSelected).toEqual(sellers.map((seller) => seller.name).filter((name) => !asked.includes(name)))
      for (const name of asked) expect(["offer", "unavailable/not_carried"]).toContain(statuses[name])

      // What it found is now the ISBN's carrier history, cheapest first.
      const history = yield* state.carriers(isbnA, 64)
      expect(history.map((carrier) => [nameOf.get(carrier.sellerId), carrier.total])).toEqual(
        book.offers.map((offer) => [offer.sellerName, offer.total.amount])
      )
      // Any four of the six include at least two of the four carriers.
      expect(history.length).toBeGreaterThanOrEqual(2)

      // History counts more than stats: for isbnB, history (as another process would have written
      // it) names the two sellers never asked, whose stats alone rank them after the carriers above.
      const strangers = registered.filter((seller) => notSelected.includes(seller.name))
      yield* state.recordCarriers(isbnB, strangers.map((seller, i) => ({ sellerId: seller.id, total: 1_000 + i })))
      const beforeB = counts(sellers)
      const forB = yield* Effect.forkChild(engine.quotes(isbnB, { currency: "EUR" }))
      yield* Effect.sleep(150)
      expect(calledSince(sellers, beforeB)).toEqual(notSelected)
      const bookB = statusOf(yield* Fiber.join(forB))
      // A known carrier that answers it doesn't have the book is forgotten; one that offers it keeps its real total.
      const historyB = new Map((yield* state.carriers(isbnB, 64)).map((carrier) => [nameOf.get(carrier.sellerId), carrier.total]))
      for (const seller of strangers) {
        if (bookB[seller.name] === "offer") expect(historyB.get(seller.name)).toBeGreaterThan(1_100)
        else expect(historyB.has(seller.name)).toBe(false)
      }

      // Second request for isbnA: wave 1 is its two cheapest known carriers.
      const before = counts(sellers)
      const second = yield* Effect.forkChild(engine.quotes(isbnA, { currency: "EUR" }))
      yield* Effect.sleep(150)
      expect(calledSince(sellers, before)).toEqual([nameOf.get(history[0]!.sellerId)!, nameOf.get(history[1]!.sellerId)!].sort())
      const again = yield* Fiber.join(second)
      expect(again.outcomes.filter((outcome) => outcome.reason === "not_selected")).toHaveLength(2)

      // Once everyone has been tried the cheapest carrier of all is known and leads wave 1.
      for (let i = 0; i < 4 && !(yield* state.carriers(isbnA, 64)).some((carrier) => nameOf.get(carrier.sellerId) === "s2"); i++) {
        yield* engine.quotes(isbnA, { currency: "EUR" })
      }
      expect(nameOf.get((yield* state.carriers(isbnA, 64))[0]!.sellerId)).toBe("s2")
      const last = counts(sellers)
      const third = yield* Effect.forkChild(engine.quotes(isbnA, { currency: "EUR" }))
      yield* Effect.sleep(150)
      expect(calledSince(sellers, last)).toContain("s2")
      expect((yield* Fiber.join(third)).offers[0]?.sellerName).toBe("s2")
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false, selection: { threshold: 3, waveSize: 2, maxSellers: 4, waveIntervalMillis: 10_000 } })), Effect.scoped)
  )

  it.live("asks everyone at once and keeps no history at or below the threshold", () =>
    Effect.gen(function* () {
      const sellers = yield* sixSellers(300)
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      const state = yield* SharedState.SharedState
      const fiber = yield* Effect.forkChild(engine.quotes(isbnA, { currency: "EUR" }))
      yield* Effect.sleep(150)
      expect(calledSince(sellers, [0, 0, 0, 0, 0, 0])).toHaveLength(6)
      const book = yield* Fiber.join(fiber)
      expect(book.offers.map((offer) => offer.sellerName)).toEqual(["s2", "s1", "s3", "s0"])
      expect(book.outcomes.some((outcome) => outcome.reason === "not_selected")).toBe(false)
      expect(yield* state.carriers(isbnA, 64)).toEqual([])
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false, selection: { threshold: 6, waveSize: 2, maxSellers: 4 } })), Effect.scoped)
  )

  it.live("starts the next wave after waveIntervalMillis when the previous one is still out", () =>
    Effect.gen(function* () {
      const sellers = yield* sixSellers(1_500)
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      const fiber = yield* Effect.forkChild(engine.quotes(isbnA, { currency: "EUR" }))
      const none = [0, 0, 0, 0, 0, 0]
      yield* Effect.sleep(200)
      expect(calledSince(sellers, none)).toHaveLength(2)
      yield* Effect.sleep(400)
      expect(calledSince(sellers, none)).toHaveLength(4)
      yield* Effect.sleep(400)
      expect(calledSince(sellers, none)).toHaveLength(6)
      const book = yield* Fiber.join(fiber)
      expect(book.offers.map((offer) => offer.sellerName)).toEqual(["s2", "s1", "s3", "s0"])
      // Overlapping waves: well under three waves back to back.
      expect(book.durationMillis).toBeLessThan(3_500)
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false, selection: { threshold: 3, waveSize: 2, maxSellers: 6, waveIntervalMillis: 400 } })), Effect.scoped)
  )

  it.live("starts no wave when the deadline leaves less than its sellers' timeout", () =>
    Effect.gen(function* () {
      const sellers = yield* sixSellers(300)
      yield* register(sellers, { timeoutMillis: 1_000 })
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbnA, { currency: "EUR", deadlineMillis: 1_200 })
      // Wave 1 is back after ~300 ms; ~900 ms are left, less than the 1,000 ms timeout.
      expect(calledSince(sellers, [0, 0, 0, 0, 0, 0])).toHaveLength(2)
      expect(book.outcomes.filter((outcome) => outcome.reason === "not_selected")).toHaveLength(4)
      expect(book.durationMillis).toBeLessThan(1_000)
    }).pipe(Effect.provide(engineLayer({ cache: false, coalesce: false, selection: { threshold: 3, waveSize: 2, maxSellers: 6, waveIntervalMillis: 10_000 } })), Effect.scoped)
  )

  it.live("a request that shares another's fan-out reports the sellers the leader did not select as not selected", () =>
    Effect.gen(function* () {
      const sellers = yield* sixSellers(200)
      yield* register(sellers)
      const engine = yield* QuoteEngine.QuoteEngine
      const [leader, follower] = yield* Effect.all([engine.quotes(isbnB, { currency: "EUR" }), engine.quotes(isbnB, { currency: "EUR" })], {
        concurrency: "unbounded"
      })
      expect(counts(sellers).reduce((a, b) => a + b, 0)).toBe(4)
      expect([leader.coalesced, follower.coalesced].sort()).toEqual([false, true])
      const shared = leader.coalesced ? leader : follower
      expect(shared.outcomes.filter((outcome) => outcome.status === "skipped" && outcome.reason === "not_selected")).toHaveLength(2)
      expect(shared.offers.map((offer) => offer.total.amount)).toEqual((leader.coalesced ? follower : leader).offers.map((offer) => offer.total.amount))
    }).pipe(Effect.provide(engineLayer({ selection: { threshold: 3, waveSize: 2, maxSellers: 4 } })), Effect.scoped)
  )
})
