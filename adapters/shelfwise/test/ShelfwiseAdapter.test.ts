/**
 * The adapter against recorded Shelfwise answers (`test/fixtures/*.json`): a one-route server
 * records every request the adapter sends and answers with the next fixture, so each test checks
 * both directions — what goes out on the wire (path, body, HMAC signature) and how the answer
 * comes back through `SellerClient` (contract shapes, error taxonomy).
 */
import { createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { Contract, Http, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { http } from "msw"
import { shelfwiseAdapter } from "../src/index.js"

const credentials = { keyId: "bookbroker-test-key", secret: "fixture-shared-secret" }

interface Recorded {
  readonly method: string
  /** Path and query exactly as they arrived (percent-encoding untouched). */
  readonly pathAndQuery: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

interface RecordedAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
}

const fixture = (name: string): RecordedAnswer =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as RecordedAnswer

const answer = (recorded: RecordedAnswer): Response =>
  new Response(recorded.body === undefined ? null : JSON.stringify(recorded.body), {
    status: recorded.status,
    headers: { "content-type": "application/json", ...recorded.headers }
  })

/**
 * A Shelfwise stand-in that answers each request with the next of `fixtures` (a 599 once they
 * run out, so an unexpected extra call cannot pass unnoticed), and the client under test.
 */
const recordingSeller = (fixtures: ReadonlyArray<string>, config: { readonly maxBatchSize?: number } = {}) =>
  Effect.gen(function* () {
    const requests: Array<Recorded> = []
    const answers = fixtures.map(fixture)
    const server = yield* Effect.acquireRelease(
      Effect.promise(() =>
        serveHandlers([
          http.all("*", async ({ request }) => {
            const url = new URL(request.url)
            const headers: Record<string, string> = {}
            request.headers.forEach((value, name) => {
              headers[name] = value
            })
            requests.push({ method: request.method, pathAndQuery: url.pathname + url.search, headers, body: await request.text() })
            const next = answers.shift()
            return next === undefined ? new Response("no fixture left for this call", { status: 599 }) : answer(next)
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(shelfwiseAdapter, {
      sellerId: "shelfwise-fixture",
      config: { baseUrl: server.url, ...config },
      credentials
    })
    return { client, requests }
  })

const isbn = Schema.decodeSync(Isbn.Isbn13)
const inStock = isbn("9780117047532")
const usedGood = isbn("9780619582579")
const soldOut = isbn("9789769076327")
const acceptable = isbn("9785214452685")
const notCarried = isbn("9784055216883")

const offer = new Contract.Offer({
  available: true,
  isbn: inStock,
  quoteId: "ofr_01HZX4T9K2QW7N8B3M5C6D7E8F",
  price: Money.make(1299, "EUR"),
  shipping: Money.make(299, "EUR"),
  condition: "new",
  quantity: 3,
  expiresAt: new Date(1893456000 * 1000)
})

const purchase = (overrides: Partial<Contract.PurchaseRequest> = {}): Contract.PurchaseRequest => ({
  isbn: inStock,
  source: { _tag: "Offer", offer },
  idempotencyKey: "req-42:shelfwise/eu 1",
  maxTotal: Money.make(2000, "EUR"),
  buyerReference: "req-42",
  ...overrides
})

/** Checks a recorded request carries a valid Shelfwise signature for our key id and secret. */
const expectSigned = (request: Recorded) => {
  const timestamp = request.headers["x-timestamp"]
  expect(timestamp).toMatch(/^\d+$/)
  expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60)
  const expected = createHmac("sha256", credentials.secret)
    .update(Http.hmacCanonicalString(request.method, request.pathAndQuery, timestamp!, request.body))
    .digest("hex")
  expect(request.headers["x-signature"]).toBe(`keyId=${credentials.keyId},signature=${expected}`)
  // The secret itself never travels.
  expect(JSON.stringify(request)).not.toContain(credentials.secret)
}

describe("Shelfwise adapter: quotes", () => {
  it.live("asks POST /v2/availability for the ISBNs in one signed call", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["availability.json"])
      yield* client.quote([inStock, usedGood, acceptable, soldOut, notCarried])
      expect(requests).toHaveLength(1)
      const [request] = requests
      expect(request!.method).toBe("POST")
      expect(request!.pathAndQuery).toBe("/v2/availability")
      expect(request!.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(request!.body)).toEqual({ isbns: [inStock, usedGood, acceptable, soldOut, notCarried] })
      expectSigned(request!)
    })
  )

  it.live("reads cents, per-item currency, conditions, stock and expiry; in_stock 0 and omitted books are unavailable", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["availability.json"])
      const [first, second, third, fourth, fifth] = yield* client.quote([inStock, usedGood, acceptable, soldOut, notCarried])
      expect(first).toEqual(
        new Contract.Offer({
          available: true,
          isbn: inStock,
          quoteId: "ofr_01HZX4T9K2QW7N8B3M5C6D7E8F",
          price: Money.make(1299, "EUR"),
          shipping: Money.make(299, "EUR"),
          condition: "new",
          quantity: 3,
          expiresAt: new Date("2030-01-01T00:00:00Z")
        })
      )
      expect(second).toMatchObject({ isbn: usedGood, condition: "good", quantity: 1, price: Money.make(450, "EUR"), shipping: Money.make(0, "EUR") })
      expect(third).toMatchObject({ isbn: acceptable, condition: "acceptable", price: Money.make(2100, "EUR"), shipping: Money.make(350, "EUR") })
      expect(fourth).toEqual(new Contract.Unavailable({ available: false, isbn: soldOut, reason: "out_of_stock" }))
      expect(fifth).toEqual(new Contract.Unavailable({ available: false, isbn: notCarried, reason: "not_carried" }))
    })
  )

  it.live("splits a quote into calls of the configured batch size", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["availability-empty.json", "availability-empty.json"], { maxBatchSize: 2 })
      expect(client.capabilities.batchQuotes).toEqual({ maxBatchSize: 2 })
      const answers = yield* client.quote([inStock, usedGood, soldOut])
      expect(answers.map((a) => a.available)).toEqual([false, false, false])
      expect(requests.map((r) => JSON.parse(r.body))).toEqual([{ isbns: [inStock, usedGood] }, { isbns: [soldOut] }])
    })
  )

  it.live("reports a decimal price where cents belong as MalformedSellerResponse naming the field", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["availability-decimal-price.json"])
      const error = yield* Effect.flip(client.quote([inStock]))
      expect(error._tag).toBe("MalformedSellerResponse")
      expect(error.message).toContain("unit_price_cents")
    })
  )

  it.live("reports a condition Shelfwise never documented as MalformedSellerResponse", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["availability-unknown-condition.json"])
      const error = yield* Effect.flip(client.quote([inStock]))
      expect(error._tag).toBe("MalformedSellerResponse")
      expect(error.message).toContain("collectible_signed")
    })
  )

  it.live("maps 401 BAD_SIGNATURE, 429 and 503 through the SDK's taxonomy", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["bad-signature.json", "rate-limited.json", "maintenance.json"])
      expect(yield* Effect.flip(client.quote([inStock]))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401 })
      expect(yield* Effect.flip(client.quote([inStock]))).toMatchObject({
        _tag: "SellerUnavailable",
        reason: "rate_limited",
        retryAfterMillis: 7000
      })
      expect(yield* Effect.flip(client.quote([inStock]))).toMatchObject({
        _tag: "SellerUnavailable",
        reason: "server_error",
        status: 503,
        retryAfterMillis: 30_000
      })
    })
  )
})

describe("Shelfwise adapter: purchases", () => {
  it.live("PUTs the order at the URL-encoded idempotency key with the offer token, customer ref and cap", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["order-accepted.json"])
      const order = yield* client.purchase(purchase())
      expect(requests).toHaveLength(1)
      const [request] = requests
      expect(request!.method).toBe("PUT")
      expect(request!.pathAndQuery).toBe("/v2/orders/req-42%3Ashelfwise%2Feu%201")
      expect(decodeURIComponent(request!.pathAndQuery.split("/").at(-1)!)).toBe("req-42:shelfwise/eu 1")
      expect(JSON.parse(request!.body)).toEqual({
        offer_token: "ofr_01HZX4T9K2QW7N8B3M5C6D7E8F",
        customer_ref: "req-42",
        max_total_cents: 2000
      })
      // The key is in the URL; Shelfwise has no Idempotency-Key header.
      expect(request!.headers["idempotency-key"]).toBeUndefined()
      expectSigned(request!)
      expect(order).toEqual(
        new Contract.Order({
          orderId: "sw-ord-558210",
          isbn: inStock,
          status: "confirmed",
          price: Money.make(1299, "EUR"),
          shipping: Money.make(299, "EUR")
        })
      )
    })
  )

  it.live("maps 409 SOLD_OUT, 410 OFFER_EXPIRED, 412 PRICE_MOVED and 422 INVALID to rejections", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["order-sold-out.json", "order-offer-expired.json", "order-price-moved.json", "order-invalid.json"])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock", status: 409 })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "quote_expired", status: 410 })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({
        _tag: "SellerRejected",
        reason: "price_changed",
        status: 412,
        currentPrice: Money.make(1450, "EUR")
      })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 422 })
    })
  )

  it.live("reports an order in a state it cannot read as OutcomeUnknown for the key", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["order-pending.json"])
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:shelfwise/eu 1" })
      expect(error.message).toContain("pending_review")
    })
  )

  it.live("reports a refusal code it does not know as OutcomeUnknown, never as a clean rejection", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["order-conflict-unknown-code.json"])
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:shelfwise/eu 1" })
      expect(error.message).toContain("ORDER_IN_PROGRESS")
    })
  )

  it.live("refuses without a call what Shelfwise cannot express: holds, a cap in another currency, a dot-only key", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller([])
      const hold = new Contract.Hold({
        holdId: "h-1",
        isbn: inStock,
        price: Money.make(1299, "EUR"),
        shipping: Money.make(299, "EUR"),
        expiresAt: new Date(1893456000 * 1000)
      })
      for (const request of [
        purchase({ source: { _tag: "Hold", hold } }),
        purchase({ maxTotal: Money.make(2000, "GBP") }),
        purchase({ idempotencyKey: ".." }),
        purchase({ idempotencyKey: "" })
      ]) {
        const error = yield* Effect.flip(client.purchase(request))
        expect(error).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      }
      expect(requests).toHaveLength(0)
    })
  )
})

describe("Shelfwise adapter: order lookup", () => {
  it.live("GETs the order at the URL-encoded key, signed over an empty body, and reads it", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["order-accepted.json"])
      expect(client.capabilities.orderLookup).toBe(true)
      const found = yield* client.lookupOrder({ idempotencyKey: "req-42:shelfwise/eu 1", isbn: inStock })
      const [request] = requests
      expect(request!.method).toBe("GET")
      expect(request!.pathAndQuery).toBe("/v2/orders/req-42%3Ashelfwise%2Feu%201")
      expect(request!.body).toBe("")
      expectSigned(request!)
      expect(Option.map(found, (order) => [order.orderId, order.total])).toEqual(Option.some(["sw-ord-558210", Money.make(1598, "EUR")]))
    })
  )

  it.live("answers none for 404 NO_SUCH_ORDER, but fails for a 404 that is not Shelfwise's", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["order-not-found.json", "gateway-not-found.json"])
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey: "req-7:shelfwise", isbn: inStock }))).toBe(true)
      const error = yield* Effect.flip(client.lookupOrder({ idempotencyKey: "req-7:shelfwise", isbn: inStock }))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 404 })
    })
  )

  it.live("reports an order found for another ISBN as MalformedSellerResponse", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["order-other-isbn.json"])
      const error = yield* Effect.flip(client.lookupOrder({ idempotencyKey: "req-42:shelfwise/eu 1", isbn: inStock }))
      expect(error._tag).toBe("MalformedSellerResponse")
    })
  )
})

describe("Shelfwise adapter: configuration", () => {
  it.effect("takes batches of up to 25 (default 25, 1 turns batching off) and needs both credentials", () =>
    Effect.gen(function* () {
      const make = (config: object, creds: Record<string, string> = credentials) =>
        SellerClient.make(shelfwiseAdapter, { sellerId: "s", config: { baseUrl: "https://api.shelfwise.example", ...config }, credentials: creds })
      expect((yield* make({})).capabilities).toMatchObject({ batchQuotes: { maxBatchSize: 25 }, holds: false, orderLookup: true })
      expect((yield* make({ maxBatchSize: 1 })).capabilities.batchQuotes).toBeNull()
      expect((yield* Effect.flip(make({ maxBatchSize: 26 })))._tag).toBe("InvalidSellerConfig")
      expect((yield* Effect.flip(make({ baseUrl: "not a url" })))._tag).toBe("InvalidSellerConfig")
      expect((yield* Effect.flip(make({}, { keyId: "k" }))).message).toContain("secret")
    })
  )
})
