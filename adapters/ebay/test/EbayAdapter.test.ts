/**
 * The adapter against answers shaped after eBay's OpenAPI contracts (Browse v1, Order v1_beta,
 * OAuth): a one-route server records every request and answers with the next answer in line,
 * so each test checks what goes out (token grant, bearer, marketplace header, query strings,
 * bodies) and how eBay's answer comes back through `SellerClient`.
 */
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { http, HttpResponse } from "msw"
import { ebayAdapter } from "../src/index.js"

interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}
type Answer = { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> } | "drop"

const date = "Fri, 01 May 2026 10:00:00 GMT"
const ebayTime = Date.parse(date)
const credentials = { clientId: "bookbro-app-PRD-1a2b", clientSecret: "PRD-5e6f-cert", cardNumber: "4111111111111111" }
const checkout = {
  contactEmail: "orders@broker.example",
  contactFirstName: "Ada",
  contactLastName: "Lovelace",
  shippingAddress: { recipient: "bookbroker receiving", addressLine1: "1 Main St", city: "London", postalCode: "N1 1AA", country: "GB", phoneNumber: "+441234567890" },
  card: {
    accountHolderName: "Bookbroker Ltd",
    brand: "VISA",
    expireMonth: 12,
    expireYear: 2030,
    billingAddress: { firstName: "Ada", lastName: "Lovelace", addressLine1: "1 Main St", city: "London", postalCode: "N1 1AA", country: "GB" }
  }
}
const approved = { guestCheckoutApproved: true, checkout }

const token = (expires = 7200): Answer => ({ status: 200, body: { access_token: "v^1.1#i^1#p^1#r^0#I^3#t^H4s", expires_in: expires, token_type: "Application Access Token" } })
const ebayError = (status: number, errorId: number, domain: string, category: string, message: string): Answer => ({
  status,
  body: { errors: [{ errorId, domain, category, message, longMessage: message }] }
})

const isbn = Schema.decodeSync(Isbn.Isbn13)("9780141439518")
const itemId = "v1|123456789012|0"
const otherItemId = "v1|223456789012|0"

const summary = (id: string, price: string, overrides: Record<string, unknown> = {}) => ({
  itemId: id,
  legacyItemId: id.split("|")[1],
  title: "Pride and Prejudice - Jane Austen - Penguin Classics paperback",
  price: { value: price, currency: "GBP" },
  buyingOptions: ["FIXED_PRICE"],
  condition: "Very Good",
  conditionId: "4000",
  seller: { username: "abookshop", feedbackPercentage: "99.8", feedbackScore: 5321 },
  shippingOptions: [{ shippingCostType: "FIXED", shippingCost: { value: "2.80", currency: "GBP" } }],
  ...overrides
})
const search = (...summaries: Array<Record<string, unknown>>): Answer => ({
  status: 200,
  body: { href: "https://api.ebay.com/buy/browse/v1/item_summary/search?q=9780141439518", total: summaries.length, limit: 20, offset: 0, ...(summaries.length === 0 ? {} : { itemSummaries: summaries }) }
})
const item = (id: string, price: string, overrides: Record<string, unknown> = {}): Answer => ({
  status: 200,
  body: {
    ...summary(id, price),
    gtin: "9780141439518",
    eligibleForInlineCheckout: true,
    enabledForGuestCheckout: true,
    estimatedAvailabilities: [{ estimatedAvailabilityStatus: "IN_STOCK", estimatedAvailableQuantity: 4 }],
    ...overrides
  }
})
const session = (price: string, shipping: string, warnings?: Array<unknown>): Answer => ({
  status: 200,
  body: {
    checkoutSessionId: "gcs-8a1f",
    expirationDate: "2026-05-01T10:30:00.000Z",
    lineItems: [{ lineItemId: "li-1", itemId, title: "Pride and Prejudice", quantity: 1, baseUnitPrice: { value: price, currency: "GBP" } }],
    pricingSummary: {
      priceSubtotal: { value: price, currency: "GBP" },
      deliveryCost: { value: shipping, currency: "GBP" },
      total: { value: (Number(price) + Number(shipping)).toFixed(2), currency: "GBP" }
    },
    ...(warnings === undefined ? {} : { warnings })
  }
})
const placed = (warnings?: Array<unknown>): Answer => ({
  status: 200,
  body: { purchaseOrderId: "5000123456", purchaseOrderHref: "https://apix.ebay.com/buy/order/v1/guest_purchase_order/5000123456", purchaseOrderPaymentStatus: "PAID", ...(warnings === undefined ? {} : { warnings }) }
})
const purchaseOrder = (status = "PAID"): Answer => ({
  status: 200,
  body: {
    purchaseOrderId: "5000123456",
    purchaseOrderCreationDate: "2026-05-01T10:00:05.000Z",
    purchaseOrderPaymentStatus: status,
    purchaseOrderStatus: status,
    lineItems: [{ lineItemId: "li-1", itemId, quantity: 1, lineItemPaymentStatus: status, lineItemStatus: "PENDING" }],
    pricingSummary: { priceSubtotal: { value: "6.49", currency: "GBP" }, deliveryCost: { value: "2.80", currency: "GBP" }, total: { value: "9.29", currency: "GBP" } }
  }
})

/** An eBay stand-in answering each request with the next answer (599 once they run out), and the client under test. */
const recordingEbay = (answers: ReadonlyArray<Answer>, config: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const requests: Array<Recorded> = []
    const queue = [...answers]
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
            if (next === undefined) return new Response("no answer left for this call", { status: 599 })
            if (next === "drop") return HttpResponse.error()
            return HttpResponse.json(next.body as Record<string, unknown>, { status: next.status, headers: { date, ...next.headers } })
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(ebayAdapter, {
      sellerId: "ebay-fixture",
      config: { marketplaceId: "EBAY_GB", apiBaseUrl: server.url, apixBaseUrl: server.url, ...config },
      credentials
    })
    return { client, requests, left: () => queue.length }
  })

const offer = (overrides: Partial<ConstructorParameters<typeof Contract.Offer>[0]> = {}) =>
  new Contract.Offer({
    available: true,
    isbn,
    quoteId: `ebay:${ebayTime / 1000}:${itemId}`,
    price: Money.make(649, "GBP"),
    shipping: Money.make(280, "GBP"),
    condition: "very_good",
    quantity: 4,
    expiresAt: new Date(Date.now() + 120_000),
    ...overrides
  })

const purchase = (overrides: Partial<Contract.PurchaseRequest> = {}): Contract.PurchaseRequest => ({
  isbn,
  source: { _tag: "Offer", offer: offer() },
  idempotencyKey: "req-42:ebay-1",
  maxTotal: Money.make(2000, "GBP"),
  buyerReference: "req-42",
  ...overrides
})

const basic = `Basic ${Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`).toString("base64")}`

describe("eBay adapter: OAuth and quotes", () => {
  it.live("mints one application token (Basic keyset, form grant, Browse scope only), then searches by q with the bearer and marketplace headers", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([token(), search(summary(itemId, "6.49")), item(itemId, "6.49"), search(), search()])
      const [answer] = yield* client.quote([isbn])
      yield* client.quote([isbn])
      yield* client.quote([isbn])
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /identity/v1/oauth2/token",
        "GET /buy/browse/v1/item_summary/search",
        `GET /buy/browse/v1/item/${encodeURIComponent(itemId)}`,
        "GET /buy/browse/v1/item_summary/search",
        "GET /buy/browse/v1/item_summary/search"
      ])
      const grant = requests[0]!
      expect(grant.headers["authorization"]).toBe(basic)
      expect(grant.headers["content-type"]).toBe("application/x-www-form-urlencoded")
      expect(grant.body).toBe("grant_type=client_credentials&scope=https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope")
      for (const request of requests.slice(1)) {
        expect(request.headers["authorization"]).toBe("Bearer v^1.1#i^1#p^1#r^0#I^3#t^H4s")
        expect(request.headers["x-ebay-c-marketplace-id"]).toBe("EBAY_GB")
      }
      expect(Object.fromEntries(requests[1]!.query)).toEqual({
        q: "9780141439518",
        filter: "buyingOptions:{FIXED_PRICE},deliveryCountry:GB,itemLocationCountry:GB,conditionIds:{1000|2750|4000|5000|6000|3000}",
        sort: "price",
        limit: "20"
      })
      expect(answer).toEqual(
        new Contract.Offer({
          available: true,
          isbn,
          quoteId: `ebay:${ebayTime / 1000}:${itemId}`,
          price: Money.make(649, "GBP"),
          shipping: Money.make(280, "GBP"),
          condition: "very_good",
          quantity: 4,
          expiresAt: new Date(ebayTime + 120_000)
        })
      )
    })
  )

  it.live("asks for the guest order scope when approved, and sends the buyer's location in X-EBAY-C-ENDUSERCTX", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([token(), search()], approved)
      yield* client.quote([isbn])
      expect(new URLSearchParams(requests[0]!.body).get("scope")).toBe("https://api.ebay.com/oauth/api_scope https://api.ebay.com/oauth/api_scope/buy.guest.order")
      expect(requests[1]!.headers["x-ebay-c-enduserctx"]).toBe("contextualLocation=country%3DGB%2Czip%3DN1%201AA")
    })
  )

  it.live("refreshes a token that lapses within its last tenth, one mint for concurrent calls", () =>
    Effect.gen(function* () {
      // 1 s tokens are stale after 0.9 s; two quotes at once share one mint.
      const { client, requests } = yield* recordingEbay([token(1), search(), search(), token(), search()])
      yield* Effect.all([client.quote([isbn]), client.quote([isbn])], { concurrency: 2 })
      yield* Effect.sleep("1 second")
      yield* client.quote([isbn])
      expect(requests.filter((r) => r.path === "/identity/v1/oauth2/token")).toHaveLength(2)
    })
  )

  it.live("mints a new token and retries once when eBay refuses the cached one (401 errorId 1001)", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([token(), ebayError(401, 1001, "OAuth", "REQUEST", "Invalid access token"), token(), search()])
      yield* client.quote([isbn])
      expect(requests.map((r) => r.path.split("/")[1])).toEqual(["identity", "buy", "identity", "buy"])
    })
  )

  it.live("skips a listing of another GTIN and a sold-out one; only sold-out listings make out_of_stock", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingEbay([
        token(),
        search(summary(otherItemId, "3.00"), summary(itemId, "6.49"), summary("v1|3|0", "1.00", { price: { value: "1.00", currency: "USD", convertedFromCurrency: "USD" } })),
        item(otherItemId, "3.00", { gtin: "9780140449136" }),
        item(itemId, "6.49", { estimatedAvailabilities: [{ estimatedAvailabilityStatus: "OUT_OF_STOCK", estimatedAvailableQuantity: 0 }] }),
        search(summary(otherItemId, "3.00")),
        item(otherItemId, "3.00", { gtin: "9780140449136" })
      ])
      expect(yield* client.quote([isbn])).toEqual([new Contract.Unavailable({ available: false, isbn, reason: "out_of_stock" })])
      expect(yield* client.quote([isbn])).toEqual([new Contract.Unavailable({ available: false, isbn, reason: "not_carried" })])
    })
  )

  it.live("maps the token endpoint's invalid_client, search 409 12019, 400 12001 and 500 12000 into the taxonomy", () =>
    Effect.gen(function* () {
      const bad = yield* recordingEbay([{ status: 401, body: { error: "invalid_client", error_description: "client authentication failed" } }])
      const auth = yield* Effect.flip(bad.client.quote([isbn]))
      expect(auth).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401 })
      expect(auth.message).toContain("invalid_client")
      const { client } = yield* recordingEbay([
        token(),
        ebayError(409, 12019, "API_BROWSE", "BUSINESS", "Currently, the EBAY_XX marketplace is not supported."),
        ebayError(400, 12001, "API_BROWSE", "REQUEST", "The call must have a valid 'q' query parameter."),
        ebayError(500, 12000, "API_BROWSE", "APPLICATION", "There was a problem with an eBay internal system.")
      ])
      const marketplace = yield* Effect.flip(client.quote([isbn]))
      expect(marketplace).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 409 })
      expect(marketplace.message).toContain("errorId 12019 (API_BROWSE/BUSINESS)")
      expect(yield* Effect.flip(client.quote([isbn]))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 400 })
      expect(yield* Effect.flip(client.quote([isbn]))).toMatchObject({ _tag: "SellerUnavailable", reason: "server_error", status: 500 })
    })
  )
})

describe("eBay adapter: purchases", () => {
  it.live("refuses every purchase without eBay's approval, before any call", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([])
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      expect(error.message).toContain("not approved")
      expect(requests).toHaveLength(0)
    })
  )

  it.live("initiates a guest checkout session, checks its totals, places it and reads what eBay charged", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([token(), session("6.49", "2.80"), placed(), purchaseOrder()], approved)
      const order = yield* client.purchase(purchase())
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /identity/v1/oauth2/token",
        "POST /buy/order/v1/guest_checkout_session/initiate",
        "POST /buy/order/v1/guest_checkout_session/gcs-8a1f/place_order",
        "GET /buy/order/v1/guest_purchase_order/5000123456"
      ])
      for (const request of requests.slice(1)) expect(request.headers["x-ebay-c-marketplace-id"]).toBe("EBAY_GB")
      expect(requests[1]!.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(requests[1]!.body)).toEqual({
        contactEmail: "orders+req-42@broker.example",
        contactFirstName: "Ada",
        contactLastName: "Lovelace",
        creditCard: { ...checkout.card, cardNumber: "4111111111111111" },
        lineItemInputs: [{ itemId, quantity: 1 }],
        shippingAddress: checkout.shippingAddress
      })
      expect(JSON.parse(requests[2]!.body)).toEqual({})
      expect(order).toEqual(new Contract.Order({ orderId: "5000123456", isbn, status: "confirmed", price: Money.make(649, "GBP"), shipping: Money.make(280, "GBP") }))
    })
  )

  it.live("refuses price_changed when the session totals more than the quote, and never places it", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([token(), session("7.99", "2.80")], approved)
      const error = yield* Effect.flip(client.purchase(purchase()))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "price_changed", currentPrice: Money.make(799, "GBP") })
      expect(requests.some((r) => r.path.endsWith("/place_order"))).toBe(false)
    })
  )

  it.live("refuses quote_expired by eBay's clock, and above the customer's maximum as invalid_request", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay([token(), session("6.49", "2.80"), session("6.49", "2.80")], approved)
      const expired = yield* Effect.flip(client.purchase(purchase({ source: { _tag: "Offer", offer: offer({ expiresAt: new Date(ebayTime) }) } })))
      expect(expired).toMatchObject({ _tag: "SellerRejected", reason: "quote_expired" })
      const above = yield* Effect.flip(client.purchase(purchase({ idempotencyKey: "req-43:ebay-1", maxTotal: Money.make(900, "GBP") })))
      expect(above).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      expect(requests.filter((r) => r.path.endsWith("/place_order"))).toHaveLength(0)
    })
  )

  it.live("maps initiate's 409 15013, 409 15015, 200-warning 15055 and 403 into the taxonomy", () =>
    Effect.gen(function* () {
      const { client } = yield* recordingEbay(
        [
          token(),
          ebayError(409, 15013, "API_ORDER", "BUSINESS", "The quantity value is greater than the quantity available."),
          ebayError(409, 15015, "API_ORDER", "BUSINESS", "There is a problem with the credit card."),
          session("6.49", "2.80", [{ errorId: 15055, domain: "API_ORDER", category: "BUSINESS", message: "The item was removed from the cart." }]),
          { status: 403, body: { errors: [{ errorId: 1100, domain: "ACCESS", category: "REQUEST", message: "Insufficient permissions to fulfill the request." }] } }
        ],
        approved
      )
      const keys = ["k-1", "k-2", "k-3", "k-4"]
      const [soldOut, card, removed, forbidden] = yield* Effect.forEach(keys, (key) => Effect.flip(client.purchase(purchase({ idempotencyKey: key }))))
      expect(soldOut).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock", status: 409 })
      expect(card).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 409 })
      expect(removed).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock" })
      expect(forbidden).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 403 })
      expect(forbidden!.message).toContain("Limited Release")
    })
  )

  it.live("resolves a lost place_order by placing the same session again (15006), never a new session", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay(
        [token(), session("6.49", "2.80"), "drop", placed([{ errorId: 15006, domain: "API_ORDER", category: "BUSINESS", message: "The order has already been placed." }]), purchaseOrder()],
        approved
      )
      const lost = yield* Effect.flip(client.purchase(purchase()))
      expect(lost).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "req-42:ebay-1" })
      const order = yield* client.purchase(purchase())
      expect(order.orderId).toBe("5000123456")
      expect(requests.filter((r) => r.path.endsWith("/initiate"))).toHaveLength(1)
      expect(requests.filter((r) => r.path === "/buy/order/v1/guest_checkout_session/gcs-8a1f/place_order")).toHaveLength(2)
    })
  )

  it.live("keeps a key unsettled while a replay is refused or the payment is pending, and never starts another session", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay(
        [
          token(),
          session("6.49", "2.80"),
          "drop",
          ebayError(400, 15003, "API_ORDER", "REQUEST", "The checkout session requested does not exist."),
          placed(),
          purchaseOrder("PENDING"),
          purchaseOrder()
        ],
        approved
      )
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown" })
      // The session is gone: maybe because it was placed. Still unknown, still the same session.
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown" })
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "OutcomeUnknown" })
      expect((yield* client.purchase(purchase())).orderId).toBe("5000123456")
      expect(requests.filter((r) => r.path.endsWith("/initiate"))).toHaveLength(1)
    })
  )

  it.live("frees the key when eBay refuses the first place_order (15020 item changed → price_changed)", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingEbay(
        [token(), session("6.49", "2.80"), ebayError(409, 15020, "API_ORDER", "BUSINESS", "During the checkout process the item has been changed."), session("6.49", "2.80"), placed(), purchaseOrder()],
        approved
      )
      expect(yield* Effect.flip(client.purchase(purchase()))).toMatchObject({ _tag: "SellerRejected", reason: "price_changed", status: 409 })
      yield* client.purchase(purchase())
      expect(requests.filter((r) => r.path.endsWith("/initiate"))).toHaveLength(2)
    })
  )
})
