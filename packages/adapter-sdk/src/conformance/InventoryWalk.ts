/**
 * The conformance kit's inventory checks, kept apart from vitest so that they can themselves be
 * tested on adapters that break them. `walkInventory` follows a seller's cursors to the end as
 * bookbroker does — every page through the `SellerClient` guard, no cursor twice, a capped
 * number of pages, listing ids unique across pages — and `checkInventory` holds what the walk
 * found against what the seller quotes: a listing is only worth indexing if buying from it
 * would find the same book at the same price.
 */
import { Cause, Effect, Exit } from "effect"
import { Offer, type InventoryListing, type InventoryPage } from "../Contract.js"
import type { Isbn13 } from "../Isbn.js"
import type { SellerClient } from "../SellerClient.js"
import type { SellerError } from "../SellerError.js"

export interface WalkOptions {
  /** Listings asked per page; small, so that even a small stock takes several pages. */
  readonly pageSize: number
  /** The walk fails when the listing has not ended after this many pages. */
  readonly maxPages: number
}

export interface InventoryWalk {
  readonly pages: number
  readonly listings: ReadonlyArray<InventoryListing>
}

/**
 * Walks every page of a seller's inventory, from the first to the one whose `nextCursor` is
 * `null`. Rejects, saying which page and why, when a page fails, a cursor comes back (the
 * walk would never end), the walk outgrows `maxPages`, or a listing id appears twice.
 *
 * @example
 * const { listings } = await walkInventory(client, { pageSize: 2, maxPages: 50 })
 */
export const walkInventory = async (client: SellerClient, options: WalkOptions): Promise<InventoryWalk> => {
  const listings: Array<InventoryListing> = []
  const pageOf = new Map<string, number>()
  const cursors = new Set<string>()
  let cursor: string | null = null
  for (let page = 1; page <= options.maxPages; page++) {
    const exit: Exit.Exit<InventoryPage, SellerError> = await Effect.runPromiseExit(client.inventory({ cursor, pageSize: options.pageSize }))
    if (Exit.isFailure(exit)) {
      throw new Error(`inventory page ${page} (cursor ${JSON.stringify(cursor)}) failed: ${messageOf(Cause.squash(exit.cause))}`)
    }
    for (const listing of exit.value.listings) {
      const earlier = pageOf.get(listing.listingId)
      if (earlier !== undefined) {
        throw new Error(`listing ${listing.listingId} is on inventory page ${earlier} and again on page ${page}: a listing id names one listing across the whole walk`)
      }
      pageOf.set(listing.listingId, page)
      listings.push(listing)
    }
    const next: string | null = exit.value.nextCursor
    if (next === null) return { pages: page, listings }
    if (cursors.has(next)) {
      throw new Error(`inventory page ${page} points back to cursor ${JSON.stringify(next)}, already walked: the listing would never end`)
    }
    cursors.add(next)
    cursor = next
  }
  throw new Error(`the inventory did not end within ${options.maxPages} pages of ${options.pageSize}: a cursor never reached null`)
}

export interface InventoryExpectation {
  /** Books the seller has for sale: each must be listed with a quantity. */
  readonly inStock: ReadonlyArray<Isbn13>
  /** Books the seller has none of: listed with quantity 0, or not at all. */
  readonly soldOut: ReadonlyArray<Isbn13>
}

/**
 * Holds listings against the seller's quotes: every listing with a quantity is quoted as
 * available, at the listing's price and condition, with its shipping (when the listing states
 * one) and in its currency; books in stock are listed; sold-out books are not listed for sale.
 * Rejects naming the first listing that disagrees. (The kit's simulated seller has one listing
 * per book, so every listing of a book is held against its one quote.)
 */
export const checkInventory = async (client: SellerClient, listings: ReadonlyArray<InventoryListing>, expected: InventoryExpectation): Promise<void> => {
  const forSale = listings.filter((listing) => listing.quantity > 0)
  for (const isbn of expected.soldOut) {
    const listed = forSale.find((listing) => listing.isbn === isbn)
    if (listed !== undefined) {
      throw new Error(`listing ${listed.listingId} offers ${listed.quantity} of ${isbn}, which the seller has none of: a sold-out book is listed with quantity 0 or not at all`)
    }
  }
  for (const isbn of expected.inStock) {
    if (!forSale.some((listing) => listing.isbn === isbn)) {
      throw new Error(`${isbn} is for sale (the seller quotes it), but no listing offers it`)
    }
  }
  const isbns = [...new Set(forSale.map((listing) => listing.isbn))]
  const exit = await Effect.runPromiseExit(client.quote(isbns))
  if (Exit.isFailure(exit)) throw new Error(`quoting the listed books failed: ${messageOf(Cause.squash(exit.cause))}`)
  const quotes = new Map(exit.value.map((answer) => [answer.isbn, answer] as const))
  for (const listing of forSale) {
    const answer = quotes.get(listing.isbn)
    const disagree = (what: string) => new Error(`listing ${listing.listingId} (${listing.isbn}) ${what}`)
    if (!(answer instanceof Offer)) {
      throw disagree(`offers ${listing.quantity}, but a quote answers ${answer === undefined ? "nothing" : `unavailable (${answer.reason})`}`)
    }
    if (listing.price.currency !== answer.price.currency || listing.price.amount !== answer.price.amount) {
      throw disagree(`is priced ${money(listing.price)}, but a quote answers ${money(answer.price)}`)
    }
    if (listing.shipping !== null && (listing.shipping.currency !== answer.shipping.currency || listing.shipping.amount !== answer.shipping.amount)) {
      throw disagree(`ships for ${money(listing.shipping)}, but a quote answers ${money(answer.shipping)}`)
    }
    if (listing.condition !== answer.condition) {
      throw disagree(`is in ${listing.condition} condition, but a quote answers ${answer.condition}`)
    }
  }
}

const money = (value: { readonly amount: number; readonly currency: string }) => `${value.amount} ${value.currency} (minor units)`

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))
