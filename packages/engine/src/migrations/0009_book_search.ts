/**
 * Finding a book without its ISBN (`search/BookSearch.ts`), and one home for what "fresh" means.
 *
 * - `books.search` (full-text, the `simple` configuration: no stemming, titles are in every
 *   language; title weighs more than author, author more than publisher) and
 *   `books.search_text` (lower-cased title, author and publisher) with a trigram index, for
 *   typos (`pg_trgm`, shipped with PostgreSQL; creating it needs a role allowed to).
 * - `fresh_listings`: the listings the index believes now — a feed's while the feed is fresh
 *   (its last upload + the seller's trust period), a pushed price until its own validity — with
 *   the time each was last stated. The offer index and the search read it, so the rule is
 *   written once.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`
  yield* sql`
    ALTER TABLE books
      ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(author, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(publisher, '')), 'C')
      ) STORED,
      ADD COLUMN search_text text GENERATED ALWAYS AS (
        lower(coalesce(title, '') || ' ' || coalesce(author, '') || ' ' || coalesce(publisher, ''))
      ) STORED
  `
  yield* sql`CREATE INDEX books_search ON books USING gin (search)`
  yield* sql`CREATE INDEX books_search_trigrams ON books USING gin (search_text gin_trgm_ops)`
  yield* sql`
    CREATE VIEW fresh_listings AS
      SELECT * FROM (
        SELECT l.seller_id, l.listing_id, l.isbn, l.price, l.shipping, l.currency, l.condition, l.quantity, l.source,
          -- A feed restates every listing it keeps with each upload (a delta: "the rest is unchanged").
          CASE WHEN l.source = 'push' THEN l.seen_at ELSE greatest(l.seen_at, f.last_upload_at) END AS seen_at,
          CASE WHEN l.source = 'push' THEN l.fresh_until ELSE f.last_upload_at + make_interval(secs => f.trust_seconds) END AS fresh_until
        FROM listings l LEFT JOIN seller_feeds f ON f.seller_id = l.seller_id
      ) AS indexed
      WHERE fresh_until > now()
  `
})
