/**
 * The simulated shop's own rules (what the conformance kit relies on but does not probe), and
 * the adapter against it where Shopify differs from a seller API: no idempotency for draft
 * orders, a create whose answer is lost, and the cost bucket.
 */
import { Effect, Exit, Option } from "effect"
import { Contract, SellerClient } from "@bookbroker/adapter-sdk"
import { serveHandlers, SellerSimulator, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { shopifyAdapter } from "../src/index.js"
import { ShopifyShop, type ShopifyShopOptions } from "../src/testing/index.js"

const token = "shpat_simulated"
const isbn = "9780141439518"

const servers: Array<HandlerServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const start = async (options: ShopifyShopOptions = {}) => {
  const seller = new SellerSimulator({ apiKey: token, currency: "GBP", stock: [{ isbn, price: 899, quantity: 5 }] })
  const shop = new ShopifyShop(seller, options)
  const server = await serveHandlers(shop.handlers(), { onClose: () => seller.close() })
  servers.push(server)
  const client = await Effect.runPromise(
    SellerClient.make(shopifyAdapter, { sellerId: "shop", config: { shopUrl: server.url }, credentials: { accessToken: token } })
  )
  return { seller, shop, server, client }
}

const graphql = async (server: HandlerServer, body: unknown, accessToken = token) => {
  const response = await fetch(`${server.url}/admin/api/2026-07/graphql.json`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-shopify-access-token": accessToken },
    body: JSON.stringify(body)
  })
  return { status: response.status, date: response.headers.get("date"), body: (await response.json()) as Record<string, unknown> }
}

const createDraft = {
  query: "mutation Create($input: DraftOrderInput!) { draftOrderCreate(input: $input) { draftOrder { id } userErrors { field message } } }",
  variables: { input: { lineItems: [{ variantId: "gid://shopify/ProductVariant/44001", quantity: 1 }], tags: ["bb-same"] } }
}

const offerOf = async (client: SellerClient.SellerClient) => {
  const [answer] = await Effect.runPromise(client.quote([isbn as never]))
  if (!(answer instanceof Contract.Offer)) throw new Error("expected an offer")
  return answer
}

describe("simulated Shopify shop", () => {
  it("lists every variant page by page when the search names no barcode, counted as inventory and charged to the bucket", async () => {
    const { seller, server } = await start()
    seller.setStock({ isbn: "9780141439563", price: 500, quantity: 0 })
    seller.setStock({ isbn: "9780141449265", price: 700, quantity: 2 })
    const listing = (after: string | null, search = "product_status:ACTIVE,UNLISTED") =>
      graphql(server, {
        query: "query L($query: String!, $first: Int!, $after: String) { productVariants(first: $first, after: $after, query: $query) { edges { node { id barcode } } pageInfo { hasNextPage endCursor } } shop { currencyCode } }",
        variables: { query: search, first: 2, after }
      })
    type Page = { data: { productVariants: { edges: Array<{ node: { barcode: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }; extensions: { cost: { requestedQueryCost: number } } }
    const first = (await listing(null)).body as unknown as Page
    expect(first.data.productVariants.edges.map((edge) => edge.node.barcode)).toEqual([isbn, "9780141439563"])
    expect(first.data.productVariants.pageInfo.hasNextPage).toBe(true)
    expect(first.extensions.cost.requestedQueryCost).toBe(5)
    const second = (await listing(first.data.productVariants.pageInfo.endCursor)).body as unknown as Page
    expect(second.data.productVariants.edges.map((edge) => edge.node.barcode)).toEqual(["9780141449265"])
    expect(second.data.productVariants.pageInfo.hasNextPage).toBe(false)
    // Every simulated product is ACTIVE: a search for drafts finds none.
    expect(((await listing(null, "product_status:DRAFT")).body as unknown as Page).data.productVariants.edges).toEqual([])
    expect(seller.calls.inventory).toBe(3)
    expect(seller.calls.quote).toBe(0)
  })

  it("refuses a wrong token with 401 and Shopify's error string, running nothing", async () => {
    const { seller, server } = await start()
    const response = await graphql(server, { query: "query { productVariants(first: 1, query: \"barcode:1\") { edges { node { id } } } }" }, "shpat_wrong")
    expect(response.status).toBe(401)
    expect(response.body).toEqual({ errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" })
    expect(seller.quoteCalls).toHaveLength(0)
  })

  it("answers THROTTLED with HTTP 200 and the bucket when a query costs more than it holds, and runs nothing", async () => {
    const { seller, shop, server } = await start({ bucket: { maximumAvailable: 2000, restoreRate: 1 } })
    shop.setAvailable(3)
    const response = await graphql(server, { query: `query { productVariants(first: 10, query: "barcode:${isbn}") { edges { node { id } } } shop { currencyCode } }` })
    expect(response.status).toBe(200)
    expect(response.body["data"]).toBeUndefined()
    expect(response.body["errors"]).toEqual([expect.objectContaining({ message: "Throttled", extensions: expect.objectContaining({ code: "THROTTLED" }) })])
    expect(response.body["extensions"]).toEqual({
      cost: { requestedQueryCost: 13, actualQueryCost: null, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: expect.closeTo(3, 0), restoreRate: 1 } }
    })
    expect(seller.quoteCalls).toHaveLength(0)
  })

  it("has no idempotency: the same draftOrderCreate twice makes two drafts", async () => {
    const { shop, server } = await start()
    shop.variantId(isbn)
    const first = await graphql(server, createDraft)
    const second = await graphql(server, createDraft)
    expect(first.status).toBe(200)
    expect(first.date).toMatch(/GMT$/)
    expect(shop.drafts.size).toBe(2)
    expect(second.body).not.toEqual(first.body)
  })

  it("answers draftOrderCreate userErrors (HTTP 200, draftOrder null) for an unknown variant", async () => {
    const { shop, server } = await start()
    const response = await graphql(server, { ...createDraft, variables: { input: { lineItems: [{ variantId: "gid://shopify/ProductVariant/1", quantity: 1 }] } } })
    expect(response.status).toBe(200)
    expect(response.body["data"]).toEqual({ draftOrderCreate: { draftOrder: null, userErrors: [{ field: ["lineItems", "0", "variantId"], message: "Variant is invalid" }] } })
    expect(shop.drafts.size).toBe(0)
  })
})

describe("Shopify adapter against the simulated shop", () => {
  it("a create whose answer was lost is finished by the next try with the key: one draft, one order", async () => {
    const { seller, shop, client } = await start({ lostCreateAnswers: 1 })
    const offer = await offerOf(client)
    const request: Contract.PurchaseRequest = {
      isbn: offer.isbn,
      source: { _tag: "Offer", offer },
      idempotencyKey: "req-7:shop",
      maxTotal: offer.total,
      buyerReference: "req-7"
    }
    const lost = await Effect.runPromiseExit(client.purchase(request))
    expect(Exit.isFailure(lost) && String(lost.cause)).toContain("OutcomeUnknown")
    expect(shop.drafts.size).toBe(1)
    expect(seller.orders).toHaveLength(0)
    // An open draft is not an order.
    expect(Option.isNone(await Effect.runPromise(client.lookupOrder({ idempotencyKey: "req-7:shop", isbn: offer.isbn })))).toBe(true)
    const order = await Effect.runPromise(client.purchase(request))
    expect(shop.drafts.size).toBe(1)
    expect(seller.orders).toHaveLength(1)
    expect(order.orderId).toBe(seller.orders[0]!.orderId)
    expect(seller.orders[0]!.buyerReference).toBe("req-7")
    expect(await Effect.runPromise(client.purchase(request))).toEqual(order)
    expect(seller.orders).toHaveLength(1)
  })

  it("waits for a draft Shopify is still calculating (ready: false) before completing it", async () => {
    const { seller, shop, client } = await start({ draftReadyAfterReads: 2 })
    const offer = await offerOf(client)
    const order = await Effect.runPromise(
      client.purchase({ isbn: offer.isbn, source: { _tag: "Offer", offer }, idempotencyKey: "req-8:shop", maxTotal: offer.total, buyerReference: "req-8" })
    )
    expect(order.orderId).toBe(seller.orders[0]!.orderId)
    expect(shop.requests.map((request) => request.operationName)).toEqual([
      "BookbrokerQuote",
      "BookbrokerPreOrderCheck",
      "BookbrokerDraftOrderCreate",
      "BookbrokerOrderLookup",
      "BookbrokerOrderLookup",
      "BookbrokerDraftOrderComplete"
    ])
  })

  it("reads the shop's cost bucket and holds quotes back before Shopify would throttle them", async () => {
    const { shop, client } = await start({ bucket: { maximumAvailable: 50, restoreRate: 1 } })
    // Each one-ISBN quote costs 2 + 6 + 1 = 9 points: five fit in 50, the sixth does not.
    for (let quote = 0; quote < 5; quote++) await offerOf(client)
    const exit = await Effect.runPromiseExit(client.quote([isbn as never]))
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/rate_limited[\s\S]*cannot pay for BookbrokerQuote/)
    expect(shop.requests).toHaveLength(5)
  })

  it("does not complete a draft whose price rose after the check (overcharge): price_changed, no order", async () => {
    const { seller, shop, client } = await start()
    const offer = await offerOf(client)
    seller.inject({ operation: "purchase", kind: "overcharge" })
    const exit = await Effect.runPromiseExit(
      client.purchase({ isbn: offer.isbn, source: { _tag: "Offer", offer }, idempotencyKey: "req-9:shop", maxTotal: offer.total, buyerReference: "req-9" })
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("price_changed")
    expect(shop.drafts.size).toBe(1)
    expect(seller.orders).toHaveLength(0)
  })
})
