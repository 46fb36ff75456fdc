/**
 * The simulated WooCommerce shop's own rules, which the conformance kit relies on but does not
 * probe, and which are the reason the adapter checks what it checks: creates that check and
 * dedupe nothing, a line total that overrides the price, pages of 10 by default, and
 * WooCommerce's authentication answers.
 */
import { serveHandlers, SellerSimulator, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { WooCommerceShop } from "../src/testing/index.js"

const consumerKey = "ck_4f9a1c0e7b2d"
const secret = "cs_8e31b7a05d64"
const isbn = "9780141439518"

const servers: Array<HandlerServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const start = async (options: { permissions?: "read" | "write" | "read_write"; quantity?: number } = {}) => {
  const seller = new SellerSimulator({ apiKey: secret, currency: "GBP", stock: [{ isbn, price: 899, quantity: options.quantity ?? 1 }] })
  const shop = new WooCommerceShop(seller, { consumerKey, ...(options.permissions === undefined ? {} : { permissions: options.permissions }) })
  const server = await serveHandlers(shop.handlers(), { onClose: () => seller.close() })
  servers.push(server)
  return { seller, shop, server }
}

const call = async (server: HandlerServer, method: string, path: string, json?: unknown, user = `${consumerKey}:${secret}`) => {
  const response = await fetch(`${server.url}/wp-json/wc/v3${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(user).toString("base64")}`, "content-type": "application/json" },
    ...(json === undefined ? {} : { body: JSON.stringify(json) })
  })
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown }
}

describe("simulated WooCommerce shop", () => {
  it("creates an order for every POST: no stock check, no duplicate check, set_paid drives stock below zero", async () => {
    const { seller, shop, server } = await start({ quantity: 1 })
    const productId = shop.productId(isbn)!
    const body = { set_paid: true, line_items: [{ product_id: productId, quantity: 1 }], meta_data: [{ key: "bookbroker_idempotency_key", value: "k-1" }] }
    const first = await call(server, "POST", "/orders", body)
    const second = await call(server, "POST", "/orders", body)
    expect([first.status, second.status]).toEqual([201, 201])
    expect(first.headers.get("location")).toMatch(/\/wp-json\/wc\/v3\/orders\/\d+$/)
    expect(seller.orders.map((order) => order.idempotencyKey)).toEqual(["k-1", "k-1"])
    expect(seller.stockItem(isbn)!.quantity).toBe(-1)
    expect((await call(server, "GET", `/products/${productId}`)).body).toMatchObject({ stock_quantity: -1, stock_status: "outofstock" })
  })

  it("lets a line item's total override the shop's price", async () => {
    const { shop, server } = await start()
    const created = await call(server, "POST", "/orders", { line_items: [{ product_id: shop.productId(isbn), quantity: 1, total: "0.01" }] })
    expect(created.body).toMatchObject({ status: "pending", total: "0.01", currency: "GBP" })
  })

  it("refuses a line without a product reference, as WooCommerce does", async () => {
    const { seller, server } = await start()
    const refused = await call(server, "POST", "/orders", { line_items: [{ quantity: 1 }] })
    expect(refused).toMatchObject({ status: 400, body: { code: "woocommerce_rest_required_product_reference", data: { status: 400 } } })
    expect(seller.orders).toHaveLength(0)
  })

  it("lists 10 products per page unless asked for more, with X-WP-Total and X-WP-TotalPages", async () => {
    const { seller, server } = await start()
    // SKUs are plain strings to the shop; 13 products in all.
    for (let i = 0; i < 12; i++) seller.setStock({ isbn: String(9790000000000 + i), price: 100, quantity: 1 })
    const all = [...seller.stock.keys()]
    expect(all).toHaveLength(13)
    const first = await call(server, "GET", `/products?sku=${all.join(",")}`)
    expect((first.body as Array<unknown>).length).toBe(10)
    expect(first.headers.get("x-wp-total")).toBe(String(all.length))
    expect(first.headers.get("x-wp-totalpages")).toBe(String(Math.ceil(all.length / 10)))
    expect(((await call(server, "GET", `/products?sku=${all.join(",")}&per_page=100`)).body as Array<unknown>).length).toBe(all.length)
    expect((await call(server, "GET", "/products?per_page=101")).status).toBe(400)
  })

  it("lists the catalogue without sku (the inventory listing): by id when asked, Link prev/next, counted and faulted as inventory", async () => {
    const { seller, shop, server } = await start()
    seller.setStock({ isbn: "9780141439563", price: 500, quantity: 2 })
    seller.setStock({ isbn: "9780141449265", price: 700, quantity: 0 })
    // Quoted first, so it gets the first product id although it was stocked last.
    const newestFirst = shop.productId("9780141449265")!
    const first = await call(server, "GET", "/products?status=publish&orderby=id&order=asc&per_page=2&page=1")
    expect((first.body as Array<{ id: number }>).map((product) => product.id)).toEqual([newestFirst, newestFirst + 1])
    expect(first.headers.get("link")).toMatch(/^<[^>]*page=2[^>]*>; rel="next"$/)
    const second = await call(server, "GET", "/products?status=publish&orderby=id&order=asc&per_page=2&page=2")
    expect(second.headers.get("link")).toMatch(/^<[^>]*page=1[^>]*>; rel="prev"$/)
    expect(second.headers.get("x-wp-totalpages")).toBe("2")
    expect(seller.calls.inventory).toBe(2)
    expect(seller.calls.quote).toBe(0)
    seller.inject({ operation: "inventory", kind: "server_error" })
    expect((await call(server, "GET", "/products?per_page=2")).status).toBe(500)
  })

  it("answers authentication as WooCommerce does: unknown key is anonymous, wrong secret, missing write permission", async () => {
    const { server } = await start({ permissions: "read" })
    expect(await call(server, "GET", "/products", undefined, `ck_unknown:${secret}`)).toMatchObject({
      status: 401,
      body: { code: "woocommerce_rest_cannot_view", data: { status: 401 } }
    })
    const wrongSecret = await call(server, "GET", "/products", undefined, `${consumerKey}:nope`)
    expect(wrongSecret).toMatchObject({ status: 401, body: { code: "woocommerce_rest_authentication_error", message: "Consumer secret is invalid." } })
    expect(wrongSecret.headers.get("www-authenticate")).toContain("WooCommerce API")
    expect(await call(server, "POST", "/orders", { line_items: [] })).toMatchObject({
      status: 401,
      body: { message: "The API key provided does not have write permissions." }
    })
    expect(await call(server, "GET", "/nothing-here")).toMatchObject({ status: 404, body: { code: "rest_no_route" } })
  })

  it("filters orders by product and creation date, newest first", async () => {
    const { seller, shop, server } = await start({ quantity: 5 })
    const productId = shop.productId(isbn)!
    await call(server, "POST", "/orders", { line_items: [{ product_id: productId }] })
    await call(server, "POST", "/orders", { line_items: [{ product_id: productId }] })
    const listed = await call(server, "GET", `/orders?product=${productId}&after=2000-01-01T00:00:00`)
    expect((listed.body as Array<{ id: number }>).map((order) => order.id)).toEqual([728, 727])
    expect(((await call(server, "GET", `/orders?product=${productId + 1}`)).body as Array<unknown>).length).toBe(0)
    const future = new Date(seller.now() + 60_000).toISOString().slice(0, 19)
    expect(((await call(server, "GET", `/orders?after=${future}`)).body as Array<unknown>).length).toBe(0)
  })
})
