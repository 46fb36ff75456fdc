import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { SimulatedSellers } from "@bookbroker/engine/testing"
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect } from "effect"
import * as TestServer from "./support/TestServer.js"

const [isbn, other] = generateIsbns({ size: 2, seed: 21 }) as [Isbn.Isbn13, Isbn.Isbn13]

const problem = (reply: TestServer.Reply, status: number) => {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { status } })
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.body).toMatchObject({ type: expect.stringMatching(/^urn:bookbroker:problem:/), title: expect.any(String), detail: expect.any(String) })
  expect(reply.text).not.toMatch(/\n\s+at /)
}

const purchase = (overrides: Record<string, unknown> = {}) => TestServer.purchaseBody(isbn, overrides)

describe("seller API", () => {
  it.live("registration: 201 with the id, pending status and an API key shown once and stored hashed; credentials never shown", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [seller] = yield* SimulatedSellers.startSellers([{ name: "paper-moon", apiKey: "upstream-secret-123", stock: [{ isbn, price: 1500, quantity: 3 }] }])
      const reply = yield* server.call("POST", "/v1/sellers", { body: server.registration(seller!) })
      expect(reply.status).toBe(201)
      expect(reply.body).toEqual({ id: expect.any(String), status: "pending", api_key: expect.stringMatching(/^bb_sel_/) })
      expect(reply.text).not.toContain("upstream-secret-123")

      // Only the key's hash is stored; the seller's credentials are sealed.
      const keys = yield* server.sql<{ key_hash: string; kind: string; owner_id: string }>`SELECT key_hash, kind, owner_id FROM api_keys`.pipe(Effect.orDie)
      expect(keys).toEqual([{ key_hash: createHash("sha256").update(reply.body.api_key).digest("hex"), kind: "seller", owner_id: reply.body.id }])
      const stored = yield* server.sql<{ credentials: string }>`SELECT encode(credentials, 'escape') AS credentials FROM sellers`.pipe(Effect.orDie)
      expect(stored[0]!.credentials).not.toContain("upstream-secret-123")

      const me = yield* server.call("GET", "/v1/sellers/me", { token: reply.body.api_key })
      expect(me.status).toBe(200)
      expect(me.body).toMatchObject({
        id: reply.body.id,
        name: "paper-moon",
        status: "pending",
        contact: "paper-moon@sellers.example",
        adapter: { kind: "reference", version: expect.any(String), config: { baseUrl: seller!.config.baseUrl, currency: "EUR" }, credentials: ["apiKey"] },
        limit_overrides: { requests_per_second: 1_000, burst: 1_000, timeout_ms: 1_000 },
        limits: { requests_per_second: 1_000, burst: 1_000, max_concurrency: 16, timeout_ms: 1_000 },
        capabilities: { batch_quotes: null, holds: true, order_lookup: false, price_push: false },
        config_error: null
      })
      expect(me.text).not.toContain("upstream-secret-123")

      // A pending seller is not asked for quotes.
      const ada = yield* server.customer("Ada")
      expect((yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })).body.sellers).toEqual([])
    })
  )

  it.live("with autoActivateSellers, a new seller starts active and is quoted at once", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ autoActivateSellers: true })
      const [registered] = yield* server.registerSellers([{ name: "quick", stock: [{ isbn, price: 1200, quantity: 1 }] }], { activate: false })
      expect(registered!.status).toBe("active")
      const ada = yield* server.customer("Ada")
      const offers = yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })
      expect(offers.body.offers).toMatchObject([{ seller_id: registered!.id, seller_name: "quick", price: { amount: 1200 } }])
    })
  )

  it.live("registration errors: unknown adapter 422, refused config 422 with a pointer, duplicate name 409, bad body 422; nothing stored", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [seller] = yield* SimulatedSellers.startSellers([{ name: "dup" }])
      const base = server.registration(seller!)

      const unknownKind = yield* server.call("POST", "/v1/sellers", { body: { ...base, adapter: { ...base.adapter, kind: "carrier-pigeon" } } })
      problem(unknownKind, 422)
      expect(unknownKind.body.detail).toMatch(/no adapter of kind "carrier-pigeon".*installed: reference/)
      expect(unknownKind.body.errors).toEqual([{ pointer: "/adapter/kind", detail: expect.stringContaining("reference") }])

      const badConfig = yield* server.call("POST", "/v1/sellers", { body: { ...base, adapter: { ...base.adapter, config: { baseUrl: "not a url", currency: "EUR" } } } })
      problem(badConfig, 422)
      expect(badConfig.body.detail).toMatch(/baseUrl/)
      expect(badConfig.body.errors[0].pointer).toBe("/adapter/config")

      const noCredentials = yield* server.call("POST", "/v1/sellers", { body: { ...base, adapter: { kind: "reference", config: base.adapter.config } } })
      problem(noCredentials, 422)
      expect(noCredentials.body.errors).toEqual([{ pointer: "/adapter/credentials", detail: "missing credentials: apiKey" }])

      const badLimits = yield* server.call("POST", "/v1/sellers", { body: { ...base, limits: { requests_per_second: 1, timeout_ms: 999_999 } } })
      problem(badLimits, 422)
      expect(badLimits.body.errors.map((error: { pointer: string }) => error.pointer)).toContain("/limits/timeout_ms")
      // A rate near zero (refill times no clock or Redis script can represent) is refused too.
      const tinyRate = yield* server.call("POST", "/v1/sellers", { body: { ...base, limits: { requests_per_second: 1e-300 } } })
      problem(tinyRate, 422)
      expect(tinyRate.body.errors).toEqual([{ pointer: "/limits/requests_per_second", detail: expect.stringMatching(/at least 0.01/) }])

      const noName = yield* server.call("POST", "/v1/sellers", { body: { ...base, name: "  " } })
      problem(noName, 422)
      expect(yield* server.count("sellers")).toBe(0)

      expect((yield* server.call("POST", "/v1/sellers", { body: base })).status).toBe(201)
      const duplicate = yield* server.call("POST", "/v1/sellers", { body: { ...base, name: "DUP" } })
      problem(duplicate, 409)
      expect(duplicate.body.detail).toMatch(/already registered/)
      expect(yield* server.count("sellers")).toBe(1)
      expect(yield* server.count("api_keys")).toBe(1)
    })
  )

  it.live("registration is rate limited per client IP, with Retry-After", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ sellerRegistrationRateLimit: { requestsPerSecond: 0.01, burst: 2 } })
      const running = yield* SimulatedSellers.startSellers([{ name: "r1" }, { name: "r2" }, { name: "r3" }])
      const statuses: Array<number> = []
      let limited: TestServer.Reply | undefined
      for (const seller of running) {
        const reply = yield* server.call("POST", "/v1/sellers", { body: server.registration(seller) })
        statuses.push(reply.status)
        if (reply.status === 429) limited = reply
      }
      expect(statuses).toEqual([201, 201, 429])
      problem(limited!, 429)
      expect(Number(limited!.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      expect(yield* server.count("sellers")).toBe(2)
    })
  )

  it.live("PATCH /v1/sellers/me changes contact, config, limits and credentials; a refused change is 422 and changes nothing", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [registered] = yield* server.registerSellers([{ name: "mutable", apiKey: "old-upstream", stock: [{ isbn, price: 1000, quantity: 2 }] }])
      const key = registered!.key
      const config = registered!.seller.config

      const changed = yield* server.call("PATCH", "/v1/sellers/me", {
        token: key,
        body: { contact: "desk@mutable.example", adapter: { config: { ...config, shipping: 250 }, credentials: { apiKey: "new-upstream" } }, limits: { max_concurrency: 4 } }
      })
      expect(changed.status).toBe(200)
      expect(changed.body).toMatchObject({
        contact: "desk@mutable.example",
        adapter: { config: { shipping: 250 }, credentials: ["apiKey"] },
        limit_overrides: { requests_per_second: 1_000, burst: 1_000, max_concurrency: 4, timeout_ms: 1_000 },
        limits: { max_concurrency: 4 }
      })
      expect(changed.text).not.toContain("new-upstream")
      const sealed = yield* server.directory.get(registered!.id)
      expect(Object.keys(sealed.credentials)).toEqual(["apiKey"])

      const refused = yield* server.call("PATCH", "/v1/sellers/me", { token: key, body: { adapter: { config: { currency: "EUR" } } } })
      problem(refused, 422)
      expect(refused.body.errors[0].pointer).toBe("/adapter/config")
      const badLimits = yield* server.call("PATCH", "/v1/sellers/me", { token: key, body: { limits: { burst: 0 } } })
      problem(badLimits, 422)
      const after = yield* server.call("GET", "/v1/sellers/me", { token: key })
      expect(after.body.adapter.config).toMatchObject({ baseUrl: config.baseUrl, shipping: 250 })
      expect(after.body.limits.max_concurrency).toBe(4)
      // Clearing the contact.
      expect((yield* server.call("PATCH", "/v1/sellers/me", { token: key, body: { contact: null } })).body.contact).toBeNull()
    })
  )

  it.live("a seller that changes its config or credentials goes back to review: pending, not asked for quotes, until the operator activates it again", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [registered] = yield* server.registerSellers([{ name: "mover", apiKey: "mover-key", stock: [{ isbn, price: 1100, quantity: 2 }] }])
      const key = registered!.key
      const config = registered!.seller.config
      const ada = yield* server.customer("Ada")
      const quotedBy = Effect.map(server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key }), (reply) => reply.body.sellers.map((seller: { seller_id: string }) => seller.seller_id))
      expect(yield* quotedBy).toEqual([registered!.id])

      // Limits, contact, and the same config sent again keep what the operator approved.
      const same = yield* server.call("PATCH", "/v1/sellers/me", { token: key, body: { contact: "desk@mover.example", limits: { max_concurrency: 2 }, adapter: { config, credentials: { apiKey: "mover-key" } } } })
      expect(same.body.status).toBe("active")

      // A new base URL (here: the same shop on another port of this machine) is not what was approved.
      const moved = yield* server.call("PATCH", "/v1/sellers/me", { token: key, body: { adapter: { config: { ...config, baseUrl: config.baseUrl.replace(/:(\d+)/, ":9") } } } })
      expect(moved.status).toBe(200)
      expect(moved.body.status).toBe("pending")
      expect(yield* quotedBy).toEqual([])
      const back = yield* server.operator("POST", `/v1/operator/sellers/${registered!.id}/activate`)
      expect(back.body.status).toBe("active")

      // New credentials too.
      const rekeyed = yield* server.call("PATCH", "/v1/sellers/me", { token: key, body: { adapter: { credentials: { apiKey: "another-key" } } } })
      expect(rekeyed.body.status).toBe("pending")
    })
  )

  it.live("a disabled seller cannot change its settings (403, nothing changed); it can still rotate its key", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [registered] = yield* server.registerSellers([{ name: "benched", stock: [{ isbn, price: 1000, quantity: 1 }] }])
      const disabled = yield* server.operator("POST", `/v1/operator/sellers/${registered!.id}/disable`)
      expect(disabled.body.status).toBe("disabled")
      const refused = yield* server.call("PATCH", "/v1/sellers/me", { token: registered!.key, body: { contact: "new@benched.example", adapter: { config: { ...registered!.seller.config, baseUrl: "https://elsewhere.example" } } } })
      problem(refused, 403)
      const after = yield* server.directory.get(registered!.id)
      expect({ status: after.status, baseUrl: (after.config as { baseUrl: string }).baseUrl }).toEqual({ status: "disabled", baseUrl: registered!.seller.config.baseUrl })
      const rotated = yield* server.call("POST", "/v1/sellers/me/keys", { token: registered!.key })
      expect(rotated.status).toBe(201)
    })
  )

  it.live("a base URL that is not a public address is refused at registration and on PATCH (the default outbound policy); nothing stored", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({}, { outbound: { allowNetworks: [] } })
      const [seller] = yield* SimulatedSellers.startSellers([{ name: "probe" }])
      const base = server.registration(seller!)
      for (const baseUrl of ["http://127.0.0.1:6379", "http://[::1]:5432/", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "http://0x7f.1:4000"]) {
        const refused = yield* server.call("POST", "/v1/sellers", { body: { ...base, adapter: { ...base.adapter, config: { ...base.adapter.config, baseUrl } } } })
        problem(refused, 422)
        expect(refused.body.errors[0].pointer).toBe("/adapter/config")
        expect(refused.body.detail).toMatch(/baseUrl/)
      }
      expect(yield* server.count("sellers")).toBe(0)

      const accepted = yield* server.call("POST", "/v1/sellers", { body: { ...base, adapter: { ...base.adapter, config: { ...base.adapter.config, baseUrl: "https://api.probe.example" } } } })
      expect(accepted.status).toBe(201)
      const moved = yield* server.call("PATCH", "/v1/sellers/me", { token: accepted.body.api_key, body: { adapter: { config: { ...base.adapter.config, baseUrl: "http://10.1.2.3/" } } } })
      problem(moved, 422)
      expect((yield* server.call("GET", "/v1/sellers/me", { token: accepted.body.api_key })).body.adapter.config.baseUrl).toBe("https://api.probe.example")
    })
  )

  it.live("key rotation: the new key works at once, every older key is revoked", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [registered] = yield* server.registerSellers([{ name: "rotator" }])
      const rotated = yield* server.call("POST", "/v1/sellers/me/keys", { token: registered!.key })
      expect(rotated.status).toBe(201)
      expect(rotated.body.api_key).toMatch(/^bb_sel_/)
      expect(rotated.body.api_key).not.toBe(registered!.key)
      problem(yield* server.call("GET", "/v1/sellers/me", { token: registered!.key }), 401)
      expect((yield* server.call("GET", "/v1/sellers/me", { token: rotated.body.api_key })).body.id).toBe(registered!.id)
    })
  )

  it.live("authentication and isolation: each seller key acts on its own seller only; other credentials are 401", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [a, b] = yield* server.registerSellers([{ name: "alpha" }, { name: "beta" }])
      const ada = yield* server.customer("Ada")
      for (const [method, path] of [
        ["GET", "/v1/sellers/me"],
        ["PATCH", "/v1/sellers/me"],
        ["POST", "/v1/sellers/me/keys"],
        ["POST", "/v1/sellers/me/offers"]
      ] as const) {
        const body = method === "GET" ? undefined : path.endsWith("offers") ? { offers: [{ isbn, available: false }] } : method === "PATCH" ? { contact: "x@y.example" } : undefined
        for (const token of [undefined, ada.key, TestServer.operatorToken, "bb_sel_unknown"]) {
          problem(yield* server.call(method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) }), 401)
        }
      }
      // A seller key is no customer key either.
      problem(yield* server.call("GET", "/v1/purchase-requests", { token: a!.key }), 401)
      problem(yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: a!.key }), 401)

      expect((yield* server.call("GET", "/v1/sellers/me", { token: a!.key })).body.name).toBe("alpha")
      expect((yield* server.call("GET", "/v1/sellers/me", { token: b!.key })).body.name).toBe("beta")
      yield* server.call("PATCH", "/v1/sellers/me", { token: a!.key, body: { contact: "alpha@desk.example" } })
      expect((yield* server.call("GET", "/v1/sellers/me", { token: b!.key })).body.contact).toBe("beta@sellers.example")
      // Rotating A's key leaves B's working.
      yield* server.call("POST", "/v1/sellers/me/keys", { token: a!.key })
      expect((yield* server.call("GET", "/v1/sellers/me", { token: b!.key })).status).toBe(200)
      // Pushing as A only touches A's answers.
      yield* server.call("POST", "/v1/sellers/me/offers", { token: b!.key, body: { offers: [{ isbn: other, available: true, price: { amount: 900, currency: "EUR" } }] } })
      const offers = yield* server.call("GET", `/v1/books/${other}/offers`, { token: ada.key })
      expect(offers.body.offers.map((offer: { seller_name: string }) => offer.seller_name)).toEqual(["beta"])
    })
  )

  it.live("pushed offers: 403 until active; then cached offers customers see; invalid pushes are 422", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [registered] = yield* server.registerSellers([{ name: "pusher", stock: [{ isbn, price: 2000, quantity: 5 }] }], { activate: false })
      const key = registered!.key
      const push = (offers: ReadonlyArray<Record<string, unknown>>) => server.call("POST", "/v1/sellers/me/offers", { token: key, body: { offers } })

      const pending = yield* push([{ isbn, available: true, price: { amount: 1500, currency: "EUR" } }])
      problem(pending, 403)
      expect(pending.body.detail).toMatch(/pending/)

      yield* server.operator("POST", `/v1/operator/sellers/${registered!.id}/activate`)
      const pushed = yield* push([
        { isbn: isbn.replace(/^978(\d)(\d{2})/, "978-$1-$2-"), available: true, price: { amount: 1500, currency: "EUR" }, shipping: { amount: 300, currency: "EUR" }, quantity: 2, condition: "good", valid_for_seconds: 120 },
        { isbn: other, available: false }
      ])
      expect(pushed.status).toBe(200)
      expect(pushed.body).toEqual({
        accepted: 2,
        offers: [
          { isbn, available: true, expires_at: expect.any(String) },
          { isbn: other, available: false, expires_at: expect.any(String) }
        ]
      })
      const expiresIn = Date.parse(pushed.body.offers[0].expires_at) - Date.now()
      expect(expiresIn).toBeGreaterThan(100_000)
      expect(expiresIn).toBeLessThanOrEqual(120_000)

      const ada = yield* server.customer("Ada")
      const offers = yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })
      expect(offers.body.offers).toEqual([
        {
          seller_id: registered!.id,
          seller_name: "pusher",
          price: { amount: 1500, currency: "EUR" },
          shipping: { amount: 300, currency: "EUR" },
          total: { amount: 1800, currency: "EUR" },
          condition: "good",
          quantity: 2,
          expires_at: pushed.body.offers[0].expires_at,
          // From the quote cache, where the push landed: its time is not kept there.
          source: "push",
          as_of: null,
          age_seconds: null
        }
      ])
      // Kept in the offer index too (the quote cache alone loses it when Redis is away).
      const indexed = yield* server.sql<{ listing_id: string; price: string; source: string }>`SELECT listing_id, price, source FROM listings`.pipe(Effect.orDie)
      expect(indexed).toEqual([{ listing_id: `push:${isbn}`, price: "1500", source: "push" }])
      expect(offers.body.sellers).toMatchObject([{ seller_id: registered!.id, status: "offer", cached: true }])
      const none = yield* server.call("GET", `/v1/books/${other}/offers`, { token: ada.key })
      expect(none.body.sellers).toMatchObject([{ status: "unavailable", reason: "out_of_stock", cached: true }])

      const tooLong = yield* push([{ isbn, available: false }, { isbn, available: true, price: { amount: 100, currency: "EUR" }, valid_for_seconds: 3_600 }])
      problem(tooLong, 422)
      expect(tooLong.body.errors).toContainEqual({ pointer: "/offers/1/valid_for_seconds", detail: expect.stringMatching(/at most 5 minutes/) })
      const badIsbn = yield* push([{ isbn: "9780306406158", available: false }])
      problem(badIsbn, 422)
      expect(badIsbn.body.errors.map((error: { pointer: string }) => error.pointer)).toContain("/offers/0/isbn")
      const semantic = yield* push([{ isbn, available: true }, { isbn, available: true, price: { amount: 100, currency: "EUR" }, shipping: { amount: 10, currency: "USD" } }])
      problem(semantic, 422)
      expect(semantic.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual(["/offers/0/price", "/offers/1/shipping/currency"])
      problem(yield* push([]), 422)
      // Nothing of a refused push was cached.
      expect((yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })).body.offers[0].price.amount).toBe(1500)
      // A disabled seller pushes no more.
      yield* server.operator("POST", `/v1/operator/sellers/${registered!.id}/disable`)
      problem(yield* push([{ isbn, available: false }]), 403)
    })
  )

  it.live("a purchase never buys from a pushed price: it asks the seller and buys at the seller's own price", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [registered] = yield* server.registerSellers([{ name: "optimist", stock: [{ isbn, price: 2200, quantity: 5 }] }])
      yield* server.call("POST", "/v1/sellers/me/offers", { token: registered!.key, body: { offers: [{ isbn, available: true, price: { amount: 1000, currency: "EUR" } }] } })
      const ada = yield* server.customer("Ada")
      expect((yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })).body.offers[0].price.amount).toBe(1000)
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase(), headers: { "idempotency-key": "pushed" } })
      const done = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(done.body).toMatchObject({ status: "purchased", final_price: { amount: 2200 }, seller_id: registered!.id })
      expect(registered!.seller.simulator.ordersByBuyer().get(created.body.id)).toBe(1)
      // The seller's own answer replaced the pushed one in the cache.
      expect((yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })).body.offers[0].price.amount).toBe(2200)
    })
  )
})
