/**
 * Watching wants (`purchases/WantPolicy.ts`): the job that wakes them when a copy is found and
 * ends them at their `wait_until`. A watching want holds no authorization and no worker runs it;
 * each run of this job, in one statement each:
 *
 * 1. **expires** the wants whose `wait_until` has passed (`expired`, with its webhook);
 * 2. **wakes** the wants a listing matches — fresh in the offer index, in the want's currency,
 *    within its maximum, stated since the want last looked, from a seller not tried for it yet
 *    (or tried without any purchase sent, before the copy was stated: `AttemptReuse`) —
 *    first come, first served: per ISBN the oldest wants first, no more of them than the copies
 *    listed. A woken want goes back to `received` in a new round (new payment keys, its whole
 *    answer time) and runs the normal purchase flow: authorize, confirm live, buy — or watch again;
 * 3. **looks live**, for sellers without feeds, at the wants due for it (every
 *    `PipelineOptions.wantRecheckMillis`, 1 h by default, a few per run): one fan-out each, and
 *    the want is woken when an offer within its maximum comes from a seller not tried for it
 *    (the same exception).
 *
 * Waking and cancelling (`Purchases.cancel`) both require the want watching and not held by
 * anyone: the row lock orders them, so exactly one wins. Any number of processes may run this:
 * due wants are claimed with `FOR UPDATE SKIP LOCKED`.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Option, Schedule } from "effect"
import * as Conversion from "../exchange/Conversion.js"
import * as ConversionSql from "../exchange/ConversionSql.js"
import { ExchangeRates } from "../exchange/ExchangeRates.js"
import { Decode, movedFromWatching, type RequestRow } from "../purchases/store/PurchaseStore.js"
import { orDie } from "../internal/sql.js"
import { signalWork } from "../purchases/workSignal.js"
import * as AttemptReuse from "../purchases/AttemptReuse.js"
import { PurchasePipeline } from "../purchases/PurchasePipeline.js"
import { QuoteEngine } from "../quotes/QuoteEngine.js"

export interface WantsOptions {
  /** Wants looked at live per run; default 8. */
  readonly liveLooksPerRun?: number
  /** Wants woken per run at most; default 500. */
  readonly wakePerRun?: number
  /** A live look's fan-out deadline; default 10 s. */
  readonly lookDeadlineMillis?: number
}

export interface RunningWantsOptions extends WantsOptions {
  /** Pause between runs; default 5 s. */
  readonly intervalMillis?: number
}

/** What one run did. */
export interface WantsRun {
  readonly expired: number
  /** Woken by a listing in the offer index. */
  readonly woken: number
  /** Looked at live, and of those woken. */
  readonly looked: number
  readonly foundLive: number
}

export interface WantsService {
  readonly runOnce: Effect.Effect<WantsRun>
}

export class Wants extends Context.Service<Wants, WantsService>()("@bookbroker/engine/Wants") {}

/** A want nobody holds right now (no worker, sweeper or reconciler). */
const free = "(r.lease_expires_at IS NULL OR r.lease_expires_at < now())"

/** What each part of a run works with. */
interface WantsContext {
  readonly sql: SqlClient.SqlClient
  readonly quoteEngine: QuoteEngine["Service"]
  /** The operator's exchange rates now, when configured. */
  readonly pricing: Effect.Effect<Conversion.Pricing | undefined>
  readonly recheckMillis: number
  readonly liveLooksPerRun: number
  readonly wakePerRun: number
  readonly lookDeadlineMillis: number
}

/**
 * A listing's total against the want's maximum: in the want's currency, or converted at the
 * current rates (units per base, minor digits apart, plus the margin; rounded half up as
 * `Conversion.convertAmount`). A wake is only a reason to look again: the woken round prices
 * its offers itself, so the SQL's numeric division need not match to the last digit.
 */
const withinMax = (sql: SqlClient.SqlClient, rates: Conversion.Pricing | undefined) =>
  rates === undefined
    ? sql`l.currency = btrim(r.currency) AND l.price + l.shipping <= r.max_amount`
    : sql`${ConversionSql.convertedSql(sql, rates, sql`(l.price + l.shipping)`, sql`l.currency`, sql`btrim(r.currency)`)} <= r.max_amount`

/** 1. Ends the wants whose `wait_until` has passed (`expired`, with its webhook); how many. */
const expire = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ n: number }>`
      WITH req AS (
        UPDATE purchase_requests r SET
          status = 'expired', reason = 'wait_until_passed: no copy within the maximum was found in time',
          payment_token = NULL, waiting = NULL, completed_at = now(), next_run_at = now(), updated_at = now(), fence = r.fence + 1
        WHERE r.id IN (
          SELECT r.id FROM purchase_requests r
          WHERE r.status = 'watching' AND r.wait_until <= now() AND ${sql.literal(free)}
          ORDER BY r.wait_until LIMIT 1000
          FOR UPDATE SKIP LOCKED)
        RETURNING r.*
      ), ${movedFromWatching(sql, "expired", "wants")}
      SELECT count(*)::int AS n FROM req`,
    (rows) => rows[0]?.n ?? 0
  )

/**
 * Back to `received` in a new round, with `reason` on the request (and its webhook) until the
 * round moves on; only wants still watching, still before their `wait_until`, held by nobody.
 */
const reopen = (sql: SqlClient.SqlClient, ids: ReadonlyArray<string>, reason: string) =>
  Effect.gen(function* () {
    if (ids.length === 0) return 0
    const [row] = yield* sql<{ n: number }>`
      WITH req AS (
        UPDATE purchase_requests r SET
          status = 'received', round = r.round + 1, reason = ${reason}, counter_offer = NULL, quote_progress = NULL, waiting = NULL,
          round_started_at = now(), next_run_at = now(), updated_at = now(), fence = r.fence + 1
        WHERE r.id = ANY(${ids}::uuid[]) AND r.status = 'watching' AND r.wait_until > now() AND ${sql.literal(free)}
        RETURNING r.*
      ), ${movedFromWatching(sql, "received", "wants")}
      SELECT count(*)::int AS n FROM req`
    const n = row?.n ?? 0
    if (n > 0) yield* signalWork(sql)
    return n
  })

/**
 * 2. Wakes the wants a listing matches, first come first served: per ISBN the oldest first, no
 * more of them than the copies listed within their maximum (a want's `nth` among the ISBN's
 * matching wants must not exceed its copies). "Since the want last looked" is its
 * `updated_at`, less a minute for a listing stated while its round was quoting.
 */
const wakeListed = ({ sql, pricing, wakePerRun }: WantsContext) =>
  Effect.gen(function* () {
    const rates = yield* pricing
    const rows = yield* sql<{ id: string }>`
      WITH matching AS (
        SELECT r.id, r.isbn, r.created_at, copies.n AS copies
        FROM purchase_requests r
        CROSS JOIN LATERAL (
          SELECT coalesce(sum(l.quantity), 0) AS n FROM fresh_listings l
          WHERE l.isbn = r.isbn AND ${withinMax(sql, rates)}
            AND l.seen_at > r.updated_at - interval '1 minute'
            -- A seller tried for the want is a match again only when nothing was sent to it and the copy was stated after (AttemptReuse).
            AND NOT EXISTS (
              SELECT 1 FROM purchase_attempts a WHERE a.request_id = r.id AND a.seller_id = l.seller_id
                AND NOT (${sql.literal(AttemptReuse.reusable("a"))} AND a.updated_at < l.seen_at))
        ) AS copies
        WHERE r.status = 'watching' AND r.wait_until > now() AND ${sql.literal(free)}
      ), ranked AS (
        SELECT id, copies, row_number() OVER (PARTITION BY isbn ORDER BY created_at, id) AS nth
        FROM matching WHERE copies > 0
      )
      SELECT id FROM ranked WHERE nth <= copies ORDER BY nth LIMIT ${wakePerRun}`
    return yield* reopen(
      sql,
      rows.map((row) => row.id),
      "copy_listed: a seller listed a copy within the maximum"
    )
  })

type Due = Pick<RequestRow, "id" | "isbn" | "currency" | "max_amount" | "customer_id">

/** Claims the wants due for a live look (their next one set first, so no other process takes them). */
const claimDue = ({ sql, recheckMillis, liveLooksPerRun }: WantsContext) =>
  Effect.map(
    sql<Decode.StoredRequest<Due>>`
      UPDATE purchase_requests r SET
        next_run_at = least(now() + ${recheckMillis} * interval '1 millisecond', r.wait_until), updated_at = now()
      WHERE r.id IN (
        SELECT r.id FROM purchase_requests r
        WHERE r.status = 'watching' AND r.next_run_at <= now() AND r.wait_until > now() AND ${sql.literal(free)}
        ORDER BY r.next_run_at LIMIT ${liveLooksPerRun}
        FOR UPDATE SKIP LOCKED)
      RETURNING r.id, r.isbn, r.currency, r.max_amount, r.customer_id`,
    Decode.each(Decode.request<Due>)
  )

/** One want's live look: woken when a seller not tried for it offers a copy within its maximum. */
const lookAt = ({ sql, quoteEngine, pricing, lookDeadlineMillis }: WantsContext, want: Due) =>
  Effect.gen(function* () {
    const rates = yield* pricing
    const book = yield* quoteEngine.quotes(want.isbn as Isbn.Isbn13, {
      currency: want.currency,
      tenant: want.customer_id,
      deadlineMillis: lookDeadlineMillis,
      ...(rates === undefined ? {} : { convert: Conversion.make(want.currency, null, rates).convert })
    })
    // Sellers not to ask for it again: those a purchase may have been sent to (AttemptReuse).
    const attempts = yield* sql<{ seller_id: string; status: string; tries: number; first_sent_at: Date | null; last_sent_at: Date | null; reason: string | null }>`
      SELECT seller_id, status, tries, first_sent_at, last_sent_at, reason FROM purchase_attempts WHERE request_id = ${want.id}`
    const tried = new Set(attempts.filter((attempt) => !AttemptReuse.isReusable(attempt)).map((attempt) => attempt.seller_id))
    const within = book.offers.filter((offer) => offer.total.amount <= want.max_amount && !tried.has(offer.sellerId))
    if (within.length === 0) return 0
    return yield* reopen(sql, [want.id], `copy_found: ${within.length} seller${within.length === 1 ? "" : "s"} offered a copy within the maximum`)
  })

/** 3. Looks live at the wants due for it, a few at once. */
const lookLive = (ctx: WantsContext) =>
  Effect.gen(function* () {
    const due = yield* claimDue(ctx)
    const found = yield* Effect.forEach(due, (want) => lookAt(ctx, want), { concurrency: ctx.liveLooksPerRun })
    return { looked: due.length, foundLive: found.reduce((sum, n) => sum + n, 0) }
  })

export const make = (options: WantsOptions = {}) =>
  Effect.gen(function* () {
    const pipeline = yield* PurchasePipeline
    // Optional: with the operator's rates, a copy listed in another currency wakes a want it is within the maximum of, converted.
    const exchangeRates = Option.getOrUndefined(yield* Effect.serviceOption(ExchangeRates))
    const ctx: WantsContext = {
      sql: yield* SqlClient.SqlClient,
      quoteEngine: yield* QuoteEngine,
      pricing: exchangeRates === undefined ? Effect.succeed(undefined) : exchangeRates.pricing,
      recheckMillis: pipeline.wantRecheckMillis,
      liveLooksPerRun: options.liveLooksPerRun ?? 8,
      wakePerRun: options.wakePerRun ?? 500,
      lookDeadlineMillis: options.lookDeadlineMillis ?? 10_000
    }

    const runOnce: Effect.Effect<WantsRun> = Effect.gen(function* () {
      const expired = yield* orDie(expire(ctx.sql))
      const woken = yield* orDie(wakeListed(ctx))
      const live = yield* orDie(lookLive(ctx))
      return { expired, woken, ...live }
    }).pipe(Effect.withSpan("Wants.runOnce"))

    return { runOnce } satisfies WantsService
  })

export const layer = (options: WantsOptions = {}) => Layer.effect(Wants, make(options))

/** Runs every `intervalMillis` (5 s) for as long as the layer lives. */
export const layerRunning = (options: RunningWantsOptions = {}) =>
  Layer.effect(
    Wants,
    Effect.tap(make(options), (wants) =>
      Effect.forkScoped(
        wants.runOnce.pipe(
          Effect.catchCause((cause) => Effect.logError("wants: a run failed", cause)),
          Effect.repeat(Schedule.spaced(options.intervalMillis ?? 5_000))
        )
      )
    )
  )
