/** Backpressure at the door: who is let in when the backlog is full (a pure rule), and intake using it. */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Money } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import * as Backlog from "../src/purchases/Backlog.js"
import * as Purchases from "../src/purchases/Purchases.js"
import { TestDatabase } from "../src/testing/index.js"

/** Limits where only `maxBacklog` matters (an answer time far longer than the backlog takes to clear). */
const only = (maxBacklog: number): Backlog.Limits => ({ maxBacklog, minBacklog: 1, answerWithinSeconds: 1_000_000 })

const counts = (byCustomer: Record<string, number>, completedPerSecond = 2): Backlog.Counts => ({
  total: Object.values(byCustomer).reduce((sum, n) => sum + n, 0),
  byCustomer: new Map(Object.entries(byCustomer)),
  completedPerSecond
})

describe("Backlog.decide", () => {
  it("admits everyone below the backlog limit, with the depth and an estimate at the current pace", () => {
    expect(Backlog.decide(counts({ a: 10 }), "a", only(100))).toEqual({ _tag: "Admitted", depth: 11, etaSeconds: 6 })
    expect(Backlog.decide(counts({}, 0), "a", only(100))).toEqual({ _tag: "Admitted", depth: 1, etaSeconds: null })
  })

  it("past the limit refuses a customer at its fair share, and still admits one below it", () => {
    const full = counts({ flooder: 100 })
    expect(Backlog.decide(full, "flooder", only(100))).toMatchObject({ _tag: "Refused", share: 100, depth: 100 })
    // A newcomer's share is half the backlog: it gets in although the backlog is full.
    expect(Backlog.decide(full, "newcomer", only(100))).toMatchObject({ _tag: "Admitted", depth: 101 })
    // Two customers in flight: each may have half.
    expect(Backlog.decide(counts({ flooder: 80, calm: 20 }), "calm", only(100))._tag).toBe("Admitted")
    expect(Backlog.decide(counts({ flooder: 80, calm: 20 }), "flooder", only(100))._tag).toBe("Refused")
  })

  it("limits the backlog to what can be answered within the request's answer time at the measured pace", () => {
    // 2 answers a second, 60 s to answer: 120 requests can be answered in time.
    const limits: Backlog.Limits = { maxBacklog: 10_000, minBacklog: 10, answerWithinSeconds: 60 }
    expect(Backlog.decide(counts({ a: 119 }, 2), "a", limits)._tag).toBe("Admitted")
    expect(Backlog.decide(counts({ a: 120 }, 2), "a", limits)).toMatchObject({ _tag: "Refused", share: 120 })
    // A customer willing to wait longer gets in.
    expect(Backlog.decide(counts({ a: 120 }, 2), "a", { ...limits, answerWithinSeconds: 600 })._tag).toBe("Admitted")
    // A slow minute does not shrink the limit below minBacklog; no pace yet: only maxBacklog.
    expect(Backlog.decide(counts({ a: 9 }, 0.01), "a", limits)._tag).toBe("Admitted")
    expect(Backlog.decide(counts({ a: 10 }, 0.01), "a", limits)._tag).toBe("Refused")
    expect(Backlog.decide(counts({ a: 5_000 }, 0), "a", limits)._tag).toBe("Admitted")
  })

  it("asks to come back when the customer would be under its share again, within bounds", () => {
    const refused = Backlog.decide(counts({ flooder: 100 }, 10), "flooder", only(100))
    expect(refused).toMatchObject({ _tag: "Refused", retryAfterSeconds: 1 })
    const slow = Backlog.decide(counts({ flooder: 150, other: 50 }, 0.5), "flooder", only(100))
    expect(slow._tag === "Refused" && slow.retryAfterSeconds).toBe(404)
    const stalled = Backlog.decide(counts({ flooder: 100 }, 0), "flooder", only(100))
    expect(stalled).toMatchObject({ _tag: "Refused", retryAfterSeconds: 30 })
  })
})

describe("Backlog.pace", () => {
  it("is the last minute's answers per second, over less than a minute when they began later; none before 10 s of them", () => {
    // A steady minute.
    expect(Backlog.pace(120, 59.9)).toBeCloseTo(2, 1)
    expect(Backlog.pace(120, 75)).toBe(2)
    // A load that started from idle 20 s ago: 20 s of answers, not a minute.
    expect(Backlog.pace(400, 20)).toBe(20)
    // Its first second says nothing yet (a cold start's first answers are slow).
    expect(Backlog.pace(40, 0.8)).toBe(0)
    expect(Backlog.pace(0, 0)).toBe(0)
  })
})

const [isbn] = generateIsbns({ size: 1, seed: 99 }) as [Isbn.Isbn13]
const submission = (key: string, customerId: string): Purchases.NewPurchase => ({
  customerId,
  idempotencyKey: key,
  request: {
    isbn,
    max_price: Money.make(3000, "EUR"),
    payment: { token: "tok_approve" },
    customer: { name: "Ada", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
  }
})

describe("intake under backpressure", () => {
  it.live("a flooding customer is refused at its share with a retry time; another customer still gets in", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      for (let i = 0; i < 5; i++) {
        const accepted = yield* purchases.submit(submission(`flood-${i}`, "flooder"))
        expect(accepted.queue.depth).toBe(i + 1)
      }
      const refused = yield* Effect.flip(purchases.submit(submission("flood-5", "flooder")))
      expect(refused).toMatchObject({ _tag: "Backlogged", depth: 5, share: 5 })
      expect(refused._tag === "Backlogged" && refused.retryAfterSeconds).toBeGreaterThanOrEqual(1)
      const calm = yield* purchases.submit(submission("calm-0", "calm"))
      expect(calm.created).toBe(true)
    }).pipe(Effect.provide(Purchases.layerWith({ backlog: { maxBacklog: 5, refreshMillis: 60_000 } }).pipe(Layer.provideMerge(TestDatabase.layer))))
  )
})

describe("the backlog's counts", () => {
  /** `answered` requests finished over the last `overSeconds`, and 11 in flight for each of 6 customers. */
  const seed = (answered: number, overSeconds: number) =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const row = (customer: string, key: string, status: string, completedSecondsAgo: number | null): Record<string, unknown> => ({
        id: randomUUID(),
        customer_id: customer,
        idempotency_key: key,
        request_hash: key,
        isbn,
        currency: "EUR",
        original_max: 3000,
        max_amount: 3000,
        payment_token: "tok_approve",
        customer: JSON.stringify({ name: "Ada" }),
        status,
        completed_at: completedSecondsAgo === null ? null : new Date(Date.now() - completedSecondsAgo * 1000)
      })
      const rows = [
        ...Array.from({ length: answered }, (_, i) => row("earlier", `done-${i}`, "purchased", (overSeconds * i) / answered)),
        ...Array.from({ length: 66 }, (_, i) => row(`c${i % 6}`, `open-${i}`, "received", null))
      ]
      yield* sql`INSERT INTO purchase_requests ${sql.insert(rows as [Record<string, unknown>, ...Array<Record<string, unknown>>])}`
      return yield* Backlog.make(sql, { refreshMillis: 60_000 })
    })

  it.live("a load that began a second ago is not judged yet: its customers get in", () =>
    Effect.gen(function* () {
      // A cold start: 5 answered in its first second, no pace yet, only maxBacklog applies. Taken as
      // a pace (0.08/s over a minute, 0.5/s over 10 s) the limit was 64, and these 66 in flight
      // (11 per customer, a share of 10) turned the next one away (bench:e2e at 60/s: 6 refused
      // 1.1–1.2 s into the load).
      const backlog = yield* seed(5, 0.8)
      expect(backlog.admit("c0", 60_000)._tag).toBe("Admitted")
    }).pipe(Effect.scoped, Effect.provide(TestDatabase.layer))
  )

  it.live("a slow minute still limits the backlog to what it can answer in time", () =>
    Effect.gen(function* () {
      // The same 40 answers spread over the minute: 0.68/s, the limit stays at 64.
      const backlog = yield* seed(40, 59)
      expect(backlog.admit("c0", 60_000)).toMatchObject({ _tag: "Refused", depth: 66, share: 10 })
    }).pipe(Effect.scoped, Effect.provide(TestDatabase.layer))
  )

  it.live("a slow start is judged by the time it has run: 40 answers in 15 s are 2.7/s, not 0.67", () =>
    Effect.gen(function* () {
      // 2.7/s × 60 s: 160 can be answered in time, so 66 in flight leave room. Over a whole minute
      // the limit would be 64.
      const backlog = yield* seed(40, 15)
      expect(backlog.admit("c0", 60_000)._tag).toBe("Admitted")
    }).pipe(Effect.scoped, Effect.provide(TestDatabase.layer))
  )
})
