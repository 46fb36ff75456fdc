import { SqlClient } from "effect/sql"
import { Effect } from "effect"

/**
 * The offer index: who has which book at what price, from the sellers' own inventory feeds
 * (uploaded files) and pushed prices, so that a request asks only the sellers that list the
 * book (see `inventory/OfferIndex.ts`).
 *
 * - `seller_feeds`: a seller's feed settings (how long its listings are believed, the currency
 *   and default shipping of its files) and when it last sent a whole inventory (a snapshot:
 *   while that is fresh, a book missing from it is a book the seller does not have); for feeds
 *   bookbroker fetches itself (`pull`: a URL, or the adapter's inventory pages), the schedule and
 *   the validators of the last fetch (ETag, Last-Modified).
 * - `listings`: one row per seller listing with stock (a listing at quantity 0 is deleted).
 *   `seen_at` is when its source last stated it. A pushed price is believed until its own
 *   `fresh_until`; a feed's listings as long as the feed is (its last upload + the trust period),
 *   so an upload does not rewrite every listing's expiry.
 * - `inventory_staging`: an upload's rows while the file is still arriving (unlogged: an upload
 *   that dies with the server is refused and sent again); applied in one transaction at the end.
 * - `inventory_uploads`: each upload as a job with its counts and its first row errors.
 * - `books`: what the feeds say about a book (title, author, publisher, year).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE seller_feeds (
      seller_id uuid PRIMARY KEY REFERENCES sellers (id) ON DELETE CASCADE,
      trust_seconds integer NOT NULL DEFAULT 86400 CHECK (trust_seconds BETWEEN 60 AND 2592000),
      currency text CHECK (currency ~ '^[A-Z]{3}$'),
      shipping bigint NOT NULL DEFAULT 0 CHECK (shipping >= 0),
      last_snapshot_at timestamptz,
      last_upload_at timestamptz,
      pull text CHECK (pull IN ('url', 'adapter')),
      pull_url text,
      pull_format text CHECK (pull_format IN ('tsv', 'jsonl')),
      pull_every_seconds integer NOT NULL DEFAULT 3600 CHECK (pull_every_seconds BETWEEN 900 AND 604800),
      pull_etag text,
      pull_last_modified text,
      pull_next_at timestamptz,
      pull_last_at timestamptz,
      pull_last_result text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (pull IS DISTINCT FROM 'url' OR pull_url IS NOT NULL)
    )
  `
  yield* sql`CREATE INDEX seller_feeds_pull_due ON seller_feeds (pull_next_at) WHERE pull IS NOT NULL`
  yield* sql`
    CREATE TABLE listings (
      seller_id uuid NOT NULL REFERENCES sellers (id) ON DELETE CASCADE,
      listing_id text NOT NULL,
      isbn text NOT NULL,
      price bigint NOT NULL CHECK (price >= 0),
      shipping bigint NOT NULL CHECK (shipping >= 0),
      currency text NOT NULL,
      condition text NOT NULL,
      binding text,
      quantity integer NOT NULL CHECK (quantity > 0),
      source text NOT NULL CHECK (source IN ('feed', 'push')),
      seen_at timestamptz NOT NULL,
      fresh_until timestamptz,
      PRIMARY KEY (seller_id, listing_id)
    )
  `
  yield* sql`CREATE INDEX listings_by_isbn ON listings (isbn)`
  yield* sql`
    CREATE UNLOGGED TABLE inventory_staging (
      upload_id uuid NOT NULL,
      line integer NOT NULL,
      listing_id text NOT NULL,
      isbn text NOT NULL,
      price bigint,
      shipping bigint,
      currency text,
      condition text,
      binding text,
      quantity integer NOT NULL,
      title text,
      author text,
      publisher text,
      year integer
    )
  `
  yield* sql`CREATE INDEX inventory_staging_upload ON inventory_staging (upload_id, listing_id)`
  yield* sql`
    CREATE TABLE inventory_uploads (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      seller_id uuid NOT NULL REFERENCES sellers (id) ON DELETE CASCADE,
      mode text NOT NULL CHECK (mode IN ('snapshot', 'delta')),
      format text NOT NULL CHECK (format IN ('tsv', 'jsonl')),
      source text NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'url', 'adapter')),
      status text NOT NULL CHECK (status IN ('receiving', 'applying', 'applied', 'refused')),
      rows_read integer NOT NULL DEFAULT 0,
      rows_rejected integer NOT NULL DEFAULT 0,
      rows_applied integer,
      listings_retired integer,
      errors jsonb NOT NULL DEFAULT '[]'::jsonb,
      refusal text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    )
  `
  yield* sql`CREATE INDEX inventory_uploads_by_seller ON inventory_uploads (seller_id, created_at DESC)`
  yield* sql`
    CREATE TABLE books (
      isbn text PRIMARY KEY,
      title text,
      author text,
      publisher text,
      year integer,
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
