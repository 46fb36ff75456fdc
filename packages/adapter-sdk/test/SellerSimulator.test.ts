import { describe, expect, it } from "@effect/vitest"
import type { Isbn13 } from "../src/Isbn.js"
import { generateIsbns } from "../src/testing/Catalog.js"
import { SellerSimulator, SimulatedRejection, type SellerSimulatorOptions, type SimulatedQuote } from "../src/testing/SellerSimulator.js"

const [book, other, soldOut, unknown] = generateIsbns({ size: 4, seed: 321 }) as [Isbn13, Isbn13, Isbn13, Isbn13]

const quoteTtlMillis = 60_000
const holdTtlMillis = 120_000

const simulator = (options: SellerSimulatorOptions = {}) =>
  new SellerSimulator({
    name: "sim",
    quoteTtlMillis,
    holdTtlMillis,
    stock: [
      { isbn: book, price: 1299, shipping: 350, quantity: 3, condition: "good" },
      { isbn: other, price: 800, quantity: 1 },
      { isbn: soldOut, price: 999, quantity: 0 }
    ],
    ...options
  })

const quoted = (seller: SellerSimulator, isbn: string): SimulatedQuote => {
  const quote = seller.quote(isbn)
  if ("unavailable" in quote) throw new Error(`expected a quote for ${isbn}`)
  return quote
}

/** The code of the SimulatedRejection `run` throws. */
const rejectionCode = (run: () => unknown): string => {
  try {
    run()
  } catch (error) {
    if (error instanceof SimulatedRejection) return error.code
    throw error
  }
  throw new Error("expected a SimulatedRejection")
}

describe("SellerSimulator", () => {
  it("looks stock up on first use with stockFor, once per ISBN, and keeps what it sold", () => {
    const asked: Array<string> = []
    const seller = new SellerSimulator({
      name: "lazy",
      stockFor: (isbn) => {
        asked.push(isbn)
        return isbn === unknown ? undefined : { isbn, price: 500, quantity: 1 }
      }
    })
    expect(seller.stock.size).toBe(0)
    const quote = quoted(seller, book)
    expect(quote).toMatchObject({ isbn: book, price: 500, quantity: 1 })
    seller.purchase({ quoteId: quote.quoteId, idempotencyKey: "k1", buyerReference: "r1" })
    expect(seller.quote(book)).toEqual({ unavailable: "out_of_stock" })
    expect(rejectionCode(() => seller.quote(unknown))).toBe("unknown_book")
    expect(rejectionCode(() => seller.quote(unknown))).toBe("unknown_book")
    expect(asked).toEqual([book, unknown])
  })

  it("quotes stock with an expiry, says out of stock, and does not know unknown books", () => {
    const seller = simulator()
    const before = seller.now()
    const quote = quoted(seller, book)
    expect(quote).toMatchObject({ isbn: book, price: 1299, shipping: 350, quantity: 3, condition: "good" })
    expect(quote.expiresAt).toBeGreaterThanOrEqual(before + quoteTtlMillis)
    expect(seller.quotes.get(quote.quoteId)).toEqual(quote)
    expect(quoted(seller, other).shipping).toBe(0)
    expect(quoted(seller, other).quoteId).not.toBe(quote.quoteId)
    expect(seller.quote(soldOut)).toEqual({ unavailable: "out_of_stock" })
    expect(rejectionCode(() => seller.quote(unknown))).toBe("unknown_book")
  })

  it("takes held copies out of stock and release gives them back, once", () => {
    const seller = simulator()
    const quote = quoted(seller, book)
    const hold = seller.hold(quote.quoteId, 2)
    expect(hold).toMatchObject({ isbn: book, price: 1299, shipping: 350, quantity: 2, released: false, used: false })
    expect(hold.expiresAt).toBeGreaterThanOrEqual(seller.now() + holdTtlMillis - 1000)
    expect(seller.stock.get(book)!.quantity).toBe(1)
    expect(rejectionCode(() => seller.hold(quote.quoteId, 2))).toBe("out_of_stock")
    seller.release(hold.holdId)
    expect(seller.stock.get(book)!.quantity).toBe(3)
    expect(seller.holds.get(hold.holdId)!.released).toBe(true)
    seller.release(hold.holdId)
    expect(seller.stock.get(book)!.quantity).toBe(3)
    expect(rejectionCode(() => seller.release("h-nope"))).toBe("unknown_hold")
    expect(rejectionCode(() => seller.hold("q-nope", 1))).toBe("unknown_quote")
  })

  it("does not give back a hold that was bought", () => {
    const seller = simulator()
    const hold = seller.hold(quoted(seller, book).quoteId, 1)
    seller.purchase({ idempotencyKey: "k-1", buyerReference: "req-1", holdId: hold.holdId })
    seller.release(hold.holdId)
    expect(seller.stock.get(book)!.quantity).toBe(2)
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k-2", buyerReference: "req-2", holdId: hold.holdId }))).toBe("hold_expired")
  })

  it("expires quotes and holds when the clock is advanced", () => {
    const seller = simulator()
    const quote = quoted(seller, book)
    seller.advance(quoteTtlMillis - 5_000)
    const hold = seller.hold(quote.quoteId, 1)
    seller.advance(5_001)
    expect(rejectionCode(() => seller.hold(quote.quoteId, 1))).toBe("quote_expired")
    seller.advance(holdTtlMillis)
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k", buyerReference: "r", holdId: hold.holdId }))).toBe("hold_expired")
    expect(seller.orders).toHaveLength(0)
    const atomic = quoted(seller, other)
    seller.advance(quoteTtlMillis + 1)
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k2", buyerReference: "r", quoteId: atomic.quoteId }))).toBe("quote_expired")
  })

  it("places one order per idempotency key and replays it", () => {
    const seller = simulator()
    const hold = seller.hold(quoted(seller, book).quoteId, 1)
    const first = seller.purchase({ idempotencyKey: "req-1:sim", buyerReference: "req-1", holdId: hold.holdId })
    expect(first).toMatchObject({ isbn: book, price: 1299, shipping: 350, quantity: 1, buyerReference: "req-1", idempotencyKey: "req-1:sim" })
    const again = seller.purchase({ idempotencyKey: "req-1:sim", buyerReference: "req-1", holdId: hold.holdId })
    expect(again.orderId).toBe(first.orderId)
    expect(seller.orders).toHaveLength(1)
    expect(seller.lookupOrder("req-1:sim")?.orderId).toBe(first.orderId)
    expect(seller.lookupOrder("req-2:sim")).toBeUndefined()
    expect(seller.ordersByBuyer()).toEqual(new Map([["req-1", 1]]))
  })

  it("replays an atomic purchase without taking stock twice", () => {
    const seller = simulator()
    const quote = quoted(seller, book)
    const first = seller.purchase({ idempotencyKey: "k", buyerReference: "r", quoteId: quote.quoteId })
    const again = seller.purchase({ idempotencyKey: "k", buyerReference: "r", quoteId: quote.quoteId })
    expect(again.orderId).toBe(first.orderId)
    expect(seller.stock.get(book)!.quantity).toBe(2)
    const second = seller.purchase({ idempotencyKey: "k-other", buyerReference: "r", quoteId: quote.quoteId })
    expect(second.orderId).not.toBe(first.orderId)
    expect(seller.orders).toHaveLength(2)
    expect(seller.ordersByBuyer().get("r")).toBe(2)
  })

  it("replays a business rejection for the same key, even once the cause is gone", () => {
    const seller = simulator()
    const quote = quoted(seller, other)
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k", buyerReference: "r", quoteId: quote.quoteId }, "out_of_stock"))).toBe("out_of_stock")
    // The stock is still there, yet the key keeps its first outcome.
    expect(seller.stock.get(other)!.quantity).toBe(1)
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k", buyerReference: "r", quoteId: quote.quoteId }))).toBe("out_of_stock")
    expect(seller.orders).toHaveLength(0)
    expect(seller.lookupOrder("k")).toBeUndefined()
    expect(seller.purchase({ idempotencyKey: "k-new", buyerReference: "r", quoteId: quote.quoteId }).isbn).toBe(other)
  })

  it("remembers a purchase from an unknown source against its key too", () => {
    const seller = simulator()
    const hold = seller.hold(quoted(seller, book).quoteId, 1)
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k", buyerReference: "r", quoteId: hold.holdId }))).toBe("unknown_quote")
    // unknown_quote is a business answer and sticks …
    expect(rejectionCode(() => seller.purchase({ idempotencyKey: "k", buyerReference: "r", holdId: hold.holdId }))).toBe("unknown_quote")
    // … while a fresh key goes through.
    expect(seller.purchase({ idempotencyKey: "k2", buyerReference: "r", holdId: hold.holdId }).isbn).toBe(book)
  })

  it("refuses an atomic purchase when the price moved since the quote, with the new price", () => {
    const seller = simulator()
    const quote = quoted(seller, book)
    let rejection: SimulatedRejection | undefined
    try {
      seller.purchase({ idempotencyKey: "k", buyerReference: "r", quoteId: quote.quoteId }, "price_changed")
    } catch (error) {
      rejection = error as SimulatedRejection
    }
    expect(rejection).toBeInstanceOf(SimulatedRejection)
    expect(rejection!.code).toBe("price_changed")
    expect(rejection!.currentPrice).toBe(seller.stock.get(book)!.price)
    expect(rejection!.currentPrice).toBeGreaterThan(1299)
    expect(seller.stock.get(book)!.quantity).toBe(3)
  })

  it("holds at a drifted price when the price drifts", () => {
    const seller = simulator({ priceDrift: { probability: 1, maxMinor: 50 } })
    const quote = quoted(seller, book)
    const hold = seller.hold(quote.quoteId, 1)
    expect(hold.price).toBeGreaterThan(quote.price)
    expect(hold.price).toBeLessThanOrEqual(quote.price + 50)
    expect(seller.stock.get(book)!.price).toBe(hold.price)
    // The order is at the held price, not a new drift.
    const order = seller.purchase({ idempotencyKey: "k", buyerReference: "r", holdId: hold.holdId })
    expect(order.price).toBe(hold.price)

    const steady = simulator({ priceDrift: { probability: 0, maxMinor: 50 } })
    const steadyQuote = quoted(steady, book)
    expect(steady.hold(steadyQuote.quoteId, 1).price).toBe(steadyQuote.price)
    const forced = quoted(steady, book)
    expect(steady.hold(forced.quoteId, 1, "price_changed").price).toBeGreaterThan(forced.price)
  })

  it("uses an injected fault once, or `times` times, for its operation or any", () => {
    const seller = simulator()
    seller.inject({ operation: "purchase", kind: "lost_response" })
    expect(seller.takeFault("quote")).toBeUndefined()
    expect(seller.takeFault("purchase")).toBe("lost_response")
    expect(seller.takeFault("purchase")).toBeUndefined()

    seller.inject({ operation: "quote", kind: "server_error", times: 2 })
    expect(seller.takeFault("quote")).toBe("server_error")
    expect(seller.takeFault("quote")).toBe("server_error")
    expect(seller.takeFault("quote")).toBeUndefined()

    seller.inject({ operation: "any", kind: "hang" })
    expect(seller.takeFault("hold")).toBe("hang")
    expect(seller.takeFault("release")).toBeUndefined()

    seller.inject({ operation: "hold", kind: "out_of_stock" })
    seller.inject({ operation: "hold", kind: "malformed" })
    expect([seller.takeFault("hold"), seller.takeFault("hold"), seller.takeFault("hold")]).toEqual(["out_of_stock", "malformed", undefined])
  })

  it("draws faults by chance from the configured rates", () => {
    expect(simulator({ errorRate: 1 }).takeFault("quote")).toBe("server_error")
    expect(simulator({ hangRate: 1 }).takeFault("hold")).toBe("hang")
    const lossy = simulator({ lostResponseRate: 1 })
    expect(lossy.takeFault("quote")).toBeUndefined()
    expect(lossy.takeFault("purchase")).toBe("lost_response")
    const calm = simulator()
    for (let i = 0; i < 100; i++) expect(calm.takeFault("purchase")).toBeUndefined()
    const half = simulator({ errorRate: 0.5, seed: 3 })
    const errors = Array.from({ length: 1000 }, () => half.takeFault("quote")).filter((fault) => fault === "server_error").length
    expect(errors).toBeGreaterThan(400)
    expect(errors).toBeLessThan(600)
  })

  it("admits calls through a token bucket and counts the ones over it, with a wait", () => {
    const seller = simulator({ rateLimit: { requestsPerSecond: 1, burst: 2 } })
    expect(seller.admit()).toBeUndefined()
    expect(seller.admit()).toBeUndefined()
    expect(seller.violations.rate).toBe(0)
    expect(seller.admit()).toBe(1)
    expect(seller.violations.rate).toBe(1)
    seller.advance(1_000)
    expect(seller.admit()).toBeUndefined()
    expect(seller.admit()).toBe(1)
    expect(seller.violations.rate).toBe(2)
    // Refills never exceed the burst.
    seller.advance(60_000)
    expect([seller.admit(), seller.admit(), seller.admit() !== undefined]).toEqual([undefined, undefined, true])

    const slow = simulator({ rateLimit: { requestsPerSecond: 0.25, burst: 1 } })
    expect(slow.admit()).toBeUndefined()
    expect(slow.admit()).toBe(4)
    expect(simulator().admit()).toBeUndefined()
    expect(simulator().violations.rate).toBe(0)
  })

  it("tracks calls in flight, the peak and concurrency violations", () => {
    const seller = simulator({ maxConcurrency: 2 })
    const done = [seller.enter(), seller.enter()]
    expect(seller.inFlight).toBe(2)
    expect(seller.violations.concurrency).toBe(0)
    const third = seller.enter()
    expect(seller.maxInFlight).toBe(3)
    expect(seller.violations.concurrency).toBe(1)
    third()
    done[0]!()
    expect(seller.inFlight).toBe(1)
    seller.enter()
    expect(seller.inFlight).toBe(2)
    expect(seller.maxInFlight).toBe(3)
    expect(seller.violations.concurrency).toBe(1)
    const unlimited = simulator()
    for (let i = 0; i < 50; i++) unlimited.enter()
    expect(unlimited.maxInFlight).toBe(50)
    expect(unlimited.violations.concurrency).toBe(0)
  })

  it("samples the same latencies for the same seed, and others for another", () => {
    const latency = { medianMillis: 40, tailProbability: 0.05, tailMaxMillis: 2_000 }
    const samples = (seed: number) => {
      const seller = simulator({ latency, seed })
      return Array.from({ length: 50 }, () => seller.sampleLatency())
    }
    expect(samples(7)).toEqual(samples(7))
    expect(samples(8)).not.toEqual(samples(7))
    expect(samples(7).every((sample) => sample > 0 && sample <= 2_000)).toBe(true)
    expect(simulator().sampleLatency()).toBe(0)
  })

  it("puts a share of calls in the slow tail, between the median and the tail maximum", () => {
    const seller = simulator({ latency: { medianMillis: 10, tailProbability: 1, tailMaxMillis: 500 } })
    const samples = Array.from({ length: 200 }, () => seller.sampleLatency())
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(10)
    expect(Math.max(...samples)).toBeLessThanOrEqual(500)
    expect(Math.max(...samples)).toBeGreaterThan(250)
    const body = simulator({ latency: { medianMillis: 100 }, seed: 9 })
    const sorted = Array.from({ length: 2001 }, () => body.sampleLatency()).sort((x, y) => x - y)
    expect(sorted[1000]).toBeGreaterThan(80)
    expect(sorted[1000]).toBeLessThan(125)
  })

  it("checks the API key only when it has one", () => {
    const guarded = simulator({ apiKey: "secret" })
    expect(() => guarded.checkApiKey("secret")).not.toThrow()
    expect(rejectionCode(() => guarded.checkApiKey("wrong"))).toBe("unauthorized")
    expect(rejectionCode(() => guarded.checkApiKey(null))).toBe("unauthorized")
    expect(() => simulator().checkApiKey(null)).not.toThrow()
  })

  it("lists its inventory in pages, in the order stock was set, sold-out books with quantity 0", () => {
    const seller = simulator()
    const one = seller.inventory(null, 2)
    expect(one.listings).toEqual([
      { listingId: `sku-${book}`, isbn: book, price: 1299, shipping: 350, quantity: 3, condition: "good" },
      { listingId: `sku-${other}`, isbn: other, price: 800, shipping: 0, quantity: 1, condition: "new" }
    ])
    expect(one.nextCursor).not.toBeNull()
    // Opaque: not the offset in plain sight.
    expect(one.nextCursor).not.toBe("2")
    const two = seller.inventory(one.nextCursor, 2)
    expect(two.listings).toEqual([{ listingId: `sku-${soldOut}`, isbn: soldOut, price: 999, shipping: 0, quantity: 0, condition: "new" }])
    expect(two.nextCursor).toBeNull()
    // The same cursor gives the same page: a walk may retry a page.
    expect(seller.inventory(one.nextCursor, 2)).toEqual(two)
    expect(seller.inventory(null, 1000).listings.map((listing) => listing.isbn)).toEqual([book, other, soldOut])
  })

  it("keeps its cursors good while stock changes: sales change quantities in place, new books come at the end", () => {
    const seller = simulator()
    const one = seller.inventory(null, 2)
    seller.purchase({ quoteId: quoted(seller, other).quoteId, idempotencyKey: "k-inv", buyerReference: "r" })
    seller.setStock({ isbn: unknown, price: 450, quantity: 7 })
    const two = seller.inventory(one.nextCursor, 2)
    expect(two.listings.map((listing) => [listing.isbn, listing.quantity])).toEqual([
      [soldOut, 0],
      [unknown, 7]
    ])
    expect(two.nextCursor).toBeNull()
    expect(seller.inventory(null, 2).listings.find((listing) => listing.isbn === other)?.quantity).toBe(0)
  })

  it("lists only the stock a stockFor seller has looked up", () => {
    const seller = new SellerSimulator({ stockFor: (isbn) => (isbn === unknown ? undefined : { isbn, price: 500, quantity: 1 }) })
    expect(seller.inventory(null, 10)).toEqual({ listings: [], nextCursor: null })
    seller.quote(book)
    expect(seller.inventory(null, 10).listings.map((listing) => listing.isbn)).toEqual([book])
  })

  it("refuses a cursor it did not hand out, and a page size below 1, as invalid requests", () => {
    const seller = simulator()
    for (const cursor of ["garbage!", btoa("offset:0"), btoa("offset:99"), btoa("offset:-1"), btoa("2")]) {
      expect(rejectionCode(() => seller.inventory(cursor, 2))).toBe("invalid_request")
    }
    expect(rejectionCode(() => seller.inventory(null, 0))).toBe("invalid_request")
    expect(seller.calls.inventory).toBe(0)
  })

  it("keeps hung calls until close", async () => {
    const seller = simulator()
    let settled = 0
    const hangs = [seller.hang(), seller.hang()].map((hang) => hang.then(() => (settled += 1)))
    await Promise.resolve()
    expect(settled).toBe(0)
    seller.close()
    await Promise.all(hangs)
    expect(settled).toBe(2)
  })
})
