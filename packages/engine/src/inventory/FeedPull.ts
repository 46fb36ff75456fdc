/**
 * Feeds bookbroker fetches itself, on a schedule, for sellers who would rather publish their
 * inventory than upload it:
 * - **a URL**: the inventory file (the upload's formats: TSV, JSON Lines or ONIX for Books — as
 *   registered, else as its Content-Type says), fetched with a conditional GET (the last ETag /
 *   Last-Modified): `304 Not Modified` keeps the feed fresh without reading it again; a new file
 *   is applied as a snapshot, like an upload. The URL is someone else's say-so: it is
 *   checked against the outbound policy when it is set and at every connect, after DNS.
 * - **the adapter**: a platform adapter that can list the seller's products (the contract's
 *   optional `inventory` operation) is walked page by page, each page within the seller's shared
 *   limits, and the listings applied as a snapshot.
 * Either way the result goes through `InventoryUploads` (it shows among the seller's uploads,
 * with `source` url / adapter), and what the last fetch came to is kept on the feed. A fetch that
 * fails changes nothing: the feed simply ages, and once stale its seller is asked live again.
 *
 * Due feeds are claimed with `FOR UPDATE SKIP LOCKED`, so any number of processes may run this:
 * each feed is fetched by one of them, at most once per its interval (never more often than
 * `InventoryUploads.minPullEverySeconds`).
 */
import { type Contract, Money } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import { Cause, Context, Effect, Layer, Option, Result, Schedule, Stream } from "effect"
import { Agent, request } from "undici"
import { admittedCall } from "../sellers/SellerCall.js"
import { orDie, uninterruptibleSql } from "../internal/sql.js"
import * as OutboundAddress from "../outbound/OutboundAddress.js"
import { SellerDirectory } from "../sellers/SellerDirectory.js"
import { SellerPool } from "../sellers/SellerPool.js"
import { SharedState } from "../state/SharedState.js"
import { InventoryUploads, type UploadFormat } from "./InventoryUploads.js"

export interface FeedPullOptions {
  /** Feeds fetched at once per run; default 2. */
  readonly batchSize?: number
  /** How long the feed's server may take to start answering; default 30 s. */
  readonly headersTimeoutMillis?: number
  /** Longest pause in the file's bytes; default 60 s. */
  readonly bodyTimeoutMillis?: number
  /** Listings asked per adapter page; default 500. */
  readonly pageSize?: number
  /** Most adapter pages walked per fetch; default 20,000 (10 million listings). */
  readonly maxPages?: number
}

export interface RunningFeedPullOptions extends FeedPullOptions {
  /** Pause between looks for due feeds; default 30 s. */
  readonly intervalMillis?: number
}

export interface FeedPullService {
  /** Fetches the feeds due now (at most `batchSize`); returns how many it fetched. */
  readonly runOnce: Effect.Effect<number>
}

export class FeedPull extends Context.Service<FeedPull, FeedPullService>()("@bookbroker/engine/FeedPull") {}

interface DueRow {
  readonly seller_id: string
  readonly pull: "url" | "adapter"
  readonly pull_url: string | null
  readonly pull_format: UploadFormat | null
  readonly pull_etag: string | null
  readonly pull_last_modified: string | null
}

/** What a fetch came to, and the validators to send next time. */
interface Fetched {
  readonly result: string
  readonly etag?: string | null
  readonly lastModified?: string | null
  /** The feed is current as of now without a new file (304). */
  readonly unchanged?: boolean
}

/**
 * The file's format when the seller registered none: JSON Lines or XML (taken for ONIX: the one XML
 * format bookbroker reads, so `application/xml`, `text/xml` and any `…+xml` such as
 * `application/onix+xml`) by their media types, anything else TSV.
 */
const formatOfType = (contentType: string | undefined): UploadFormat => {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase()
  if (/^(application\/(jsonl|x-ndjson|json-lines)|text\/jsonl)/.test(type)) return "jsonl"
  if (/^(application|text)\/(xml|[^/]+\+xml)$/.test(type)) return "onix"
  return "tsv"
}

const header = (value: string | ReadonlyArray<string> | undefined): string | null => (typeof value === "string" ? value : (value?.[0] ?? null))

/** An adapter's listing as a JSON Lines row of the upload format: the same parser checks it. */
const listingLine = (listing: Contract.InventoryListing): string =>
  JSON.stringify({
    listingid: listing.listingId,
    isbn: listing.isbn,
    price: Money.toDecimal(listing.price),
    ...(listing.shipping === null ? {} : { shipping: Money.toDecimal(listing.shipping) }),
    currency: listing.price.currency,
    // The upload format's ceiling (AbeBooks': 999 a listing); more is still "in stock".
    quantity: Math.min(listing.quantity, 999),
    bookcondition: listing.condition,
    ...(listing.title == null ? {} : { title: listing.title }),
    ...(listing.author == null ? {} : { author: listing.author }),
    ...(listing.publisher == null ? {} : { publishername: listing.publisher })
  }) + "\n"

export const make = (options: FeedPullOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const uploads = yield* InventoryUploads
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState
    const outbound = yield* OutboundAddress.OutboundPolicy
    const batchSize = options.batchSize ?? 2
    const pageSize = options.pageSize ?? 500
    const maxPages = options.maxPages ?? 20_000
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => new Agent({ connections: 4, connect: OutboundAddress.guardedConnector(outbound) })),
      (dispatcher) => Effect.promise(() => dispatcher.close())
    )
    const encoder = new TextEncoder()

    const applied = (status: { readonly status: string; readonly rowsApplied: number | null; readonly rowsRejected: number; readonly listingsRetired: number | null }) =>
      `applied: ${status.rowsApplied ?? 0} listings, ${status.rowsRejected} rows rejected, ${status.listingsRetired ?? 0} retired`

    const fromUrl = (row: DueRow): Effect.Effect<Fetched> =>
      Effect.gen(function* () {
        const checked = OutboundAddress.checkUrl(row.pull_url ?? "", outbound)
        if (checked._tag === "Refused") return { result: `failed: the feed URL ${checked.reason}` }
        const headers: Record<string, string> = { accept: "text/tab-separated-values, application/jsonl, application/xml, text/xml, text/plain;q=0.5, */*;q=0.1" }
        if (row.pull_etag !== null) headers["if-none-match"] = row.pull_etag
        if (row.pull_last_modified !== null) headers["if-modified-since"] = row.pull_last_modified
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            request(row.pull_url!, {
              method: "GET",
              headers,
              dispatcher: agent,
              signal,
              headersTimeout: options.headersTimeoutMillis ?? 30_000,
              // undici follows no redirect: a feed that moved answers 3xx and the fetch fails, so
              // the only address fetched is the one checked.
              bodyTimeout: options.bodyTimeoutMillis ?? 60_000
            }),
          catch: (error) => error
        }).pipe(Effect.result)
        if (Result.isFailure(response)) {
          const error = response.failure
          return { result: `failed: ${error instanceof OutboundAddress.AddressNotAllowed ? error.message : error instanceof Error ? error.message : String(error)}` }
        }
        const reply = response.success
        if (reply.statusCode === 304) {
          yield* Effect.promise(() => reply.body.dump())
          return { result: "not modified", unchanged: true }
        }
        if (reply.statusCode !== 200) {
          yield* Effect.promise(() => reply.body.dump())
          return { result: `failed: the feed URL answered HTTP ${reply.statusCode}` }
        }
        const format = row.pull_format ?? formatOfType(header(reply.headers["content-type"]) ?? undefined)
        const body = Stream.fromAsyncIterable(reply.body as AsyncIterable<Uint8Array>, (error) => error)
        const outcome = yield* Effect.result(uploads.upload(row.seller_id, { mode: "snapshot", format, source: "url" }, body))
        if (Result.isFailure(outcome)) {
          yield* Effect.promise(() => reply.body.dump()).pipe(Effect.ignore)
          const error = outcome.failure
          return { result: `failed: ${error instanceof Error ? error.message : String(error)}` }
        }
        return { result: applied(outcome.success), etag: header(reply.headers["etag"]), lastModified: header(reply.headers["last-modified"]) }
      })

    const fromAdapter = (row: DueRow): Effect.Effect<Fetched> =>
      Effect.gen(function* () {
        const seller = yield* Effect.option(directory.get(row.seller_id))
        if (Option.isNone(seller)) return { result: "failed: the seller is gone" }
        const client = yield* Effect.result(pool.client(seller.value))
        if (Result.isFailure(client)) return { result: `failed: ${client.failure.detail}` }
        if (!client.success.capabilities.inventory) return { result: `failed: the ${seller.value.kind} adapter cannot list a seller's inventory` }
        // Page after page, each within the seller's shared limits; the lines go through the upload's parser.
        const pages = Stream.paginate(null as string | null, (cursor) =>
          Effect.gen(function* () {
            const answer = yield* admittedCall(state, client.success, client.success.inventory({ cursor, pageSize }), 30_000)
            if (answer._tag === "Denied") return yield* Effect.fail(`the seller's limits had no room (${answer.reason})`)
            if (Result.isFailure(answer)) return yield* Effect.fail(answer.failure.message)
            const page = answer.success
            const bytes = encoder.encode(page.listings.map(listingLine).join(""))
            return [[bytes], Option.fromNullishOr(page.nextCursor)] as const
          })
        ).pipe(Stream.take(maxPages))
        const outcome = yield* Effect.result(uploads.upload(row.seller_id, { mode: "snapshot", format: "jsonl", source: "adapter" }, pages))
        if (Result.isFailure(outcome)) {
          const error = outcome.failure
          return { result: `failed: ${typeof error === "string" ? error : error.message}` }
        }
        return { result: applied(outcome.success) }
      })

    const fetchOne = (row: DueRow) =>
      Effect.gen(function* () {
        const fetched = yield* (row.pull === "url" ? fromUrl(row) : fromAdapter(row)).pipe(
          Effect.catchCause((cause) => Effect.succeed<Fetched>({ result: `failed: ${Cause.pretty(cause).split("\n")[0]}` }))
        )
        yield* uninterruptibleSql(sql`
          UPDATE seller_feeds SET pull_last_at = now(), pull_last_result = ${fetched.result.slice(0, 500)}, updated_at = now()
            ${fetched.etag === undefined ? sql`` : sql`, pull_etag = ${fetched.etag}, pull_last_modified = ${fetched.lastModified ?? null}`}
            ${fetched.unchanged === true ? sql`, last_upload_at = CASE WHEN last_snapshot_at IS NULL THEN last_upload_at ELSE now() END` : sql``}
          WHERE seller_id = ${row.seller_id}`)
        yield* Effect.logInfo("inventory feed fetched").pipe(Effect.annotateLogs({ sellerId: row.seller_id, pull: row.pull, result: fetched.result }))
      }).pipe(Effect.withSpan("FeedPull.fetch", { attributes: { sellerId: row.seller_id, pull: row.pull } }))

    const runOnce: Effect.Effect<number> = Effect.gen(function* () {
      const due = yield* orDie(sql<DueRow>`
        UPDATE seller_feeds f SET pull_next_at = now() + make_interval(secs => f.pull_every_seconds)
        WHERE f.seller_id IN (
          SELECT d.seller_id FROM seller_feeds d JOIN sellers s ON s.id = d.seller_id
          WHERE d.pull IS NOT NULL AND d.pull_next_at <= now() AND s.status = 'active'
          ORDER BY d.pull_next_at LIMIT ${batchSize}
          FOR UPDATE OF d SKIP LOCKED)
        RETURNING f.seller_id, f.pull, f.pull_url, f.pull_format, f.pull_etag, f.pull_last_modified`)
      yield* Effect.forEach(due, fetchOne, { concurrency: batchSize, discard: true })
      return due.length
    })

    return { runOnce } satisfies FeedPullService
  })

export const layer = (options: FeedPullOptions = {}) => Layer.effect(FeedPull, make(options))

/** Looks for due feeds every `intervalMillis` (30 s) for as long as the layer lives. */
export const layerRunning = (options: RunningFeedPullOptions = {}) =>
  Layer.effect(
    FeedPull,
    Effect.tap(make(options), (pull) =>
      Effect.forkScoped(
        pull.runOnce.pipe(
          Effect.catchCause((cause) => Effect.logError("inventory feeds: a run failed", cause)),
          Effect.repeat(Schedule.spaced(options.intervalMillis ?? 30_000))
        )
      )
    )
  )
