/**
 * The simulated Shelfwise seller's own rules, which the conformance kit relies on but does not
 * probe: what its signature check refuses, batch limits, the customer's cap and PUT replays.
 */
import { Http } from "@bookbroker/adapter-sdk"
import { serveHandlers, SellerSimulator, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { shelfwiseSellerHandlers } from "../src/testing/index.js"

const secret = "shelfwise-shared-secret"
const keyId = "bookbroker-live-1"
const isbn = "9780117047532"

const servers: Array<HandlerServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const start = async (options: Parameters<typeof shelfwiseSellerHandlers>[1] = { keyId }) => {
  const seller = new SellerSimulator({ apiKey: secret, stock: [{ isbn, price: 1299, shipping: 299, quantity: 5, condition: "very_good" }] })
  const server = await serveHandlers(shelfwiseSellerHandlers(seller, options), { onClose: () => seller.close() })
  servers.push(server)
  return { seller, server }
}

interface Signed {
  readonly method: "GET" | "POST" | "PUT"
  readonly path: string
  readonly json?: unknown
  /** Signing options: another key, secret or clock. */
  readonly sign?: Partial<Http.HmacOptions>
  /** Replaces the body after signing (a tampered request). */
  readonly tamper?: string
}

/** One request signed the way the SDK's `Http.hmac` signs, then sent with `fetch`. */
const send = async (server: HandlerServer, call: Signed) => {
  const body = call.json === undefined ? undefined : JSON.stringify(call.json)
  const headers: Record<string, string> = { "content-type": "application/json" }
  Http.hmac({ keyId, secret, ...call.sign }).apply({ method: call.method, pathAndQuery: call.path, body, headers })
  const response = await fetch(`${server.url}${call.path}`, { method: call.method, headers, body: call.tamper ?? body ?? null })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe("simulated Shelfwise seller", () => {
  it("answers a well-signed availability call, with conditions in Shelfwise's words", async () => {
    const { server } = await start()
    const response = await send(server, { method: "POST", path: "/v2/availability", json: { isbns: [isbn, "9784055216883"] } })
    expect(response.status).toBe(200)
    expect(response.body["items"]).toEqual([
      expect.objectContaining({ isbn, in_stock: 5, unit_price_cents: 1299, shipping_cents: 299, currency: "EUR", condition: "used_very_good" })
    ])
  })

  it("refuses a wrong secret, another key id, a stale timestamp and a tampered body with 401 BAD_SIGNATURE", async () => {
    const { seller, server } = await start()
    const json = { isbns: [isbn] }
    for (const call of [
      { sign: { secret: "guess" } },
      { sign: { keyId: "someone-else" } },
      { sign: { now: () => Date.now() - 10 * 60_000 } },
      { tamper: JSON.stringify({ isbns: [isbn, "9784055216883"] }) }
    ]) {
      const response = await send(server, { method: "POST", path: "/v2/availability", json, ...call })
      expect(response).toEqual({ status: 401, body: { code: "BAD_SIGNATURE" } })
    }
    expect(seller.quoteCalls).toHaveLength(0)
  })

  it("refuses a signature made for another path (the client order id is signed)", async () => {
    const { server } = await start()
    const headers: Record<string, string> = {}
    Http.hmac({ keyId, secret }).apply({ method: "GET", pathAndQuery: "/v2/orders/key-a", body: undefined, headers })
    const response = await fetch(`${server.url}/v2/orders/key-b`, { headers })
    expect(response.status).toBe(401)
  })

  it("refuses more ISBNs than its batch limit with 422 INVALID", async () => {
    const { server } = await start({ keyId, maxBatchSize: 2 })
    const response = await send(server, { method: "POST", path: "/v2/availability", json: { isbns: [isbn, isbn, isbn] } })
    expect(response).toEqual({ status: 422, body: { code: "INVALID" } })
  })

  it("refuses an order above max_total_cents with 422 INVALID and books nothing; a replay of a placed order ignores the body", async () => {
    const { seller, server } = await start()
    const quote = seller.quote(isbn)
    if ("unavailable" in quote) throw new Error("expected stock")
    const order = (max: number) => ({ offer_token: quote.quoteId, customer_ref: "req-1", max_total_cents: max })
    const tooLow = await send(server, { method: "PUT", path: "/v2/orders/req-1%3As", json: order(1299 + 298) })
    expect(tooLow).toEqual({ status: 422, body: { code: "INVALID" } })
    expect(seller.orders).toHaveLength(0)
    const placed = await send(server, { method: "PUT", path: "/v2/orders/req-1%3As", json: order(1299 + 299) })
    expect(placed.status).toBe(200)
    const replay = await send(server, { method: "PUT", path: "/v2/orders/req-1%3As", json: order(0) })
    expect(replay).toEqual(placed)
    expect(seller.orders).toHaveLength(1)
    expect(seller.orders[0]!.idempotencyKey).toBe("req-1:s")
  })
})
