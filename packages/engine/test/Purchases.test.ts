/** Intake: durable, idempotent per customer and key, batched (group commit) under load. */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Money } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "effect/sql"
import { Effect, Layer, Queue, Result, Stream } from "effect"
import { signalWork, workChannel } from "../src/purchases/workSignal.js"
import * as IntakeCommit from "../src/purchases/IntakeCommit.js"
import * as PurchaseRequest from "../src/purchases/PurchaseRequest.js"
import * as Purchases from "../src/purchases/Purchases.js"
import { TestDatabase } from "../src/testing/index.js"

const [isbn] = generateIsbns({ size: 1, seed: 77 }) as [Isbn.Isbn13]
const TestLayer = Purchases.layer.pipe(Layer.provideMerge(TestDatabase.layer))

const purchase = (key: string, amount = 3000, customerId = "c1"): Purchases.NewPurchase => ({
  customerId,
  idempotencyKey: key,
  request: {
    isbn,
    max_price: Money.make(amount, "EUR"),
    payment: { token: "tok_approve" },
    customer: { name: "Ada", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
  }
})

/** `purchase(key)` asking something more. */
const asking = (key: string, more: Partial<PurchaseRequest.NewPurchaseRequest>): Purchases.NewPurchase => {
  const base = purchase(key)
  return { ...base, request: { ...base.request, ...more } }
}

const rows = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: string }>`SELECT count(*)::text AS n FROM purchase_requests`).pipe(
  Effect.map((result) => Number(result[0]!.n)),
  Effect.orDie
)

describe("Purchases intake", () => {
  it.live("a new request wakes an idle worker with the statement that stores it; a replayed key does not", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      const pg = yield* PgClient.PgClient
      const heard = yield* Queue.unbounded<string>()
      yield* Effect.forkScoped(Effect.flatMap(pg.listen(workChannel), (notifications) => Stream.runForEach(Stream.fromQueue(notifications), ({ payload }) => Queue.offer(heard, payload))))
      /** Sends `payload` on the channel and reads what is heard until it comes back (all of it, in commit order). */
      const until = (payload: string) =>
        Effect.gen(function* () {
          const before: Array<string> = []
          while (true) {
            const next = yield* Queue.take(heard)
            if (next === payload) return before
            before.push(next)
          }
        }).pipe(Effect.raceFirst(Effect.forever(Effect.andThen(signalWork(pg, payload), Effect.sleep("50 millis")))))
      // Listening from here on (the first ping came back).
      yield* until("ping-0")
      yield* Queue.clear(heard)
      yield* purchases.submit(purchase("wake"))
      expect((yield* until("ping-1")).filter((payload) => payload === "runnable")).toEqual(["runnable"])
      // The same key again: nothing was created, nothing to wake anyone for.
      yield* purchases.submit(purchase("wake"))
      expect((yield* until("ping-2")).filter((payload) => payload === "runnable")).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a work signal PostgreSQL refuses does not refuse the rows: they are stored all the same", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // An empty channel name is refused by pg_notify ("channel name cannot be empty").
      const intake = yield* IntakeCommit.make(sql, { workChannel: "" })
      const row = (key: string): IntakeCommit.IntakeRow => ({
        customer_id: "c-signal",
        idempotency_key: key,
        request_hash: `h-${key}`,
        ...PurchaseRequest.toColumns(purchase(key).request)
      })
      const committed = yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => `s${i}`), (key) => intake.commit(row(key)), { concurrency: "unbounded" })
      expect(committed.every((one) => one._tag === "Created")).toBe(true)
      expect(yield* rows).toBe(12)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("stores hundreds of concurrent submissions, each exactly once, with its transition", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      const accepted = yield* Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) => purchases.submit(purchase(`k${i}`)), { concurrency: "unbounded" })
      expect(new Set(accepted.map((a) => a.id)).size).toBe(300)
      expect(accepted.every((a) => a.created && a.status === "received")).toBe(true)
      expect(yield* rows).toBe(300)
      const sql = yield* SqlClient.SqlClient
      const transitions = yield* Effect.orDie(sql<{ n: string }>`SELECT count(*)::text AS n FROM state_transitions WHERE to_status = 'received'`)
      expect(Number(transitions[0]!.n)).toBe(300)
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("the same key submitted concurrently makes one request; another body with it is refused", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      const same = yield* Effect.forEach(Array.from({ length: 20 }), () => purchases.submit(purchase("dup")), { concurrency: "unbounded" })
      expect(new Set(same.map((a) => a.id)).size).toBe(1)
      expect(same.filter((a) => a.created)).toHaveLength(1)
      const mixed = yield* Effect.forEach([3000, 3100, 3000, 3200], (amount) => Effect.result(purchases.submit(purchase("mixed", amount))), { concurrency: "unbounded" })
      const winners = mixed.filter(Result.isSuccess)
      const refused = mixed.filter(Result.isFailure)
      expect(new Set(winners.map((w) => w.success.id)).size).toBe(1)
      expect(refused.every((r) => r.failure._tag === "IdempotencyKeyReused")).toBe(true)
      expect(winners.length + refused.length).toBe(4)
      expect(refused.length).toBeGreaterThanOrEqual(2)
      // Keys are per customer.
      const other = yield* purchases.submit(purchase("dup", 3000, "c2"))
      expect(other.created).toBe(true)
      expect(yield* rows).toBe(3)
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("a row the database refuses fails only its own submission, not the others in its group commit", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      // PostgreSQL refuses a NUL in text: the HTTP edge never lets one through, the intake must
      // still not fail the 24 valid submissions that share the poisoned one's statement.
      const poisoned = asking("poisoned", { customer: { ...purchase("poisoned").request.customer, name: "Ad\u0000a" } })
      const results = yield* Effect.forEach(
        Array.from({ length: 25 }, (_, i) => i),
        (i) => Effect.exit(purchases.submit(i === 12 ? poisoned : purchase(`fine-${i}`))),
        { concurrency: "unbounded" }
      )
      expect(results.filter((exit) => exit._tag === "Success")).toHaveLength(24)
      expect(results[12]!._tag).toBe("Failure")
      expect(yield* rows).toBe(24)
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("refuses a notify_url bookbroker would not call (private address, credentials), storing nothing", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      for (const notifyUrl of ["http://127.0.0.1:6379/", "http://0x7f.1/", "http://[::1]/", "http://169.254.169.254/", "https://u:p@example.com/"]) {
        const refused = yield* Effect.flip(purchases.submit(asking(`bad-url-${notifyUrl}`, { notify_url: notifyUrl })))
        expect(refused._tag).toBe("NotifyUrlRefused")
      }
      expect(yield* rows).toBe(0)
      const accepted = yield* purchases.submit(asking("good-url", { notify_url: "https://hooks.example.com/bookbroker" }))
      expect(accepted.created).toBe(true)
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("pages through requests that share a timestamp without losing or repeating one", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      const accepted = yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => purchase(`page-${i}`)), (p) => purchases.submit(p), {
        concurrency: "unbounded"
      })
      const sql = yield* SqlClient.SqlClient
      // Group commits take the submissions in one statement each, yet every request keeps its own
      // moment of arrival (scarce copies go first come, first served)...
      const [distinct] = yield* sql<{ n: number }>`SELECT count(DISTINCT created_at)::int AS n FROM purchase_requests`
      expect(distinct!.n).toBe(60)
      // ...and the keyset still holds where moments are equal: most of them made to share one.
      yield* sql`UPDATE purchase_requests SET created_at = (SELECT min(created_at) FROM purchase_requests) WHERE idempotency_key NOT IN ('page-0', 'page-1')`
      const [shared] = yield* sql<{ n: number }>`SELECT count(DISTINCT created_at)::int AS n FROM purchase_requests`
      expect(shared!.n).toBeLessThan(5)
      const seen: Array<string> = []
      let cursor: string | undefined
      for (let page = 0; page < 20; page++) {
        const result = yield* purchases.list("c1", { limit: 7, ...(cursor === undefined ? {} : { cursor }) })
        seen.push(...result.items.map((item) => item.id))
        if (result.nextCursor === null) break
        cursor = result.nextCursor
      }
      expect(seen).toHaveLength(60)
      expect(new Set(seen)).toEqual(new Set(accepted.map((a) => a.id)))
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("refuses a cursor it did not hand out", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      for (const cursor of ["AAAAAAAAAAAA", "not base64!", Buffer.from("2024-01-01T00:00:00.000Z|x").toString("base64url"), "A".repeat(500)]) {
        const refused = yield* Effect.flip(purchases.list(undefined, { cursor }))
        expect(refused._tag).toBe("InvalidCursor")
      }
    }).pipe(Effect.provide(TestLayer))
  )
})
