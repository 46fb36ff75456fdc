/**
 * Every request a customer or seller key makes counts against that principal's budget
 * (`principalRateLimit`), reads and failed look-ups included: past it, a 429 problem with
 * `Retry-After`, for that principal only. Operator calls are not counted.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { defaultSettings, effectiveSettings } from "../src/Config.js"
import * as TestServer from "./support/TestServer.js"

const limited = (reply: TestServer.Reply) => {
  expect(reply.status).toBe(429)
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.body).toMatchObject({ status: 429, type: "urn:bookbroker:problem:rate-limited", detail: expect.stringMatching(/slow down: try again in \d+ s/) })
  expect(Number(reply.headers["retry-after"])).toBeGreaterThanOrEqual(1)
  expect(reply.headers["ratelimit"]).toMatch(/remaining=0/)
}

const purchase = {
  isbn: "9780306406157",
  max_price: { amount: 3000, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
}

describe("rate limits per principal", () => {
  it.live("a customer's reads and failed look-ups are limited (429 with Retry-After), its submissions with them; other customers go on", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ principalRateLimit: { requestsPerSecond: 0.25, burst: 4 } }, { workers: false })
      const ada = yield* server.customer("Ada")
      const bob = yield* server.customer("Bob")
      const reads = [
        ["GET", "/v1/purchase-requests"],
        ["GET", `/v1/purchase-requests/${crypto.randomUUID()}`],
        ["GET", `/v1/purchase-requests/${crypto.randomUUID()}`],
        ["GET", "/v1/purchase-requests?status=failed"]
      ] as const
      expect(yield* Effect.forEach(reads, ([method, path]) => Effect.map(server.call(method, path, { token: ada.key }), (reply) => reply.status))).toEqual([200, 404, 404, 200])
      // The budget is gone: a look-up, a read, a submission, a key rotation — each a 429 problem.
      const first = yield* server.call("GET", `/v1/purchase-requests/${crypto.randomUUID()}`, { token: ada.key })
      limited(first)
      limited(yield* server.call("GET", "/v1/purchase-requests", { token: ada.key }))
      limited(yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase, headers: { "idempotency-key": "a" } }))
      limited(yield* server.call("POST", "/v1/customers/me/keys", { token: ada.key }))
      expect(yield* server.count("purchase_requests")).toBe(0)
      expect(yield* server.count("api_keys")).toBe(2)
      // Bob has a budget of his own; the operator is not counted.
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: bob.key })).status).toBe(200)
      for (let i = 0; i < 10; i++) expect((yield* server.operator("GET", "/v1/operator/purchase-requests")).status).toBe(200)
      // A wrong key is a 401 (a failed sign-in, counted per address), never a hit on Ada's budget.
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: "bb_cus_nobody" })).status).toBe(401)
      // The budget refills (one request every 4 s): after the Retry-After the first refusal gave, Ada is served again.
      yield* Effect.sleep(Number(first.headers["retry-after"]) * 1_000 + 100)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).status).toBe(200)
      limited(yield* server.call("GET", "/v1/purchase-requests", { token: ada.key }))
    })
  )

  it.live("a seller's own reads are limited per seller", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ principalRateLimit: { requestsPerSecond: 0.25, burst: 3 } }, { workers: false })
      const [shop, other] = yield* server.registerSellers([{ name: "shop" }, { name: "other" }])
      for (let i = 0; i < 3; i++) expect((yield* server.call("GET", "/v1/sellers/me", { token: shop!.key })).status).toBe(200)
      limited(yield* server.call("GET", "/v1/sellers/me", { token: shop!.key }))
      limited(yield* server.call("PATCH", "/v1/sellers/me", { token: shop!.key, body: { contact: "new@shop.example" } }))
      expect((yield* server.call("GET", "/v1/sellers/me", { token: other!.key })).status).toBe(200)
      expect((yield* server.operator("GET", `/v1/operator/sellers/${shop!.id}`)).body.contact).not.toBe("new@shop.example")
    })
  )

  it("the default: 1,000 requests a second (burst 2,000) per key, never below a raised submission limit unless set", () => {
    expect(effectiveSettings().principalRateLimit).toEqual({ requestsPerSecond: 1_000, burst: 2_000 })
    expect(effectiveSettings().principalRateLimit).toEqual(defaultSettings.principalRateLimit)
    // A deployment (or a load test) that raises submissions raises the budget they count against.
    expect(effectiveSettings({ customerRateLimit: { requestsPerSecond: 5_000, burst: 10_000 } }).principalRateLimit).toEqual({ requestsPerSecond: 5_000, burst: 10_000 })
    expect(effectiveSettings({ customerRateLimit: { requestsPerSecond: 1, burst: 2 } }).principalRateLimit).toEqual({ requestsPerSecond: 1_000, burst: 2_000 })
    // Set explicitly, it is what was asked for.
    expect(
      effectiveSettings({ customerRateLimit: { requestsPerSecond: 1_000, burst: 2_000 }, principalRateLimit: { requestsPerSecond: 5, burst: 10 } }).principalRateLimit
    ).toEqual({ requestsPerSecond: 5, burst: 10 })
  })
})
