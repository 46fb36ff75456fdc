import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as TestServer from "./support/TestServer.js"

const [isbn, unknownIsbn] = generateIsbns({ size: 2, seed: 11 }) as [Isbn.Isbn13, Isbn.Isbn13]

const body = (overrides: Record<string, unknown> = {}) => TestServer.purchaseBody(isbn, overrides)

const problem = (reply: TestServer.Reply, status: number) => {
  expect(reply.status).toBe(status)
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.body).toMatchObject({ status, type: expect.stringMatching(/^urn:bookbroker:problem:/), title: expect.any(String), detail: expect.any(String) })
  expect(reply.text).not.toMatch(/\n\s+at /) // no stack traces
}

describe("customer purchase API", () => {
  it.live("buys a book: 202 with a status URL, then purchased at the cheapest price", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      yield* server.sellers([
        { name: "cheap", stock: [{ isbn, price: 1700, quantity: 2 }] },
        { name: "dear", stock: [{ isbn, price: 2500, quantity: 2 }] }
      ])
      const ada = yield* server.customer("Ada")
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "k-1" } })
      expect(created.status).toBe(202)
      expect(created.body).toEqual({
        id: expect.any(String),
        status: "received",
        status_url: `/v1/purchase-requests/${created.body.id}`,
        queue: { depth: 1, eta_seconds: null }
      })
      const done = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(done.body).toMatchObject({ status: "purchased", final_price: { amount: 1700, currency: "EUR" }, terminal: true, order_id: expect.any(String) })
      expect(done.body.attempts).toMatchObject([{ seller_name: "cheap", status: "confirmed" }, { seller_name: "dear", status: "not_tried" }])
    })
  )

  it.live("idempotency: same key and body → same request; other body → 422; no key → 400", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const first = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "same" } })
      const replay = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "same" } })
      expect(replay.status).toBe(202)
      expect(replay.body.id).toBe(first.body.id)
      const mismatch = yield* server.call("POST", "/v1/purchase-requests", {
        token: ada.key,
        body: body({ max_price: { amount: 3100, currency: "EUR" } }),
        headers: { "idempotency-key": "same" }
      })
      problem(mismatch, 422)
      expect(mismatch.body.type).toBe("urn:bookbroker:problem:idempotency-key-reused")
      const missing = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body() })
      problem(missing, 400)
      expect(missing.body.errors).toEqual([{ pointer: "header:idempotency-key", detail: expect.any(String) }])
      expect(yield* server.count("purchase_requests")).toBe(1)
      // Another customer may use the same key: keys are per customer.
      const bob = yield* server.customer("Bob")
      const bobs = yield* server.call("POST", "/v1/purchase-requests", { token: bob.key, body: body(), headers: { "idempotency-key": "same" } })
      expect(bobs.status).toBe(202)
      expect(bobs.body.id).not.toBe(first.body.id)
    })
  )

  it.live("authentication: no key, an unknown key and a revoked key are 401 problems", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      problem(yield* server.call("GET", "/v1/purchase-requests"), 401)
      problem(yield* server.call("GET", "/v1/purchase-requests", { token: "bb_cus_nope" }), 401)
      problem(yield* server.call("GET", "/v1/purchase-requests", { token: TestServer.operatorToken }), 401)
      const ada = yield* server.customer("Ada")
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).status).toBe(200)
    })
  )

  it.live("customers see only their own requests: others are 404, lists are separate", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const bob = yield* server.customer("Bob")
      const adas = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "a" } })
      problem(yield* server.call("GET", `/v1/purchase-requests/${adas.body.id}`, { token: bob.key }), 404)
      problem(yield* server.call("GET", "/v1/purchase-requests/not-a-uuid", { token: ada.key }), 404)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: bob.key })).body.items).toEqual([])
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).body.items.map((item: { id: string }) => item.id)).toEqual([adas.body.id])
    })
  )

  it.live("lists with a status filter and a cursor", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) {
        ids.push((yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": `k${i}` } })).body.id)
      }
      const first = yield* server.call("GET", "/v1/purchase-requests?limit=2", { token: ada.key })
      expect(first.body.items).toHaveLength(2)
      const second = yield* server.call("GET", `/v1/purchase-requests?limit=2&cursor=${first.body.next_cursor}`, { token: ada.key })
      const third = yield* server.call("GET", `/v1/purchase-requests?limit=2&cursor=${second.body.next_cursor}`, { token: ada.key })
      const seen = [...first.body.items, ...second.body.items, ...third.body.items].map((item: { id: string }) => item.id)
      expect(new Set(seen)).toEqual(new Set(ids))
      expect(third.body.next_cursor).toBeNull()
      problem(yield* server.call("GET", "/v1/purchase-requests?status=lost", { token: ada.key }), 422)
      problem(yield* server.call("GET", "/v1/purchase-requests?limit=0", { token: ada.key }), 422)
      problem(yield* server.call("GET", "/v1/purchase-requests?cursor=%3Cscript%3E", { token: ada.key }), 400)
    })
  )

  it.live("a counter-offer is shown with its expiry and can be accepted over HTTP", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      yield* server.sellers([{ name: "pricey", stock: [{ isbn, price: 3600, quantity: 2 }] }])
      const ada = yield* server.customer("Ada")
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "c" } })
      const offered = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(offered.body).toMatchObject({ status: "price_not_met", counter_offer: { seller_name: "pricey", price: { amount: 3600, currency: "EUR" } } })
      const accepted = yield* server.call("POST", offered.body.counter_offer.accept_url, { token: ada.key, body: { payment: { token: "tok_approve" } } })
      expect(accepted.status).toBe(202)
      const bought = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(bought.body).toMatchObject({ status: "purchased", final_price: { amount: 3600 } })
      problem(yield* server.call("POST", offered.body.counter_offer.accept_url, { token: ada.key, body: { payment: { token: "tok_approve" } } }), 409)
    })
  )

  it.live("a want (wait_until): watching over HTTP, listed with ?status=watching, cancelled with POST …/cancel; bad wait_until is a 422 that stores nothing", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      yield* server.sellers([{ name: "dear", stock: [{ isbn, price: 4500, quantity: 2 }] }])
      const ada = yield* server.customer("Ada")
      const waitUntil = new Date(Date.now() + 7 * 86_400_000).toISOString()
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body({ wait_until: waitUntil }), headers: { "idempotency-key": "want-1" } })
      expect(created.status).toBe(202)
      let watching = created
      for (let i = 0; i < 300 && watching.body.status !== "watching"; i++) {
        yield* Effect.sleep(20)
        watching = yield* server.call("GET", `/v1/purchase-requests/${created.body.id}`, { token: ada.key })
      }
      expect(watching.body).toMatchObject({ status: "watching", terminal: false, wait_until: waitUntil, counter_offer: null })
      expect(watching.body.waiting).toContain("45.00 EUR from dear")
      const listed = yield* server.call("GET", "/v1/purchase-requests?status=watching", { token: ada.key })
      expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([created.body.id])
      const bob = yield* server.customer("Bob")
      problem(yield* server.call("POST", `/v1/purchase-requests/${created.body.id}/cancel`, { token: bob.key }), 404)
      const cancelled = yield* server.call("POST", `/v1/purchase-requests/${created.body.id}/cancel`, { token: ada.key })
      expect(cancelled.status).toBe(200)
      expect(cancelled.body).toMatchObject({ status: "cancelled", terminal: true, reason: "cancelled_by_customer" })
      const again = yield* server.call("POST", `/v1/purchase-requests/${created.body.id}/cancel`, { token: ada.key })
      problem(again, 409)
      expect(again.body.detail).toContain("already cancelled")

      // A request that is not a want cannot be cancelled.
      const plain = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "plain" } })
      yield* server.awaitTerminal(plain.body.id, ada.key)
      problem(yield* server.call("POST", `/v1/purchase-requests/${plain.body.id}/cancel`, { token: ada.key }), 409)

      const before = yield* server.count("purchase_requests")
      for (const [bad, detail] of [
        [new Date(Date.now() - 60_000).toISOString(), "is not in the future"],
        [new Date(Date.now() + 31 * 86_400_000).toISOString(), "is more than 30 days away"],
        ["2026-13-45T99:00:00Z", "is not a real date and time"],
        ["next tuesday", "must be an RFC 3339 date and time"],
        ["2027-01-01", "must be an RFC 3339 date and time"]
      ] as const) {
        const refused = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body({ wait_until: bad }), headers: { "idempotency-key": `bad-${bad}` } })
        problem(refused, 422)
        expect(JSON.stringify(refused.body)).toContain(detail)
        expect(JSON.stringify(refused.body)).toContain("wait_until")
      }
      expect(yield* server.count("purchase_requests")).toBe(before)
    })
  )

  it.live("offers for a book: ranked by total; an invalid ISBN is a 422 problem", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      yield* server.sellers([
        { name: "b", stock: [{ isbn, price: 2000, shipping: 0, quantity: 2 }] },
        { name: "a", stock: [{ isbn, price: 1500, quantity: 2 }] }
      ])
      const ada = yield* server.customer("Ada")
      const offers = yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })
      expect(offers.status).toBe(200)
      expect(offers.body.offers.map((offer: { seller_name: string; total: { amount: number } }) => [offer.seller_name, offer.total.amount])).toEqual([
        ["a", 1500],
        ["b", 2000]
      ])
      const unknown = yield* server.call("GET", `/v1/books/${unknownIsbn}/offers`, { token: ada.key })
      expect(unknown.body.offers).toEqual([])
      const invalid = yield* server.call("GET", "/v1/books/9780306406158/offers", { token: ada.key })
      problem(invalid, 422)
    })
  )

  it.live("rate limits submissions per customer with Retry-After and RateLimit headers", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ customerRateLimit: { requestsPerSecond: 1, burst: 2 } })
      const ada = yield* server.customer("Ada")
      const statuses: Array<number> = []
      let limited: TestServer.Reply | undefined
      for (let i = 0; i < 4; i++) {
        const reply = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": `r${i}` } })
        statuses.push(reply.status)
        if (reply.status === 429) limited = reply
      }
      expect(statuses).toEqual([202, 202, 429, 429])
      problem(limited!, 429)
      expect(Number(limited!.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      expect(limited!.headers["ratelimit"]).toMatch(/remaining=0/)
      expect(yield* server.count("purchase_requests")).toBe(2)
      const bob = yield* server.customer("Bob")
      expect((yield* server.call("POST", "/v1/purchase-requests", { token: bob.key, body: body(), headers: { "idempotency-key": "r" } })).status).toBe(202)
    })
  )

  it.live("a client hanging up does not cancel its request's database work (the cancel would hit the connection's next statement)", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "hang-up" } })
      // Hold a lock the status read needs, so its query is certainly in flight when the client goes.
      const release = yield* Deferred.make<void>()
      const locked = yield* Deferred.make<void>()
      const holder = yield* server.sql
        .withTransaction(
          Effect.andThen(server.sql`LOCK TABLE purchase_attempts IN ACCESS EXCLUSIVE MODE`, Effect.andThen(Deferred.succeed(locked, undefined), Deferred.await(release)))
        )
        .pipe(Effect.orDie, Effect.forkChild)
      yield* Deferred.await(locked)
      const abort = new AbortController()
      const read = fetch(`${server.url}/v1/purchase-requests/${created.body.id}`, { headers: { authorization: `Bearer ${ada.key}` }, signal: abort.signal }).then(
        () => "answered",
        () => "aborted"
      )
      const waiting = server.sql<{ n: string }>`
        SELECT count(*)::text AS n FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock' AND query LIKE '%purchase_attempts%'`.pipe(
        Effect.map((rows) => Number(rows[0]!.n)),
        Effect.orDie
      )
      for (let i = 0; i < 200 && (yield* waiting) === 0; i++) yield* Effect.sleep(10)
      expect(yield* waiting).toBe(1)
      abort.abort()
      expect(yield* Effect.promise(() => read)).toBe("aborted")
      yield* Effect.sleep(300)
      // Not canceled: the read still waits for the lock, and finishes once it is released.
      expect(yield* waiting).toBe(1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      for (let i = 0; i < 200 && (yield* waiting) > 0; i++) yield* Effect.sleep(10)
      expect(yield* waiting).toBe(0)
      const after = yield* server.call("GET", `/v1/purchase-requests/${created.body.id}`, { token: ada.key })
      expect(after.status).toBe(200)
    })
  )

  it.live("intake says where a request stands, and past the backlog refuses a flooding customer with 429 and Retry-After", () =>
    Effect.gen(function* () {
      // No workers: nothing leaves the backlog while the test fills it.
      const server = yield* TestServer.start({}, { intake: { backlog: { maxBacklog: 3, refreshMillis: 60_000 } }, workers: false })
      const ada = yield* server.customer("Ada")
      const bob = yield* server.customer("Bob")
      for (let i = 0; i < 3; i++) {
        const accepted = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": `flood-${i}` } })
        expect(accepted.status).toBe(202)
        expect(accepted.body.queue).toEqual({ depth: i + 1, eta_seconds: null })
      }
      const refused = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "flood-3" } })
      expect(refused.status).toBe(429)
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/)
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      expect(refused.body.detail).toMatch(/3 requests in flight and yours are at your share \(3\)/)
      expect(yield* server.count("purchase_requests")).toBe(3)
      const other = yield* server.call("POST", "/v1/purchase-requests", { token: bob.key, body: body(), headers: { "idempotency-key": "bob-0" } })
      expect(other.status).toBe(202)
    })
  )
})
