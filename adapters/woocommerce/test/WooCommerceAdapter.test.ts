/**
 * The adapter against recorded WooCommerce answers (`test/fixtures/*.json`, shaped after the
 * REST API v3 documentation): a one-route server records every request the adapter sends and
 * answers with the next fixture, so each test checks both directions — what goes out (path,
 * query, Basic auth, order body) and how the answer comes back through `SellerClient`.
 */
import { readFileSync } from "node:fs"
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { http } from "msw"
import { wooCommerceAdapter } from "../src/index.js"

const credentials = { consumerKey: "ck_4f9a1c0e7b2d", consumerSecret: "cs_8e31b7a05d64" }
const basicAuth = `Basic ${Buffer.from(`${credentials.consumerKey}:${credentials.consumerSecret}`).toString("base64")}`

interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
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
  new Response(recorded.body === undefined ? null : typeof recorded.body === "string" ? recorded.body : JSON.stringify(recorded.body), {
    status: recorded.status,
    headers: { "content-type": "application/json; charset=UTF-8", ...recorded.headers }
  })

/** A fixture with its body or headers changed. */
const variant = (name: string, change: (answer: RecordedAnswer) => RecordedAnswer): RecordedAnswer => change(fixture(name))

/**
 * A shop stand-in that answers each request with the next answer (a 599 once they run out, so
 * an unexpected extra call cannot pass unnoticed), and the client under test.
 */
const recordingShop = (answers: ReadonlyArray<string | RecordedAnswer>, config: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const requests: Array<Recorded> = []
    const queue = answers.map((entry) => (typeof entry === "string" ? fixture(entry) : entry))
    const server = yield* Effect.acquireRelease(
      Effect.promise(() =>
        serveHandlers([
          http.all("*", async ({ request }) => {
            const url = new URL(request.url)
            const headers: Record<string, string> = {}
            request.headers.forEach((value, name) => {
              headers[name] = value
            })
            requests.push({ method: request.method, path: url.pathname, query: url.searchParams, headers, body: await request.text() })
            const next = queue.shift()
            return next === undefined ? new Response("no fixture left for this call", { status: 599 }) : answer(next)
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(wooCommerceAdapter, {
      sellerId: "woo-fixture",
      config: { baseUrl: server.url, ...config },
      credentials
    })
    return { client, requests }
  })

const isbn = Schema.decodeSync(Isbn.Isbn13)
const pride = isbn("9780141439518")
const janeEyre = isbn("9780141439563")
const middlemarch = isbn("9780141449265")
const ulysses = isbn("9780141187761")
const notCarried = isbn("9780143039433")

/** 2026-05-01T10:00:00Z, the `Date` of the product fixtures. */
const quotedAt = Date.parse("2026-05-01T10:00:00Z")

const offer = (overrides: Partial<ConstructorParameters<typeof Contract.Offer>[0]> = {}) =>
  new Contract.Offer({
    available: true,
    isbn: pride,
    quoteId: `wc:794:0:${quotedAt / 1000}`,
    price: Money.make(899, "GBP"),
    shipping: Money.make(300, "GBP"),
    condition: "new",
    quantity: 3,
    expiresAt: new Date(quotedAt + 120_000),
    ...overrides
  })

const purchase = (overrides: Partial<Contract.PurchaseRequest> = {}): Contract.PurchaseRequest => ({
  isbn: pride,
  source: { _tag: "Offer", offer: offer() },
  idempotencyKey: "req-42:woo-1",
  maxTotal: Money.make(2000, "GBP"),
  buyerReference: "req-42",
  ...overrides
})

const taggedOrders = (status = "processing") =>
  variant("order-created.json", (created) => ({
    status: 200,
    headers: { "x-wp-total": "1", "x-wp-totalpages": "1" },
    body: [{ ...(created.body as object), status }]
  }))

describe("WooCommerce adapter: quotes", () => {
  it.live("reads the store currency once, then asks for every ISBN as an exact, published SKU in one call with Basic auth", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["currency-gbp.json", "products-by-sku.json", "products-by-sku.json"])
      yield* client.quote([pride, janeEyre, middlemarch, ulysses, notCarried])
      yield* client.quote([pride])
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /wp-json/wc/v3/data/currencies/current",
        "GET /wp-json/wc/v3/products",
        "GET /wp-json/wc/v3/products"
      ])
      const products = requests[1]!
      expect(Object.fromEntries(products.query)).toEqual({
        sku: [pride, janeEyre, middlemarch, ulysses, notCarried].join(","),
        status: "publish",
        per_page: "100"
      })
      for (const request of requests) expect(request.headers["authorization"]).toBe(basicAuth)
    })
  )

  it.live("turns decimal-string prices into minor units, reads stock, and answers sold-out, variable and missing books as unavailable", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["currency-gbp.json", "products-by-sku.json"], { shipping: "2.50" })
      const [first, second, third, fourth, fifth] = yield* client.quote([pride, janeEyre, middlemarch, ulysses, notCarried])
      expect(first).toEqual(
        new Contract.Offer({
          available: true,
          isbn: pride,
          quoteId: "wc:794:0:1777629600",
          price: Money.make(899, "GBP"),
          shipping: Money.make(250, "GBP"),
          condition: "new",
          quantity: 3,
          // The shop's Date header plus the default 120 s quote window.
          expiresAt: new Date(quotedAt + 120_000)
        })
      )
      // A variation matched by SKU: unmanaged stock has no count; the quote id names its parent.
      expect(second).toMatchObject({ available: true, isbn: janeEyre, quoteId: "wc:795:790:1777629600", price: Money.make(1250, "GBP"), quantity: null })
      expect(third).toEqual(new Contract.Unavailable({ available: false, isbn: middlemarch, reason: "out_of_stock" }))
      expect(fourth).toEqual(new Contract.Unavailable({ available: false, isbn: ulysses, reason: "not_carried" }))
      expect(fifth).toEqual(new Contract.Unavailable({ available: false, isbn: notCarried, reason: "not_carried" }))
    })
  )

  it.live("splits quotes into calls of the configured batch size", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["currency-gbp.json", "orders-empty.json", "orders-empty.json"], { maxBatchSize: 2 })
      expect(client.capabilities.batchQuotes).toEqual({ maxBatchSize: 2 })
      yield* client.quote([pride, janeEyre, middlemarch])
      expect(requests.slice(1).map((r) => r.query.get("sku"))).toEqual([`${pride},${janeEyre}`, middlemarch])
    })
  )

  it.live("refuses a price with more decimals than the currency, and one SKU on two products, as MalformedSellerResponse", () =>
    Effect.gen(function* () {
      const products = fixture("products-by-sku.json").body as Array<Record<string, unknown>>
      const { client } = yield* recordingShop([
        "currency-gbp.json",
        { status: 200, body: [{ ...products[0], price: "8.999" }] },
        { status: 200, body: [products[0], { ...products[0], id: 999 }] }
      ])
      const decimals = yield* Effect.flip(client.quote([pride]))
      expect(decimals._tag).toBe("MalformedSellerResponse")
      expect(decimals.message).toContain("8.999")
      const duplicate = yield* Effect.flip(client.quote([pride]))
      expect(duplicate._tag).toBe("MalformedSellerResponse")
      expect(duplicate.message).toContain("794, 999")
    })
  )

  it.live("maps 401 (bad secret), 404 rest_no_route, a host's 429 and WordPress' 500 into the taxonomy", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop(["auth-secret-invalid.json", "no-route.json", "currency-gbp.json", "host-rate-limited.json", "critical-error.json"])
      const auth = yield* Effect.flip(client.quote([pride]))
      expect(auth).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401 })
      expect(auth.message).toContain("Consumer secret is invalid.")
      const noRoute = yield* Effect.flip(client.quote([pride]))
      expect(noRoute).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 404 })
      expect(noRoute.message).toContain("pretty permalinks")
      expect(yield* Effect.flip(client.quote([pride]))).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", retryAfterMillis: 7000 })
      expect(yield* Effect.flip(client.quote([pride]))).toMatchObject({ _tag: "SellerUnavailable", reason: "server_error", status: 500 })
    })
  )

  it.live("sends the credentials as query parameters, and no Authorization header, when configured to", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["currency-gbp.json", "products-by-sku.json"], { credentialsIn: "query" })
      yield* client.quote([pride])
      for (const request of requests) {
        expect(request.headers["authorization"]).toBeUndefined()
        expect(request.query.get("consumer_key")).toBe(credentials.consumerKey)
        expect(request.query.get("consumer_secret")).toBe(credentials.consumerSecret)
      }
    })
  )
})

describe("WooCommerce adapter: purchases", () => {
  it.live("looks for a tagged order, re-reads the product, then creates one paid order without any price field", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["orders-empty.json", "product-794.json", "order-created.json"], {
        shipping: "3.00",
        billing: { first_name: "Ada", last_name: "Lovelace", email: "orders@broker.example" }
      })
      const order = yield* client.purchase(purchase())
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /wp-json/wc/v3/orders",
        "GET /wp-json/wc/v3/products/794",
        "POST /wp-json/wc/v3/orders"
      ])
      const search = Object.fromEntries(requests[0]!.query)
      expect(search).toMatchObject({ product: "794", per_page: "100", page: "1", orderby: "date", order: "desc" })
      expect(search["after"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
      expect(Date.now() - Date.parse(`${search["after"]}Z`)).toBeGreaterThan(14 * 86_400_000)
      const created = requests[2]!
      expect(created.headers["content-type"]).toBe("application/json")
      expect(created.headers["authorization"]).toBe(basicAuth)
      expect(JSON.parse(created.body)).toEqual({
        payment_method: "bookbroker",
        payment_method_title: "Paid through bookbroker",
        set_paid: true,
        transaction_id: "req-42:woo-1",
        customer_note: "bookbroker purchase req-42",
        billing: { first_name: "Ada", last_name: "Lovelace", email: "orders@broker.example" },
        line_items: [{ product_id: 794, quantity: 1 }],
        shipping_lines: [{ method_id: "flat_rate", method_title: "Shipping (bookbroker)", total: "3.00" }],
        meta_data: [
          { key: "bookbroker_idempotency_key", value: "req-42:woo-1" },
          { key: "bookbroker_buyer_reference", value: "req-42" }
        ]
      })
      // total 11.99 = 8.99 item + 2.50 shipping + 0.50 shipping tax.
      expect(order).toEqual(
        new Contract.Order({ orderId: "727", isbn: pride, status: "confirmed", price: Money.make(899, "GBP"), shipping: Money.make(300, "GBP") })
      )
    })
  )

  it.live("orders a variation through its parent: searches the parent's orders, re-reads the variation route", () =>
    Effect.gen(function* () {
      const variation = { id: 795, type: "variation", status: "publish", sku: janeEyre, parent_id: 790, price: "12.50", purchasable: true, manage_stock: false, stock_quantity: null, stock_status: "instock" }
      const created = variant("order-created.json", (a) => ({
        ...a,
        body: { ...(a.body as object), total: "12.50", shipping_total: "0.00", shipping_tax: "0.00", line_items: [{ product_id: 790, variation_id: 795, quantity: 1, sku: janeEyre }] }
      }))
      const { client, requests } = yield* recordingShop(["orders-empty.json", { status: 200, headers: { date: "Fri, 01 May 2026 10:00:30 GMT" }, body: variation }, created])
      const janeOffer = offer({ isbn: janeEyre, quoteId: `wc:795:790:${quotedAt / 1000}`, price: Money.make(1250, "GBP"), shipping: Money.make(0, "GBP") })
      const order = yield* client.purchase(purchase({ isbn: janeEyre, source: { _tag: "Offer", offer: janeOffer } }))
      expect(requests[0]!.query.get("product")).toBe("790")
      expect(requests[1]!.path).toBe("/wp-json/wc/v3/products/790/variations/795")
      expect(JSON.parse(requests[2]!.body).line_items).toEqual([{ product_id: 790, variation_id: 795, quantity: 1 }])
      expect(JSON.parse(requests[2]!.body).shipping_lines).toBeUndefined()
      expect(order.price).toEqual(Money.make(1250, "GBP"))
    })
  )

  it.live("returns the order already tagged with the key and creates nothing (a replay)", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([taggedOrders()])
      const order = yield* client.purchase(purchase())
      expect(order.orderId).toBe("727")
      expect(requests.map((r) => r.method)).toEqual(["GET"])
    })
  )

  it.live("never creates next to a tagged order that is not paid yet or was cancelled: OutcomeUnknown", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([taggedOrders("pending"), taggedOrders("cancelled")])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:woo-1" })
      const cancelled = yield* Effect.flip(client.purchase(purchase()))
      expect(cancelled.message).toContain('"cancelled"')
      expect(requests.every((r) => r.method === "GET")).toBe(true)
    })
  )

  it.live("refuses before ordering what WooCommerce would sell anyway: sold out, dearer, gone, expired on the shop's clock", () =>
    Effect.gen(function* () {
      const product = fixture("product-794.json")
      const body = product.body as Record<string, unknown>
      const { client, requests } = yield* recordingShop([
        "orders-empty.json",
        { ...product, body: { ...body, stock_status: "outofstock", stock_quantity: 0 } },
        "orders-empty.json",
        { ...product, body: { ...body, price: "9.49" } },
        "orders-empty.json",
        "product-invalid-id.json",
        "orders-empty.json",
        { ...product, headers: { date: "Fri, 01 May 2026 10:02:00 GMT" } },
        "orders-empty.json",
        { ...product, body: { ...body, status: "draft" } }
      ])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock" })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({
        _tag: "SellerRejected",
        reason: "price_changed",
        currentPrice: Money.make(949, "GBP")
      })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock", status: 404 })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "quote_expired" })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock" })
      expect(requests.filter((r) => r.method === "POST")).toHaveLength(0)
    })
  )

  it.live("refuses without a call what cannot be ordered: a hold, a foreign quote id, an empty reference, a cap in another currency", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([])
      const hold = new Contract.Hold({ holdId: "h-1", isbn: pride, price: Money.make(899, "GBP"), shipping: Money.make(0, "GBP"), expiresAt: new Date(quotedAt) })
      for (const request of [
        purchase({ source: { _tag: "Hold", hold } }),
        purchase({ source: { _tag: "Offer", offer: offer({ quoteId: "ofr_01HZX4" }) } }),
        purchase({ buyerReference: " " }),
        purchase({ maxTotal: Money.make(2000, "EUR") })
      ]) {
        expect(yield* Effect.flip(client.purchase(request))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      }
      expect(requests).toHaveLength(0)
    })
  )

  it.live("maps a 400 raised before saving to invalid_request, and any other 400 or a 403 on create as the SDK says", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingShop([
        "orders-empty.json",
        "product-794.json",
        "required-product-reference.json",
        "orders-empty.json",
        "product-794.json",
        "order-not-created.json",
        "orders-empty.json",
        "product-794.json",
        "cannot-create.json"
      ])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 400 })
      // May have been saved before it failed: never a clean failure.
      const notCreated = yield* Effect.flip(client.purchase(purchase()))
      expect(notCreated).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:woo-1" })
      expect(notCreated.message).toContain("woocommerce_rest_shop_order_not_created")
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 403 })
    })
  )

  it.live("after a create that got a 500, the same key is not created again while the shop may still be saving it", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["orders-empty.json", "product-794.json", "critical-error.json", "orders-empty.json", "products-by-sku.json", "orders-empty.json"])
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown" })
      const again = yield* Effect.flip(client.purchase(purchase()))
      expect(again).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:woo-1" })
      expect(again.message).toContain("may still be saving")
      // Nor does a lookup answer "no order" in that time.
      const lookup = yield* Effect.flip(client.lookupOrder({ idempotencyKey: "req-42:woo-1", isbn: pride }))
      expect(lookup).toMatchObject({ _tag: "SellerUnavailable", reason: "conflict" })
      expect(requests.filter((r) => r.method === "POST")).toHaveLength(1)
    })
  )

  it.live("a create another process sent (previouslySentAt, from the engine's record) is not sent again while the shop may still be saving it", () =>
    Effect.gen(function* () {
      // A fresh adapter, as in the process that took the purchase over after a crash: it has no memory of the create.
      const { client, requests } = yield* recordingShop([
        "orders-empty.json",
        "products-by-sku.json",
        "orders-empty.json",
        "orders-empty.json",
        "product-794.json",
        "order-created.json"
      ])
      const tenSecondsAgo = new Date(Date.now() - 10_000)
      const again = yield* Effect.flip(client.purchase({ ...purchase(), previouslySentAt: tenSecondsAgo }))
      expect(again).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:woo-1" })
      expect(again.message).toContain("may still be saving")
      const lookup = yield* Effect.flip(client.lookupOrder({ idempotencyKey: "req-42:woo-1", isbn: pride, previouslySentAt: tenSecondsAgo }))
      expect(lookup).toMatchObject({ _tag: "SellerUnavailable", reason: "conflict" })
      expect(requests.filter((r) => r.method === "POST")).toHaveLength(0)
      // Once the create settled (default 120 s) without an order tagged, it is sent.
      expect((yield* client.purchase({ ...purchase(), previouslySentAt: new Date(Date.now() - 121_000) })).orderId).toBe("727")
      expect(requests.filter((r) => r.method === "POST")).toHaveLength(1)
    })
  )

  it.live("with settleSeconds 0, a retry after a 500 searches again and creates", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(
        ["orders-empty.json", "product-794.json", "critical-error.json", "orders-empty.json", "product-794.json", "order-created.json"],
        { settleSeconds: 0 }
      )
      yield* Effect.flip(client.purchase(purchase()))
      expect((yield* client.purchase(purchase())).orderId).toBe("727")
      expect(requests.filter((r) => r.method === "POST")).toHaveLength(2)
    })
  )
})

describe("WooCommerce adapter: order lookup", () => {
  it.live("finds the product by SKU (any status), then pages through its recent orders for the tag", () =>
    Effect.gen(function* () {
      const products = fixture("products-by-sku.json").body as Array<unknown>
      const untagged = variant("order-created.json", (a) => ({ ...a, body: { ...(a.body as object), id: 730, meta_data: [] } })).body
      const { client, requests } = yield* recordingShop([
        { status: 200, body: [products[0]] },
        { status: 200, headers: { "x-wp-total": "101", "x-wp-totalpages": "2" }, body: [untagged] },
        taggedOrders()
      ])
      const found = yield* client.lookupOrder({ idempotencyKey: "req-42:woo-1", isbn: pride })
      expect(Option.map(found, (order) => [order.orderId, order.total])).toEqual(Option.some(["727", Money.make(1199, "GBP")]))
      expect(Object.fromEntries(requests[0]!.query)).toEqual({ sku: pride, per_page: "100" })
      expect(requests.slice(1).map((r) => [r.query.get("product"), r.query.get("page")])).toEqual([
        ["794", "1"],
        ["794", "2"]
      ])
    })
  )

  it.live("answers none when no order carries the key; searches every order when the SKU is gone", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([{ status: 200, body: [] }, "orders-empty.json"])
      expect(Option.isNone(yield* client.lookupOrder({ idempotencyKey: "req-7:woo-1", isbn: pride }))).toBe(true)
      expect(requests[1]!.query.has("product")).toBe(false)
    })
  )

  it.live("fails instead of answering none when the orders do not fit in lookupMaxPages", () =>
    Effect.gen(function* () {
      const full = { status: 200, headers: { "x-wp-totalpages": "3" }, body: [] }
      const { client } = yield* recordingShop([{ status: 200, body: [] }, full, full], { lookupMaxPages: 2 })
      const error = yield* Effect.flip(client.lookupOrder({ idempotencyKey: "req-7:woo-1", isbn: pride }))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "conflict" })
      expect(error.message).toContain("lookupMaxPages")
    })
  )
})

describe("WooCommerce adapter: configuration", () => {
  it.effect("needs https (or a loopback address), both credentials, and batches of 1 to 50", () =>
    Effect.gen(function* () {
      const make = (config: object, creds: Record<string, string> = credentials) =>
        SellerClient.make(wooCommerceAdapter, { sellerId: "s", config: { baseUrl: "https://books.example", ...config }, credentials: creds })
      expect((yield* make({})).capabilities).toMatchObject({ batchQuotes: { maxBatchSize: 20 }, holds: false, orderLookup: true })
      expect((yield* make({ maxBatchSize: 1 })).capabilities.batchQuotes).toBeNull()
      expect((yield* make({ baseUrl: "http://127.0.0.1:8080" })).kind).toBe("woocommerce")
      expect((yield* Effect.flip(make({ baseUrl: "http://books.example" }))).message).toContain("https")
      expect((yield* Effect.flip(make({ maxBatchSize: 51 })))._tag).toBe("InvalidSellerConfig")
      expect((yield* Effect.flip(make({ shipping: "3,50" })))._tag).toBe("InvalidSellerConfig")
      expect((yield* Effect.flip(make({}, { consumerKey: "ck" }))).message).toContain("consumerSecret")
    })
  )
})
