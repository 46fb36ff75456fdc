/**
 * A seller's inventory file into the offer index: the upload as a job.
 *
 * The file streams in (never held whole): `InventoryFile` (or `OnixFile`) parses each chunk, good
 * rows go to a staging table in batches (`StagingCopy`: one COPY each, on a small pool of its
 * own), bad rows are counted and the first `maxErrors` kept with their line, field and reason.
 * Only when the whole file has been read are its listings applied, in one transaction (the books
 * it describes are written beside it, on a second connection):
 * - **delta**: the listed listings are written; quantity 0 retires (deletes) a listing;
 * - **snapshot**: the same, and every feed listing of the seller missing from the file is retired;
 *   from then on, while the feed is fresh, a book the seller does not list is a book it does not
 *   have (`OfferIndex`).
 * A file that cannot be read (wrong header, not UTF-8, not tab-separated) is refused, and nothing
 * of it is applied: the inventory stays as it was. Two uploads by one seller at once are both
 * read, then applied one after the other (the seller's feed row is locked while applying): the one
 * that finishes last is the inventory.
 *
 * A server that stops mid-way leaves nothing half done (`recover`, run by every process at start
 * and every few minutes): an upload still receiving or applying after `abandonedAfterMillis` is
 * refused and its staged rows removed (its listings were applied in one transaction, so nothing of
 * it is in the index; the seller sends it again), and an applied upload whose books had not been
 * written yet gets them written from its staged rows, which then go.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlClient, type Statement } from "effect/sql"
import { Context, Duration, Effect, Exit, Fiber, Layer, Option, Schedule, Schema, Scope, Stream } from "effect"
import { isUuid } from "../internal/ids.js"
import { orDie, uninterruptibleSql } from "../internal/sql.js"
import * as InventoryFile from "./InventoryFile.js"
import { OfferIndex } from "./OfferIndex.js"
import * as OnixFile from "./OnixFile.js"
import * as StagingCopy from "./StagingCopy.js"

/** What an upload may be: a line format (`InventoryFile`), or `onix`: an ONIX for Books 3.0 message (`OnixFile`). */
export type UploadFormat = InventoryFile.Format | "onix"

export type UploadMode = "snapshot" | "delta"
/** How the file came: sent by the seller, fetched from its feed URL, or read from its adapter's inventory pages. */
export type UploadSource = "upload" | "url" | "adapter"
export type UploadStatusName = "receiving" | "applying" | "applied" | "refused"

export interface UploadStatus {
  readonly id: string
  readonly mode: UploadMode
  readonly format: UploadFormat
  readonly source: UploadSource
  readonly status: UploadStatusName
  readonly rowsRead: number
  readonly rowsRejected: number
  /** Listings the file states with stock, now in the index (null until applied). */
  readonly rowsApplied: number | null
  /** Listings removed: quantity 0, or (snapshot) missing from the file. Null until applied. */
  readonly listingsRetired: number | null
  /** The first rejected rows (at most `maxErrors`); `rowsRejected` counts them all. */
  readonly errors: ReadonlyArray<InventoryFile.RowError>
  /** Why the whole file was refused. */
  readonly refusal: string | null
  readonly createdAt: Date
  readonly finishedAt: Date | null
}

export interface FeedSettings {
  /** How long the feed is believed after an upload; default 24 h. */
  readonly trustSeconds: number
  /** The currency of the file's prices when a row does not say; none until the seller says. */
  readonly currency: string | null
  /** Shipping (minor units) when a row does not say; default 0. */
  readonly shipping: number
  /** bookbroker fetches the inventory itself: from a URL, or through the seller's adapter; null: the seller uploads. */
  readonly pull: PullSettings | null
}

export type PullSettings =
  | { readonly _tag: "Url"; readonly url: string; readonly format: UploadFormat | null; readonly everySeconds: number }
  | { readonly _tag: "Adapter"; readonly everySeconds: number }

export interface PullState {
  readonly lastAt: Date | null
  readonly nextAt: Date | null
  /** What the last fetch came to, in words: `applied …`, `not modified`, `failed: …`. */
  readonly lastResult: string | null
}

export interface InventorySummary extends FeedSettings {
  readonly pullState: PullState
  /** Listings in the index (with stock). */
  readonly listings: number
  readonly lastSnapshotAt: Date | null
  readonly lastUploadAt: Date | null
  /** Until when the feed is believed (null: never uploaded). */
  readonly freshUntil: Date | null
  /** A whole inventory was sent and the feed is fresh: books it does not list are not asked for. */
  readonly complete: boolean
}

export class UploadRefused extends Schema.TaggedError<UploadRefused>()("UploadRefused", {
  reason: Schema.String,
  line: Schema.optional(Schema.Number),
  uploadId: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.line === undefined ? this.reason : `line ${this.line}: ${this.reason}`
  }
}

export class UploadNotFound extends Schema.TaggedError<UploadNotFound>()("UploadNotFound", { uploadId: Schema.String }) {
  override get message(): string {
    return `no inventory upload ${this.uploadId}`
  }
}

export interface UploadOptions {
  readonly mode: UploadMode
  readonly format: UploadFormat
  /** The prices' currency for this file (else the feed's setting). */
  readonly currency?: string
  /** Default `upload`. */
  readonly source?: UploadSource
}

export interface InventoryUploadsService {
  /** Reads the whole file, then applies it; fails `UploadRefused` (nothing applied) when it cannot be read. */
  readonly upload: <E>(sellerId: string, options: UploadOptions, body: Stream.Stream<Uint8Array, E>) => Effect.Effect<UploadStatus, UploadRefused | E>
  readonly status: (sellerId: string, uploadId: string) => Effect.Effect<UploadStatus, UploadNotFound>
  /** The seller's latest uploads, newest first. */
  readonly uploads: (sellerId: string, limit?: number) => Effect.Effect<ReadonlyArray<UploadStatus>>
  readonly summary: (sellerId: string) => Effect.Effect<InventorySummary>
  readonly configure: (sellerId: string, settings: Partial<FeedSettings>) => Effect.Effect<InventorySummary>
  /** Finishes what stopped servers left (see the module's comment); says what it did. */
  readonly recover: Effect.Effect<RecoveryReport>
}

/** What one `recover` run did. */
export interface RecoveryReport {
  /** Uploads still receiving or applying long after their last progress: refused, nothing applied. */
  readonly refused: number
  /** Applied uploads whose books were written from their leftover staged rows. */
  readonly booksWritten: number
  /** Uploads whose leftover staged rows were removed. */
  readonly stagingCleared: number
}

export class InventoryUploads extends Context.Service<InventoryUploads, InventoryUploadsService>()("@bookbroker/engine/InventoryUploads") {}

export interface InventoryUploadsOptions {
  /** Rows staged per statement; default 5,000. */
  readonly batchRows?: number
  /** Connections staging may hold at once, whatever the number of uploads (`StagingCopy`); default 4. */
  readonly stagingConnections?: number
  /** Row errors kept per upload; default 100. */
  readonly maxErrors?: number
  /** An upload still receiving with no progress this long is taken as dead (its server stopped); default 10 min. */
  readonly abandonedAfterMillis?: number
  /**
   * Files with more rows than this answer once their listings are applied, and the books they
   * describe follow in the background (searchable seconds later); smaller ones answer when both
   * are written. Default 50,000.
   */
  readonly booksInlineUpToRows?: number
  /**
   * How long a smaller file's answer waits for its books at most; default 2 s. They take
   * milliseconds unless another upload's books — a big snapshot's, still being written in the
   * background — hold the same ISBNs: then the answer comes once the listings are applied, and
   * the books follow when the other upload's are written. While this process writes books in
   * the background, a smaller file does not wait for its books at all.
   */
  readonly booksWaitMillis?: number
  /** PostgreSQL's `work_mem` while an upload is applied (its sorts and hashes over every row of the file); default `128MB`. */
  readonly applyWorkMem?: string
  /** How often `recover` runs in the background (and once at start); default 5 min, 0: never (tests call it). */
  readonly recoverEveryMillis?: number
}

export const defaultSettings: FeedSettings = { trustSeconds: 86_400, currency: null, shipping: 0, pull: null }

/** Least time between two fetches of a seller's feed: bookbroker does not poll harder than this. */
export const minPullEverySeconds = 900

interface FeedRow {
  readonly trust_seconds: number
  readonly currency: string | null
  readonly shipping: string
  readonly last_snapshot_at: Date | null
  readonly last_upload_at: Date | null
  readonly pull: "url" | "adapter" | null
  readonly pull_url: string | null
  readonly pull_format: InventoryFile.Format | null
  readonly pull_every_seconds: number
  readonly pull_next_at: Date | null
  readonly pull_last_at: Date | null
  readonly pull_last_result: string | null
}

const feedColumns =
  "trust_seconds, currency, shipping, last_snapshot_at, last_upload_at, pull, pull_url, pull_format, pull_every_seconds, pull_next_at, pull_last_at, pull_last_result"

const toSettings = (row: FeedRow): FeedSettings => ({
  trustSeconds: row.trust_seconds,
  currency: row.currency,
  shipping: Number(row.shipping),
  pull:
    row.pull === "url" && row.pull_url !== null
      ? { _tag: "Url", url: row.pull_url, format: row.pull_format, everySeconds: row.pull_every_seconds }
      : row.pull === "adapter"
        ? { _tag: "Adapter", everySeconds: row.pull_every_seconds }
        : null
})

interface UploadRow {
  readonly id: string
  readonly mode: UploadMode
  readonly format: UploadFormat
  readonly source: UploadSource
  readonly status: UploadStatusName
  readonly rows_read: number
  readonly rows_rejected: number
  readonly rows_applied: number | null
  readonly listings_retired: number | null
  readonly errors: ReadonlyArray<InventoryFile.RowError>
  readonly refusal: string | null
  readonly created_at: Date
  readonly finished_at: Date | null
}

const toStatus = (row: UploadRow): UploadStatus => ({
  id: row.id,
  mode: row.mode,
  format: row.format,
  source: row.source,
  status: row.status,
  rowsRead: row.rows_read,
  rowsRejected: row.rows_rejected,
  rowsApplied: row.rows_applied,
  listingsRetired: row.listings_retired,
  errors: row.errors,
  refusal: row.refusal,
  createdAt: row.created_at,
  finishedAt: row.finished_at
})

const uploadColumns = "id, mode, format, source, status, rows_read, rows_rejected, rows_applied, listings_retired, errors, refusal, created_at, finished_at"

/** Why an upload was given up, in the seller's words. */
const givenUp = {
  receiving: "the upload stopped before the file was complete",
  applying: "the server stopped while applying the file: nothing of it was applied; send it again"
} as const

/** What the uploads' statements work with (`make` builds it once). */
interface UploadsContext {
  readonly sql: SqlClient.SqlClient
  /** Where staged rows go (COPY, `StagingCopy`). */
  readonly staging: StagingCopy.StagingCopy
  readonly batchRows: number
  readonly maxErrors: number
  readonly abandonedAfter: number
  readonly applyWorkMem: string
  readonly booksInlineUpTo: number
  readonly booksWait: Duration.Duration
  /** Uploads of this process whose books are still being written after their answer. */
  booksInBackground: number
  /** Where the books written after an answer run (the service's scope). */
  readonly scope: Scope.Scope
  readonly columns: Statement.Fragment
  readonly feedColumnsSql: Statement.Fragment
  readonly index: OfferIndex["Service"] | undefined
}

const settingsOf = (ctx: UploadsContext, sellerId: string) => {
  const { sql, feedColumnsSql } = ctx
  return Effect.map(
    orDie(sql<FeedRow>`SELECT ${feedColumnsSql} FROM seller_feeds WHERE seller_id = ${sellerId}`),
    ([row]): FeedSettings => (row === undefined ? defaultSettings : toSettings(row))
  )
}

/** Writes a batch of good rows to the staging table, and the progress so far. */
const stage = (ctx: UploadsContext, uploadId: string, rows: ReadonlyArray<InventoryFile.ListingRow>, read: number, rejected: number) =>
  uninterruptibleSql(
    Effect.andThen(
      ctx.staging.write(uploadId, rows),
      ctx.sql`UPDATE inventory_uploads SET rows_read = ${read}, rows_rejected = ${rejected}, updated_at = now() WHERE id = ${uploadId}`
    )
  )

/**
 * What the feeds say about a book the index does not know yet: the first feed to describe a
 * book describes it, and within a file its last line that does. In its own transaction on a
 * second connection, beside the listings' (`apply`): the books' search indexes (migrations
 * 0009, 0010: a trigram GIN index and the words trigger) make it as costly as the listings
 * themselves, and two backends share the work. Books are not inventory: they are written only
 * once the whole file has been read (a refused file adds none), and a failed apply that
 * described some books leaves nothing wrong.
 */
const describeBooks = (ctx: UploadsContext, uploadId: string) => {
  const { sql, applyWorkMem } = ctx
  return uninterruptibleSql(
    sql.withTransaction(
      Effect.gen(function* () {
        yield* sql`SELECT set_config('work_mem', ${applyWorkMem}, true)`
        // Worked out and analysed first: with the staging table's estimates the planner probes
        // `books` once per row, which costs more than the insert when every book is known.
        yield* sql`
          CREATE TEMP TABLE upload_books ON COMMIT DROP AS
          SELECT DISTINCT ON (isbn) isbn, title, author, publisher, year FROM inventory_staging
          WHERE upload_id = ${uploadId} AND (title IS NOT NULL OR author IS NOT NULL OR publisher IS NOT NULL OR year IS NOT NULL)
          ORDER BY isbn, line DESC`
        yield* sql`ANALYZE upload_books`
        yield* sql`
          INSERT INTO books (isbn, title, author, publisher, year)
          SELECT s.isbn, s.title, s.author, s.publisher, s.year FROM upload_books s
          WHERE NOT EXISTS (SELECT 1 FROM books b WHERE b.isbn = s.isbn)
          ORDER BY s.isbn
          ON CONFLICT (isbn) DO NOTHING`
      })
    )
  )
}

/** The listings of a fully read upload, in one transaction (see the module's comment); returns its final status. */
const applyListings = (ctx: UploadsContext, sellerId: string, uploadId: string, mode: UploadMode, currency: string, settings: FeedSettings, errors: ReadonlyArray<InventoryFile.RowError>) => {
  const { sql, applyWorkMem, columns } = ctx
  return uninterruptibleSql(
    sql.withTransaction(
      Effect.gen(function* () {
        // Sorts and hashes over a million rows stay in memory instead of spilling to disk.
        yield* sql`SELECT set_config('work_mem', ${applyWorkMem}, true)`
        yield* sql`INSERT INTO seller_feeds (seller_id) VALUES (${sellerId}) ON CONFLICT (seller_id) DO NOTHING`
        // One upload at a time per seller is applied: the next waits here.
        yield* sql`SELECT seller_id FROM seller_feeds WHERE seller_id = ${sellerId} FOR UPDATE`
        // The last row for a listing id in the file is the one that counts; worked out once.
        yield* sql`
          CREATE TEMP TABLE upload_latest ON COMMIT DROP AS
          SELECT DISTINCT ON (listing_id) listing_id, isbn, price, coalesce(shipping, ${settings.shipping}) AS shipping,
                 coalesce(currency, ${currency}) AS currency, condition, binding, quantity
          FROM inventory_staging WHERE upload_id = ${uploadId} ORDER BY listing_id, line DESC`
        yield* sql`ANALYZE upload_latest`
        // Retired first (so a first snapshot has nothing to scan), counted in the database: a
        // million-row file must not come back as a million rows.
        let missing = 0
        if (mode === "snapshot") {
          const gone = yield* sql<{ count: string }>`
            WITH gone AS (
              DELETE FROM listings l
              WHERE l.seller_id = ${sellerId} AND l.source = 'feed'
                AND NOT EXISTS (SELECT 1 FROM upload_latest s WHERE s.listing_id = l.listing_id AND s.quantity > 0)
              RETURNING 1
            ) SELECT count(*) AS count FROM gone`
          missing = Number(gone[0]?.count ?? 0)
        }
        const [retired] = yield* sql<{ count: string }>`
          WITH gone AS (
            DELETE FROM listings l USING upload_latest s
            WHERE l.seller_id = ${sellerId} AND l.listing_id = s.listing_id AND s.quantity = 0
            RETURNING 1
          ) SELECT count(*) AS count FROM gone`
        // Only what changed is written: re-sending an unchanged inventory rewrites nothing (its
        // freshness is the feed's, `seller_feeds.last_upload_at`). A seller's first listings
        // are inserted plainly: ON CONFLICT's speculative insertion cost a quarter of that.
        // While the seller's feed row is locked nothing else inserts its listings but a pushed
        // price, whose id (`push:<isbn>`) no file may use (`ListingRules.pushListingPrefix`).
        const [known] = yield* sql<{ any: boolean }>`SELECT EXISTS (SELECT 1 FROM listings WHERE seller_id = ${sellerId}) AS any`
        if (known?.any === true) {
          yield* sql`
            WITH written AS (
              INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, binding, quantity, source, seen_at, fresh_until)
              SELECT ${sellerId}, s.listing_id, s.isbn, s.price, s.shipping, s.currency, s.condition, s.binding, s.quantity, 'feed', now(), NULL
              FROM upload_latest s WHERE s.quantity > 0
              ON CONFLICT (seller_id, listing_id) DO UPDATE SET isbn = excluded.isbn, price = excluded.price, shipping = excluded.shipping,
                currency = excluded.currency, condition = excluded.condition, binding = excluded.binding, quantity = excluded.quantity,
                source = 'feed', seen_at = excluded.seen_at, fresh_until = NULL
              WHERE (listings.isbn, listings.price, listings.shipping, listings.currency, listings.condition, listings.binding, listings.quantity, listings.source)
                IS DISTINCT FROM (excluded.isbn, excluded.price, excluded.shipping, excluded.currency, excluded.condition, excluded.binding, excluded.quantity, 'feed')
              RETURNING 1
            ) SELECT count(*) FROM written`
        } else {
          yield* sql`
            INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, binding, quantity, source, seen_at, fresh_until)
            SELECT ${sellerId}, s.listing_id, s.isbn, s.price, s.shipping, s.currency, s.condition, s.binding, s.quantity, 'feed', now(), NULL
            FROM upload_latest s WHERE s.quantity > 0`
        }
        const [stated] = yield* sql<{ count: string }>`SELECT count(*) AS count FROM upload_latest WHERE quantity > 0`
        yield* sql`
          UPDATE seller_feeds SET last_upload_at = now(), updated_at = now(),
            last_snapshot_at = ${mode === "snapshot" ? sql`now()` : sql`last_snapshot_at`}
          WHERE seller_id = ${sellerId}`
        // When it was applied (not when its transaction began: that may have waited for another upload).
        const [row] = yield* sql<UploadRow>`
          UPDATE inventory_uploads SET status = 'applied', rows_applied = ${Number(stated!.count)}, listings_retired = ${Number(retired!.count) + missing},
            errors = ${JSON.stringify(errors)}::jsonb, finished_at = clock_timestamp(), updated_at = now()
          WHERE id = ${uploadId} AND status = 'applying' RETURNING ${columns}`
        // Given up meanwhile (`recover` took this process for stopped): its refusal stands, and
        // nothing of this transaction is kept — it may have read the staged rows after they went.
        if (row === undefined) return yield* new UploadRefused({ reason: givenUp.applying, uploadId })
        return toStatus(row)
      })
    )
  )
}

/**
 * Applies a fully read upload: its listings and the books it describes side by side, then its
 * staged rows go. The books of a big file are the slowest part of its apply (their search
 * indexes), and the index does not need them to quote: they are left to finish after the
 * answer. Should the process stop before, the staged rows stay behind, and the books wait for
 * the next file that lists them.
 */
const apply = (ctx: UploadsContext, sellerId: string, uploadId: string, mode: UploadMode, currency: string, settings: FeedSettings, read: number, rejected: number, errors: ReadonlyArray<InventoryFile.RowError>) => {
  const { sql, booksInlineUpTo, booksWait, scope } = ctx
  return Effect.gen(function* () {
    // Outside the transaction, so that whoever follows the upload sees it; unless it was given
    // up while it was being read (no progress for `abandonedAfterMillis`).
    const applying = yield* uninterruptibleSql(sql<{ id: string }>`
      UPDATE inventory_uploads SET status = 'applying', rows_read = ${read}, rows_rejected = ${rejected}, updated_at = now()
      WHERE id = ${uploadId} AND status = 'receiving' RETURNING id`)
    if (applying.length === 0) return yield* new UploadRefused({ reason: givenUp.receiving, uploadId })
    // Only once both have read them.
    const cleared = uninterruptibleSql(sql`DELETE FROM inventory_staging WHERE upload_id = ${uploadId}`)
    const books = yield* Effect.forkIn(describeBooks(ctx, uploadId), scope)
    const listings = yield* applyListings(ctx, sellerId, uploadId, mode, currency, settings, errors)
    const afterwards = Effect.andThen(Fiber.join(books), cleared)
    const inBackground = Effect.suspend(() => {
      ctx.booksInBackground += 1
      return Effect.forkIn(
        Effect.catchCause(afterwards, (cause) => Effect.logError("inventory upload: describing its books failed", cause).pipe(Effect.annotateLogs({ uploadId }))).pipe(
          Effect.ensuring(Effect.sync(() => (ctx.booksInBackground -= 1)))
        ),
        scope
      )
    })
    // A small file's books are written before the answer, unless another upload's hold them
    // up: books this process is still writing in the background (a big file's) — then the
    // answer does not wait for them at all — or, after `booksWait`, another process's.
    const inline = read - rejected <= booksInlineUpTo && ctx.booksInBackground === 0
    const written = inline ? yield* Effect.timeoutOption(Fiber.await(books), booksWait) : Option.none()
    if (Option.isSome(written)) yield* afterwards
    else yield* inBackground
    return listings
  })
}

/** The upload could not be read: nothing of it is kept but the refusal. */
const refuse = (ctx: UploadsContext, uploadId: string | undefined, reason: string, read: number, rejected: number, errors: ReadonlyArray<InventoryFile.RowError>) => {
  const { sql } = ctx
  return uploadId === undefined
    ? Effect.void
    : uninterruptibleSql(
        Effect.andThen(
          sql`DELETE FROM inventory_staging WHERE upload_id = ${uploadId}`,
          sql`UPDATE inventory_uploads SET status = 'refused', refusal = ${reason}, rows_read = ${read}, rows_rejected = ${rejected},
                errors = ${JSON.stringify(errors)}::jsonb, finished_at = now(), updated_at = now()
              WHERE id = ${uploadId}`
        )
      ).pipe(Effect.asVoid)
}

/** Uploads whose server stopped while receiving them: refused, their staged rows removed. */
const clearAbandoned = (ctx: UploadsContext, sellerId: string) => {
  const { sql, abandonedAfter } = ctx
  return uninterruptibleSql(sql`
    WITH dead AS (
      UPDATE inventory_uploads SET status = 'refused', refusal = ${givenUp.receiving}, finished_at = now(), updated_at = now()
      WHERE seller_id = ${sellerId} AND status = 'receiving' AND updated_at < now() - make_interval(secs => ${abandonedAfter / 1000})
      RETURNING id
    ) DELETE FROM inventory_staging WHERE upload_id IN (SELECT id FROM dead)`)
}

const recover = (ctx: UploadsContext): Effect.Effect<RecoveryReport> => {
  const { sql, abandonedAfter } = ctx
  return Effect.gen(function* () {
    const stale = sql`now() - make_interval(secs => ${abandonedAfter / 1000})`
    // Still receiving or applying long after their last progress: their server stopped. An
    // apply is one transaction, so nothing of theirs is in the index.
    const dead = yield* uninterruptibleSql(sql<{ id: string }>`
      WITH dead AS (
        UPDATE inventory_uploads
        SET refusal = CASE status WHEN 'receiving' THEN ${givenUp.receiving} ELSE ${givenUp.applying} END,
            status = 'refused', finished_at = now(), updated_at = now()
        WHERE status IN ('receiving', 'applying') AND updated_at < ${stale}
        RETURNING id
      ), cleared AS (DELETE FROM inventory_staging WHERE upload_id IN (SELECT id FROM dead))
      SELECT id FROM dead`)
    // Uploads with staged rows left, found by skipping through the staging index (a few distinct
    // uploads, however many rows): applied ones whose server stopped before their books, and
    // refused ones whose rows were not all removed.
    const leftovers = yield* uninterruptibleSql(sql<{ id: string; status: UploadStatusName }>`
      WITH RECURSIVE staged (upload_id) AS (
        (SELECT upload_id FROM inventory_staging ORDER BY upload_id LIMIT 1)
        UNION ALL
        SELECT (SELECT s.upload_id FROM inventory_staging s WHERE s.upload_id > staged.upload_id ORDER BY s.upload_id LIMIT 1)
        FROM staged WHERE staged.upload_id IS NOT NULL
      )
      SELECT u.id, u.status FROM staged JOIN inventory_uploads u ON u.id = staged.upload_id
      WHERE u.status = 'refused' OR (u.status = 'applied' AND u.finished_at < ${stale})`)
    let booksWritten = 0
    for (const upload of leftovers) {
      if (upload.status === "applied") {
        yield* describeBooks(ctx, upload.id)
        booksWritten++
      }
      yield* uninterruptibleSql(sql`DELETE FROM inventory_staging WHERE upload_id = ${upload.id}`)
    }
    const report = { refused: dead.length, booksWritten, stagingCleared: leftovers.length }
    if (report.refused + report.stagingCleared > 0) yield* Effect.logWarning("inventory uploads left by a stopped server finished").pipe(Effect.annotateLogs(report))
    return report
  }).pipe(Effect.withSpan("InventoryUploads.recover"))
}

const upload = <E>(ctx: UploadsContext, sellerId: string, request: UploadOptions, body: Stream.Stream<Uint8Array, E>): Effect.Effect<UploadStatus, UploadRefused | E> => {
  const { sql, batchRows, maxErrors, index } = ctx
  return Effect.gen(function* () {
    const settings = yield* settingsOf(ctx, sellerId)
    const currency = request.currency ?? settings.currency
    if (currency === null) {
      return yield* new UploadRefused({
        reason: "the prices' currency is not known: set the feed's currency (PATCH /v1/sellers/me/inventory) or send ?currency= with the upload"
      })
    }
    yield* clearAbandoned(ctx, sellerId)
    const parser =
      request.format === "onix" ? OnixFile.parser({ defaultCurrency: currency }) : InventoryFile.parser(request.format, { defaultCurrency: currency })
    const state = { uploadId: undefined as string | undefined, rejected: 0, errors: [] as Array<InventoryFile.RowError>, pending: [] as Array<InventoryFile.ListingRow> }
    const started = Effect.gen(function* () {
      if (state.uploadId !== undefined) return state.uploadId
      const [row] = yield* orDie(sql<{ id: string }>`
        INSERT INTO inventory_uploads (seller_id, mode, format, source, status)
        VALUES (${sellerId}, ${request.mode}, ${request.format}, ${request.source ?? "upload"}, 'receiving') RETURNING id`)
      state.uploadId = row!.id
      return state.uploadId
    })
    const take = (parsed: InventoryFile.Parsed) => {
      for (const row of parsed.rows) state.pending.push(row)
      state.rejected += parsed.errors.length
      for (const error of parsed.errors) if (state.errors.length < maxErrors) state.errors.push(error)
    }
    // One batch is written while the next is read and parsed: at most two batches in memory.
    let inFlight: Fiber.Fiber<void> | undefined
    const settle = Effect.suspend(() => {
      const fiber = inFlight
      inFlight = undefined
      return fiber === undefined ? Effect.void : Fiber.join(fiber)
    })
    const flush = (force: boolean) =>
      Effect.gen(function* () {
        if (!force && state.pending.length < batchRows) return
        const uploadId = yield* started
        while (state.pending.length >= batchRows || (force && state.pending.length > 0)) {
          const batch = state.pending.splice(0, batchRows)
          yield* settle
          inFlight = yield* Effect.forkChild(Effect.asVoid(stage(ctx, uploadId, batch, parser.linesRead(), state.rejected)))
        }
        if (force) yield* settle
      })
    const readable = (step: () => InventoryFile.Parsed) =>
      Effect.try({
        try: step,
        catch: (error) =>
          error instanceof InventoryFile.FileRefused
            ? new UploadRefused({ reason: error.reason, ...(error.line === undefined ? {} : { line: error.line }) })
            : new UploadRefused({ reason: `the file could not be read: ${String(error)}` })
      })
    const read = Effect.gen(function* () {
      yield* Stream.runForEach(body, (chunk) => Effect.andThen(Effect.map(readable(() => parser.push(chunk)), take), flush(false)))
      take(yield* readable(() => parser.end()))
      yield* flush(true)
      return yield* started
    })
    const exit = yield* Effect.exit(read)
    if (Exit.isFailure(exit)) {
      // A batch still being written lands before the refusal clears the staged rows.
      yield* Effect.exit(settle)
      const refusal = Exit.findErrorOption(exit)
      const reason =
        refusal._tag === "Some" && refusal.value instanceof UploadRefused
          ? refusal.value.message
          : "the upload stopped before the file was complete"
      yield* refuse(ctx, state.uploadId, reason, parser.linesRead(), state.rejected, state.errors)
      if (refusal._tag === "Some" && refusal.value instanceof UploadRefused && state.uploadId !== undefined) {
        return yield* new UploadRefused({ reason: refusal.value.reason, ...(refusal.value.line === undefined ? {} : { line: refusal.value.line }), uploadId: state.uploadId })
      }
      return yield* Effect.failCause(exit.cause)
    }
    const applied = yield* apply(ctx, sellerId, exit.value, request.mode, currency, settings, parser.linesRead(), state.rejected, state.errors)
    if (index !== undefined) yield* index.changed
    return applied
  }).pipe(Effect.withSpan("InventoryUploads.upload", { attributes: { sellerId, mode: request.mode, format: request.format } }))
}

const status = (ctx: UploadsContext, sellerId: string, uploadId: string): Effect.Effect<UploadStatus, UploadNotFound> => {
  const { sql, columns } = ctx
  return Effect.gen(function* () {
    if (!isUuid(uploadId)) return yield* new UploadNotFound({ uploadId })
    const [row] = yield* orDie(sql<UploadRow>`SELECT ${columns} FROM inventory_uploads WHERE id = ${uploadId} AND seller_id = ${sellerId}`)
    if (row === undefined) return yield* new UploadNotFound({ uploadId })
    return toStatus(row)
  })
}

const uploads = (ctx: UploadsContext, sellerId: string, limit = 20): Effect.Effect<ReadonlyArray<UploadStatus>> => {
  const { sql, columns } = ctx
  return Effect.map(
    orDie(sql<UploadRow>`SELECT ${columns} FROM inventory_uploads WHERE seller_id = ${sellerId} ORDER BY created_at DESC, id LIMIT ${Math.max(1, Math.min(limit, 100))}`),
    (rows) => rows.map(toStatus)
  )
}

const summary = (ctx: UploadsContext, sellerId: string): Effect.Effect<InventorySummary> => {
  const { sql, feedColumnsSql } = ctx
  return Effect.gen(function* () {
    const [feed] = yield* orDie(sql<FeedRow & { fresh_until: Date | null; fresh: boolean }>`
      SELECT ${feedColumnsSql},
             last_upload_at + make_interval(secs => trust_seconds) AS fresh_until,
             coalesce(last_upload_at + make_interval(secs => trust_seconds) > now(), false) AS fresh
      FROM seller_feeds WHERE seller_id = ${sellerId}`)
    const [count] = yield* orDie(sql<{ count: string }>`SELECT count(*) AS count FROM listings WHERE seller_id = ${sellerId}`)
    const listings = Number(count?.count ?? 0)
    if (feed === undefined) {
      return { ...defaultSettings, listings, lastSnapshotAt: null, lastUploadAt: null, freshUntil: null, complete: false, pullState: { lastAt: null, nextAt: null, lastResult: null } }
    }
    return {
      ...toSettings(feed),
      listings,
      lastSnapshotAt: feed.last_snapshot_at,
      lastUploadAt: feed.last_upload_at,
      freshUntil: feed.fresh_until,
      complete: feed.fresh && feed.last_snapshot_at !== null,
      pullState: { lastAt: feed.pull_last_at, nextAt: feed.pull_next_at, lastResult: feed.pull_last_result }
    }
  })
}

const configure = (ctx: UploadsContext, sellerId: string, settings: Partial<FeedSettings>): Effect.Effect<InventorySummary> => {
  const { sql } = ctx
  const pull = settings.pull
  // A new pull setting is due at once; the validators of the last fetch belong to the old one.
  const pullColumns =
    pull === undefined
      ? sql``
      : sql`, pull = excluded.pull, pull_url = excluded.pull_url, pull_format = excluded.pull_format,
            pull_every_seconds = excluded.pull_every_seconds, pull_etag = NULL, pull_last_modified = NULL, pull_next_at = excluded.pull_next_at`
  return Effect.andThen(
    uninterruptibleSql(sql`
      INSERT INTO seller_feeds (seller_id, trust_seconds, currency, shipping, pull, pull_url, pull_format, pull_every_seconds, pull_next_at)
      VALUES (${sellerId}, ${settings.trustSeconds ?? defaultSettings.trustSeconds}, ${settings.currency ?? null}, ${settings.shipping ?? defaultSettings.shipping},
              ${pull === undefined || pull === null ? null : pull._tag === "Url" ? "url" : "adapter"},
              ${pull?._tag === "Url" ? pull.url : null}, ${pull?._tag === "Url" ? pull.format : null},
              ${pull === undefined || pull === null ? 3_600 : Math.max(minPullEverySeconds, pull.everySeconds)},
              ${pull === undefined || pull === null ? null : sql`now()`})
      ON CONFLICT (seller_id) DO UPDATE SET
        trust_seconds = ${settings.trustSeconds === undefined ? sql`seller_feeds.trust_seconds` : sql`excluded.trust_seconds`},
        currency = ${settings.currency === undefined ? sql`seller_feeds.currency` : sql`excluded.currency`},
        shipping = ${settings.shipping === undefined ? sql`seller_feeds.shipping` : sql`excluded.shipping`},
        updated_at = now() ${pullColumns}`),
    summary(ctx, sellerId)
  )
}

export const make = (options: InventoryUploadsOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const ctx: UploadsContext = {
      sql,
      staging: yield* StagingCopy.make((yield* PgClient.PgClient).config, { maxConnections: options.stagingConnections ?? 4 }),
      batchRows: options.batchRows ?? 5_000,
      maxErrors: options.maxErrors ?? 100,
      abandonedAfter: options.abandonedAfterMillis ?? 600_000,
      applyWorkMem: options.applyWorkMem ?? "128MB",
      booksInlineUpTo: options.booksInlineUpToRows ?? 50_000,
      booksWait: Duration.millis(options.booksWaitMillis ?? 2_000),
      booksInBackground: 0,
      scope: yield* Scope.Scope,
      columns: sql.literal(uploadColumns),
      feedColumnsSql: sql.literal(feedColumns),
      index: Option.getOrUndefined(yield* Effect.serviceOption(OfferIndex))
    }
    const recoverEvery = options.recoverEveryMillis ?? 300_000
    if (recoverEvery > 0) {
      yield* Effect.forkIn(
        recover(ctx).pipe(
          Effect.catchCause((cause) => Effect.logError("inventory uploads: finishing what a stopped server left failed", cause)),
          Effect.repeat(Schedule.spaced(recoverEvery))
        ),
        ctx.scope
      )
    }
    const service: InventoryUploadsService = {
      upload: (sellerId, request, body) => upload(ctx, sellerId, request, body),
      status: (sellerId, uploadId) => status(ctx, sellerId, uploadId),
      uploads: (sellerId, limit) => uploads(ctx, sellerId, limit),
      summary: (sellerId) => summary(ctx, sellerId),
      configure: (sellerId, settings) => configure(ctx, sellerId, settings),
      recover: recover(ctx)
    }
    return service
  })

export const layer = (options: InventoryUploadsOptions = {}): Layer.Layer<InventoryUploads, never, SqlClient.SqlClient | PgClient.PgClient> =>
  Layer.effect(InventoryUploads, make(options))
