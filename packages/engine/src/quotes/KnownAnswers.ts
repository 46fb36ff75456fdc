/**
 * What is known of a seller's answer without asking it: its cached answer (fresh, or pushed by the
 * seller; the `SharedState` quote cache, kept shorter than the quote's validity) and what the offer
 * index says (an indexed offer, never bought from; or `not_listed` for a complete, fresh feed
 * without the book).
 */
import { Contract, type Isbn, Money } from "@bookbroker/adapter-sdk"
import { Effect, Option, Schema } from "effect"
import type { IndexedListing, OfferIndexService } from "../inventory/OfferIndex.js"
import * as PushedOffers from "./PushedOffers.js"
import type { Answer, Entry, QuoteContext } from "./QuoteContext.js"
import type { SellerOutcome } from "./QuoteTypes.js"

export const encodeAnswer = Schema.encodeSync(Contract.QuoteResult)
export const decodeAnswer = Schema.decodeUnknownOption(Schema.fromJsonString(Contract.QuoteResult))

/** An indexed listing as an offer to show and rank (never to buy from: its quote id is ours). */
export const indexedOffer = (listing: IndexedListing): Contract.Offer =>
  new Contract.Offer({
    available: true,
    isbn: listing.isbn,
    quoteId: `${listing.source === "push" ? PushedOffers.quoteIdPrefix : "feed-"}${listing.listingId}`,
    price: Money.make(listing.price, listing.currency),
    shipping: Money.make(listing.shipping, listing.currency),
    condition: listing.condition,
    quantity: listing.quantity,
    expiresAt: listing.freshUntil
  })

/** Each seller's listing for a request: its cheapest in the request's currency, else its cheapest. */
export const listingsBySeller = (listings: ReadonlyArray<IndexedListing>, currency: string): Map<string, IndexedListing> => {
  const chosen = new Map<string, IndexedListing>()
  for (const listing of listings) {
    const current = chosen.get(listing.sellerId)
    if (current === undefined || (current.currency !== currency && listing.currency === currency)) chosen.set(listing.sellerId, listing)
  }
  return chosen
}

export const ttlFor = (ctx: QuoteContext, answer: Contract.QuoteResult, now: number): number =>
  answer instanceof Contract.Offer ? Math.min(ctx.cacheTtl, Math.floor((answer.expiresAt.getTime() - now) * 0.8)) : ctx.unavailableTtl

export const readCache = (ctx: QuoteContext, isbn: Isbn.Isbn13, entries: ReadonlyArray<Entry>, answers: Map<string, Answer>) =>
  Effect.gen(function* () {
    if (entries.length === 0) return
    const values = yield* ctx.state.getQuotes(isbn, entries.map((entry) => entry.seller.id))
    values.forEach((value, index) => {
      if (value === undefined) return
      const decoded = decodeAnswer(value)
      if (Option.isSome(decoded)) answers.set(entries[index]!.seller.id, { answer: decoded.value, cached: true, latencyMillis: 0 })
    })
  })

/**
 * What the offer index says, for the sellers with no answer yet: an indexed offer, or — a
 * complete, fresh feed without the book — `unavailable: not_listed`. Neither is asked live.
 */
export const readIndex = (
  offerIndex: OfferIndexService,
  isbn: Isbn.Isbn13,
  currency: string,
  entries: ReadonlyArray<Entry>,
  answers: Map<string, Answer>,
  outcomes: Map<string, SellerOutcome>
) =>
  Effect.gen(function* () {
    if (entries.length === 0) return
    const listed = yield* offerIndex.lookup(isbn)
    if (listed.listings.length === 0 && listed.unlistedBy.size === 0) return
    const bySeller = listingsBySeller(listed.listings, currency)
    for (const { seller } of entries) {
      if (answers.has(seller.id) || outcomes.has(seller.id)) continue
      const listing = bySeller.get(seller.id)
      if (listing !== undefined) answers.set(seller.id, { answer: indexedOffer(listing), cached: true, latencyMillis: 0, indexed: listing })
      else if (listed.unlistedBy.has(seller.id)) {
        outcomes.set(seller.id, { sellerId: seller.id, sellerName: seller.name, status: "unavailable", reason: "not_listed", cached: true, latencyMillis: 0 })
      }
    }
  })
