/**
 * The WooCommerce adapter's inventory listing against recorded answers of `GET /products`
 * (`test/fixtures/products-page-*.json`, shaped after the REST API v3 documentation): what goes
 * out (status, order, page, per_page, Basic auth or query credentials), how products become
 * listings (ISBN-13 SKUs only, stock as quotes judge it), how pages chain by number, and how
 * failures land in the error taxonomy.
 */
import { readFileSync } from "node:fs"
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { walkInventory } from "@bookbroker/adapter-sdk/conformance"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { http } from "msw"
import { wooCommerceAdapter } from "../src/index.js"

const credentials = { consumerKey: "ck_4f9a1c0e7b2d", consumerSecret: "cs_8e31b7a05d64" }
const basicAuth = `Basic ${Buffer.from(`${credentials.consumerKey}:${credentials.consumerSecret}`).toString("base64")}`
const isbn = Schema.decodeSync(Isbn.Isbn13)

interface RecordedAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
}

interface Recorded {
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly authorization: string | null
}

const fixture = (name: string): RecordedAnswer => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as RecordedAnswer

/** A shop stand-in answering each request with the next answer (599 when they run out), and the client under test. */
const recordingShop = (answers: ReadonlyArray<string | RecordedAnswer>, config: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const requests: Array<Recorded> = []
    const queue = answers.map((entry) => (typeof entry === "string" ? fixture(entry) : entry))
    const server = yield* Effect.acquireRelease(
      Effect.promise(() =>
        serveHandlers([
          http.all("*", ({ request }) => {
            const url = new URL(request.url)
            requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: request.headers.get("authorization") })
            const next = queue.shift()
            if (next === undefined) return new Response("no fixture left for this call", { status: 599 })
            const body = next.body === undefined ? null : typeof next.body === "string" ? next.body : JSON.stringify(next.body)
            return new Response(body, { status: next.status, headers: { "content-type": "application/json; charset=UTF-8", ...next.headers } })
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(wooCommerceAdapter, {
      sellerId: "woo-inventory",
      config: { baseUrl: server.url, shipping: "2.50", ...config },
      credentials
    })
    return { client, requests }
  })

/** A page of the products list with the given products and page count. */
const productsPage = (products: ReadonlyArray<unknown>, totalPages: number): RecordedAnswer => ({
  status: 200,
  headers: { "x-wp-total": String(totalPages * products.length), "x-wp-totalpages": String(totalPages) },
  body: products
})

const simpleProduct = (id: number, sku: string) => ({
  ...(fixture("products-page-1.json").body as Array<Record<string, unknown>>)[0],
  id,
  name: `Book ${id}`,
  sku
})

describe("WooCommerce adapter: inventory listing", () => {
  it.live("declares inventory by default and not when the config turns it off", () =>
    Effect.gen(function* () {
      const on = yield* recordingShop([])
      expect(on.client.capabilities.inventory).toBe(true)
      const off = yield* recordingShop([], { inventory: false })
      expect(off.client.capabilities.inventory).toBe(false)
    })
  )

  it.live("reads published products oldest id first, 100 a page with Basic auth, and maps each one with an ISBN-13 SKU as a quote would", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["currency-gbp.json", "products-page-1.json"])
      const page = yield* client.inventory({ cursor: null, pageSize: 500 })
      expect(requests.map((request) => request.path)).toEqual(["/wp-json/wc/v3/data/currencies/current", "/wp-json/wc/v3/products"])
      expect(requests[1]!.query).toEqual({ status: "publish", orderby: "id", order: "asc", page: "1", per_page: "100" })
      for (const request of requests) expect(request.authorization).toBe(basicAuth)
      const listing = (listingId: string, book: string, price: number, quantity: number, title: string) =>
        new Contract.InventoryListing({
          listingId,
          isbn: isbn(book),
          price: Money.make(price, "GBP"),
          shipping: Money.make(250, "GBP"),
          condition: "new",
          quantity,
          title
        })
      // Skipped: the variable parent (its variations are not in the list), the tote bag, the
      // ISBN-10 SKU (quotes search the ISBN-13), the product without a SKU, and the sold-out one without a price.
      expect(page.listings).toEqual([
        listing("794", "9780141439518", 899, 3, "Pride and Prejudice"),
        // Stock not managed: the shop does not count, so 1 for a listing on sale.
        listing("796", "9780141439563", 1250, 1, "Jane Eyre"),
        listing("801", "9780141449265", 799, 0, "Middlemarch")
      ])
      expect(page.nextCursor).toBe("page=2&per_page=100")
    })
  )

  it.live("follows the cursor to the next page number and ends on the shop's last page, reading the currency once", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["currency-gbp.json", "products-page-1.json", "products-page-2.json"])
      const first = yield* client.inventory({ cursor: null, pageSize: 500 })
      const last = yield* client.inventory({ cursor: first.nextCursor, pageSize: 500 })
      expect(requests.slice(2).map((request) => request.query)).toEqual([{ status: "publish", orderby: "id", order: "asc", page: "2", per_page: "100" }])
      expect(last.listings.map((listing) => [listing.listingId, listing.quantity])).toEqual([["830", 1]])
      expect(last.nextCursor).toBeNull()
    })
  )

  it.live("walks several small pages with the asked page size, and the walk ends", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([
        "currency-gbp.json",
        productsPage([simpleProduct(900, "9780141439518"), simpleProduct(901, "9780141439563")], 3),
        productsPage([simpleProduct(902, "9780141449265"), simpleProduct(903, "NOT-A-BOOK")], 3),
        productsPage([simpleProduct(904, "9780141187761")], 3)
      ])
      const walk = yield* Effect.promise(() => walkInventory(client, { pageSize: 2, maxPages: 10 }))
      expect(walk.pages).toBe(3)
      expect(walk.listings.map((listing) => listing.listingId)).toEqual(["900", "901", "902", "904"])
      expect(requests.slice(1).map((request) => `${request.query["page"]}/${request.query["per_page"]}`)).toEqual(["1/2", "2/2", "3/2"])
    })
  )

  it.live("sends the credentials in the query when the config says so", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["currency-gbp.json", "products-page-2.json"], { credentialsIn: "query" })
      yield* client.inventory({ cursor: null, pageSize: 50 })
      expect(requests[1]!.authorization).toBeNull()
      expect(requests[1]!.query).toMatchObject({ consumer_key: credentials.consumerKey, consumer_secret: credentials.consumerSecret, per_page: "50" })
    })
  )

  it.live("refuses a cursor it did not make, or one of bigger pages than asked for, as invalid_request without a call", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop([])
      expect(yield* Effect.flip(client.inventory({ cursor: "b2Zmc2V0OjI=", pageSize: 500 }))).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      const smaller = yield* Effect.flip(client.inventory({ cursor: "page=3&per_page=100", pageSize: 50 }))
      expect(smaller).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      expect(smaller.message).toContain("start the walk again")
      expect(requests).toHaveLength(0)
    })
  )

  it.live("maps 401 (bad secret), a host's 429, 404 rest_no_route and a price that is no amount into the taxonomy", () =>
    Effect.gen(function* () {
      const onSale = simpleProduct(905, "9780141439518")
      const { client } = yield* recordingShop([
        "auth-secret-invalid.json",
        "currency-gbp.json",
        "host-rate-limited.json",
        "no-route.json",
        productsPage([{ ...onSale, price: "8.999" }], 1)
      ])
      const first = { cursor: null, pageSize: 500 }
      const auth = yield* Effect.flip(client.inventory(first))
      expect(auth).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401, operation: "inventory" })
      expect(auth.message).toContain("Consumer secret is invalid.")
      const throttled = yield* Effect.flip(client.inventory(first))
      expect(throttled).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", retryAfterMillis: 7000 })
      expect(throttled.retryable).toBe(true)
      const noRoute = yield* Effect.flip(client.inventory(first))
      expect(noRoute).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request", status: 404 })
      expect(noRoute.message).toContain("pretty permalinks")
      const price = yield* Effect.flip(client.inventory(first))
      expect(price).toMatchObject({ _tag: "MalformedSellerResponse", operation: "inventory" })
      expect(price.message).toContain("product 905")
    })
  )
})
