/**
 * The offer index: which sellers list a book, at what price, according to their own inventory
 * feeds (`InventoryUploads`) and the prices they push — so a request asks only the sellers that
 * have the book, cheapest first, instead of everyone.
 *
 * What the index says is never bought from: it is a lead. The quote engine shows indexed offers
 * (with where each comes from and how old it is) and confirms the best few live with the seller
 * before a purchase (`QuoteEngine.confirm`); every live answer corrects the index (`learn`): a
 * listing the seller no longer has is removed, a changed price is written.
 *
 * Two rules make the index true:
 * - A listing is believed while its source is: a feed's while the feed is fresh (its last upload
 *   + the seller's trust period, 24 h by default), a pushed price until its own validity ends.
 *   A stale one is ignored. (The view `fresh_listings`, migration 0009, says it once.)
 * - A seller that has sent its whole inventory (a snapshot, kept current by deltas since) and whose
 *   feed is fresh, and that does not list a book, does not have it: it is not asked
 *   (`unlistedBy`). A seller without one is asked live, as every seller without a feed is.
 */
import type { Contract, Isbn } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import { Clock, Context, Effect, Layer } from "effect"
import { orDie, textArray, uninterruptibleSql } from "../internal/sql.js"
import { pushListingPrefix } from "./ListingRules.js"

export type ListingSource = "feed" | "push"

/** One seller's listing of a book, as the index has it. Amounts in minor units. */
export interface IndexedListing {
  readonly sellerId: string
  readonly listingId: string
  readonly isbn: Isbn.Isbn13
  readonly price: number
  readonly shipping: number
  readonly currency: string
  readonly condition: Contract.Condition
  readonly quantity: number
  readonly source: ListingSource
  /** When the source last stated it. */
  readonly seenAt: Date
  /** When it stops being believed. */
  readonly freshUntil: Date
}

export interface Listed {
  /** Fresh listings with stock, the seller's cheapest first, then by total. */
  readonly listings: ReadonlyArray<IndexedListing>
  /** Sellers whose fresh snapshot does not list the book (they do not have it). */
  readonly unlistedBy: ReadonlySet<string>
}

/** What a live answer taught about an indexed listing. */
export type Lesson =
  | { readonly _tag: "Offered"; readonly price: number; readonly shipping: number; readonly currency: string; readonly condition: Contract.Condition; readonly quantity: number | null }
  | { readonly _tag: "Gone" }

/** A pushed price, as `PushedOffers` takes it. */
export type Push =
  | { readonly isbn: Isbn.Isbn13; readonly available: true; readonly price: number; readonly shipping: number; readonly currency: string; readonly condition: Contract.Condition; readonly quantity: number | null; readonly validForSeconds: number }
  | { readonly isbn: Isbn.Isbn13; readonly available: false }

export interface OfferIndexService {
  /** What the index says about a book now. */
  readonly lookup: (isbn: Isbn.Isbn13) => Effect.Effect<Listed>
  /** A live answer about an indexed listing: corrects it (a miss removes it). */
  readonly learn: (sellerId: string, listingId: string, lesson: Lesson) => Effect.Effect<void>
  /** Pushed prices, kept durably (the quote cache alone loses them when Redis is away). */
  readonly recordPushes: (sellerId: string, pushes: ReadonlyArray<Push>) => Effect.Effect<void>
  /** The index changed here (an upload was applied): the next lookup in this process reads which feeds are complete afresh. */
  readonly changed: Effect.Effect<void>
}

export class OfferIndex extends Context.Service<OfferIndex, OfferIndexService>()("@bookbroker/engine/OfferIndex") {}

/** The listing id a pushed price is kept under: one per book and seller, the last push wins. */
export const pushListingId = (isbn: string): string => `${pushListingPrefix}${isbn}`

export interface OfferIndexOptions {
  /** How long the set of sellers with a fresh snapshot is reused in this process; default 2 s. */
  readonly feedSellersRefreshMillis?: number
}

interface ListingRow {
  readonly seller_id: string
  readonly listing_id: string
  readonly isbn: string
  readonly price: string
  readonly shipping: string
  readonly currency: string
  readonly condition: string
  readonly quantity: number
  readonly source: ListingSource
  readonly seen_at: Date
  readonly fresh_until: Date
}

const toListing = (row: ListingRow): IndexedListing => ({
  sellerId: row.seller_id,
  listingId: row.listing_id,
  isbn: row.isbn as Isbn.Isbn13,
  price: Number(row.price),
  shipping: Number(row.shipping),
  currency: row.currency,
  condition: row.condition as Contract.Condition,
  quantity: row.quantity,
  source: row.source,
  seenAt: row.seen_at,
  freshUntil: row.fresh_until
})

export const make = (options: OfferIndexOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const refreshMillis = options.feedSellersRefreshMillis ?? 2_000
    let feeds: { readonly at: number; readonly snapshots: ReadonlySet<string>; readonly anyListing: boolean } | undefined

    /**
     * Sellers with a fresh snapshot, and whether the index holds any listing at all (without one,
     * a request needs no index read), reused for `refreshMillis`: one small read per interval,
     * not per request.
     */
    const feedState = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (feeds !== undefined && now - feeds.at < refreshMillis) return feeds
      const rows = yield* orDie(sql<{ seller_id: string | null; any_listing: boolean }>`
        SELECT f.seller_id, EXISTS (SELECT 1 FROM listings) AS any_listing
        FROM (SELECT 1) AS one LEFT JOIN seller_feeds f
          ON f.last_snapshot_at IS NOT NULL AND f.last_upload_at + make_interval(secs => f.trust_seconds) > now()`)
      feeds = {
        at: now,
        snapshots: new Set(rows.flatMap((row) => (row.seller_id === null ? [] : [row.seller_id]))),
        anyListing: rows[0]?.any_listing === true
      }
      return feeds
    })

    const lookup = (isbn: Isbn.Isbn13): Effect.Effect<Listed> =>
      Effect.gen(function* () {
        const state = yield* feedState
        if (!state.anyListing && state.snapshots.size === 0) return { listings: [], unlistedBy: new Set<string>() }
        // What "fresh" means is the view's (migration 0009).
        const rows = yield* orDie(sql<ListingRow>`SELECT * FROM fresh_listings WHERE isbn = ${isbn} ORDER BY price + shipping, seen_at DESC`)
        const snapshots = state.snapshots
        const listings = rows.map(toListing)
        const listing = new Set(listings.map((row) => row.sellerId))
        const unlistedBy = new Set<string>()
        for (const sellerId of snapshots) if (!listing.has(sellerId)) unlistedBy.add(sellerId)
        return { listings, unlistedBy }
      }).pipe(Effect.withSpan("OfferIndex.lookup", { attributes: { isbn } }, { captureStackTrace: false }))

    const learn = (sellerId: string, listingId: string, lesson: Lesson): Effect.Effect<void> =>
      (lesson._tag === "Gone"
        ? uninterruptibleSql(sql`DELETE FROM listings WHERE seller_id = ${sellerId} AND listing_id = ${listingId}`)
        : uninterruptibleSql(sql`
            UPDATE listings SET price = ${lesson.price}, shipping = ${lesson.shipping}, currency = ${lesson.currency},
              condition = ${lesson.condition}, quantity = ${lesson.quantity ?? sql`quantity`}, seen_at = now()
            WHERE seller_id = ${sellerId} AND listing_id = ${listingId}`)
      ).pipe(Effect.asVoid, Effect.withSpan("OfferIndex.learn", { attributes: { sellerId, lesson: lesson._tag } }, { captureStackTrace: false }))

    const recordPushes = (sellerId: string, pushes: ReadonlyArray<Push>): Effect.Effect<void> =>
      Effect.gen(function* () {
        // The last push per book wins, as in the quote cache.
        const last = new Map<string, Push>()
        for (const push of pushes) last.set(push.isbn, push)
        const offered = [...last.values()].filter((push): push is Extract<Push, { available: true }> => push.available)
        const gone = [...last.values()].filter((push) => !push.available).map((push) => push.isbn)
        if (offered.length > 0) {
          yield* uninterruptibleSql(sql`
            INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, quantity, source, seen_at, fresh_until)
            SELECT ${sellerId}, ${pushListingPrefix}::text || p.isbn, p.isbn, p.price, p.shipping, p.currency, p.condition, p.quantity, 'push', now(),
                   now() + make_interval(secs => p.valid)
            FROM unnest(${textArray(offered.map((push) => push.isbn))}::text[], ${textArray(offered.map((push) => push.price))}::int8[],
                        ${textArray(offered.map((push) => push.shipping))}::int8[], ${textArray(offered.map((push) => push.currency))}::text[],
                        ${textArray(offered.map((push) => push.condition))}::text[], ${textArray(offered.map((push) => push.quantity ?? 1))}::int4[],
                        ${textArray(offered.map((push) => push.validForSeconds))}::int4[]) AS p (isbn, price, shipping, currency, condition, quantity, valid)
            ON CONFLICT (seller_id, listing_id) DO UPDATE SET price = excluded.price, shipping = excluded.shipping, currency = excluded.currency,
              condition = excluded.condition, quantity = excluded.quantity, seen_at = excluded.seen_at, fresh_until = excluded.fresh_until`)
        }
        if (gone.length > 0) {
          // The seller says it has none now: whatever its feed said about those books is past too.
          yield* uninterruptibleSql(sql`DELETE FROM listings WHERE seller_id = ${sellerId} AND isbn = ANY(${textArray(gone)}::text[])`)
        }
      }).pipe(Effect.withSpan("OfferIndex.recordPushes", { attributes: { sellerId, pushes: pushes.length } }, { captureStackTrace: false }))

    const changed = Effect.sync(() => {
      feeds = undefined
    })

    return { lookup, learn, recordPushes: (sellerId, pushes) => Effect.andThen(recordPushes(sellerId, pushes), changed), changed } satisfies OfferIndexService
  })

export const layer = (options: OfferIndexOptions = {}): Layer.Layer<OfferIndex, never, SqlClient.SqlClient> => Layer.effect(OfferIndex, make(options))
