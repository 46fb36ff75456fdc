/**
 * The adapter against recorded Admin GraphQL answers (`test/fixtures/*.json`, shaped as
 * Shopify documents them): a one-route server records every request the adapter sends and
 * answers with the next fixture, so each test checks both directions — what goes out (API
 * version in the path, access token, the GraphQL document and its variables) and how the answer
 * comes back through `SellerClient` (contract shapes, the error taxonomy).
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { http } from "msw"
import { shopifyAdapter } from "../src/index.js"

const token = "shpat_fixture_token_0123456789"

interface Recorded {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly query: string; readonly variables: Record<string, unknown>; readonly operationName?: string }
}

interface RecordedAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
}

const fixture = (name: string): RecordedAnswer =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as RecordedAnswer

/**
 * A shop stand-in answering each request with the next fixture (a 599 once they run out, so an
 * unexpected extra call cannot pass unnoticed), and the client under test.
 */
const recordingShop = (fixtures: ReadonlyArray<string>, config: Record<string, unknown> = {}) =>
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
            requests.push({ method: request.method, path: new URL(request.url).pathname, headers, body: (await request.json()) as Recorded["body"] })
            const next = answers.shift()
            if (next === undefined) return new Response("no fixture left for this call", { status: 599 })
            return new Response(JSON.stringify(next.body), { status: next.status, headers: { "content-type": "application/json", ...next.headers } })
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(shopifyAdapter, {
      sellerId: "shopify-fixture",
      config: { shopUrl: server.url, ...config },
      credentials: { accessToken: token }
    })
    return { client, requests }
  })

const isbn = Schema.decodeSync(Isbn.Isbn13)
const pride = isbn("9780141439518")
const tenDigitBarcode = isbn("9780306406157")
const soldOut = isbn("9781492052203")
const draftProduct = isbn("9780262033848")
const notCarried = isbn("9791032305690")

const key = "req-42:shopify-eu"
const tag = `bb-${createHash("sha256").update(key).digest("hex").slice(0, 32)}`
const purchaseConfig = { shipping: "2.50", paymentTermsTemplateId: "gid://shopify/PaymentTermsTemplate/4" }

/** An offer as the adapter quoted it: variant 44001, by the shop's clock at 2030-01-01T00:00:00Z. */
const offer = new Contract.Offer({
  available: true,
  isbn: pride,
  quoteId: "gid://shopify/ProductVariant/44001#t=1893456000",
  price: Money.make(1299, "GBP"),
  shipping: Money.make(250, "GBP"),
  condition: "new",
  quantity: 3,
  expiresAt: new Date("2030-01-01T00:02:00Z")
})

const purchase = (overrides: Partial<Contract.PurchaseRequest> = {}): Contract.PurchaseRequest => ({
  isbn: pride,
  source: { _tag: "Offer", offer },
  idempotencyKey: key,
  maxTotal: Money.make(2000, "GBP"),
  buyerReference: "req-42",
  ...overrides
})

const confirmed = new Contract.Order({
  orderId: "gid://shopify/Order/5501001",
  isbn: pride,
  status: "confirmed",
  price: Money.make(1299, "GBP"),
  shipping: Money.make(250, "GBP")
})

const operationNames = (requests: ReadonlyArray<Recorded>) => requests.map((request) => request.body.operationName)

describe("Shopify adapter: the wire", () => {
  it.live("POSTs GraphQL to the dated version path with the access token, never anything else", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["variants.json"], { apiVersion: "2025-10" })
      yield* client.quote([pride])
      const [request] = requests
      expect(request!.method).toBe("POST")
      expect(request!.path).toBe("/admin/api/2025-10/graphql.json")
      expect(request!.headers["x-shopify-access-token"]).toBe(token)
      expect(request!.headers["content-type"]).toBe("application/json")
      expect(request!.headers["authorization"]).toBeUndefined()
      expect(request!.headers["idempotency-key"]).toBeUndefined()
    })
  )

  it.effect("defaults to API version 2026-07 and refuses a version that is not a quarterly release", () =>
    Effect.gen(function* () {
      const make = (config: object) =>
        SellerClient.make(shopifyAdapter, { sellerId: "s", config: { shopUrl: "https://books.myshopify.com", ...config }, credentials: { accessToken: token } })
      expect((yield* make({})).capabilities).toMatchObject({ batchQuotes: { maxBatchSize: 10 }, holds: false, orderLookup: true })
      expect((yield* make({ maxBatchSize: 1 })).capabilities.batchQuotes).toBeNull()
      for (const bad of [{ apiVersion: "2026-08" }, { apiVersion: "latest" }, { shopUrl: "books" }, { shipping: "2,50" }, { maxBatchSize: 26 }]) {
        expect((yield* Effect.flip(make(bad)))._tag).toBe("InvalidSellerConfig")
      }
      const missing = yield* Effect.flip(SellerClient.make(shopifyAdapter, { sellerId: "s", config: { shopUrl: "https://books.myshopify.com" }, credentials: {} }))
      expect(missing.message).toContain("accessToken")
    })
  )
})

describe("Shopify adapter: quotes", () => {
  it.live("searches productVariants by every barcode spelling of the ISBNs in one call", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["variants.json"])
      yield* client.quote([pride, tenDigitBarcode, soldOut, draftProduct, notCarried])
      expect(requests).toHaveLength(1)
      const { query, variables, operationName } = requests[0]!.body
      expect(operationName).toBe("BookbrokerQuote")
      expect(query).toMatch(/^query BookbrokerQuote\(\$query: String!, \$first: Int!, \$after: String\)/)
      expect(query).toContain("productVariants(first: $first, after: $after, query: $query)")
      expect(query).toContain("inventoryQuantity availableForSale inventoryPolicy")
      expect(query).toContain("shop { currencyCode }")
      expect(variables).toEqual({
        query: [
          'barcode:9780141439518 OR barcode:0141439513 OR barcode:"978-0-14-143951-8"',
          'barcode:9780306406157 OR barcode:0306406152 OR barcode:"978-0-306-40615-7"',
          'barcode:9781492052203 OR barcode:1492052205 OR barcode:"978-1-4920-5220-3"',
          'barcode:9780262033848 OR barcode:0262033844 OR barcode:"978-0-262-03384-8"',
          'barcode:9791032305690 OR barcode:"979-10-323-0569-0"'
        ].join(" OR "),
        first: 30,
        after: null
      })
    })
  )

  it.live("offers the cheapest sellable variant in minor units; sold out, draft products and unknown books are unavailable", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["variants.json"], { shipping: "3.5", condition: "very_good" })
      const [first, second, third, fourth, fifth] = yield* client.quote([pride, tenDigitBarcode, soldOut, draftProduct, notCarried])
      expect(first).toBeInstanceOf(Contract.Offer)
      expect(first).toMatchObject({
        isbn: pride,
        quoteId: "gid://shopify/ProductVariant/44001#t=1893456010",
        price: Money.make(1299, "GBP"),
        shipping: Money.make(350, "GBP"),
        condition: "very_good",
        quantity: 3
      })
      // ISBN-10 barcode, may oversell (CONTINUE): an offer whose quantity the shop does not say.
      expect(second).toMatchObject({ isbn: tenDigitBarcode, price: Money.make(750, "GBP"), quantity: null })
      expect(third).toEqual(new Contract.Unavailable({ available: false, isbn: soldOut, reason: "out_of_stock" }))
      expect(fourth).toEqual(new Contract.Unavailable({ available: false, isbn: draftProduct, reason: "not_carried" }))
      expect(fifth).toEqual(new Contract.Unavailable({ available: false, isbn: notCarried, reason: "not_carried" }))
      const expiresIn = (first as Contract.Offer).expiresAt.getTime() - Date.now()
      expect(expiresIn).toBeGreaterThan(115_000)
      expect(expiresIn).toBeLessThanOrEqual(120_000)
    })
  )

  it.live("reports a price with more decimals than the currency has as MalformedSellerResponse naming the variant", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["variants-bad-price.json"])
      const error = yield* Effect.flip(client.quote([pride]))
      expect(error._tag).toBe("MalformedSellerResponse")
      expect(error.message).toContain("gid://shopify/ProductVariant/44001")
      expect(error.message).toContain("12.999")
    })
  )
})

describe("Shopify adapter: errors and the cost bucket", () => {
  it.live("maps 200 THROTTLED to rate_limited, waiting (requestedQueryCost − currentlyAvailable) / restoreRate", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["throttled.json"])
      const error = yield* Effect.flip(client.quote([pride]))
      // (152 − 2) / 50 points a second = 3 s
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", retryAfterMillis: 3000, mayHaveBeenProcessed: false })
      expect(error.retryable).toBe(true)
    })
  )

  it.live("holds back a call the last reported bucket cannot pay for, without sending it", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["variants-low-bucket.json"])
      yield* client.quote([pride])
      const error = yield* Effect.flip(client.quote([pride]))
      expect(requests).toHaveLength(1)
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited" })
      // (152 − 10) / 50 = 2.84 s, less the little refilled since the first answer.
      const wait = error._tag === "SellerUnavailable" ? error.retryAfterMillis! : 0
      expect(wait).toBeGreaterThan(2_500)
      expect(wait).toBeLessThanOrEqual(2_840)
    })
  )

  it.live("maps 401, 200 ACCESS_DENIED, 423 and an unknown field through the taxonomy", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["unauthorized.json", "access-denied.json", "shop-locked.json", "undefined-field.json"])
      expect(yield* Effect.flip(client.quote([pride]))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401 })
      const denied = yield* Effect.flip(client.quote([pride]))
      expect(denied).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed" })
      expect(denied.message).toContain("read_products")
      expect(yield* Effect.flip(client.quote([pride]))).toMatchObject({ _tag: "SellerUnavailable", reason: "server_error", status: 423, mayHaveBeenProcessed: false })
      const unknownField = yield* Effect.flip(client.quote([pride]))
      expect(unknownField).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      expect(unknownField.message).toContain("apiVersion")
    })
  )
})

describe("Shopify adapter: purchases through draft orders", () => {
  it.live("checks drafts by key tag and the variant, creates a tagged draft with payment terms, then completes it", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-fresh.json", "draft-created.json", "draft-completed.json"], purchaseConfig)
      const order = yield* client.purchase(purchase())
      expect(order).toEqual(confirmed)
      expect(operationNames(requests)).toEqual(["BookbrokerPreOrderCheck", "BookbrokerDraftOrderCreate", "BookbrokerDraftOrderComplete"])
      const [check, create, complete] = requests.map((request) => request.body)
      expect(check!.query).toContain("draftOrders(first: 10, query: $drafts)")
      expect(check!.variables).toEqual({
        drafts: `tag:${tag}`,
        variants: 'barcode:9780141439518 OR barcode:0141439513 OR barcode:"978-0-14-143951-8"',
        first: 12
      })
      expect(create!.query).toContain("draftOrderCreate(input: $input)")
      expect(create!.query).toContain("userErrors { field message }")
      const input = create!.variables["input"] as Record<string, unknown>
      expect(input).toMatchObject({
        lineItems: [{ variantId: "gid://shopify/ProductVariant/44001", quantity: 1 }],
        tags: [tag],
        note: "bookbroker purchase req-42",
        customAttributes: [
          { key: "bookbroker_idempotency_key", value: key },
          { key: "bookbroker_request", value: "req-42" },
          { key: "bookbroker_isbn", value: pride }
        ],
        shippingLine: { title: "Shipping", priceWithCurrency: { amount: "2.50", currencyCode: "GBP" } },
        paymentTerms: { paymentTermsTemplateId: "gid://shopify/PaymentTermsTemplate/4" }
      })
      expect(tag.length).toBeLessThanOrEqual(40)
      expect(complete!.query).toContain("draftOrderComplete(id: $id)")
      // The deprecated argument is never sent.
      expect(requests.map((request) => request.body.query).join("\n")).not.toContain("paymentPending")
      expect(complete!.variables).toEqual({ id: "gid://shopify/DraftOrder/990001" })
    })
  )

  it.live("answers a replay with the completed draft's order: one read, no draft created", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-completed.json"], purchaseConfig)
      expect(yield* client.purchase(purchase())).toEqual(confirmed)
      expect(operationNames(requests)).toEqual(["BookbrokerPreOrderCheck"])
    })
  )

  it.live("finishes an open draft with the key (an earlier try's answer was lost) instead of creating another", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-open.json", "draft-completed.json"], purchaseConfig)
      expect(yield* client.purchase(purchase())).toEqual(confirmed)
      expect(operationNames(requests)).toEqual(["BookbrokerPreOrderCheck", "BookbrokerDraftOrderComplete"])
      expect(requests[1]!.body.variables).toEqual({ id: "gid://shopify/DraftOrder/990001" })
    })
  )

  it.live("ignores a draft that has the tag but another key in its attribute", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-foreign-tag.json", "draft-created.json", "draft-completed.json"], purchaseConfig)
      expect((yield* client.purchase(purchase())).orderId).toBe("gid://shopify/Order/5501001")
      expect(operationNames(requests)).toHaveLength(3)
    })
  )

  it.live("checks price, stock and the quote's age by the shop's clock before creating anything", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-price-moved.json", "check-sold-out.json", "check-expired.json"], purchaseConfig)
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({
        _tag: "SellerRejected",
        reason: "price_changed",
        currentPrice: Money.make(1349, "GBP")
      })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock" })
      // The Date header says 2 minutes after the quote; quotes stand 120 s.
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "quote_expired" })
      expect(operationNames(requests)).toEqual(["BookbrokerPreOrderCheck", "BookbrokerPreOrderCheck", "BookbrokerPreOrderCheck"])
    })
  )

  it.live("does not complete a draft that bills more than the offer (tax on top): price_changed, draft left open", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-fresh.json", "draft-created-taxed.json"], purchaseConfig)
      const error = yield* Effect.flip(client.purchase(purchase({ maxTotal: Money.make(5000, "GBP") })))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "price_changed", currentPrice: Money.make(1559, "GBP") })
      expect(operationNames(requests)).toEqual(["BookbrokerPreOrderCheck", "BookbrokerDraftOrderCreate"])
    })
  )

  it.live("maps draftOrderCreate userErrors to invalid_request: no draft, so a clean failure", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["check-fresh.json", "draft-create-refused.json"], purchaseConfig)
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      expect(error.message).toContain("shippingLine.priceWithCurrency: Currency must match")
    })
  )

  it.live("when draftOrderComplete refuses, looks again: a draft completed meanwhile is the order", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-open.json", "draft-complete-refused.json", "lookup-completed.json"], purchaseConfig)
      expect(yield* client.purchase(purchase())).toEqual(confirmed)
      expect(operationNames(requests)).toEqual(["BookbrokerPreOrderCheck", "BookbrokerDraftOrderComplete", "BookbrokerOrderLookup"])
    })
  )

  it.live("a refused completion of a draft still open is a clean invalid_request", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["check-open.json", "draft-complete-refused.json", "lookup-open.json"], purchaseConfig)
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
    })
  )

  it.live("a THROTTLED completion did not run: rate_limited, and the next try waits for the bucket without a call", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["check-open.json", "throttled.json"], purchaseConfig)
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", mayHaveBeenProcessed: false })
      // The bucket said 2 of 1000 points, restoring 50/s: the 28-point check cannot run for ~0.5 s.
      const held = yield* Effect.flip(client.purchase(purchase()))
      expect(held).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", mayHaveBeenProcessed: false })
      expect(requests).toHaveLength(2)
    })
  )

  it.live("an error Shopify does not document on draftOrderComplete is OutcomeUnknown, never a clean failure", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["check-open.json", "complete-unknown-error.json"], purchaseConfig)
      const unknown = yield* Effect.flip(client.purchase(purchase()))
      expect(unknown).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: key })
      expect(unknown.message).toContain("SOMETHING_NEW")
    })
  )

  it.live("refuses without a call what it cannot do: holds, a foreign quote id, no buyer reference, a cap too low or in another currency", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([], purchaseConfig)
      const hold = new Contract.Hold({ holdId: "h-1", isbn: pride, price: offer.price, shipping: offer.shipping, expiresAt: offer.expiresAt })
      for (const request of [
        purchase({ source: { _tag: "Hold", hold } }),
        purchase({ source: { _tag: "Offer", offer: new Contract.Offer({ ...offer, quoteId: "q-123" }) } }),
        purchase({ buyerReference: " " }),
        purchase({ maxTotal: Money.make(1548, "GBP") }),
        purchase({ maxTotal: Money.make(2000, "EUR") })
      ]) {
        expect(yield* Effect.flip(client.purchase(request))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      }
      expect(requests).toHaveLength(0)
    })
  )
})

describe("Shopify adapter: order lookup", () => {
  it.live("looks drafts up by the key's tag: a completed one is the order, none or an open one is no order", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["lookup-completed.json", "lookup-none.json", "lookup-open.json"], purchaseConfig)
      expect(yield* client.lookupOrder({ idempotencyKey: key, isbn: pride })).toEqual(Option.some(confirmed))
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey: key, isbn: pride }))).toBe(true)
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey: key, isbn: pride }))).toBe(true)
      expect(requests[0]!.body.operationName).toBe("BookbrokerOrderLookup")
      expect(requests[0]!.body.variables).toEqual({ drafts: `tag:${tag}` })
    })
  )

  it.live("reports a draft with the key for another ISBN as MalformedSellerResponse", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["lookup-other-isbn.json"], purchaseConfig)
      expect((yield* Effect.flip(client.lookupOrder({ idempotencyKey: key, isbn: pride })))._tag).toBe("MalformedSellerResponse")
    })
  )
})
