/**
 * The adapter against recorded AbeBooks answers (`test/fixtures/*.json`): a one-route server
 * records every request and answers with the next fixture (a 599 once they run out, so an extra
 * call cannot pass unnoticed). Each test checks what goes out — URL, headers, body, and the
 * signature recomputed here from the documented recipe — and how the answer comes back through
 * `SellerClient` (contract shapes, error taxonomy).
 */
import { createHash, createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { http, HttpResponse } from "msw"
import { abeBooksAdapter } from "../src/index.js"

const credentials = { accessKey: "AKIA-ABE-TEST", secretKey: "fixture-secret-key", clientKey: "sws-client-key", creditCardToken: "cctok-4242" }

/** `uuid.uuid5(uuid.UUID("4c0f6f0e-3a8e-4b5e-9d43-6f1c2a9b7e21"), "req-42:abebooks-us")`, computed with Python's uuid module. */
const requestId = "dfcd2db9-9b16-587b-8643-b3711987e82c"
const idempotencyKey = "req-42:abebooks-us"

interface Recorded {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

interface RecordedAnswer {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
  readonly text?: string
  /** Drop the connection instead of answering. */
  readonly drop?: boolean
}

const fixture = (name: string): RecordedAnswer => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as RecordedAnswer

const answer = (recorded: RecordedAnswer): Response =>
  recorded.drop === true
    ? HttpResponse.error()
    : new Response(recorded.text ?? (recorded.body === undefined ? null : JSON.stringify(recorded.body)), {
        status: recorded.status ?? 200,
        headers: { "content-type": "application/json", ...recorded.headers }
      })

const recordingSeller = (fixtures: ReadonlyArray<string>, config: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const requests: Array<Recorded> = []
    const answers = fixtures.map(fixture)
    const server = yield* Effect.acquireRelease(
      Effect.promise(() =>
        serveHandlers([
          http.all("*", async ({ request }) => {
            const headers: Record<string, string> = {}
            request.headers.forEach((value, name) => {
              headers[name] = value
            })
            requests.push({ method: request.method, url: new URL(request.url), headers, body: await request.text() })
            const next = answers.shift()
            return next === undefined ? new Response("no fixture left for this call", { status: 599 }) : answer(next)
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(abeBooksAdapter, {
      sellerId: "abebooks-fixture",
      config: { purchaseBaseUrl: `${server.url}/v1`, searchBaseUrl: server.url, pollIntervalMillis: 5, confirmWithinMillis: 200, ...config },
      credentials
    })
    return { client, requests, baseUrl: server.url }
  })

const isbn = Schema.decodeSync(Isbn.Isbn13)
const pride = isbn("9780141439518")

const offer = new Contract.Offer({
  available: true,
  isbn: pride,
  quoteId: "22908240098",
  price: Money.make(1299, "USD"),
  shipping: Money.make(399, "USD"),
  condition: "very_good",
  quantity: 2,
  expiresAt: new Date("2040-01-01T00:00:00Z")
})

const purchase = (overrides: Partial<Contract.PurchaseRequest> = {}): Contract.PurchaseRequest => ({
  isbn: pride,
  source: { _tag: "Offer", offer },
  idempotencyKey,
  maxTotal: Money.make(2500, "USD"),
  buyerReference: "req-42",
  ...overrides
})

/** The documented signing recipe, recomputed from what arrived: method, full URI, Abe-Date, request id, hex SHA-256 of the body. */
const expectSigned = (request: Recorded, expectedRequestId?: string) => {
  const date = request.headers["abe-date"]
  expect(date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  expect(Math.abs(Date.parse(date!) - Date.now())).toBeLessThan(60_000)
  const id = request.headers["abe-requestid"]
  expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  if (expectedRequestId !== undefined) expect(id).toBe(expectedRequestId)
  expect(request.headers["abe-accesskey"]).toBe(credentials.accessKey)
  const checksum = createHash("sha256").update(request.body).digest("hex")
  const toSign = `${request.method}\n${request.url.href}\n${date}\n${id}\n${checksum}`
  expect(request.headers["abe-signature"]).toBe(createHmac("sha256", credentials.secretKey).update(toSign).digest("hex"))
  expect(JSON.stringify(request)).not.toContain(credentials.secretKey)
}

describe("AbeBooks adapter: quotes (Search Web Services)", () => {
  it.live("searches by ISBN with the client key, currency and destination, and offers the cheapest copy in condition", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["search-listings.json"], { minimumCondition: "good", destinationCountry: "USA", quoteTtlSeconds: 90 })
      const [answer] = yield* client.quote([pride])
      expect(requests).toHaveLength(1)
      const request = requests[0]!
      expect(request.method).toBe("GET")
      expect(request.url.pathname).toBe("/search")
      expect(Object.fromEntries(request.url.searchParams)).toEqual({ clientkey: "sws-client-key", isbn: pride, currency: "USD", destinationcountry: "USA" })
      // The Poor copy is cheaper but below "good"; the other ISBN's copy is another book.
      expect(answer).toEqual(
        new Contract.Offer({
          available: true,
          isbn: pride,
          quoteId: "22908240098",
          price: Money.make(850, "USD"),
          shipping: Money.make(399, "USD"),
          condition: "very_good",
          quantity: 2,
          expiresAt: new Date(Date.parse("2026-06-01T12:00:00Z") + 90_000)
        })
      )
    })
  )

  it.live("offers the cheapest copy of any condition by default, and answers no listing as not_carried", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["search-listings.json", "search-empty.json"])
      const [cheapest] = yield* client.quote([pride])
      expect(cheapest).toMatchObject({ quoteId: "30389227188", condition: "acceptable", price: Money.make(100, "USD"), shipping: Money.make(295, "USD") })
      const [none] = yield* client.quote([pride])
      expect(none).toEqual(new Contract.Unavailable({ available: false, isbn: pride, reason: "not_carried" }))
    })
  )

  it.live("refuses a price with more decimals than the currency, naming the field", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["search-bad-price.json"])
      const error = yield* Effect.flip(client.quote([pride]))
      expect(error._tag).toBe("MalformedSellerResponse")
      expect(error.message).toContain("listingPrice")
    })
  )

  it.live("maps a 401 to auth_failed and a 429 to rate_limited with the seller's wait", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["search-unauthorized.json", "search-rate-limited.json"])
      expect(yield* Effect.flip(client.quote([pride]))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401 })
      expect(yield* Effect.flip(client.quote([pride]))).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", retryAfterMillis: 7000 })
    })
  )
})

describe("AbeBooks adapter: purchases", () => {
  it.live("looks for the request id, POSTs the signed order with the derived request id, then polls the order until Ordered", () =>
    Effect.gen(function* () {
      const { client, requests, baseUrl } = yield* recordingSeller(["orders-none.json", "order-created.json", "order-ordered.json"])
      const order = yield* client.purchase(purchase())
      expect(requests.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)).toEqual([
        `GET /v1/orders?referenceId=${requestId}`,
        "POST /v1/orders",
        "GET /v1/orders/112233445"
      ])
      const [search, post, poll] = requests
      expectSigned(search!)
      expect(search!.body).toBe("")
      expectSigned(post!, requestId)
      expect(post!.url.href).toBe(`${baseUrl}/v1/orders`)
      expect(post!.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(post!.body)).toEqual({
        referenceId: requestId,
        buyerReference: "req-42",
        dryRun: false,
        ccToken: "cctok-4242",
        maxPrice: "16.98",
        currency: "USD",
        items: [{ listingId: "22908240098", quantity: 1 }]
      })
      expectSigned(poll!)
      // Reads carry fresh request ids of their own; only the order request uses the derived one.
      expect(search!.headers["abe-requestid"]).not.toBe(requestId)
      expect(order).toEqual(
        new Contract.Order({ orderId: "112233445", isbn: pride, status: "confirmed", price: Money.make(1299, "USD"), shipping: Money.make(399, "USD") })
      )
    })
  )

  it.live("caps maxPrice at the customer's maximum when it is below the quoted total", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["orders-none.json", "order-created.json", "order-ordered.json"])
      yield* client.purchase(purchase({ maxTotal: Money.make(1600, "USD") }))
      expect(JSON.parse(requests[1]!.body)).toMatchObject({ maxPrice: "16.00" })
    })
  )

  it.live("maps the final statuses Item Unavailable (14) and Max Price Exceeded (53) to out_of_stock and price_changed", () =>
    Effect.gen(function* () {
      const unavailable = yield* recordingSeller(["orders-none.json", "order-created.json", "order-pending.json", "order-unavailable.json"])
      expect(yield* Effect.flip(unavailable.client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock" })
      expect(unavailable.requests).toHaveLength(4)
      const overMax = yield* recordingSeller(["orders-none.json", "order-created.json", "order-max-price.json"])
      const error = yield* Effect.flip(overMax.client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "price_changed" })
      expect(error.message).toContain("Max Price Exceeded")
    })
  )

  it.live("answers a replay from the order already placed under the request id, without a new order request", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["orders-one-ordered.json"])
      const order = yield* client.purchase(purchase())
      expect(order.orderId).toBe("112233445")
      expect(requests.map((r) => r.method)).toEqual(["GET"])
    })
  )

  it.live("reads a 2003 duplicate as the first order, and resolves a 4090 by looking the request id up", () =>
    Effect.gen(function* () {
      const same = yield* recordingSeller(["orders-none.json", "order-duplicate.json"])
      expect((yield* same.client.purchase(purchase())).orderId).toBe("112233445")
      const other = yield* recordingSeller(["orders-none.json", "order-duplicate-other-body.json", "orders-one-ordered.json"])
      expect((yield* other.client.purchase(purchase())).orderId).toBe("112233445")
      expect(other.requests.map((r) => `${r.method} ${r.url.search}`)).toEqual([
        `GET ?referenceId=${requestId}`,
        "POST ",
        `GET ?referenceId=${requestId}`
      ])
    })
  )

  it.live("reports a 4090 with no order behind it as OutcomeUnknown, never as a clean failure", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["orders-none.json", "order-duplicate-other-body.json", "orders-none.json"])
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey })
      expect(error.message).toContain("4090")
    })
  )

  it.live("reports an order still pending when confirmWithinMillis runs out as OutcomeUnknown pointing to lookupOrder", () =>
    Effect.gen(function* () {
      const pending = Array.from({ length: 40 }, () => "order-pending.json")
      const { client, requests } = yield* recordingSeller(["orders-none.json", "order-created.json", ...pending], { pollIntervalMillis: 20, confirmWithinMillis: 100 })
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey })
      expect(error.message).toContain("lookupOrder")
      // Bounded: about 100 ms of polls every 20 ms, not all forty.
      expect(requests.length).toBeGreaterThanOrEqual(3)
      expect(requests.length).toBeLessThanOrEqual(8)
    })
  )

  it.live("stops at Extra Shipping Requested (93): the order exists, an operator decides — OutcomeUnknown", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["orders-none.json", "order-created.json", "order-extra-shipping.json"])
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown" })
      expect(error.message).toContain("Extra Shipping Requested")
      expect(requests).toHaveLength(3)
    })
  )

  it.live("turns a failed read after the order was created into OutcomeUnknown (the order exists)", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["orders-none.json", "order-created.json", "error-bad-signature.json"])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey })
    })
  )

  it.live("maps refusals of the order request by code: 4017 and 4001 auth_failed, 4220 invalid_request, 4291 rate_limited, 5030 outcome unknown", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller([
        "orders-none.json",
        "error-bad-signature.json",
        "orders-none.json",
        "error-cc-token.json",
        "orders-none.json",
        "error-malformed-request.json",
        "orders-none.json",
        "error-rate-limited.json",
        "orders-none.json",
        "error-busy.json",
        "orders-none.json",
        "error-undocumented.json"
      ])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401 })
      const card = yield* Effect.flip(client.purchase(purchase()))
      expect(card).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 400 })
      expect(card.message).toContain("creditCardToken")
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 422 })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", retryAfterMillis: 7000 })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey })
      // A code AbeBooks does not document is never taken for a refusal.
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey })
    })
  )

  it.live("refuses an expired quote by AbeBooks' clock (the Date of its answer) without ordering", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["orders-none-later-clock.json"])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "quote_expired" })
      expect(requests).toHaveLength(1)
    })
  )

  it.live("refuses without a call what AbeBooks cannot be sent: a hold, another currency, no buyer reference", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller([])
      const hold = new Contract.Hold({ holdId: "h-1", isbn: pride, price: offer.price, shipping: offer.shipping, expiresAt: offer.expiresAt })
      for (const request of [
        purchase({ source: { _tag: "Hold", hold } }),
        purchase({ maxTotal: Money.make(2500, "EUR") }),
        purchase({ buyerReference: " " })
      ]) {
        expect(yield* Effect.flip(client.purchase(request))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      }
      expect(requests).toHaveLength(0)
    })
  )
})

describe("AbeBooks adapter: order lookup", () => {
  it.live("searches by the derived request id: none is null, an Ordered order is the order", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["orders-none.json", "orders-one-ordered.json"])
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey, isbn: pride }))).toBe(true)
      expect(requests[0]!.url.searchParams.get("referenceId")).toBe(requestId)
      expectSigned(requests[0]!)
      const found = yield* client.lookupOrder({ idempotencyKey, isbn: pride })
      expect(Option.map(found, (order) => [order.orderId, order.total])).toEqual(Option.some(["112233445", Money.make(1698, "USD")]))
    })
  )

  it.live("polls a pending order to its status; a refused order is no order", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingSeller(["orders-one-pending.json", "order-ordered.json", "orders-one-unavailable.json"])
      expect(Option.isSome(yield* client.lookupOrder({ idempotencyKey, isbn: pride }))).toBe(true)
      expect(requests[1]!.url.pathname).toBe("/v1/orders/112233445")
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey, isbn: pride }))).toBe(true)
    })
  )

  it.live("never answers 'no order' while an order request of this process got no answer", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["orders-none.json", "connection-dropped.json", "orders-none.json"])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown" })
      expect(yield* Effect.flip(client.lookupOrder({ idempotencyKey, isbn: pride }))).toMatchObject({ _tag: "SellerUnavailable", reason: "conflict" })
    })
  )

  it.live("nor while one sent by another process got no answer (previouslySentAt, the engine's record), until it settles", () =>
    Effect.gen(function* () {
      // A fresh adapter, as in the process that took the purchase over after a crash.
      const { client } = yield* recordingSeller(["orders-none.json", "orders-none.json"])
      const tenSecondsAgo = new Date(Date.now() - 10_000)
      expect(yield* Effect.flip(client.lookupOrder({ idempotencyKey, isbn: pride, previouslySentAt: tenSecondsAgo }))).toMatchObject({
        _tag: "SellerUnavailable",
        reason: "conflict"
      })
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey, isbn: pride, previouslySentAt: new Date(Date.now() - 3_600_000) }))).toBe(true)
    })
  )

  it.live("fails on a 404 that is not AbeBooks' and on an order for another ISBN", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingSeller(["gateway-not-found.json", "orders-none.json", "order-created.json", "order-other-isbn.json"])
      expect(yield* Effect.flip(client.lookupOrder({ idempotencyKey, isbn: pride }))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 404 })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown" })
    })
  )
})

describe("AbeBooks adapter: configuration", () => {
  it.effect("defaults to AbeBooks.com, needs all four credentials, and refuses a plain-http purchase URL", () =>
    Effect.gen(function* () {
      const make = (config: object, creds: Record<string, string> = credentials) => SellerClient.make(abeBooksAdapter, { sellerId: "s", config, credentials: creds })
      const client = yield* make({})
      expect(client.capabilities).toMatchObject({ batchQuotes: null, holds: false, orderLookup: true })
      expect((yield* Effect.flip(make({ purchaseBaseUrl: "http://purchase.api.abebooks.com/v1" }))).message).toContain("https")
      expect((yield* Effect.flip(make({ currency: "XYZ" })))._tag).toBe("InvalidSellerConfig")
      expect((yield* Effect.flip(make({ destinationCountry: "US" })))._tag).toBe("InvalidSellerConfig")
      const { creditCardToken: _token, ...withoutToken } = credentials
      expect((yield* Effect.flip(make({}, withoutToken))).message).toContain("creditCardToken")
    })
  )
})
