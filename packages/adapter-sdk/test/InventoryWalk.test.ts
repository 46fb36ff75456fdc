import { describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { defineEffectAdapter } from "../src/Adapter.js"
import type { InventoryListingInput, InventoryPageInput, QuoteResultInput } from "../src/Contract.js"
import { checkInventory, walkInventory } from "../src/conformance/InventoryWalk.js"
import type { Isbn13 } from "../src/Isbn.js"
import * as Money from "../src/Money.js"
import * as SellerClient from "../src/SellerClient.js"
import { generateIsbns } from "../src/testing/Catalog.js"

const [a, b, c, d] = generateIsbns({ size: 4, seed: 5150 }) as [Isbn13, Isbn13, Isbn13, Isbn13]

/** What the canned seller has: `a` and `b` for sale, `c` sold out, `d` not carried. */
const stock: ReadonlyMap<string, { readonly price: number; readonly quantity: number }> = new Map([
  [a, { price: 1299, quantity: 2 }],
  [b, { price: 800, quantity: 1 }],
  [c, { price: 999, quantity: 0 }]
])
const expected = { inStock: [a, b], soldOut: [c] }

const listing = (isbn: Isbn13, overrides: Partial<Record<keyof InventoryListingInput, unknown>> = {}): InventoryListingInput =>
  ({
    listingId: `sku-${isbn}`,
    isbn,
    price: { amount: stock.get(isbn)?.price ?? 100, currency: "EUR" },
    shipping: { amount: 350, currency: "EUR" },
    condition: "good",
    quantity: stock.get(isbn)?.quantity ?? 1,
    ...overrides
  }) as InventoryListingInput

/** The honest inventory: the three books on two pages. */
const honest: Record<string, InventoryPageInput> = {
  start: { listings: [listing(a), listing(b)], nextCursor: "p2" },
  p2: { listings: [listing(c)], nextCursor: null }
}

const quoteOf = (isbn: string): QuoteResultInput => {
  const item = stock.get(isbn)
  if (item === undefined) return { available: false, isbn, reason: "not_carried" }
  if (item.quantity === 0) return { available: false, isbn, reason: "out_of_stock" }
  return {
    available: true,
    isbn,
    quoteId: `q-${isbn}`,
    price: { amount: item.price, currency: "EUR" },
    shipping: { amount: 350, currency: "EUR" },
    condition: "good",
    quantity: item.quantity,
    expiresAt: "2099-01-01T00:00:00.000Z"
  }
}

/** A client over a canned seller whose inventory pages are `pages`, by cursor (`start` for the first). */
const clientOf = (pages: Record<string, InventoryPageInput | ((cursor: string) => InventoryPageInput)>) =>
  Effect.runPromise(
    SellerClient.make(
      defineEffectAdapter({
        kind: "canned-lister",
        version: "1.0.0",
        config: Schema.Struct({}),
        capabilities: { batchQuotes: { maxBatchSize: 10 }, holds: false, orderLookup: false, pricePush: false, inventory: true },
        make: () =>
          Effect.succeed({
            quote: ({ isbns }) => Effect.succeed(isbns.map(quoteOf)),
            purchase: () => Effect.die("not in these tests"),
            inventory: ({ cursor }) => {
              const key = cursor ?? "start"
              const answer = pages[key] ?? pages["*"]
              if (answer === undefined) return Effect.die(new Error(`no page for ${key}`))
              return Effect.succeed(typeof answer === "function" ? answer(key) : answer)
            }
          })
      }),
      { sellerId: "walked", config: {} }
    )
  )

const walk = { pageSize: 2, maxPages: 5 }

describe("walkInventory", () => {
  it("follows the cursors to the end and gathers every listing", async () => {
    const result = await walkInventory(await clientOf(honest), walk)
    expect(result.pages).toBe(2)
    expect(result.listings.map((one) => one.isbn)).toEqual([a, b, c])
  })

  it("fails on a cursor that comes back: the walk would never end", async () => {
    const looping = await clientOf({ ...honest, p2: { listings: [listing(c)], nextCursor: "p3" }, p3: { listings: [], nextCursor: "p2" } })
    await expect(walkInventory(looping, walk)).rejects.toThrow('inventory page 3 points back to cursor "p2", already walked: the listing would never end')
  })

  it("fails on a cursor that is the one it was asked with (caught by the client already)", async () => {
    const stuck = await clientOf({ ...honest, p2: { listings: [listing(c)], nextCursor: "p2" } })
    await expect(walkInventory(stuck, walk)).rejects.toThrow(/inventory page 2 \(cursor "p2"\) failed: .*would never end/)
  })

  it("fails when the listing outgrows the page cap", async () => {
    const endless = await clientOf({ start: { listings: [], nextCursor: "c1" }, "*": (cursor) => ({ listings: [], nextCursor: `${cursor}+` }) })
    await expect(walkInventory(endless, walk)).rejects.toThrow("the inventory did not end within 5 pages of 2")
  })

  it("fails on a listing id that is on two pages", async () => {
    const twice = await clientOf({ ...honest, p2: { listings: [listing(c, { listingId: `sku-${a}` })], nextCursor: null } })
    await expect(walkInventory(twice, walk)).rejects.toThrow(`listing sku-${a} is on inventory page 1 and again on page 2`)
  })

  it("fails on a page that breaks the contract, naming the page", async () => {
    const broken = await clientOf({ ...honest, p2: { listings: [listing(c, { quantity: -1 })], nextCursor: null } })
    await expect(walkInventory(broken, walk)).rejects.toThrow(/inventory page 2 \(cursor "p2"\) failed: seller answered inventory with something outside the contract: [\s\S]*"quantity"/)
  })
})

describe("checkInventory", () => {
  const check = async (listings: ReadonlyArray<InventoryListingInput>) => {
    const client = await clientOf({ start: { listings, nextCursor: null } })
    const { listings: walked } = await walkInventory(client, { pageSize: 10, maxPages: 1 })
    return checkInventory(client, walked, expected)
  }

  it("passes listings that agree with the quotes, including shipping left to the seller's default", async () => {
    await expect(check([listing(a), listing(b, { shipping: null }), listing(c)])).resolves.toBeUndefined()
    // A sold-out book may also be left out.
    await expect(check([listing(a), listing(b)])).resolves.toBeUndefined()
  })

  it("fails on a listing priced differently from the quote", async () => {
    await expect(check([listing(a, { price: { amount: 1199, currency: "EUR" } }), listing(b)])).rejects.toThrow(
      `listing sku-${a} (${a}) is priced 1199 EUR (minor units), but a quote answers 1299 EUR (minor units)`
    )
    await expect(check([listing(a, { price: { amount: 1299, currency: "USD" }, shipping: null }), listing(b)])).rejects.toThrow(/is priced 1299 USD/)
  })

  it("fails on a listing whose shipping or condition is not the quote's", async () => {
    await expect(check([listing(a, { shipping: Money.make(0, "EUR") }), listing(b)])).rejects.toThrow(`listing sku-${a} (${a}) ships for 0 EUR`)
    await expect(check([listing(a), listing(b, { condition: "new" })])).rejects.toThrow(`listing sku-${b} (${b}) is in new condition, but a quote answers good`)
  })

  it("fails on a sold-out book listed for sale", async () => {
    await expect(check([listing(a), listing(b), listing(c, { quantity: 1 })])).rejects.toThrow(`listing sku-${c} offers 1 of ${c}, which the seller has none of`)
  })

  it("fails on a book for sale that no listing offers", async () => {
    await expect(check([listing(a), listing(b, { quantity: 0 })])).rejects.toThrow(`${b} is for sale (the seller quotes it), but no listing offers it`)
  })

  it("fails on a listing for a book the seller does not quote", async () => {
    await expect(check([listing(a), listing(b), listing(d)])).rejects.toThrow(`listing sku-${d} (${d}) offers 1, but a quote answers unavailable (not_carried)`)
  })
})
