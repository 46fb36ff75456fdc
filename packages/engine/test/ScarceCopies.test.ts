/**
 * Scarce copies, first come first served: the rules alone, then a surge over real PostgreSQL and
 * simulated sellers over HTTP — many requests for one book with few copies, two workers: the
 * earliest get the copies, the sellers are asked once per copy, the rest end not_available; and
 * the same with the cheapest seller rate-limited, its limit shared by the two workers through Redis.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Purchases from "../src/purchases/Purchases.js"
import * as ScarceCopies from "../src/purchases/ScarceCopies.js"
import * as SharedState from "../src/state/SharedState.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

describe("ScarceCopies rules", () => {
  it("counts the copies only when every offer says", () => {
    expect(ScarceCopies.copiesOffered([2, 1])).toBe(3)
    expect(ScarceCopies.copiesOffered([2, null])).toBeUndefined()
    expect(ScarceCopies.copiesOffered([])).toBe(0)
  })

  it("waits while as many earlier requests as copies are in progress, for a while", () => {
    const wait = (earlier: number, copies: number | undefined, waitedMillis = 0) => ScarceCopies.waitsForEarlier({ earlier, copies, waitedMillis, maxWaitMillis: 10_000 })
    expect(wait(3, 3)).toBe(true)
    expect(wait(2, 3)).toBe(false)
    // Copies gone (or counted gone) while earlier ones are still at it: wait; nobody earlier: go on.
    expect(wait(1, 0)).toBe(true)
    expect(wait(1, -2)).toBe(true)
    expect(wait(0, 0)).toBe(false)
    expect(wait(9, undefined)).toBe(false)
    expect(wait(3, 3, 10_000)).toBe(false)
  })

  it("a copy is known gone when the seller said so, or as many were sold as it had, since this request was quoted", () => {
    expect(ScarceCopies.knownSoldOut(2, { sold: 0, saidSoldOut: true })).toBe(true)
    expect(ScarceCopies.knownSoldOut(2, { sold: 2, saidSoldOut: false })).toBe(true)
    expect(ScarceCopies.knownSoldOut(2, { sold: 1, saidSoldOut: false })).toBe(false)
    expect(ScarceCopies.knownSoldOut(null, { sold: 5, saidSoldOut: false })).toBe(false)
  })

  it("nothing is left to wait for once every copy within the maximum is known gone since the quotes", () => {
    const gone = { sold: 1, saidSoldOut: false }
    const there = { sold: 0, saidSoldOut: false }
    expect(ScarceCopies.everyCopyKnownGone([{ quantity: 1, since: gone }, { quantity: 3, since: { sold: 0, saidSoldOut: true } }])).toBe(true)
    // One seller may still have a copy: an earlier request may take it, so the wait stands.
    expect(ScarceCopies.everyCopyKnownGone([{ quantity: 1, since: gone }, { quantity: 1, since: there }])).toBe(false)
    expect(ScarceCopies.everyCopyKnownGone([{ quantity: 2, since: gone }])).toBe(false)
    expect(ScarceCopies.everyCopyKnownGone([{ quantity: null, since: gone }])).toBe(false)
    expect(ScarceCopies.everyCopyKnownGone([])).toBe(false)
  })
})

const [isbn, surgeIsbn] = generateIsbns({ size: 2, seed: 5151 }) as [Isbn.Isbn13, Isbn.Isbn13]
const Infrastructure = Harness.infrastructure(new SandboxGateway.SandboxFaults())

/**
 * 12 requests for `book`, one per customer, run by two workers (each its own "process" with
 * `more`) until every one has ended or `maxRounds` rounds of claims passed; their views, in the
 * order they arrived. However slow a loaded machine makes the earliest requests, the later ones
 * wait for them (`scarceCopyWaitMillis`).
 */
const surge = (book: Isbn.Isbn13, customers: string, more: Harness.HarnessOptions = {}, maxRounds = 400) =>
  Effect.gen(function* () {
    const options = { worker: { concurrency: 6 }, pipeline: { scarceCopyWaitMillis: 120_000 }, ...more }
    const w1 = yield* Harness.worker("w1", options)
    const w2 = yield* Harness.worker("w2", options)
    const ids: Array<string> = []
    for (let i = 0; i < 12; i++) ids.push((yield* Harness.submit(book, 2000, { customerId: `${customers}-${i}` })).id)
    const purchases = yield* Purchases.Purchases
    const views = () => Effect.forEach(ids, (id) => purchases.get(id))
    for (let round = 0; round < maxRounds; round++) {
      if ((yield* views()).every((view) => view.terminal)) break
      const [a, b] = yield* Effect.all([w1.runOnce, w2.runOnce], { concurrency: 2 })
      if (a.length + b.length === 0) yield* Effect.sleep(20)
    }
    return yield* views()
  })

describe("a surge for scarce copies", () => {
  it.live("the earliest requests get the copies, each seller is asked once per copy, the rest end not_available", () =>
    Effect.gen(function* () {
      // 3 copies: 2 at one seller, 1 at another; each hold takes a while, so requests overlap.
      const fleet = yield* Harness.SimulatedSellers.startSellers([
        { name: "two-copies", stock: [{ isbn, price: 1000, shipping: 0, quantity: 2 }], latency: { medianMillis: 40 } },
        { name: "one-copy", stock: [{ isbn, price: 1200, shipping: 0, quantity: 1 }], latency: { medianMillis: 40 } }
      ])
      yield* Harness.register(fleet)
      const ended = yield* surge(isbn, "surge")
      expect(ended.every((view) => view.terminal)).toBe(true)
      // First come, first served: the three that arrived first.
      expect(ended.map((view) => view.status)).toEqual([...Array(3).fill("purchased"), ...Array(9).fill("not_available")])
      expect(fleet.flatMap((seller) => seller.simulator.orders)).toHaveLength(3)
      // Asked once per copy: the later requests learnt the copies were gone from the earlier ones.
      const holds = fleet.reduce((sum, seller) => sum + seller.simulator.calls.hold, 0)
      expect(holds).toBeLessThanOrEqual(4)
      // Each loser heard it from what the earlier ones learnt: every copy gone at once (no attempt
      // written), or attempts closed without a call, never a seller's "out of stock" per request.
      const losers = ended.filter((view) => view.status === "not_available")
      const toldAtOnce = losers.filter((view) => view.reason === ScarceCopies.everyCopyGoneReason)
      expect(toldAtOnce.every((view) => view.attempts.length === 0)).toBe(true)
      const skipped = ended.flatMap((view) => view.attempts).filter((attempt) => attempt.reason?.startsWith("sold_out:") === true)
      expect(toldAtOnce.length + skipped.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(Infrastructure))
  )
})

describe("a surge for scarce copies with the cheapest seller rate-limited", () => {
  it.live("the earliest still get the copies, the limited seller is never called beyond its limit, every request ends", () =>
    Effect.gen(function* () {
      const book = surgeIsbn
      // 4 copies: the cheapest seller has 2 and takes 3 calls a second (registered at 2/s);
      // every call beyond its bucket would be answered 429 and counted as a violation.
      const [limited, ...others] = yield* Harness.SimulatedSellers.startSellers([
        { name: "limited", stock: [{ isbn: book, price: 900, shipping: 0, quantity: 2 }], latency: { medianMillis: 20 }, rateLimit: { requestsPerSecond: 3, burst: 3 } },
        { name: "one-copy", stock: [{ isbn: book, price: 1100, shipping: 0, quantity: 1 }], latency: { medianMillis: 20 } },
        { name: "last-copy", stock: [{ isbn: book, price: 1300, shipping: 0, quantity: 1 }], latency: { medianMillis: 20 } }
      ])
      yield* Harness.register([limited!], { requestsPerSecond: 2, burst: 2 })
      yield* Harness.register(others)
      // Two worker processes: they share the seller's limit through Redis, as `serve` processes do.
      const sharedState = SharedState.layerRedis({ url: "redis://127.0.0.1:6379", keyPrefix: `bbtest-${randomUUID()}` })
      const ended = yield* surge(book, "limited-surge", { sharedState }, 2_000)
      expect(ended.every((view) => view.terminal)).toBe(true)
      // First come, first served, the rate limit notwithstanding: the four that arrived first.
      expect(ended.map((view) => view.status)).toEqual([...Array(4).fill("purchased"), ...Array(8).fill("not_available")])
      expect(limited!.simulator.orders).toHaveLength(2)
      expect(others.flatMap((seller) => seller.simulator.orders)).toHaveLength(2)
      expect(limited!.simulator.violations.rate).toBe(0)
    }).pipe(Effect.provide(Infrastructure))
  )
})

describe("a request whose copies went to earlier buyers since its quotes", () => {
  it.live("ends at its turn without asking any seller, its authorization voided", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const fleet = yield* Harness.SimulatedSellers.startSellers([{ name: "last-copy", stock: [{ isbn, price: 1000, shipping: 0, quantity: 1 }] }])
      yield* Harness.register(fleet)
      const w = yield* Harness.worker("w", { worker: { concurrency: 1 }, pipeline: { scarceCopyWaitMillis: 120_000 } })
      // Which request runs next is set by hand: only the request named is runnable.
      const runOnly = (id: string) =>
        Effect.gen(function* () {
          yield* sql`UPDATE purchase_requests SET next_run_at = CASE WHEN id = ${id} THEN now() ELSE now() + interval '1 hour' END`
          return yield* w.runOnce
        })
      const first = (yield* Harness.submit(isbn, 2000, { customerId: "first" })).id
      const second = (yield* Harness.submit(isbn, 2000, { customerId: "second" })).id
      const third = (yield* Harness.submit(isbn, 2000, { customerId: "third" })).id
      const purchases = yield* Purchases.Purchases
      // The third is quoted (the one copy) and waits: two requests that arrived before it are in progress.
      yield* runOnly(third)
      expect((yield* purchases.get(third)).status).toBe("deciding")
      // The first buys the copy.
      yield* runOnly(first)
      expect((yield* purchases.get(first)).status).toBe("purchased")
      const holdsBefore = fleet[0]!.simulator.calls.hold
      // The third's turn: the second is still in progress, but the copy it was quoted is known gone.
      yield* runOnly(third)
      const ended = yield* purchases.get(third)
      expect(ended.status).toBe("not_available")
      expect(ended.reason).toBe(ScarceCopies.everyCopyGoneReason)
      expect(ended.attempts).toEqual([])
      expect(fleet[0]!.simulator.calls.hold).toBe(holdsBefore)
      expect(fleet[0]!.simulator.orders).toHaveLength(1)
      expect((yield* Harness.ledger(third)).map((payment) => payment.status)).toEqual(["voided"])
      // The second, still in line, is not touched by it.
      expect((yield* purchases.get(second)).status).toBe("received")
    }).pipe(Effect.provide(Infrastructure))
  )
})

describe("a copy sold through the quote cache", () => {
  it.live("drops the seller's cached quote: the next request asks the seller instead of holding a copy that is gone", () =>
    Effect.gen(function* () {
      const fleet = yield* Harness.SimulatedSellers.startSellers([{ name: "one-copy", stock: [{ isbn, price: 1000, shipping: 0, quantity: 1 }] }])
      yield* Harness.register(fleet)
      const w = yield* Harness.worker("w", { quotes: { cache: true } })
      const seller = fleet[0]!.simulator
      const first = yield* Harness.runUntilDone(w, (yield* Harness.submit(isbn, 2000, { customerId: "first" })).id)
      expect(first.status).toBe("purchased")
      expect([seller.calls.quote, seller.calls.hold]).toEqual([1, 1])
      // Within the cache's 30 s: the quote that sold the copy is not reused.
      const second = yield* Harness.runUntilDone(w, (yield* Harness.submit(isbn, 2000, { customerId: "second" })).id)
      expect(second.status).toBe("not_available")
      expect([seller.calls.quote, seller.calls.hold]).toEqual([2, 1])
      expect(seller.orders).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )
})

