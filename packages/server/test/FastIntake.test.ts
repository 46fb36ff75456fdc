/**
 * The fast intake lane (`FastIntake.ts`) answers `POST /v1/purchase-requests` exactly as the
 * router does: every kind of request is sent to a server with the lane and to one without, in
 * the same order, and the answers (status, type, body, rate-limit headers) must be the same —
 * ids and times aside. `/metrics` shows which requests the lane took, so a lane that quietly
 * stopped taking them would fail here too.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Schedule, Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as FastIntake from "../src/FastIntake.js"
import type { ServerSettings } from "../src/Config.js"
import * as TestServer from "./support/TestServer.js"

const [isbn] = generateIsbns({ size: 1, seed: 29 }) as [Isbn.Isbn13]

const body = (overrides: Record<string, unknown> = {}) => TestServer.purchaseBody(isbn, overrides)

interface Case {
  readonly name: string
  readonly request: Omit<TestServer.RequestOptions, "token">
  /** The answer's status (on both). */
  readonly status: number
  /** Whether the lane takes it (otherwise the router answers on both servers). */
  readonly fast: boolean
  /** Another path than `/v1/purchase-requests` (a query string). */
  readonly path?: string
}

const post = (key: string, request: Omit<TestServer.RequestOptions, "headers" | "token"> = { body: body() }, headers: Record<string, string> = {}): Omit<TestServer.RequestOptions, "token"> => ({
  ...request,
  headers: { "idempotency-key": key, ...headers }
})

/**
 * What must be equal between the lanes: ids, times and the backlog's depth replaced by
 * placeholders, and the seconds a 429 names (they count down from each server's own first
 * request: `closeEnough` checks them).
 */
const comparable = (reply: TestServer.Reply) => {
  const seconds = (text: string | undefined) => (reply.status === 429 ? text?.replace(/\d+ s\b|reset=\d+/g, "<seconds>") : text)
  return {
    status: reply.status,
    contentType: reply.headers["content-type"],
    retryAfter: reply.headers["retry-after"] === undefined ? undefined : "<seconds>",
    rateLimit: seconds(reply.headers["ratelimit"]),
    rateLimitPolicy: reply.headers["ratelimit-policy"],
    connection: reply.headers["connection"],
    headerNames: Object.keys(reply.headers).filter((name) => name !== "date").sort(),
    body: seconds(
      reply.text
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>")
        .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<time>")
        // The backlog's depth is an estimate (counts read from PostgreSQL every 500 ms plus what
        // this process admitted since): two servers need not agree on it.
        .replace(/"depth":\d+/g, '"depth":"<depth>"')
    )
  }
}

/** The two servers' Retry-After differ by no more than the time between their requests allows. */
const closeEnough = (a: TestServer.Reply, b: TestServer.Reply) => {
  if (a.headers["retry-after"] === undefined) return true
  return Math.abs(Number(a.headers["retry-after"]) - Number(b.headers["retry-after"])) <= 5
}

/** What the lane answered in this process, read off the metric itself (for when the server is gone). */
const laneCount = Effect.map(Metric.value(FastIntake.answered), (state) => Number(state.count))

/**
 * The lane takes only keys this process remembers (1 s by default): long enough here that a busy
 * machine never lets one lapse between the steps of a test (a lapsed key goes to the router —
 * right, but not what these tests compare).
 */
const remembered = 10 * 60_000

const fastAnswered = (server: TestServer.TestServer) =>
  Effect.map(server.operator("GET", "/metrics"), (reply) => {
    const line = reply.text.split("\n").find((l) => l.startsWith("bookbroker_fast_intake_requests_total"))
    return line === undefined ? 0 : Number(line.split(" ").at(-1))
  })

/**
 * Starts a server with the lane and one without, signs a customer in on each (the lane takes
 * only keys this process has verified), sends every case to both and compares.
 */
const compare = (
  cases: ReadonlyArray<Case>,
  settings: Partial<ServerSettings> = {},
  options: TestServer.StartOptions | ((lane: "fast" | "slow") => TestServer.StartOptions) = {}
) =>
  Effect.gen(function* () {
    const optionsFor = (lane: "fast" | "slow") => (typeof options === "function" ? options(lane) : options)
    const fast = yield* TestServer.start({ ...settings, fastIntake: true }, { workers: false, rememberKeysMillis: remembered, ...optionsFor("fast") })
    const slow = yield* TestServer.start({ ...settings, fastIntake: false }, { workers: false, rememberKeysMillis: remembered, ...optionsFor("slow") })
    const [fastCustomer, slowCustomer] = [yield* fast.customer("Ada"), yield* slow.customer("Ada")]
    // A read signs the key in (one database look-up); from then on this process remembers it.
    expect((yield* fast.call("GET", "/v1/purchase-requests", { token: fastCustomer.key })).status).toBe(200)
    expect((yield* slow.call("GET", "/v1/purchase-requests", { token: slowCustomer.key })).status).toBe(200)
    for (const each of cases) {
      const before = yield* fastAnswered(fast)
      const viaLane = yield* fast.call("POST", each.path ?? "/v1/purchase-requests", { ...each.request, token: fastCustomer.key })
      const taken = (yield* fastAnswered(fast)) - before
      const viaRouter = yield* slow.call("POST", each.path ?? "/v1/purchase-requests", { ...each.request, token: slowCustomer.key })
      expect({ case: each.name, ...comparable(viaLane) }).toEqual({ case: each.name, ...comparable(viaRouter) })
      expect({ case: each.name, status: viaRouter.status, taken }).toEqual({ case: each.name, status: each.status, taken: each.fast ? 1 : 0 })
      expect({ case: each.name, retryAfterClose: closeEnough(viaLane, viaRouter) }).toEqual({ case: each.name, retryAfterClose: true })
    }
    return { fast, slow }
  })

describe("fast intake lane", () => {
  it.live("answers every kind of submission as the router does", () =>
    Effect.gen(function* () {
      const tooLongKey = "k".repeat(256)
      yield* compare([
        { name: "accepted", status: 202, request: post("k-1"), fast: true },
        { name: "replayed with the same key and body", status: 202, request: post("k-1"), fast: true },
        { name: "same key, another body", status: 422, request: post("k-1", { body: body({ max_price: { amount: 3100, currency: "EUR" } }) }), fast: true },
        { name: "with a charset", status: 202, request: post("k-2", { body: body() }, { "content-type": "application/json; charset=utf-8" }), fast: true },
        { name: "another charset spelling (router)", status: 202, request: post("k-3", { body: body() }, { "content-type": "application/json;charset=UTF-8" }), fast: false },
        { name: "malformed JSON", status: 400, request: post("k-4", { raw: '{"isbn": ' }, { "content-type": "application/json" }), fast: true },
        { name: "NUL in a name", status: 422, request: post("k-5", { body: body({ customer: { name: "Ada\u0000", email: "ada@example.com", shipping_address: { line1: "1", city: "Paris", country: "FR" } } }) }), fast: true },
        {
          name: "every field wrong",
          status: 422,
          request: post("k-6", { body: { isbn: "978-0-00-000000-1", max_price: { amount: -5, currency: "euro" }, payment: {}, customer: { name: " x", email: "nope" } } }),
          fast: true
        },
        { name: "not an object", status: 422, request: post("k-7", { raw: "[1, 2]" }, { "content-type": "application/json" }), fast: true },
        { name: "no Idempotency-Key", status: 400, request: { body: body() }, fast: true },
        { name: "Idempotency-Key too long, body wrong too", status: 400, request: post(tooLongKey, { body: { isbn: "x" } }), fast: true },
        { name: "notify_url refused", status: 422, request: post("k-8", { body: body({ notify_url: "http://169.254.169.254/latest" }) }), fast: true },
        { name: "notify_url not a URL", status: 422, request: post("k-9", { body: body({ notify_url: "not a url" }) }), fast: true },
        { name: "wait_until too far", status: 422, request: post("k-10", { body: body({ wait_until: "2099-01-01T00:00:00Z" }) }), fast: true },
        { name: "answer_within_seconds out of range", status: 422, request: post("k-11", { body: body({ answer_within_seconds: 2 }) }), fast: true },
        { name: "a query string (router)", status: 202, request: post("k-12"), path: "/v1/purchase-requests?x=1", fast: false },
        { name: "text/plain (router)", status: 415, request: post("k-13", { raw: JSON.stringify(body()) }, { "content-type": "text/plain" }), fast: false },
        { name: "empty body (router)", status: 422, request: post("k-14", { raw: "" }, { "content-type": "application/json" }), fast: false }
      ])
    })
  )

  it.live("refuses past the submission budget with the same 429 and headers", () =>
    Effect.gen(function* () {
      yield* compare(
        [
          { name: "1", status: 202, request: post("r-1"), fast: true },
          { name: "2", status: 202, request: post("r-2"), fast: true },
          { name: "3, past the burst", status: 429, request: post("r-3"), fast: true },
          { name: "4, still past it", status: 429, request: post("r-4"), fast: true }
        ],
        { customerRateLimit: { requestsPerSecond: 0.01, burst: 2 } }
      )
    })
  )

  it.live("refuses past the principal's request budget with the same 429 and headers", () =>
    Effect.gen(function* () {
      // The sign-in read spends one; then one submission; then refused.
      yield* compare(
        [
          { name: "1", status: 202, request: post("p-1"), fast: true },
          { name: "2, past the burst", status: 429, request: post("p-2"), fast: true }
        ],
        { principalRateLimit: { requestsPerSecond: 0.01, burst: 2 } }
      )
    })
  )

  it.live("refuses when the backlog is full with the same 429 and Retry-After", () =>
    Effect.gen(function* () {
      yield* compare(
        [
          { name: "admitted", status: 202, request: post("b-1"), fast: true },
          { name: "backlog full", status: 429, request: post("b-2"), fast: true }
        ],
        {},
        // Counted once at start, then only what each server admits: a count read from PostgreSQL
        // mid-test could predate the first request's commit (an estimate, refreshed every 500 ms).
        { intake: { backlog: { maxBacklog: 1, refreshMillis: 600_000 } } }
      )
    })
  )

  it.live("over Redis shared state (budgets a round trip away), answers as the router does, 429s included", () =>
    Effect.gen(function* () {
      // Each server its own key prefix: they must not spend each other's budgets.
      const run = randomUUID()
      yield* compare(
        [
          { name: "accepted", status: 202, request: post("redis-1"), fast: true },
          { name: "replayed", status: 202, request: post("redis-1"), fast: true },
          { name: "every field wrong", status: 422, request: post("redis-2", { body: { isbn: "x" } }), fast: true },
          { name: "past the submission budget", status: 429, request: post("redis-3"), fast: true }
        ],
        { customerRateLimit: { requestsPerSecond: 0.01, burst: 2 } },
        (lane) => ({ sharedState: { _tag: "Redis", url: "redis://127.0.0.1:6379", keyPrefix: `bbtest-lane-${lane}-${run}` } })
      )
    })
  )

  it.live("leaves a key it has not verified, and a revoked key once forgotten, to the router", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({}, { workers: false, rememberKeysMillis: remembered })
      const ada = yield* server.customer("Ada")
      const before = yield* fastAnswered(server)
      // First use of the key: looked up by the router, then remembered.
      const first = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "v-1" } })
      expect(first.status).toBe(202)
      expect((yield* fastAnswered(server)) - before).toBe(0)
      const second = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "v-2" } })
      expect(second.status).toBe(202)
      expect((yield* fastAnswered(server)) - before).toBe(1)
      // Revoked in this process: forgotten at once, so the router answers 401.
      const revoked = yield* server.operator("DELETE", `/v1/operator/customers/${ada.id}/keys`)
      expect(revoked.status).toBe(200)
      const refused = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "v-3" } })
      expect(refused.status).toBe(401)
      expect((yield* fastAnswered(server)) - before).toBe(1)
      expect(yield* server.count("purchase_requests")).toBe(2)
    })
  )
})

describe("fast intake lane, shutdown", () => {
  it.live("a submission the lane is answering when the server stops is finished and answered first", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const server = yield* TestServer.start({}, { workers: false, rememberKeysMillis: remembered }).pipe(Scope.provide(scope))
      const ada = yield* server.customer("Ada")
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).status).toBe(200)
      // Hold the intake's insert: another connection locks the table until told to stop.
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const sql = server.sql
      const holder = yield* Effect.forkChild(
        sql
          .withTransaction(
            Effect.gen(function* () {
              yield* sql`LOCK TABLE purchase_requests IN EXCLUSIVE MODE`
              yield* Deferred.succeed(locked, undefined)
              yield* Deferred.await(release)
            })
          )
          .pipe(Effect.orDie)
      )
      yield* Deferred.await(locked)
      const before = yield* laneCount
      const submitted = yield* Effect.forkChild(server.call("POST", "/v1/purchase-requests", { token: ada.key, body: body(), headers: { "idempotency-key": "late" } }))
      // The lane has taken it: its insert waits on the lock.
      const waiting = sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.pipe(Effect.orDie)
      yield* Effect.repeat(waiting, { until: (rows) => rows[0]!.n > 0, schedule: Schedule.spaced("10 millis") })
      const stopping = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      // Time for the shutdown to reach the engine below, had the lane not held it back.
      yield* Effect.sleep("300 millis")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const reply = yield* Fiber.join(submitted)
      expect(reply.status).toBe(202)
      expect((yield* laneCount) - before).toBe(1)
      yield* Fiber.join(stopping)
    })
  )
})
