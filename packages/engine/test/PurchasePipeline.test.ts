/**
 * The purchase pipeline against real PostgreSQL, simulated sellers over HTTP and the sandbox
 * payment ledger: every promise about money as its own test.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Exit } from "effect"
import * as Purchases from "../src/purchases/Purchases.js"
import type { CrashPoint } from "../src/purchases/CrashPoints.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [isbn, other] = generateIsbns({ size: 2, seed: 404 }) as [Isbn.Isbn13, Isbn.Isbn13]
const faults = new SandboxGateway.SandboxFaults()
const Infrastructure = Harness.infrastructure(faults)

const sellers = (specs: ReadonlyArray<Harness.SimulatedSellers.SimulatedSellerSpec>) =>
  Effect.tap(Harness.SimulatedSellers.startSellers(specs), (running) => Harness.register(running))

const ordersFor = (fleet: ReadonlyArray<Harness.SimulatedSellers.RunningSeller>, requestId: string) =>
  fleet.flatMap((seller) => seller.simulator.orders.filter((order) => order.buyerReference === requestId).map((order) => ({ seller: seller.name, ...order })))

describe("PurchasePipeline", () => {
  it.live("buys from the cheapest seller within the maximum and charges its real price", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([
        { name: "dear", stock: [{ isbn, price: 2400, shipping: 0, quantity: 3 }] },
        { name: "cheap", stock: [{ isbn, price: 1500, quantity: 3 }] },
        { name: "mid", stock: [{ isbn, price: 1800, quantity: 3 }] }
      ])
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1500)
      expect(ordersFor(fleet, id).map((order) => order.seller)).toEqual(["cheap"])
      expect(yield* Harness.ledger(id)).toEqual([{ id: expect.any(String), status: "captured", authorized: "3000", captured: "1500" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("moves to the next cheapest when the cheapest sells out, prices above the maximum, or fails", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([
        { name: "sold-out", stock: [{ isbn, price: 1000, quantity: 3 }] },
        { name: "repriced", stock: [{ isbn, price: 1100, quantity: 3 }], priceDrift: { probability: 0, maxMinor: 5_000 } },
        { name: "broken", stock: [{ isbn, price: 1200, quantity: 3 }] },
        { name: "fine", stock: [{ isbn, price: 1900, quantity: 3 }] }
      ])
      fleet[0]!.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      fleet[1]!.simulator.inject({ operation: "hold", kind: "price_changed" })
      // A 500 may have taken the hold: it is asked for once more under its key, and fails again.
      fleet[2]!.simulator.inject({ operation: "hold", kind: "server_error", times: 2 })
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 2500)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1900)
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status, attempt.reason])).toEqual([
        ["sold-out", "failed", "rejected:out_of_stock"],
        ["repriced", "failed", "held_price_above_max"],
        ["broken", "failed", "unavailable:server_error"],
        ["fine", "confirmed", null]
      ])
      expect(ordersFor(fleet, id).map((order) => order.seller)).toEqual(["fine"])
      expect(fleet[2]!.simulator.calls.hold).toBe(2)
      expect((yield* Harness.ledger(id))[0]).toMatchObject({ status: "captured", captured: "1900" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("answers with a counter-offer above the maximum, voids, and buys when it is accepted", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([
        { name: "pricey", stock: [{ isbn, price: 3500, quantity: 2 }] },
        { name: "priciest", stock: [{ isbn, price: 4200, quantity: 2 }] }
      ])
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      const offered = yield* Harness.runUntilDone(worker, id)
      expect(offered.status).toBe("price_not_met")
      expect(offered.counterOffer).toMatchObject({ sellerName: "pricey", price: { amount: 3500, currency: "EUR" } })
      expect(Date.parse(offered.counterOffer!.expiresAt)).toBeGreaterThan(Date.now())
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "voided", captured: "0" }])

      const purchases = yield* Purchases.Purchases
      const accepted = yield* purchases.acceptCounterOffer(id, "customer-1", "tok_approve")
      expect(accepted.status).toBe("received")
      const again = yield* Effect.flip(purchases.acceptCounterOffer(id, "customer-1", "tok_approve"))
      expect(again._tag).toBe("CounterOfferNotAvailable")
      const bought = yield* Harness.runUntilDone(worker, id)
      expect(bought.status).toBe("purchased")
      expect(bought.finalPrice?.amount).toBe(3500)
      expect(ordersFor(fleet, id).map((order) => order.seller)).toEqual(["pricey"])
      expect(yield* Harness.ledger(id)).toMatchObject([
        { status: "voided", authorized: "3000", captured: "0" },
        { status: "captured", authorized: "3500", captured: "3500" }
      ])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("answers not_available when nobody has the book, and voids the authorization", () =>
    Effect.gen(function* () {
      yield* sellers([
        { name: "other-books", stock: [{ isbn: other, price: 900, quantity: 1 }] },
        { name: "sold-out", stock: [{ isbn, price: 900, quantity: 0 }] }
      ])
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view).toMatchObject({ status: "not_available", reason: "no_offers" })
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "voided", captured: "0" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("fails a declined payment and does nothing else", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([{ name: "cheap", stock: [{ isbn, price: 1000, quantity: 1 }] }])
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000, { paymentToken: "tok_decline" })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view).toMatchObject({ status: "failed", reason: "payment_declined: generic_decline" })
      expect(fleet[0]!.simulator.calls.quote).toBe(0)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "declined", captured: "0" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("resolves a lost purchase response with the same key: one order, no move to another seller", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([
        { name: "lossy", stock: [{ isbn, price: 1000, quantity: 3 }] },
        { name: "backup", stock: [{ isbn, price: 1100, quantity: 3 }] }
      ])
      fleet[0]!.simulator.inject({ operation: "purchase", kind: "lost_response" })
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status])).toEqual([
        ["lossy", "confirmed"],
        ["backup", "not_tried"]
      ])
      expect(ordersFor(fleet, id).map((order) => order.seller)).toEqual(["lossy"])
      expect(fleet[0]!.simulator.calls.purchase).toBe(2)
      expect(fleet[1]!.simulator.calls.hold + fleet[1]!.simulator.calls.purchase).toBe(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("survives lost payment answers: authorization and capture retried with the same keys", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "cheap", stock: [{ isbn, price: 1000, quantity: 3 }] }])
      faults.inject("authorize", "lost_response")
      faults.inject("capture", "lost_response", 4)
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "captured", authorized: "3000", captured: "1000" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  for (const point of ["authorize", "quote", "hold", "purchase", "capture"] as const satisfies ReadonlyArray<CrashPoint>) {
    it.live(`a worker killed right after ${point} leaves a request another worker finishes: one order, one charge`, () =>
      Effect.gen(function* () {
        const fleet = yield* sellers([
          { name: "cheap", stock: [{ isbn, price: 1200, quantity: 3 }] },
          { name: "second", stock: [{ isbn, price: 1300, quantity: 3 }] }
        ])
        let crashed = false
        const doomed = yield* Harness.worker("doomed", {
          pipeline: { leaseMillis: 400 },
          crashAt: (at) => {
            if (at !== point || crashed) return false
            crashed = true
            return true
          }
        })
        const survivor = yield* Harness.worker("survivor", { pipeline: { leaseMillis: 400 } })
        const { id } = yield* Harness.submit(isbn, 3000)
        const exit = yield* Effect.exit(doomed.runOnce)
        expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/SimulatedCrash/)
        expect(crashed).toBe(true)
        // The survivor can't touch the request until the dead worker's lease runs out.
        expect(yield* survivor.runOnce).toEqual([])
        yield* Effect.sleep(450)
        const view = yield* Harness.runUntilDone(survivor, id)
        expect(view.status).toBe("purchased")
        expect(view.finalPrice?.amount).toBe(1200)
        expect(ordersFor(fleet, id).map((order) => order.seller)).toEqual(["cheap"])
        const ledger = yield* Harness.ledger(id)
        expect(ledger).toMatchObject([{ status: "captured", authorized: "3000", captured: "1200" }])
        const sql = yield* SqlClient.SqlClient
        const transitions = yield* sql<{ to_status: string }>`SELECT to_status FROM state_transitions WHERE request_id = ${id} ORDER BY id`
        expect(new Set(transitions.map((t) => t.to_status)).size).toBe(transitions.length)
      }).pipe(Effect.provide(Infrastructure))
    )
  }

  it.live("a request whose capture is recorded but which is not purchased yet finishes as purchased, without charging again", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([{ name: "cheap", stock: [{ isbn, price: 1200, quantity: 3 }] }])
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      expect((yield* Harness.runUntilDone(worker, id)).status).toBe("purchased")
      // What a worker stopping between the capture and `purchased` left behind when they were two
      // transactions: the capture settled, the authorization ended, the request still purchasing.
      const sql = yield* SqlClient.SqlClient
      yield* sql`DELETE FROM outbox WHERE request_id = ${id}`
      yield* sql`DELETE FROM state_transitions WHERE request_id = ${id} AND to_status = 'purchased'`
      yield* sql`
        UPDATE purchase_requests
        SET status = 'purchasing', final_amount = NULL, seller_id = NULL, order_id = NULL, completed_at = NULL,
            lease_owner = NULL, lease_expires_at = NULL, next_run_at = now()
        WHERE id = ${id}`
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view).toMatchObject({ status: "purchased", reason: null, finalPrice: { amount: 1200 }, orderId: expect.any(String) })
      expect(ordersFor(fleet, id)).toHaveLength(1)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "captured", authorized: "3000", captured: "1200" }])
      const captures = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM payment_operations WHERE request_id = ${id} AND kind = 'capture'`
      expect(captures[0]!.n).toBe(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("holds and orders wait for a permit within the seller's limits, like quotes: the seller counts no call over them", () =>
    Effect.gen(function* () {
      // The seller allows one call every 400 ms, no burst: without a permit the hold would follow the quote
      // at once and be refused. bookbroker is registered at half that rate (a call every 800 ms), so the
      // calls it spaces out reach the seller 400 ms apart even when a loaded machine delays one of them.
      const fleet = yield* Harness.SimulatedSellers.startSellers([{ name: "strict", stock: [{ isbn, price: 1200, quantity: 3 }], rateLimit: { requestsPerSecond: 2.5, burst: 1 } }])
      yield* Harness.register(fleet, { requestsPerSecond: 1.25, burst: 1 })
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status])).toEqual([["strict", "confirmed"]])
      expect(fleet[0]!.simulator.calls).toMatchObject({ quote: 1, hold: 1, purchase: 1 })
      expect(fleet[0]!.simulator.violations).toEqual({ rate: 0, concurrency: 0 })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("two workers share the queue without ever processing one request twice", () =>
    Effect.gen(function* () {
      const isbns = generateIsbns({ size: 12, seed: 5 }) as ReadonlyArray<Isbn.Isbn13>
      const fleet = yield* sellers([
        { name: "a", stock: isbns.map((book) => ({ isbn: book, price: 1000, quantity: 50 })), latency: { medianMillis: 15 } },
        { name: "b", stock: isbns.map((book) => ({ isbn: book, price: 1100, quantity: 50 })), latency: { medianMillis: 15 } }
      ])
      const first = yield* Harness.worker("first")
      const second = yield* Harness.worker("second")
      const ids = yield* Effect.forEach(isbns, (book) => Effect.map(Harness.submit(book, 3000), (accepted) => accepted.id))
      const purchases = yield* Purchases.Purchases
      const drain = (worker: typeof first) =>
        Effect.gen(function* () {
          for (let round = 0; round < 300; round++) {
            const views = yield* Effect.forEach(ids, (id) => purchases.get(id))
            if (views.every((view) => view.terminal)) return
            if ((yield* worker.runOnce).length === 0) yield* Effect.sleep(10)
          }
        })
      yield* Effect.all([drain(first), drain(second)], { concurrency: "unbounded" })
      const sql = yield* SqlClient.SqlClient
      for (const id of ids) {
        expect((yield* purchases.get(id)).status).toBe("purchased")
        expect(ordersFor(fleet, id)).toHaveLength(1)
        const transitions = yield* sql<{ to_status: string; actor: string }>`SELECT to_status, actor FROM state_transitions WHERE request_id = ${id} ORDER BY id`
        expect(transitions.map((t) => t.to_status)).toEqual(["received", "authorized", "quoting", "deciding", "purchasing", "purchased"])
      }
      const actors = yield* sql<{ actor: string }>`SELECT DISTINCT actor FROM state_transitions WHERE actor <> 'intake'`
      expect(actors.map((row) => row.actor).sort()).toEqual(["first", "second"])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("never says not available when the book is offered in another currency: the ending names it", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([
        { name: "paris", currency: "EUR", stock: [{ isbn, price: 1250, shipping: 0, quantity: 2 }] },
        { name: "lyon", currency: "EUR", stock: [{ isbn, price: 1400, shipping: 0, quantity: 2 }] }
      ])
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(isbn, 3000, { currency: "USD" })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("not_available")
      expect(view.reason).toBe("offered_in_other_currency: 12.50 EUR from paris (2 sellers); not comparable with USD prices")
      expect(ordersFor(fleet, id)).toEqual([])
      expect((yield* Harness.ledger(id))[0]).toMatchObject({ status: "voided" })
    }).pipe(Effect.provide(Infrastructure))
  )
})
