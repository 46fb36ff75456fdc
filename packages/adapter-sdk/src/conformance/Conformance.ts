/**
 * The conformance kit: one call registers a vitest suite that proves an adapter keeps contract
 * v1 against its simulated seller — quotes (single, batch), hold → purchase or atomic purchase,
 * idempotent replays, lost responses, every error reason, expiry, malformed answers, and (when
 * the adapter declares it) the inventory listing, walked page by page against the quotes.
 *
 * @example
 * // adapters/my-seller/test/Conformance.test.ts
 * runConformanceSuite({
 *   name: "my-seller",
 *   adapter: mySellerAdapter,
 *   handlers: (seller) => mySellerHandlers(seller),
 *   config: (baseUrl) => ({ baseUrl, currency: "EUR" }),
 *   credentials: { apiKey: "good" },
 *   badCredentials: { apiKey: "bad" },
 *   simulator: { apiKey: "good" }
 * })
 */
import { Cause, Effect, Exit, Option } from "effect"
import type { RequestHandler } from "msw"
import { afterEach, describe, expect, it } from "vitest"
import type { AnyAdapter } from "../Adapter.js"
import { Hold, Offer, Order, Unavailable, type PurchaseRequest, type PurchaseSource } from "../Contract.js"
import type { Isbn13 } from "../Isbn.js"
import * as Money from "../Money.js"
import * as SellerClient from "../SellerClient.js"
import type { SellerError } from "../SellerError.js"
import { generateIsbns } from "../testing/Catalog.js"
import { serveHandlers, type HandlerServer } from "../testing/HandlerServer.js"
import { SellerSimulator, type SellerSimulatorOptions } from "../testing/SellerSimulator.js"
import { checkInventory, walkInventory } from "./InventoryWalk.js"

export interface ConformanceOptions {
  readonly name: string
  readonly adapter: AnyAdapter
  /** The seller's wire API, simulated over the kit's simulator. */
  readonly handlers: (seller: SellerSimulator) => ReadonlyArray<RequestHandler>
  /** The seller config pointing the adapter at the simulated seller. */
  readonly config: (baseUrl: string) => unknown
  readonly credentials: Readonly<Record<string, string>>
  /** Credentials the simulated seller refuses. */
  readonly badCredentials: Readonly<Record<string, string>>
  /** Simulator settings (currency, apiKey…); the kit sets stock, expiry and faults itself. */
  readonly simulator?: Omit<SellerSimulatorOptions, "stock" | "quoteTtlMillis" | "holdTtlMillis">
  /** Shipping per item the simulated seller charges, as the adapter should report it. Default 0. */
  readonly shipping?: number
}

const quoteTtlMillis = 60_000
const holdTtlMillis = 120_000
const timeoutMillis = 400
/** Small pages, so that the kit's few books take several and cursors are really followed. */
const inventoryPageSize = 2
const inventoryMaxPages = 50

interface Fixture {
  readonly seller: SellerSimulator
  readonly server: HandlerServer
  readonly client: SellerClient.SellerClient
  readonly isbns: { readonly inStock: Isbn13; readonly lastCopy: Isbn13; readonly soldOut: Isbn13; readonly unknown: Isbn13 }
  readonly currency: string
}

/** Registers the conformance suite for one adapter configuration. */
export const runConformanceSuite = (options: ConformanceOptions): void => {
  const servers: Array<HandlerServer> = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()))
  })

  const [inStock, lastCopy, soldOut, unknown, ...moreBooks] = generateIsbns({ size: 7, seed: 2024 }) as [Isbn13, Isbn13, Isbn13, Isbn13, ...Array<Isbn13>]
  const shipping = options.shipping ?? 0

  const setup = async (credentials = options.credentials): Promise<Fixture> => {
    const seller = new SellerSimulator({
      name: "conformance",
      ...options.simulator,
      quoteTtlMillis,
      holdTtlMillis,
      stock: [
        { isbn: inStock, price: 1299, shipping, quantity: 5 },
        { isbn: lastCopy, price: 2450, shipping, quantity: 1 },
        { isbn: soldOut, price: 999, shipping, quantity: 0 }
      ]
    })
    const server = await serveHandlers(options.handlers(seller), { onClose: () => seller.close() })
    servers.push(server)
    const client = await Effect.runPromise(
      SellerClient.make(options.adapter, {
        sellerId: "conformance-seller",
        config: options.config(server.url),
        credentials,
        limits: { timeoutMillis }
      })
    )
    return { seller, server, client, isbns: { inStock, lastCopy, soldOut, unknown }, currency: seller.currency }
  }

  const run = <A>(effect: Effect.Effect<A, SellerError>) => Effect.runPromise(effect)
  const fail = async (effect: Effect.Effect<unknown, SellerError>): Promise<SellerError> => {
    const exit = await Effect.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) throw new Error(`expected a seller error, got ${JSON.stringify(exit.value)}`)
    const failure = exit.cause.reasons.find(Cause.isFailReason)?.error
    if (failure === undefined) throw new Error(`expected a typed seller error, got a defect: ${String(exit.cause)}`)
    return failure
  }
  const offerFor = async (fixture: Fixture, isbn: Isbn13): Promise<Offer> => {
    const [answer] = await run(fixture.client.quote([isbn]))
    if (!(answer instanceof Offer)) throw new Error(`expected an offer for ${isbn}, got ${JSON.stringify(answer)}`)
    return answer
  }
  /** The seller's way to buy: hold then purchase, or straight from the offer. */
  const sourceFor = async (fixture: Fixture, offer: Offer): Promise<PurchaseSource> =>
    fixture.client.capabilities.holds ? { _tag: "Hold", hold: await run(fixture.client.hold(offer)) } : { _tag: "Offer", offer }
  const purchaseRequest = (offer: Offer, source: PurchaseSource, key = `req-${offer.quoteId}:conformance-seller`): PurchaseRequest => ({
    isbn: offer.isbn,
    source,
    idempotencyKey: key,
    maxTotal: Money.make(100_00, offer.price.currency),
    buyerReference: "req-conformance"
  })

  describe(`adapter conformance (contract v1): ${options.name}`, () => {
    it("declares a kind, a version and valid capabilities", async () => {
      const { client } = await setup()
      expect(client.kind).toBe(options.adapter.kind)
      expect(client.adapterVersion).toMatch(/^\d+\.\d+\.\d+/)
      expect(client.limits.timeoutMillis).toBe(timeoutMillis)
    })

    it("quotes one ISBN with price, shipping, currency and expiry in minor units", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      expect(offer.isbn).toBe(inStock)
      expect(offer.price).toEqual(Money.make(1299, fixture.currency))
      expect(offer.shipping).toEqual(Money.make(shipping, fixture.currency))
      expect(offer.total.amount).toBe(1299 + shipping)
      expect(offer.expiresAt.getTime()).toBeGreaterThan(Date.now())
      expect(offer.quoteId.length).toBeGreaterThan(0)
    })

    it("answers sold-out and unknown books as unavailable, with the reason", async () => {
      const fixture = await setup()
      const [soldOutAnswer] = await run(fixture.client.quote([soldOut]))
      const [unknownAnswer] = await run(fixture.client.quote([unknown]))
      expect(soldOutAnswer).toEqual(new Unavailable({ available: false, isbn: soldOut, reason: "out_of_stock" }))
      expect(unknownAnswer).toEqual(new Unavailable({ available: false, isbn: unknown, reason: "not_carried" }))
    })

    it("quotes many ISBNs in request order, in one call when the seller batches", async () => {
      const fixture = await setup()
      const answers = await run(fixture.client.quote([inStock, lastCopy, soldOut, unknown]))
      expect(answers.map((answer) => answer.isbn)).toEqual([inStock, lastCopy, soldOut, unknown])
      expect(answers.map((answer) => answer.available)).toEqual([true, true, false, false])
      const batch = fixture.client.capabilities.batchQuotes
      expect(fixture.seller.calls.quote).toBe(batch === null ? 4 : Math.ceil(4 / batch.maxBatchSize))
    })

    it("buys: hold then purchase, or atomically from the quote, and the seller books one order", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const source = await sourceFor(fixture, offer)
      if (source._tag === "Hold") {
        expect(source.hold).toBeInstanceOf(Hold)
        expect(source.hold.price).toEqual(offer.price)
        expect(source.hold.expiresAt.getTime()).toBeGreaterThan(Date.now())
      }
      const order = await run(fixture.client.purchase(purchaseRequest(offer, source)))
      expect(order).toBeInstanceOf(Order)
      expect(order.isbn).toBe(inStock)
      expect(order.price).toEqual(Money.make(1299, fixture.currency))
      expect(order.total.amount).toBe(1299 + shipping)
      expect(fixture.seller.orders).toHaveLength(1)
      expect(fixture.seller.orders[0]!.buyerReference).toBe("req-conformance")
    })

    it("replays a purchase with the same idempotency key as the same order, never a second one", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const request = purchaseRequest(offer, await sourceFor(fixture, offer))
      const first = await run(fixture.client.purchase(request))
      const again = await run(fixture.client.purchase(request))
      expect(again.orderId).toBe(first.orderId)
      expect(fixture.seller.orders).toHaveLength(1)
    })

    it("reports a lost purchase response as OutcomeUnknown; the same key then returns the placed order", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const request = purchaseRequest(offer, await sourceFor(fixture, offer))
      fixture.seller.inject({ operation: "purchase", kind: "lost_response" })
      const error = await fail(fixture.client.purchase(request))
      expect(error._tag).toBe("OutcomeUnknown")
      expect(error._tag === "OutcomeUnknown" && error.idempotencyKey).toBe(request.idempotencyKey)
      expect(error.retryable).toBe(true)
      expect(fixture.seller.orders).toHaveLength(1)
      if (fixture.client.capabilities.orderLookup) {
        const found = await run(fixture.client.lookupOrder({ idempotencyKey: request.idempotencyKey, isbn: inStock }))
        expect(Option.map(found, (order) => order.orderId)).toEqual(Option.some(fixture.seller.orders[0]!.orderId))
      }
      const resolved = await run(fixture.client.purchase(request))
      expect(resolved.orderId).toBe(fixture.seller.orders[0]!.orderId)
      expect(fixture.seller.orders).toHaveLength(1)
    })

    it("looks up orders by idempotency key when the seller can (none for an unknown key)", async () => {
      const fixture = await setup()
      if (!fixture.client.capabilities.orderLookup) {
        await expect(Effect.runPromise(fixture.client.lookupOrder({ idempotencyKey: "nope", isbn: inStock }))).rejects.toThrow(/does not support order lookup/)
        return
      }
      const found = await run(fixture.client.lookupOrder({ idempotencyKey: "never-used", isbn: inStock }))
      expect(Option.isNone(found)).toBe(true)
    })

    it("rejects a purchase of a book that sold out since the quote (out_of_stock)", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      fixture.seller.inject({ operation: fixture.client.capabilities.holds ? "hold" : "purchase", kind: "out_of_stock" })
      const error = await fail(
        fixture.client.capabilities.holds ? fixture.client.hold(offer) : fixture.client.purchase(purchaseRequest(offer, { _tag: "Offer", offer }))
      )
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "out_of_stock" })
      expect(error.retryable).toBe(false)
      expect(fixture.seller.orders).toHaveLength(0)
    })

    it("surfaces a price change: a hold at the new price, or a price_changed rejection", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      if (fixture.client.capabilities.holds) {
        fixture.seller.inject({ operation: "hold", kind: "price_changed" })
        const hold = await run(fixture.client.hold(offer))
        expect(hold.price.amount).toBeGreaterThan(offer.price.amount)
      } else {
        fixture.seller.inject({ operation: "purchase", kind: "price_changed" })
        const error = await fail(fixture.client.purchase(purchaseRequest(offer, { _tag: "Offer", offer })))
        expect(error).toMatchObject({ _tag: "SellerRejected", reason: "price_changed" })
        expect(fixture.seller.orders).toHaveLength(0)
      }
    })

    it("rejects an expired quote (quote_expired)", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      fixture.seller.advance(quoteTtlMillis + 1)
      const error = await fail(
        fixture.client.capabilities.holds ? fixture.client.hold(offer) : fixture.client.purchase(purchaseRequest(offer, { _tag: "Offer", offer }))
      )
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "quote_expired" })
    })

    it("rejects a purchase from an expired hold (hold_expired), when the seller holds", async () => {
      const fixture = await setup()
      if (!fixture.client.capabilities.holds) {
        await expect(Effect.runPromise(fixture.client.hold(await offerFor(fixture, inStock)))).rejects.toThrow(/does not support holds/)
        return
      }
      const offer = await offerFor(fixture, inStock)
      const hold = await run(fixture.client.hold(offer))
      fixture.seller.advance(holdTtlMillis + 1)
      const error = await fail(fixture.client.purchase(purchaseRequest(offer, { _tag: "Hold", hold })))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "hold_expired" })
      expect(fixture.seller.orders).toHaveLength(0)
    })

    it("gives a hold back when the adapter can release: the copy is for sale again, and releasing twice is fine", async () => {
      const fixture = await setup()
      if (!fixture.client.capabilities.holds) return
      const hold = await run(fixture.client.hold(await offerFor(fixture, lastCopy)))
      await run(fixture.client.release(hold))
      // An adapter without release succeeds without a call: its holds only expire.
      if (fixture.seller.calls.release === 0) return
      await run(fixture.client.release(hold))
      const again = await run(fixture.client.hold(await offerFor(fixture, lastCopy)))
      expect(again.holdId).not.toBe(hold.holdId)
      expect(fixture.seller.orders).toHaveLength(0)
    })

    it("a hold the seller keeps under its idempotency key answers a replay of the key with the same hold, and takes one copy", async () => {
      const fixture = await setup()
      if (!fixture.client.capabilities.holds) return
      const offer = await offerFor(fixture, lastCopy)
      const hold = await run(fixture.client.hold(offer, 1, "conformance-hold-key"))
      // A seller that ignores the key says nothing of it: bookbroker then knows a replay takes a second hold.
      if (hold.idempotencyKey === undefined) return
      expect(hold.idempotencyKey).toBe("conformance-hold-key")
      const replay = await run(fixture.client.hold(offer, 1, "conformance-hold-key"))
      expect(replay.holdId).toBe(hold.holdId)
      expect(fixture.seller.holds.size).toBe(1)
    })

    it("rejects a request the seller refuses as invalid (invalid_request)", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const request = { ...purchaseRequest(offer, await sourceFor(fixture, offer)), buyerReference: "" }
      const error = await fail(fixture.client.purchase(request))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "invalid_request" })
      expect(fixture.seller.orders).toHaveLength(0)
    })

    it("rejects bad credentials (auth_failed)", async () => {
      const fixture = await setup(options.badCredentials)
      const error = await fail(fixture.client.quote([inStock]))
      expect(error).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed" })
      expect(error.message).toMatch(/credentials/)
    })

    it("reports a 429 as retryable SellerUnavailable(rate_limited) with the seller's wait", async () => {
      const fixture = await setup()
      fixture.seller.inject({ operation: "quote", kind: "rate_limited" })
      const error = await fail(fixture.client.quote([inStock]))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited", retryAfterMillis: 1000 })
      expect(error.retryable).toBe(true)
    })

    it("reports a server error on a quote as retryable SellerUnavailable(server_error)", async () => {
      const fixture = await setup()
      fixture.seller.inject({ operation: "quote", kind: "server_error" })
      const error = await fail(fixture.client.quote([inStock]))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "server_error" })
      expect(error.retryable).toBe(true)
    })

    it("reports a server error on a purchase as OutcomeUnknown (the order may exist)", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const request = purchaseRequest(offer, await sourceFor(fixture, offer))
      fixture.seller.inject({ operation: "purchase", kind: "server_error" })
      const error = await fail(fixture.client.purchase(request))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: request.idempotencyKey })
    })

    it("times out a seller that stops answering: SellerUnavailable(timeout) for a quote", async () => {
      const fixture = await setup()
      fixture.seller.inject({ operation: "quote", kind: "hang" })
      const error = await fail(fixture.client.quote([inStock]))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "timeout" })
    })

    it("times out a purchase as OutcomeUnknown", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const request = purchaseRequest(offer, await sourceFor(fixture, offer))
      fixture.seller.inject({ operation: "purchase", kind: "hang" })
      const error = await fail(fixture.client.purchase(request))
      expect(error).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: request.idempotencyKey })
    })

    it("reports a seller that is down as SellerUnavailable(transport), even for a purchase (nothing was sent)", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const source = await sourceFor(fixture, offer)
      await fixture.server.close()
      const quoteError = await fail(fixture.client.quote([inStock]))
      expect(quoteError).toMatchObject({ _tag: "SellerUnavailable", reason: "transport" })
      const purchaseError = await fail(fixture.client.purchase(purchaseRequest(offer, source)))
      expect(purchaseError).toMatchObject({ _tag: "SellerUnavailable", reason: "transport", mayHaveBeenProcessed: false })
    })

    it("reports a malformed quote as MalformedSellerResponse", async () => {
      const fixture = await setup()
      fixture.seller.inject({ operation: "quote", kind: "malformed" })
      const error = await fail(fixture.client.quote([inStock]))
      expect(error._tag).toBe("MalformedSellerResponse")
      expect(error.retryable).toBe(false)
    })

    it("lists its inventory page by page, when it declares inventory: every listing as quoted, ids unique, the walk ends", async () => {
      const fixture = await setup()
      const walk = { pageSize: inventoryPageSize, maxPages: inventoryMaxPages }
      if (!fixture.client.capabilities.inventory) {
        await expect(Effect.runPromise(fixture.client.inventory({ cursor: null, pageSize: inventoryPageSize }))).rejects.toThrow(/does not support inventory/)
        return
      }
      // Six books for sale and one sold out: four pages of two.
      moreBooks.forEach((isbn, index) => fixture.seller.setStock({ isbn, price: 700 + 111 * index, shipping, quantity: 1 + index }))
      const { pages, listings } = await walkInventory(fixture.client, walk)
      expect(pages).toBeGreaterThanOrEqual(3)
      expect(fixture.seller.calls.inventory).toBeGreaterThanOrEqual(pages)
      await checkInventory(fixture.client, listings, { inStock: [inStock, lastCopy, ...moreBooks], soldOut: [soldOut] })
    })

    it("lists a book that sold out since with quantity 0, or no more", async () => {
      const fixture = await setup()
      if (!fixture.client.capabilities.inventory) return
      const offer = await offerFor(fixture, lastCopy)
      await run(fixture.client.purchase(purchaseRequest(offer, await sourceFor(fixture, offer))))
      const { listings } = await walkInventory(fixture.client, { pageSize: inventoryPageSize, maxPages: inventoryMaxPages })
      await checkInventory(fixture.client, listings, { inStock: [inStock], soldOut: [soldOut, lastCopy] })
    })

    it("reports a failing inventory page like any call: SellerUnavailable(server_error), MalformedSellerResponse", async () => {
      const fixture = await setup()
      if (!fixture.client.capabilities.inventory) return
      const first = { cursor: null, pageSize: inventoryPageSize }
      fixture.seller.inject({ operation: "inventory", kind: "server_error" })
      const serverError = await fail(fixture.client.inventory(first))
      expect(serverError).toMatchObject({ _tag: "SellerUnavailable", reason: "server_error", operation: "inventory" })
      expect(serverError.retryable).toBe(true)
      fixture.seller.inject({ operation: "inventory", kind: "malformed" })
      const malformed = await fail(fixture.client.inventory(first))
      expect(malformed).toMatchObject({ _tag: "MalformedSellerResponse", operation: "inventory" })
      const page = await run(fixture.client.inventory(first))
      expect(page.listings.length).toBeGreaterThan(0)
      const stranger = await setup(options.badCredentials)
      expect(await fail(stranger.client.inventory(first))).toMatchObject({ _tag: "SellerRejected", reason: "auth_failed" })
    })

    it("reports a malformed purchase answer as OutcomeUnknown", async () => {
      const fixture = await setup()
      const offer = await offerFor(fixture, inStock)
      const request = purchaseRequest(offer, await sourceFor(fixture, offer))
      fixture.seller.inject({ operation: "purchase", kind: "malformed" })
      const error = await fail(fixture.client.purchase(request))
      expect(error._tag).toBe("OutcomeUnknown")
    })
  })
}
