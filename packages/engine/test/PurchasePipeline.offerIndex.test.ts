/**
 * The purchase pipeline over the offer index: indexed prices are confirmed with their sellers
 * before buying, and when every confirmed offer fails at purchase the next ones the index knows
 * of are confirmed and tried before the request may end without a purchase.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as InventoryUploads from "../src/inventory/InventoryUploads.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [isbn] = generateIsbns({ size: 1, seed: 1717 }) as [Isbn.Isbn13]
const Infrastructure = InventoryUploads.layer().pipe(Layer.provideMerge(Harness.infrastructure(new SandboxGateway.SandboxFaults())))

/** Sellers with a fresh inventory snapshot listing `isbn` at their stock's price. */
const feedSellers = (prices: ReadonlyArray<number>, limits: Record<string, number> = {}) =>
  Effect.gen(function* () {
    const fleet = yield* Harness.SimulatedSellers.startSellers(prices.map((price, i) => ({ name: `feed-${i}`, stock: [{ isbn, price, shipping: 0, quantity: 1 }] })))
    const registered = yield* Harness.register(fleet, limits)
    const uploads = yield* InventoryUploads.InventoryUploads
    yield* Effect.forEach(registered, (seller, i) => {
      const file = `listingid\tisbn\tprice\tquantity\tbookcondition\nL${i}\t${isbn}\t${(prices[i]! / 100).toFixed(2)}\t1\tNew\n`
      return uploads.upload(seller.id, { mode: "snapshot", format: "tsv", currency: "EUR" }, Stream.make(new TextEncoder().encode(file)))
    })
    return fleet
  })

const calls = (fleet: ReadonlyArray<Harness.SimulatedSellers.RunningSeller>, operation: "quote" | "hold" | "purchase") =>
  fleet.map((seller) => seller.simulator.calls[operation])

describe("PurchasePipeline over the offer index", () => {
  it.live("confirms only the best indexed offers, and buys the cheapest", () =>
    Effect.gen(function* () {
      const fleet = yield* feedSellers([1000, 1100, 1200, 1300])
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const { id } = yield* Harness.submit(isbn, 2000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1000)
      // Two confirmed (one to buy, one to fall back to); the others never asked.
      expect(calls(fleet, "quote")).toEqual([1, 1, 0, 0])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("walks on to offers the index knows of when every confirmed offer fails at purchase", () =>
    Effect.gen(function* () {
      const fleet = yield* feedSellers([1000, 1100, 1200, 1300, 1400])
      for (const seller of fleet.slice(0, 3)) seller.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const { id } = yield* Harness.submit(isbn, 2000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1300)
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status])).toEqual([
        ["feed-0", "failed"],
        ["feed-1", "failed"],
        ["feed-2", "failed"],
        ["feed-3", "confirmed"]
      ])
      // The last one was never needed.
      expect(calls(fleet, "quote")).toEqual([1, 1, 1, 1, 0])
      expect(fleet.flatMap((seller) => seller.simulator.orders.map(() => seller.name))).toEqual(["feed-3"])
      expect((yield* Harness.ledger(id))[0]).toMatchObject({ status: "captured", captured: "1300" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("ends only once every offer the index knew of within the maximum was tried, with a true counter-offer", () =>
    Effect.gen(function* () {
      const fleet = yield* feedSellers([1000, 1100, 1200, 2500, 2600])
      for (const seller of fleet.slice(0, 3)) seller.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const { id } = yield* Harness.submit(isbn, 2000)
      const view = yield* Harness.runUntilDone(worker, id)
      // The index knows of a copy above the maximum: confirmed, it is the counter-offer (never "not available").
      expect(view.status).toBe("price_not_met")
      expect(view.counterOffer).toMatchObject({ sellerName: "feed-3", price: { amount: 2500, currency: "EUR" } })
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status])).toEqual([
        ["feed-0", "failed"],
        ["feed-1", "failed"],
        ["feed-2", "failed"]
      ])
      expect(calls(fleet, "purchase")).toEqual([0, 0, 0, 0, 0])
      expect(calls(fleet, "quote").slice(0, 4)).toEqual([1, 1, 1, 1])
      expect((yield* Harness.ledger(id))[0]).toMatchObject({ status: "voided" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("ends not_available when every copy the index knew of is gone", () =>
    Effect.gen(function* () {
      const fleet = yield* feedSellers([1000, 1100, 1200])
      for (const seller of fleet) seller.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const { id } = yield* Harness.submit(isbn, 2000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("not_available")
      expect(view.attempts.map((attempt) => attempt.status)).toEqual(["failed", "failed", "failed"])
      expect(calls(fleet, "quote")).toEqual([1, 1, 1])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("asks the offers the index knows of before answering sellers_busy when the cheapest sellers were too slow to confirm", () =>
    Effect.gen(function* () {
      // The sellers' own timeout is longer than the time given to confirming: the slow ones use it all up.
      const fleet = yield* feedSellers([1000, 1100, 1200, 1300], { timeoutMillis: 30_000 })
      for (const seller of fleet.slice(0, 2)) seller.simulator.setLatency({ medianMillis: 60_000 })
      const worker = yield* Harness.worker("w1", { offerIndex: true, pipeline: { quoteDeadlineMillis: 3_000 } })
      const { id } = yield* Harness.submit(isbn, 2000, { answerWithinMillis: 3_500 })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1200)
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status])).toEqual([
        ["feed-2", "confirmed"],
        ["feed-3", "not_tried"]
      ])
      for (const seller of fleet) seller.simulator.setLatency(undefined)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("asks the cheapest again when its confirming call failed, rather than buying dearer", () =>
    Effect.gen(function* () {
      const fleet = yield* feedSellers([1000, 1100, 1200, 1300])
      fleet[0]!.simulator.inject({ operation: "quote", kind: "server_error" })
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const { id } = yield* Harness.submit(isbn, 2000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1000)
      expect(calls(fleet, "quote")).toEqual([2, 1, 0, 0])
    }).pipe(Effect.provide(Infrastructure))
  )
})
