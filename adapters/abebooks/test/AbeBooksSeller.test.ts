/**
 * The simulated AbeBooks' own rules, which the conformance kit relies on but does not probe:
 * the codes its signature check answers, and how it treats a request id it has seen.
 */
import { createHmac } from "node:crypto"
import { serveHandlers, SellerSimulator, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Signing } from "../src/index.js"
import { abeBooksSellerHandlers, listingIdOf } from "../src/testing/index.js"

const secretKey = "abe-secret"
const accessKey = "abe-access"
const isbn = "9780141439518"
const requestId = "3f2c1b7e-9d1a-5c4e-8b6f-0a1b2c3d4e5f"

const servers: Array<HandlerServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const start = async () => {
  const seller = new SellerSimulator({ apiKey: secretKey, currency: "USD", stock: [{ isbn, price: 1299, shipping: 399, quantity: 3 }] })
  const server = await serveHandlers(abeBooksSellerHandlers(seller, { accessKey, clientKey: "ck", creditCardToken: "tok" }), { onClose: () => seller.close() })
  servers.push(server)
  return { seller, server }
}

/** One Purchase API call signed by the documented recipe (computed here, not with the adapter's code). */
const send = async (server: HandlerServer, method: "GET" | "POST", path: string, json?: unknown, sign: { secret?: string; date?: string; tamper?: string } = {}) => {
  const body = json === undefined ? "" : JSON.stringify(json)
  const date = sign.date ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
  const url = `${server.url}${path}`
  const checksum = Signing.contentChecksum(body)
  const signature = createHmac("sha256", sign.secret ?? secretKey).update(`${method}\n${url}\n${date}\n${requestId}\n${checksum}`).digest("hex")
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json", "abe-date": date, "abe-requestid": requestId, "abe-signature": signature, "abe-accesskey": accessKey },
    ...(method === "POST" ? { body: sign.tamper ?? body } : {})
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

const order = (maxPrice: string) => ({
  referenceId: requestId,
  buyerReference: "req-1",
  dryRun: false,
  ccToken: "tok",
  maxPrice,
  currency: "USD",
  items: [{ listingId: listingIdOf(isbn), quantity: 1 }]
})

describe("simulated AbeBooks", () => {
  it("answers a wrong secret 4017, a tampered body 4017 and a stale Abe-Date 4013, and books nothing", async () => {
    const { seller, server } = await start()
    expect((await send(server, "POST", "/v1/orders", order("16.98"), { secret: "guess" })).body["code"]).toBe(4017)
    expect((await send(server, "POST", "/v1/orders", order("16.98"), { tamper: JSON.stringify(order("99.00")) })).body["code"]).toBe(4017)
    expect(await send(server, "POST", "/v1/orders", order("16.98"), { date: "2020-01-01T00:00:00Z" })).toMatchObject({ status: 401, body: { code: 4013 } })
    expect(seller.orders).toHaveLength(0)
  })

  it("creates an order (2010) that shows Ordered after processing; the same request id answers 2003, another body 4090", async () => {
    const { seller, server } = await start()
    const created = await send(server, "POST", "/v1/orders", order("16.98"))
    expect(created).toMatchObject({ status: 201, body: { code: 2010, order: { items: [{ status: null, price: "12.99", shipping: "3.99" }] } } })
    const orderId = (created.body["order"] as { orderId: string }).orderId
    expect((await send(server, "GET", `/v1/orders/${orderId}`)).body).toMatchObject({ code: 2000, order: { items: [{ status: "05" }] } })
    expect(await send(server, "POST", "/v1/orders", order("16.98"))).toMatchObject({ status: 200, body: { code: 2003, order: { orderId } } })
    expect(await send(server, "POST", "/v1/orders", order("20.00"))).toMatchObject({ status: 409, body: { code: 4090 } })
    expect(seller.orders).toHaveLength(1)
  })

  it("lets an order above maxPrice end Max Price Exceeded (53) without booking it", async () => {
    const { seller, server } = await start()
    const created = await send(server, "POST", "/v1/orders", order("16.97"))
    const orderId = (created.body["order"] as { orderId: string }).orderId
    expect((await send(server, "GET", `/v1/orders?referenceId=${requestId}`)).body).toMatchObject({ orders: [{ orderId, items: [{ status: "53" }] }] })
    expect(seller.orders).toHaveLength(0)
  })
})
