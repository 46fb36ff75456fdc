/**
 * The inventory listing of the reference adapter: recorded pages (`test/fixtures/inventory-*.json`)
 * check what goes out (`GET /api/v1/inventory?cursor=…&limit=…` with the API key) and how a page
 * comes back through `SellerClient`; a simulated seller whose listing breaks the contract checks
 * that the conformance kit's walk would catch it.
 */
import { readFileSync } from "node:fs"
import { Contract, Isbn, Money, SellerClient } from "@bookbroker/adapter-sdk"
import { checkInventory, walkInventory } from "@bookbroker/adapter-sdk/conformance"
import { generateIsbns, referenceSellerHandlers, SellerSimulator, serveHandlers, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { Cause, Effect, Exit, Schema } from "effect"
import { http, HttpResponse, type JsonBodyType, type RequestHandler } from "msw"
import { afterEach, describe, expect, it } from "vitest"
import { referenceAdapter } from "../src/index.js"

const apiKey = "reference-key"
const isbn = Schema.decodeSync(Isbn.Isbn13)

const servers: Array<HandlerServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const serve = async (handlers: ReadonlyArray<RequestHandler>) => {
  const server = await serveHandlers(handlers)
  servers.push(server)
  return server
}

const clientFor = (baseUrl: string, config: Record<string, unknown> = { inventory: true }) =>
  Effect.runPromise(
    SellerClient.make(referenceAdapter, {
      sellerId: "reference-inventory",
      config: { baseUrl, currency: "EUR", shipping: 350, condition: "very_good", ...config },
      credentials: { apiKey }
    })
  )

/** A seller answering each call with the next recorded answer, keeping what it was asked. */
const recordingSeller = async (fixtures: ReadonlyArray<string>) => {
  const requests: Array<{ readonly pathAndQuery: string; readonly apiKey: string | null }> = []
  const answers = fixtures.map((name) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as { status: number; body: JsonBodyType })
  const server = await serve([
    http.all("*", ({ request }) => {
      const url = new URL(request.url)
      requests.push({ pathAndQuery: url.pathname + url.search, apiKey: request.headers.get("x-api-key") })
      const next = answers.shift()
      return next === undefined ? new Response("no fixture left for this call", { status: 599 }) : HttpResponse.json(next.body, { status: next.status })
    })
  ])
  return { client: await clientFor(server.url), requests }
}

const failure = async (effect: Effect.Effect<unknown, unknown>) => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

describe("reference adapter inventory (recorded pages)", () => {
  it("asks for a page with the cursor and page size, and maps it with the configured shipping and condition", async () => {
    const { client, requests } = await recordingSeller(["inventory-page.json", "inventory-last-page.json"])
    const page = await Effect.runPromise(client.inventory({ cursor: null, pageSize: 500 }))
    expect(page.nextCursor).toBe("b2Zmc2V0OjI=")
    expect(page.listings).toEqual([
      new Contract.InventoryListing({
        listingId: "A-1001",
        isbn: isbn("9780117047532"),
        price: Money.make(1250, "EUR"),
        shipping: Money.make(350, "EUR"),
        condition: "very_good",
        quantity: 3,
        title: "The Hobbit",
        author: "J. R. R. Tolkien",
        publisher: "Allen & Unwin"
      }),
      new Contract.InventoryListing({
        listingId: "A-1002",
        isbn: isbn("9780619582579"),
        price: Money.make(700, "EUR"),
        shipping: Money.make(350, "EUR"),
        condition: "very_good",
        quantity: 0,
        title: null
      })
    ])
    const last = await Effect.runPromise(client.inventory({ cursor: page.nextCursor, pageSize: 500 }))
    expect(last).toMatchObject({ listings: [], nextCursor: null })
    expect(requests).toEqual([
      { pathAndQuery: "/api/v1/inventory?limit=500", apiKey },
      { pathAndQuery: "/api/v1/inventory?cursor=b2Zmc2V0OjI%3D&limit=500", apiKey }
    ])
  })

  it("reports a seller that does not serve the endpoint as invalid_request, pointing at the config", async () => {
    const { client } = await recordingSeller(["inventory-not-offered.json"])
    const error = await failure(client.inventory({ cursor: null, pageSize: 500 }))
    expect(error).toMatchObject({ _tag: "SellerRejected", operation: "inventory", reason: "invalid_request", status: 404 })
    expect((error as Error).message).toMatch(/check the adapter config/)
  })

  it("reports a listing outside the wire format as MalformedSellerResponse naming the field", async () => {
    const { client } = await recordingSeller(["inventory-bad-quantity.json"])
    const error = await failure(client.inventory({ cursor: null, pageSize: 500 }))
    expect(error).toMatchObject({ _tag: "MalformedSellerResponse", operation: "inventory" })
    expect((error as Error).message).toMatch(/quantity/)
  })

  it("declares inventory only when the config says the seller serves it", async () => {
    const client = await clientFor("http://127.0.0.1:9", {})
    expect(client.capabilities.inventory).toBe(false)
    expect(String(await failure(client.inventory({ cursor: null, pageSize: 500 })))).toMatch(/does not support inventory listing/)
  })
})

describe("the conformance kit's inventory walk on a broken reference seller", () => {
  const [cheap, dear, gone] = generateIsbns({ size: 3, seed: 8080 })
  const brokenSeller = async (inventory: (seller: SellerSimulator, request: Request) => Response) => {
    const seller = new SellerSimulator({
      apiKey,
      currency: "EUR",
      stock: [
        { isbn: cheap!, price: 500, shipping: 350, quantity: 2, condition: "very_good" },
        { isbn: dear!, price: 4200, shipping: 350, quantity: 1, condition: "very_good" },
        { isbn: gone!, price: 999, shipping: 350, quantity: 0, condition: "very_good" }
      ]
    })
    // msw takes the first matching handler: this inventory route shadows the reference one.
    const server = await serve([http.get("*/api/v1/inventory", ({ request }) => inventory(seller, request)), ...referenceSellerHandlers(seller)])
    return clientFor(server.url)
  }
  const wire = (listing: { listingId: string; isbn: string; price: number; quantity: number }) => ({
    listing_id: listing.listingId,
    book_id: listing.isbn,
    price: listing.price / 100,
    quantity: listing.quantity
  })

  it("passes the honest seller", async () => {
    const client = await brokenSeller((seller, request) => {
      const url = new URL(request.url)
      const page = seller.inventory(url.searchParams.get("cursor"), Number(url.searchParams.get("limit")))
      return HttpResponse.json({ listings: page.listings.map(wire), next_cursor: page.nextCursor })
    })
    const { pages, listings } = await walkInventory(client, { pageSize: 2, maxPages: 10 })
    expect(pages).toBe(2)
    await checkInventory(client, listings, { inStock: [cheap!, dear!], soldOut: [gone!] })
  })

  it("fails a seller whose last page points back to an earlier one", async () => {
    const client = await brokenSeller((seller, request) => {
      const query = new URL(request.url).searchParams
      const limit = Number(query.get("limit"))
      const page = seller.inventory(query.get("cursor"), limit)
      return HttpResponse.json({ listings: page.listings.map(wire), next_cursor: page.nextCursor ?? seller.inventory(null, limit).nextCursor })
    })
    await expect(walkInventory(client, { pageSize: 1, maxPages: 10 })).rejects.toThrow(/^inventory page 3 points back to cursor .*, already walked: the listing would never end$/)
  })

  it("fails a seller whose listing is cheaper than its quote", async () => {
    const client = await brokenSeller((seller) => {
      const page = seller.inventory(null, 10)
      return HttpResponse.json({ listings: page.listings.map((listing) => wire({ ...listing, price: listing.price - 100 })), next_cursor: null })
    })
    const { listings } = await walkInventory(client, { pageSize: 10, maxPages: 10 })
    await expect(checkInventory(client, listings, { inStock: [cheap!, dear!], soldOut: [gone!] })).rejects.toThrow(
      `listing sku-${cheap} (${cheap}) is priced 400 EUR (minor units), but a quote answers 500 EUR (minor units)`
    )
  })
})
