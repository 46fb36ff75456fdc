/**
 * The Shopify adapter's inventory listing against recorded Admin GraphQL answers
 * (`test/fixtures/inventory-page-*.json`, shaped as Shopify documents `productVariants`): what
 * goes out (API version, access token, the document, `first` / `after` / `query` variables), how
 * variants become listings (ISBN barcodes in the spellings quotes search for, products on sale,
 * stock as quotes judge it), how Shopify's `endCursor` chains pages, and how failures — the
 * cost-based throttle, a bad token, a missing scope — land in the error taxonomy.
 */
import { readFileSync } from "node:fs"
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { walkInventory } from "@bookbroker/adapter-sdk/conformance"
import { serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { http } from "msw"
import { shopifyAdapter } from "../src/index.js"

const token = "shpat_fixture_token_0123456789"
const isbn = Schema.decodeSync(Isbn.Isbn13)

interface RecordedAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
}

interface Recorded {
  readonly path: string
  readonly token: string | null
  readonly body: { readonly query: string; readonly variables: Record<string, unknown>; readonly operationName?: string }
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
          http.all("*", async ({ request }) => {
            requests.push({
              path: new URL(request.url).pathname,
              token: request.headers.get("x-shopify-access-token"),
              body: (await request.json()) as Recorded["body"]
            })
            const next = queue.shift()
            if (next === undefined) return new Response("no fixture left for this call", { status: 599 })
            return new Response(JSON.stringify(next.body), { status: next.status, headers: { "content-type": "application/json", ...next.headers } })
          })
        ])
      ),
      (server) => Effect.promise(() => server.close())
    )
    const client = yield* SellerClient.make(shopifyAdapter, {
      sellerId: "shopify-inventory",
      config: { shopUrl: server.url, shipping: "2.50", ...config },
      credentials: { accessToken: token }
    })
    return { client, requests }
  })

/** The first recorded page with other edges and page info. */
const page = (edges: ReadonlyArray<unknown>, pageInfo: { hasNextPage: boolean; endCursor: string | null }): RecordedAnswer => {
  const recorded = fixture("inventory-page-1.json")
  const body = recorded.body as { data: { productVariants: Record<string, unknown> } }
  return { ...recorded, body: { ...body, data: { ...body.data, productVariants: { edges, pageInfo } } } }
}
const edgesOf = (name: string) => ((fixture(name).body as { data: { productVariants: { edges: Array<{ node: Record<string, unknown> }> } } }).data.productVariants.edges)

const listing = (listingId: number, book: string, price: number, quantity: number, title: string) =>
  new Contract.InventoryListing({
    listingId: `gid://shopify/ProductVariant/${listingId}`,
    isbn: isbn(book),
    price: Money.make(price, "GBP"),
    shipping: Money.make(250, "GBP"),
    condition: "new",
    quantity,
    title
  })

describe("Shopify adapter: inventory listing", () => {
  it.live("declares inventory by default and not when the config turns it off", () =>
    Effect.gen(function* () {
      expect((yield* recordingShop([])).client.capabilities.inventory).toBe(true)
      expect((yield* recordingShop([], { inventory: false })).client.capabilities.inventory).toBe(false)
    })
  )

  it.live("asks productVariants for products on sale, 100 a page with the access token, and maps each ISBN barcode as a quote would", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["inventory-page-1.json"])
      const first = yield* client.inventory({ cursor: null, pageSize: 500 })
      expect(requests).toHaveLength(1)
      const [request] = requests
      expect(request!.path).toBe("/admin/api/2026-07/graphql.json")
      expect(request!.token).toBe(token)
      expect(request!.body.operationName).toBe("BookbrokerInventory")
      expect(request!.body.query).toContain("productVariants(first: $first, after: $after, query: $query)")
      expect(request!.body.query).toContain("pageInfo { hasNextPage endCursor }")
      expect(request!.body.query).toContain("product { status title }")
      expect(request!.body.query).toContain("shop { currencyCode }")
      expect(request!.body.variables).toEqual({ query: "product_status:ACTIVE,UNLISTED", first: 100, after: null })
      // Skipped: the draft product, the variant without a barcode, the bookmark, and a barcode
      // spelled in a way quotes do not search for (spaces).
      expect(first.listings).toEqual([
        listing(44001, "9780141439518", 1299, 3, "Pride and Prejudice"),
        // ISBN-10 barcode, stock not tracked: the shop does not count, so 1 for a listing on sale.
        listing(44002, "9780306406157", 850, 1, "Signal processing (ISBN-10 barcode)"),
        // Hyphenated barcode, sold out.
        listing(44003, "9781492052203", 4500, 0, "Designing Data-Intensive Applications"),
        // Sells past zero (inventoryPolicy CONTINUE): on sale, uncounted.
        listing(44007, "9791032305690", 1500, 1, "Preorder (oversells)")
      ])
      expect(first.nextCursor).toBe("eyJsYXN0X2lkIjo0NDAwOCwibGFzdF92YWx1ZSI6IjQ0MDA4In0=")
    })
  )

  it.live("passes Shopify's endCursor back as `after`, at most the asked page size, and ends where hasNextPage is false", () =>
    Effect.gen(function* () {
      const { client, requests } = yield* recordingShop(["inventory-page-1.json", "inventory-page-2.json"], { condition: "good" })
      const first = yield* client.inventory({ cursor: null, pageSize: 50 })
      const last = yield* client.inventory({ cursor: first.nextCursor, pageSize: 50 })
      expect(requests.map((request) => request.body.variables)).toEqual([
        { query: "product_status:ACTIVE,UNLISTED", first: 50, after: null },
        { query: "product_status:ACTIVE,UNLISTED", first: 50, after: first.nextCursor }
      ])
      // An UNLISTED product is still sold (2026-07); the configured condition, as quotes carry it.
      expect(last.listings).toEqual([new Contract.InventoryListing({ ...listing(44009, "9780141439563", 999, 2, "Jane Eyre"), condition: "good" })])
      expect(last.nextCursor).toBeNull()
    })
  )

  it.live("walks several small pages with the asked page size, and the walk ends", () =>
    Effect.gen(function* () {
      const edges = edgesOf("inventory-page-1.json")
      const { client, requests } = yield* recordingShop([
        page(edges.slice(0, 2), { hasNextPage: true, endCursor: "c2" }),
        page(edges.slice(2, 4), { hasNextPage: true, endCursor: "c4" }),
        page(edges.slice(6, 7), { hasNextPage: false, endCursor: "c5" })
      ])
      const walk = yield* Effect.promise(() => walkInventory(client, { pageSize: 2, maxPages: 10 }))
      expect(walk.pages).toBe(3)
      expect(walk.listings.map((listed) => listed.listingId.split("/").at(-1))).toEqual(["44001", "44002", "44003", "44007"])
      expect(requests.map((request) => [request.body.variables["first"], request.body.variables["after"]])).toEqual([
        [2, null],
        [2, "c2"],
        [2, "c4"]
      ])
    })
  )

  it.live("maps THROTTLED (wait from the cost), a 401, ACCESS_DENIED, a next page without a cursor and an unreadable price into the taxonomy", () =>
    Effect.gen(function* () {
      const [onSale] = edgesOf("inventory-page-1.json")
      const { client } = yield* recordingShop([
        "unauthorized.json",
        "access-denied.json",
        page([], { hasNextPage: true, endCursor: null }),
        page([{ node: { ...onSale!.node, price: "12.999" } }], { hasNextPage: false, endCursor: null }),
        "throttled.json"
      ])
      const first = { cursor: null, pageSize: 500 }
      expect(yield* Effect.flip(client.inventory(first))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed", status: 401, operation: "inventory" })
      const scope = yield* Effect.flip(client.inventory(first))
      expect(scope).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed" })
      expect(scope.message).toContain("read_products")
      expect(yield* Effect.flip(client.inventory(first))).toMatchObject({ _tag: "MalformedSellerResponse", operation: "inventory" })
      const price = yield* Effect.flip(client.inventory(first))
      expect(price).toMatchObject({ _tag: "MalformedSellerResponse", operation: "inventory" })
      expect(price.message).toContain("12.999")
      const throttled = yield* Effect.flip(client.inventory(first))
      // (152 requested − 2 available) / 50 restored a second.
      expect(throttled).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", operation: "inventory", retryAfterMillis: 3000 })
      expect(throttled.retryable).toBe(true)
    })
  )

  it.live("holds a page back, unsent, while the shop's bucket cannot pay for it", () =>
    Effect.gen(function* () {
      const low = page(edgesOf("inventory-page-1.json").slice(0, 1), { hasNextPage: true, endCursor: "c1" })
      const body = low.body as { extensions: { cost: { throttleStatus: { currentlyAvailable: number } } } }
      body.extensions.cost.throttleStatus.currentlyAvailable = 0
      const { client, requests } = yield* recordingShop([low])
      const first = yield* client.inventory({ cursor: null, pageSize: 100 })
      const held = yield* Effect.flip(client.inventory({ cursor: first.nextCursor, pageSize: 100 }))
      expect(held).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", operation: "inventory" })
      expect(held.message).toContain("not sent")
      expect(requests).toHaveLength(1)
    })
  )
})
