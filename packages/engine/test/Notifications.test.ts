/**
 * The outbox dispatcher against real PostgreSQL and a real HTTP receiver on 127.0.0.1: signed
 * Standard Webhooks deliveries checked by the receiving side, retries with backoff, refused
 * URLs, and several dispatchers sharing one outbox.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Money } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Layer, Redacted } from "effect"
import { Webhook } from "standardwebhooks"
import * as Notifications from "../src/jobs/Notifications.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as Purchases from "../src/purchases/Purchases.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [isbn] = generateIsbns({ size: 1, seed: 77 }) as [Isbn.Isbn13]
const faults = new SandboxGateway.SandboxFaults()
const Infrastructure = Harness.infrastructure(faults)
const secret = Notifications.generateSecret()

interface Received {
  readonly headers: Record<string, string>
  readonly body: string
}

interface Receiver {
  readonly url: string
  readonly received: Array<Received>
}

/** A webhook receiver on 127.0.0.1 answering each request with `answer(n)` (n counts from 1). */
const receiver = (answer: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 }), delayMillis = 0) =>
  Effect.acquireRelease(
    Effect.callback<Receiver & { readonly server: Server }>((resume) => {
      const received: Array<Received> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          received.push({ headers: flatten(req.headers), body: Buffer.concat(chunks).toString("utf8") })
          const { status, headers } = answer(received.length)
          setTimeout(() => {
            res.writeHead(status, headers ?? {})
            res.end(status < 300 ? "thanks" : "no")
          }, delayMillis)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/hooks/bookbroker`, received, server }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const flatten = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : (value ?? "")]))

let sequence = 0
/** `Harness.submit` with a notify URL. */
const submitWithUrl = (notifyUrl: string | undefined, maxMinor = 3000) =>
  Effect.gen(function* () {
    const purchases = yield* Purchases.Purchases
    sequence += 1
    return yield* purchases.submit({
      customerId: "customer-1",
      idempotencyKey: `hook-${Date.now()}-${sequence}`,
      request: {
        isbn,
        max_price: Money.make(maxMinor, "EUR"),
        payment: { token: "tok_approve" },
        customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } },
        ...(notifyUrl === undefined ? {} : { notify_url: notifyUrl })
      }
    })
  })

/**
 * An outbox row as the pipeline writes it, for a (not processed) request. The URL goes straight
 * into the row — as one stored before intake checked URLs would be — so the dispatcher's own
 * checks are what is tested.
 */
const outboxRow = (notifyUrl: string | null) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { id } = yield* submitWithUrl(undefined)
    const [row] = yield* sql<{ id: string }>`
      INSERT INTO outbox (request_id, event, payload, notify_url)
      VALUES (${id}, 'purchase_request.not_available', ${JSON.stringify({ id, status: "not_available", reason: "no_offers" })}::jsonb, ${notifyUrl})
      RETURNING id`
    return { requestId: id, outboxId: row!.id }
  }).pipe(Effect.orDie)

interface OutboxState {
  readonly attempts: number
  readonly delivered_at: Date | null
  readonly last_error: string | null
}
const outboxState = (outboxId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<OutboxState>`SELECT attempts, delivered_at, last_error FROM outbox WHERE id = ${outboxId}`).pipe(
    Effect.map((rows) => rows[0]!),
    Effect.orDie
  )

/** A dispatcher allowed to call this machine (the tests' receivers run on 127.0.0.1), unless told otherwise. */
const dispatcher = (options: Partial<Notifications.NotificationsOptions> = {}, policy: OutboundAddress.OutboundPolicyService = OutboundAddress.loopback) =>
  Notifications.make({ secret: Redacted.make(secret), timeoutMillis: 2_000, retryBaseMillis: 5, retryMaxMillis: 20, ...options }).pipe(
    Effect.provideService(OutboundAddress.OutboundPolicy, policy)
  )

/** Runs the dispatcher until the row is delivered or given up. */
const drain = (notifications: Notifications.NotificationsService, outboxId: string) =>
  Effect.gen(function* () {
    for (let round = 0; round < 200; round++) {
      yield* notifications.runOnce
      const state = yield* outboxState(outboxId)
      if (state.delivered_at !== null || state.last_error?.startsWith("gave up") === true) return state
      yield* Effect.sleep(10)
    }
    return yield* Effect.die(new Error(`outbox row ${outboxId} neither delivered nor given up`))
  })

describe("Notifications", () => {
  it.live("posts a finished purchase's event, signed the Standard Webhooks way, once", () =>
    Effect.gen(function* () {
      const fleet = yield* Harness.SimulatedSellers.startSellers([{ name: "cheap", stock: [{ isbn, price: 1500, quantity: 3 }] }])
      yield* Harness.register(fleet)
      const hook = yield* receiver()
      const worker = yield* Harness.worker("w1")
      const { id } = yield* submitWithUrl(hook.url)
      expect((yield* Harness.runUntilDone(worker, id)).status).toBe("purchased")

      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ id: string; event: string; created_at: Date }>`SELECT id, event, created_at FROM outbox WHERE request_id = ${id}`
      expect(row?.event).toBe("purchase_request.purchased")
      expect(hook.received).toHaveLength(0) // nothing is sent by the pipeline itself

      const notifications = yield* dispatcher()
      expect(yield* notifications.runOnce).toBe(1)
      expect(hook.received).toHaveLength(1)
      const delivery = hook.received[0]!
      expect(delivery.headers).toMatchObject({ "content-type": "application/json", "webhook-id": `msg_${row!.id}` })
      expect(Number(delivery.headers["webhook-timestamp"])).toBeCloseTo(Date.now() / 1_000, -1)
      // The receiver's side: the official verifier accepts it, and only with the right secret and body.
      const verified = new Webhook(secret).verify(delivery.body, delivery.headers)
      expect(verified).toEqual({
        type: "purchase_request.purchased",
        timestamp: row!.created_at.toISOString(),
        data: {
          id,
          status: "purchased",
          isbn,
          reason: expect.toBeOneOf([null, expect.any(String)]),
          final_price: { amount: 1500, currency: "EUR" },
          // Bought in the request's own currency: no other amount, no rate.
          seller_price: null,
          exchange_rates: [],
          seller_id: expect.any(String),
          order_id: expect.any(String),
          counter_offer: null
        }
      })
      expect(() => new Webhook(Notifications.generateSecret()).verify(delivery.body, delivery.headers)).toThrow(/signature/i)
      expect(() => new Webhook(secret).verify(delivery.body.replace("1500", "1"), delivery.headers)).toThrow(/signature/i)

      expect(yield* outboxState(row!.id)).toMatchObject({ attempts: 1, delivered_at: expect.any(Date), last_error: null })
      expect(yield* notifications.runOnce).toBe(0)
      expect(hook.received).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("retries a failing receiver with backoff, the same message each time, until it answers 2xx", () =>
    Effect.gen(function* () {
      const hook = yield* receiver((n) => ({ status: n <= 2 ? 500 : 200 }))
      const { outboxId } = yield* outboxRow(hook.url)
      const notifications = yield* dispatcher({ retryBaseMillis: 30, retryMaxMillis: 60 })

      expect(yield* notifications.runOnce).toBe(1)
      expect(yield* outboxState(outboxId)).toMatchObject({ attempts: 1, delivered_at: null, last_error: "HTTP 500 from the receiver" })
      // Not due again before its backoff.
      expect(yield* notifications.runOnce).toBe(0)
      expect(hook.received).toHaveLength(1)

      const state = yield* drain(notifications, outboxId)
      expect(state).toMatchObject({ attempts: 3, delivered_at: expect.any(Date), last_error: null })
      expect(hook.received).toHaveLength(3)
      expect(new Set(hook.received.map((delivery) => delivery.headers["webhook-id"]))).toEqual(new Set([`msg_${outboxId}`]))
      expect(new Set(hook.received.map((delivery) => delivery.body)).size).toBe(1)
      for (const delivery of hook.received) expect(new Webhook(secret).verify(delivery.body, delivery.headers)).toMatchObject({ type: "purchase_request.not_available" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("gives up after maxAttempts, leaving the last error", () =>
    Effect.gen(function* () {
      const hook = yield* receiver(() => ({ status: 503 }))
      const { outboxId } = yield* outboxRow(hook.url)
      const notifications = yield* dispatcher({ maxAttempts: 3 })
      const state = yield* drain(notifications, outboxId)
      expect(state).toMatchObject({ attempts: 3, delivered_at: null, last_error: "gave up after 3 attempts; last: HTTP 503 from the receiver" })
      yield* Effect.sleep(50)
      expect(yield* notifications.runOnce).toBe(0)
      expect(hook.received).toHaveLength(3)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("counts a receiver that does not answer within timeoutMillis as a failed attempt", () =>
    Effect.gen(function* () {
      const slow = yield* receiver(() => ({ status: 200 }), 1_000)
      const { outboxId } = yield* outboxRow(slow.url)
      const notifications = yield* dispatcher({ timeoutMillis: 100 })
      const started = Date.now()
      expect(yield* notifications.runOnce).toBe(1)
      expect(Date.now() - started).toBeLessThan(900)
      const state = yield* outboxState(outboxId)
      expect(state).toMatchObject({ attempts: 1, delivered_at: null })
      expect(state.last_error).toMatch(/no answer within 100 ms/)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("refuses URLs that are not http(s), and never follows a redirect", () =>
    Effect.gen(function* () {
      const elsewhere = yield* receiver()
      const redirecting = yield* receiver(() => ({ status: 307, headers: { location: elsewhere.url } }))
      const refused = yield* Effect.forEach(["file:///etc/passwd", "ftp://127.0.0.1/hooks", "not a url"], (url) => outboxRow(url))
      const { outboxId: redirected } = yield* outboxRow(redirecting.url)
      const notifications = yield* dispatcher()
      expect(yield* notifications.runOnce).toBe(4)
      for (const { outboxId } of refused) {
        const state = yield* outboxState(outboxId)
        expect(state).toMatchObject({ attempts: 1, delivered_at: null })
        expect(state.last_error).toMatch(/refused/)
      }
      expect((yield* outboxState(refused[0]!.outboxId)).last_error).toMatch(/only http and https/)
      expect(yield* outboxState(redirected)).toMatchObject({ attempts: 1, delivered_at: null, last_error: expect.stringMatching(/HTTP 307 redirect.*not followed/) })
      expect(redirecting.received).toHaveLength(1)
      expect(elsewhere.received).toHaveLength(0)
      // Refused rows are never tried again.
      yield* Effect.sleep(50)
      expect(yield* notifications.runOnce).toBe(1) // only the redirected one, retried
      for (const { outboxId } of refused) expect((yield* outboxState(outboxId)).attempts).toBe(1)
      expect(elsewhere.received).toHaveLength(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("marks an event without notify_url delivered without sending anything", () =>
    Effect.gen(function* () {
      const hook = yield* receiver()
      const { outboxId } = yield* outboxRow(null)
      const notifications = yield* dispatcher()
      expect(yield* notifications.runOnce).toBe(1)
      expect(yield* outboxState(outboxId)).toMatchObject({ attempts: 0, delivered_at: expect.any(Date), last_error: null })
      expect(yield* notifications.runOnce).toBe(0)
      expect(hook.received).toHaveLength(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("two dispatchers at once never deliver one row twice", () =>
    Effect.gen(function* () {
      const hook = yield* receiver(() => ({ status: 200 }), 15)
      const rows = yield* Effect.forEach(Array.from({ length: 30 }), () => outboxRow(hook.url))
      const first = yield* dispatcher({ batchSize: 4 })
      const second = yield* dispatcher({ batchSize: 4 })
      const sql = yield* SqlClient.SqlClient
      const handled = [0, 0]
      const loop = (notifications: Notifications.NotificationsService, index: 0 | 1) =>
        Effect.gen(function* () {
          for (let round = 0; round < 200; round++) {
            const n = yield* notifications.runOnce
            handled[index]! += n
            const [left] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE delivered_at IS NULL`
            if (left!.n === 0) return
            if (n === 0) yield* Effect.sleep(5)
          }
        })
      yield* Effect.all([loop(first, 0), loop(second, 1)], { concurrency: "unbounded" })
      const ids = hook.received.map((delivery) => delivery.headers["webhook-id"])
      expect(ids).toHaveLength(30)
      expect(new Set(ids)).toEqual(new Set(rows.map((row) => `msg_${row.outboxId}`)))
      expect(handled[0]! + handled[1]!).toBe(30)
      expect(handled[0]).toBeGreaterThan(0)
      expect(handled[1]).toBeGreaterThan(0)
      const attempts = yield* sql<{ attempts: number }>`SELECT DISTINCT attempts FROM outbox`
      expect(attempts).toEqual([{ attempts: 1 }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("never calls a notify_url on this machine unless the operator allowed it: refused for good", () =>
    Effect.gen(function* () {
      const hook = yield* receiver()
      const { outboxId } = yield* outboxRow(hook.url)
      const notifications = yield* dispatcher({}, { allowNetworks: [] })
      yield* notifications.runOnce
      expect(hook.received).toHaveLength(0)
      const state = yield* outboxState(outboxId)
      expect(state.delivered_at).toBeNull()
      expect(state.last_error).toMatch(/points at 127\.0\.0\.1, which is not a public address; refused, never retried/)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("layerRunning dispatches in the background", () =>
    Effect.gen(function* () {
      const hook = yield* receiver()
      const { outboxId } = yield* outboxRow(hook.url)
      yield* Layer.build(
        Notifications.layerRunning({ secret: Redacted.make(secret), pollMillis: 10 }).pipe(
          Layer.provide(Layer.succeed(OutboundAddress.OutboundPolicy, OutboundAddress.loopback))
        )
      )
      for (let round = 0; round < 100 && hook.received.length === 0; round++) yield* Effect.sleep(10)
      expect(hook.received).toHaveLength(1)
      for (let round = 0; round < 100 && (yield* outboxState(outboxId)).delivered_at === null; round++) yield* Effect.sleep(10)
      expect((yield* outboxState(outboxId)).delivered_at).toBeInstanceOf(Date)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("generates secrets in the whsec_/base64 form, and refuses others", () =>
    Effect.gen(function* () {
      expect(Notifications.generateSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
      for (const bad of ["whsec_", "whsec_not base64!"]) {
        const error = yield* Effect.flip(Notifications.make({ secret: Redacted.make(bad) }))
        expect(error._tag).toBe("InvalidWebhookSecret")
        expect(error.message).toMatch(/whsec_/)
      }
    }).pipe(Effect.provide(Infrastructure))
  )
})

describe("Notifications rules, alone", () => {
  it("the wait before the next attempt doubles from the base, stops at the maximum, and jitters ±25 %", () => {
    const base = 10_000
    const max = 6 * 60 * 60 * 1_000
    expect([1, 2, 3, 4].map((attempts) => Notifications.retryDelay(attempts, base, max, 0.5))).toEqual([10_000, 20_000, 40_000, 80_000])
    expect(Notifications.retryDelay(40, base, max, 0.5)).toBe(max)
    expect(Notifications.retryDelay(1, base, max, 0)).toBe(7_500)
    expect(Notifications.retryDelay(1, base, max, 1)).toBe(12_500)
  })

  it("only a 2xx delivers; a redirect is not followed and says where it pointed; anything else is a failed attempt", () => {
    expect(Notifications.answered(204, undefined)).toEqual({ _tag: "Delivered" })
    const redirect = Notifications.answered(302, "https://elsewhere.example/hook")
    expect(redirect._tag).toBe("Failed")
    expect(redirect._tag === "Failed" && redirect.error).toMatch(/HTTP 302 redirect to https:\/\/elsewhere\.example\/hook: redirects are not followed/)
    expect(Notifications.answered(500, undefined)).toEqual({ _tag: "Failed", error: "HTTP 500 from the receiver" })
    expect(Notifications.answered(199, undefined)._tag).toBe("Failed")
  })
})
