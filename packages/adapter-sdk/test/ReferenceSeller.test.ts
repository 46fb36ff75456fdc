import { afterEach, describe, expect, it } from "@effect/vitest"
import type { Isbn13 } from "../src/Isbn.js"
import { generateIsbns } from "../src/testing/Catalog.js"
import { serveHandlers, type HandlerServer } from "../src/testing/HandlerServer.js"
import { referenceSellerHandlers, type ReferenceSellerOptions } from "../src/testing/ReferenceSeller.js"
import { SellerSimulator, type SellerSimulatorOptions } from "../src/testing/SellerSimulator.js"

const [book, lastCopy, soldOut, unknown] = generateIsbns({ size: 4, seed: 77 }) as [Isbn13, Isbn13, Isbn13, Isbn13]
const apiKey = "ref-key"

const servers: Array<HandlerServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const start = async (options: ReferenceSellerOptions = {}, simulator: SellerSimulatorOptions = {}) => {
  const seller = new SellerSimulator({
    apiKey,
    currency: "EUR",
    stock: [
      { isbn: book, price: 1299, quantity: 5 },
      { isbn: lastCopy, price: 2450, quantity: 1 },
      { isbn: soldOut, price: 999, quantity: 0 }
    ],
    ...simulator
  })
  const server = await serveHandlers(referenceSellerHandlers(seller, options), { onClose: () => seller.close() })
  servers.push(server)
  const call = async (method: "GET" | "POST" | "DELETE", path: string, body?: unknown, headers: Record<string, string> = { "x-api-key": apiKey }) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, text, json: json as Record<string, unknown> }
  }
  const quoteId = async (isbn: string) => {
    const response = await call("GET", `/api/v1/books/${isbn}/quote`)
    expect(response.status).toBe(200)
    return response.json["quote_id"] as string
  }
  const order = (key: string | undefined, body: Record<string, unknown>) =>
    call("POST", "/api/v1/orders", body, { "x-api-key": apiKey, ...(key === undefined ? {} : { "idempotency-key": key }) })
  return { seller, server, call, quoteId, order }
}

describe("reference seller over HTTP", () => {
  it("quotes a book in decimals, with an id and an ISO expiry", async () => {
    const { call, seller } = await start()
    const response = await call("GET", `/api/v1/books/${book}/quote`)
    expect(response.status).toBe(200)
    expect(response.json).toMatchObject({ book_id: book, available: true, price: 12.99 })
    expect(typeof response.json["quote_id"]).toBe("string")
    expect(new Date(response.json["expires_at"] as string).toISOString()).toBe(response.json["expires_at"])
    expect(seller.calls.quote).toBe(1)
    expect(seller.quoteCalls).toEqual([[book]])
  })

  it("answers a sold-out book as unavailable with nulls, and an unknown book with 404", async () => {
    const { call } = await start()
    const sold = await call("GET", `/api/v1/books/${soldOut}/quote`)
    expect(sold.status).toBe(200)
    expect(sold.json).toEqual({ book_id: soldOut, available: false, price: null, quote_id: null, expires_at: null })
    const missing = await call("GET", `/api/v1/books/${unknown}/quote`)
    expect(missing.status).toBe(404)
    expect(missing.json).toMatchObject({ error: "unknown_book" })
  })

  it("answers 401 without the API key or with a wrong one", async () => {
    const { call, seller } = await start()
    const none = await call("GET", `/api/v1/books/${book}/quote`, undefined, {})
    expect(none.status).toBe(401)
    expect(none.json).toMatchObject({ error: "unauthorized" })
    const wrong = await call("GET", `/api/v1/books/${book}/quote`, undefined, { "x-api-key": "stolen" })
    expect(wrong.status).toBe(401)
    expect(seller.quotes.size).toBe(0)
  })

  it("holds a quote, and answers 409 out_of_stock beyond the stock and 404 for an unknown quote", async () => {
    const { call, quoteId, seller } = await start()
    const id = await quoteId(lastCopy)
    const tooMany = await call("POST", "/api/v1/books/hold", { quote_id: id, quantity: 2 })
    expect(tooMany.status).toBe(409)
    expect(tooMany.json).toMatchObject({ error: "out_of_stock" })
    const hold = await call("POST", "/api/v1/books/hold", { quote_id: id, quantity: 1 })
    expect(hold.status).toBe(200)
    expect(hold.json).toMatchObject({ price: 24.5 })
    expect(typeof hold.json["hold_id"]).toBe("string")
    expect(seller.stock.get(lastCopy)!.quantity).toBe(0)
    const again = await call("POST", "/api/v1/books/hold", { quote_id: id, quantity: 1 })
    expect(again.status).toBe(409)
    const unknownQuote = await call("POST", "/api/v1/books/hold", { quote_id: "q-nope", quantity: 1 })
    expect(unknownQuote.status).toBe(404)
    expect(unknownQuote.json).toMatchObject({ error: "unknown_quote" })
    const invalid = await call("POST", "/api/v1/books/hold", { quantity: 1 })
    expect(invalid.status).toBe(400)
  })

  it("keeps one hold per Idempotency-Key and echoes the key: a replay answers the same hold until it is released", async () => {
    const { call, quoteId, seller } = await start()
    const id = await quoteId(lastCopy)
    const withKey = (key: string, body: Record<string, unknown> = { quote_id: id, quantity: 1 }) =>
      call("POST", "/api/v1/books/hold", body, { "x-api-key": apiKey, "idempotency-key": key })
    const first = await withKey("req-1:s:hold:0")
    expect(first.status).toBe(200)
    expect(first.json["idempotency_key"]).toBe("req-1:s:hold:0")
    const replay = await withKey("req-1:s:hold:0")
    expect(replay.json["hold_id"]).toBe(first.json["hold_id"])
    expect(seller.stock.get(lastCopy)!.quantity).toBe(0)
    expect(seller.holds.size).toBe(1)
    // Another key wants a copy of its own: there is none.
    expect((await withKey("req-2:s:hold:0")).status).toBe(409)
    // The same key for another quote is not a replay.
    expect((await withKey("req-1:s:hold:0", { quote_id: await quoteId(book), quantity: 1 })).status).toBe(400)
    // Once released, the key takes a new hold (the copy is for sale again).
    expect((await call("DELETE", `/api/v1/books/hold/${String(first.json["hold_id"])}`)).status).toBe(204)
    const after = await withKey("req-1:s:hold:0")
    expect(after.status).toBe(200)
    expect(after.json["hold_id"]).not.toBe(first.json["hold_id"])
  })

  it("ignores the hold's Idempotency-Key when told to (holdKeys: false): every call takes a copy, and no key is echoed", async () => {
    const { call, quoteId, seller } = await start({ holdKeys: false })
    const id = await quoteId(book)
    const headers = { "x-api-key": apiKey, "idempotency-key": "req-1:s:hold:0" }
    const first = await call("POST", "/api/v1/books/hold", { quote_id: id, quantity: 1 }, headers)
    const second = await call("POST", "/api/v1/books/hold", { quote_id: id, quantity: 1 }, headers)
    expect(first.json["idempotency_key"]).toBeUndefined()
    expect(second.json["hold_id"]).not.toBe(first.json["hold_id"])
    expect(seller.stock.get(book)!.quantity).toBe(3)
  })

  it("places an order from a hold with 201, and answers a replay of the key with 200 and the same order", async () => {
    const { call, quoteId, order, seller } = await start()
    const hold = await call("POST", "/api/v1/books/hold", { quote_id: await quoteId(book), quantity: 1 })
    const body = { hold_id: hold.json["hold_id"], buyer_reference: "req-1" }
    const first = await order("req-1:s", body)
    expect(first.status).toBe(201)
    expect(first.json).toMatchObject({ status: "confirmed", price: 12.99 })
    const replay = await order("req-1:s", body)
    expect(replay.status).toBe(200)
    expect(replay.json["order_id"]).toBe(first.json["order_id"])
    expect(seller.orders).toHaveLength(1)
    expect(seller.orders[0]!.buyerReference).toBe("req-1")
    expect(seller.calls.purchase).toBe(2)
  })

  it("answers 400 to an order without an Idempotency-Key or a buyer reference", async () => {
    const { call, quoteId, order, seller } = await start()
    const hold = await call("POST", "/api/v1/books/hold", { quote_id: await quoteId(book), quantity: 1 })
    const noKey = await order(undefined, { hold_id: hold.json["hold_id"], buyer_reference: "req-1" })
    expect(noKey.status).toBe(400)
    expect(noKey.json).toMatchObject({ error: "invalid_request" })
    const noReference = await order("k", { hold_id: hold.json["hold_id"] })
    expect(noReference.status).toBe(400)
    expect(seller.orders).toHaveLength(0)
    // Nothing was remembered against the key: a valid retry with it goes through.
    expect((await order("k", { hold_id: hold.json["hold_id"], buyer_reference: "req-1" })).status).toBe(201)
  })

  it("answers a replay of a rejected order with the same rejection", async () => {
    const { call, quoteId, order, seller } = await start({}, { holdTtlMillis: 1_000 })
    const hold = await call("POST", "/api/v1/books/hold", { quote_id: await quoteId(book), quantity: 1 })
    seller.advance(2_000)
    const body = { hold_id: hold.json["hold_id"], buyer_reference: "req-1" }
    const first = await order("k", body)
    expect(first.status).toBe(409)
    expect(first.json).toMatchObject({ error: "hold_expired" })
    expect((await order("k", body)).json).toMatchObject({ error: "hold_expired" })
  })

  it("sells straight from a quote in atomic mode, with no hold route", async () => {
    const { call, quoteId, order, seller } = await start({ mode: "atomic" })
    const id = await quoteId(book)
    const hold = await call("POST", "/api/v1/books/hold", { quote_id: id, quantity: 1 })
    expect(hold.status).toBe(404)
    expect(hold.json).toMatchObject({ error: "no_handler" })
    expect((await order("k-hold", { hold_id: "h-1", buyer_reference: "r" })).status).toBe(400)
    const placed = await order("k", { quote_id: id, buyer_reference: "r" })
    expect(placed.status).toBe(201)
    expect(seller.stock.get(book)!.quantity).toBe(4)
  })

  it("answers a price change in atomic mode with 409 and the new decimal price", async () => {
    const { quoteId, order, seller } = await start({ mode: "atomic" })
    const id = await quoteId(book)
    seller.inject({ operation: "purchase", kind: "price_changed" })
    const response = await order("k", { quote_id: id, buyer_reference: "r" })
    expect(response.status).toBe(409)
    expect(response.json).toMatchObject({ error: "price_changed" })
    expect(response.json["current_price"]).toBe(seller.stock.get(book)!.price / 100)
    expect(response.json["current_price"]).toBeGreaterThan(12.99)
  })

  it("quotes a batch, leaving unknown books out, and refuses an empty batch", async () => {
    const { call, seller } = await start()
    const response = await call("POST", "/api/v1/quotes", { book_ids: [soldOut, unknown, book] })
    expect(response.status).toBe(200)
    const quotes = response.json["quotes"] as Array<Record<string, unknown>>
    expect(quotes.map((quote) => quote["book_id"])).toEqual([soldOut, book])
    expect(quotes.map((quote) => quote["available"])).toEqual([false, true])
    expect(seller.quoteCalls).toEqual([[soldOut, unknown, book]])
    expect((await call("POST", "/api/v1/quotes", { book_ids: [] })).status).toBe(400)
    expect((await call("POST", "/api/v1/quotes", { book_ids: [book, 42] })).status).toBe(400)
  })

  it("has no batch route when batch quotes are off", async () => {
    const { call } = await start({ batch: false })
    expect((await call("POST", "/api/v1/quotes", { book_ids: [book] })).status).toBe(404)
  })

  it("answers 429 with Retry-After over its rate limit, 500 on a server fault and non-JSON when malformed", async () => {
    const { call, seller } = await start({}, { rateLimit: { requestsPerSecond: 0.5, burst: 1 } })
    expect((await call("GET", `/api/v1/books/${book}/quote`)).status).toBe(200)
    const limited = await call("GET", `/api/v1/books/${book}/quote`)
    expect(limited.status).toBe(429)
    expect(limited.headers.get("retry-after")).toBe("2")
    expect(seller.violations.rate).toBe(1)

    seller.advance(10_000)
    seller.inject({ operation: "quote", kind: "server_error" })
    expect((await call("GET", `/api/v1/books/${book}/quote`)).status).toBe(500)
    seller.advance(10_000)
    seller.inject({ operation: "quote", kind: "malformed" })
    const malformed = await call("GET", `/api/v1/books/${book}/quote`)
    expect(malformed.status).toBe(200)
    expect(malformed.json).toBeUndefined()
  })

  it("places the order and then never answers on commit_then_hang, until the seller closes", async () => {
    const { server, seller, quoteId, order } = await start({ mode: "atomic" })
    seller.inject({ operation: "purchase", kind: "commit_then_hang" })
    const quote = await quoteId(book)
    const answer = order("hang-1", { quote_id: quote, buyer_reference: "req-hang" }).then(
      (response) => response.status,
      () => "failed" as const
    )
    await expect.poll(() => seller.orders.length).toBe(1)
    const pending = await Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve("no answer"), 100))])
    expect(pending).toBe("no answer")
    expect(seller.orders[0]).toMatchObject({ idempotencyKey: "hang-1", buyerReference: "req-hang" })
    await server.close()
    expect(await answer).toBe("failed")
  })

  it("refuses replays of a purchase whose answer was lost (replayRefusal), then answers the first order", async () => {
    const { quoteId, order, seller } = await start({ mode: "atomic" }, { replayRefusal: { kind: "rate_limited", times: 2 } })
    seller.inject({ operation: "purchase", kind: "lost_response" })
    const body = { quote_id: await quoteId(book), buyer_reference: "r-1" }
    await expect(order("k-lost", body)).rejects.toThrow()
    expect(seller.orders).toHaveLength(1)
    const first = await order("k-lost", body)
    expect(first.status).toBe(429)
    expect(first.headers.get("retry-after")).toBe("1")
    expect((await order("k-lost", body)).status).toBe(429)
    const answered = await order("k-lost", body)
    expect(answered.status).toBe(200)
    expect(answered.json["order_id"]).toBe(seller.orders[0]!.orderId)
    expect(seller.orders).toHaveLength(1)
  })

  it("answers 409 in_progress for an injected fault and for armed replay refusals", async () => {
    const { quoteId, order, seller } = await start({ mode: "atomic" })
    const body = { quote_id: await quoteId(book), buyer_reference: "r-2" }
    seller.inject({ operation: "purchase", kind: "in_progress" })
    const busy = await order("k-busy", body)
    expect(busy.status).toBe(409)
    expect(busy.json).toMatchObject({ error: "in_progress" })
    expect(seller.orders).toHaveLength(0)
    seller.refuseReplays("k-busy", "in_progress", 1)
    expect((await order("k-busy", body)).status).toBe(409)
    expect((await order("k-busy", body)).status).toBe(201)
    expect(seller.orders).toHaveLength(1)
  })

  it("lists its inventory page by page in decimals, counting each page, behind the API key", async () => {
    const { call, seller } = await start()
    const one = await call("GET", "/api/v1/inventory?limit=2")
    expect(one.status).toBe(200)
    expect(one.json["listings"]).toEqual([
      { listing_id: `sku-${book}`, book_id: book, price: 12.99, quantity: 5 },
      { listing_id: `sku-${lastCopy}`, book_id: lastCopy, price: 24.5, quantity: 1 }
    ])
    const cursor = one.json["next_cursor"] as string
    expect(typeof cursor).toBe("string")
    const two = await call("GET", `/api/v1/inventory?limit=2&cursor=${encodeURIComponent(cursor)}`)
    expect(two.json).toEqual({ listings: [{ listing_id: `sku-${soldOut}`, book_id: soldOut, price: 9.99, quantity: 0 }], next_cursor: null })
    expect(seller.calls.inventory).toBe(2)
    expect((await call("GET", "/api/v1/inventory?limit=2", undefined, {})).status).toBe(401)
  })

  it("answers 400 to an inventory page size outside 1..1000 or a cursor it never gave, 500 on a server fault", async () => {
    const { call, seller } = await start()
    for (const query of ["limit=0", "limit=1001", "limit=two", "limit=2&cursor=nonsense"]) {
      const response = await call("GET", `/api/v1/inventory?${query}`)
      expect(response.status).toBe(400)
      expect(response.json).toMatchObject({ error: "invalid_request" })
    }
    seller.inject({ operation: "inventory", kind: "server_error" })
    expect((await call("GET", "/api/v1/inventory?limit=2")).status).toBe(500)
  })

  it("has no inventory route when inventory is off", async () => {
    const { call } = await start({ inventory: false })
    expect((await call("GET", "/api/v1/inventory?limit=2")).status).toBe(404)
  })

  it("refuses connections while down and serves again on the same port", async () => {
    const { server, call } = await start()
    await server.refuseConnections()
    const refused = await fetch(`${server.url}/api/v1/books/${book}/quote`, { headers: { "x-api-key": apiKey } }).then(
      () => "answered",
      (error: unknown) => String((error as { cause?: { code?: string } }).cause?.code)
    )
    expect(refused).toBe("ECONNREFUSED")
    await server.acceptConnections()
    expect((await call("GET", `/api/v1/books/${book}/quote`)).status).toBe(200)
  })
})
