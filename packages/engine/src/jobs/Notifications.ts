/**
 * The outbox dispatcher: every event the pipeline wrote to `outbox` in the same transaction as
 * the state change it reports is delivered to the request's `notify_url` as a Standard Webhooks
 * POST (https://www.standardwebhooks.com): headers `webhook-id` (`msg_{outbox id}`, the same on
 * every retry so receivers can drop duplicates), `webhook-timestamp` and `webhook-signature`
 * (HMAC-SHA256 with the `whsec_…` secret), body `{ type, timestamp, data }` — the same bytes on
 * every retry.
 *
 * Delivery is at least once. Rows are claimed with `FOR UPDATE SKIP LOCKED`, and the claim
 * itself counts the attempt and moves `next_attempt_at` past the request's timeout, so any
 * number of dispatchers in any number of processes share the outbox without sending one row
 * twice; a dispatcher that dies mid-send leaves its rows to be retried once the claim runs out.
 * A 2xx answer marks the row delivered; anything else (other statuses, redirects — never
 * followed —, timeouts, connection errors) is retried with exponential backoff until
 * `maxAttempts`, after which the row stays undelivered with its `last_error`. Rows without a
 * `notify_url` have nothing to send and are marked delivered when claimed; a URL that is not
 * http(s) is refused for good (`last_error` says why, never retried). Given-up and refused rows
 * keep `delivered_at` NULL and get `next_attempt_at = 'infinity'`; to send one again, set its
 * `attempts` to 0 and `next_attempt_at` to now().
 *
 * Events of one request are not ordered against each other across retries: receivers should
 * order by `timestamp` (or the `status` in `data`), and deduplicate by `webhook-id`.
 */
import { SqlClient } from "effect/sql"
import { randomBytes } from "node:crypto"
import { Context, Effect, Layer, Redacted, Schema, type Scope } from "effect"
import { Webhook } from "standardwebhooks"
import { Agent, request } from "undici"
import { orDie } from "../internal/sql.js"
import * as OutboundAddress from "../outbound/OutboundAddress.js"

export interface NotificationsOptions {
  /** The signing secret, `whsec_` + base64 (see `generateSecret`). */
  readonly secret: Redacted.Redacted<string>
  /** Rows claimed per run. Default 32. */
  readonly batchSize?: number
  /** Attempts before a row is given up (left undelivered with its last error). Default 12. */
  readonly maxAttempts?: number
  /** Whole-request timeout (connect, headers, body). Default 10 s. */
  readonly timeoutMillis?: number
  /** Sleep when nothing is due. Default 1 s. */
  readonly pollMillis?: number
  /** Wait after the first failed attempt; doubled each time (±25 % jitter). Default 10 s. */
  readonly retryBaseMillis?: number
  /** Longest wait between attempts. Default 6 h. */
  readonly retryMaxMillis?: number
}

export interface NotificationsService {
  /** Claims the due rows (up to `batchSize`), delivers them, and returns how many it handled. */
  readonly runOnce: Effect.Effect<number>
  /** Dispatches until interrupted. */
  readonly run: Effect.Effect<never>
}

export class Notifications extends Context.Service<Notifications, NotificationsService>()("@bookbroker/engine/Notifications") {}

export class InvalidWebhookSecret extends Schema.TaggedError<InvalidWebhookSecret>()("InvalidWebhookSecret", { detail: Schema.String }) {
  override get message(): string {
    return `the webhook signing secret is not usable (${this.detail}); expected "whsec_" followed by base64, e.g. from Notifications.generateSecret()`
  }
}

/** A fresh signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export const generateSecret = (): string => `whsec_${randomBytes(32).toString("base64")}`

interface OutboxRow {
  readonly id: string
  readonly request_id: string
  readonly event: string
  readonly payload: unknown
  readonly notify_url: string | null
  readonly attempts: number
  readonly created_at: Date
}

export type Delivery = { readonly _tag: "Delivered" } | { readonly _tag: "Failed"; readonly error: string } | { readonly _tag: "Refused"; readonly error: string }

/** Only public http(s) URLs (or the networks the operator allowed) are ever called; the reason otherwise. */
const refusal = (notifyUrl: string, policy: OutboundAddress.OutboundPolicyService): string | undefined => {
  const checked = OutboundAddress.checkUrl(notifyUrl, policy)
  return checked._tag === "Allowed" ? undefined : `notify_url ${JSON.stringify(notifyUrl.slice(0, 200))} ${checked.reason}; refused, never retried`
}

/** What delivering and settling work with. */
interface Dispatcher {
  readonly sql: SqlClient.SqlClient
  readonly outbound: OutboundAddress.OutboundPolicyService
  readonly webhook: Webhook
  /** Our own connection pool: no interceptors (so never a redirect followed), bounded timeouts. */
  readonly agent: Agent
  readonly timeoutMillis: number
  readonly maxAttempts: number
  readonly retryBaseMillis: number
  readonly retryMaxMillis: number
}

/** The wait before the next attempt after `attempts` failed ones: doubled each time up to the maximum, ±25 % jitter. */
export const retryDelay = (attempts: number, baseMillis: number, maxMillis: number, random: number = Math.random()): number => {
  const delay = Math.min(maxMillis, baseMillis * 2 ** Math.min(Math.max(attempts - 1, 0), 30))
  return Math.round(delay * (0.75 + random * 0.5))
}

/** What a receiver's answer means: a 2xx delivers; a redirect (never followed) or any other status is a failed attempt. */
export const answered = (status: number, location: string | ReadonlyArray<string> | undefined): Delivery => {
  if (status >= 200 && status < 300) return { _tag: "Delivered" }
  if (status >= 300 && status < 400) {
    return {
      _tag: "Failed",
      error: `HTTP ${status} redirect${location === undefined ? "" : ` to ${String(location)}`}: redirects are not followed, the notify_url must answer 2xx itself`
    }
  }
  return { _tag: "Failed", error: `HTTP ${status} from the receiver` }
}

/** One signed POST of `row` to `url`; a thrown error or a timeout is a failed attempt, never an error. */
const send = ({ webhook, agent, timeoutMillis }: Dispatcher, row: OutboxRow, url: string): Effect.Effect<Delivery> =>
  Effect.tryPromise({
    try: async (signal) => {
      const body = JSON.stringify({ type: row.event, timestamp: row.created_at.toISOString(), data: row.payload })
      const msgId = `msg_${row.id}`
      const now = new Date()
      const response = await request(url, {
        method: "POST",
        dispatcher: agent,
        headers: {
          "content-type": "application/json",
          "user-agent": "bookbroker-webhooks/1",
          "webhook-id": msgId,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1_000)),
          "webhook-signature": webhook.sign(msgId, now, body)
        },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMillis)]),
        headersTimeout: timeoutMillis,
        bodyTimeout: timeoutMillis
      })
      await response.body.dump().catch(() => undefined)
      return answered(response.statusCode, response.headers["location"])
    },
    catch: (error) => error
  }).pipe(
    Effect.catch((error) =>
      Effect.succeed<Delivery>({
        _tag: "Failed",
        error:
          error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError" || /timeout/i.test(error.name))
            ? `no answer within ${timeoutMillis} ms (${error.message})`
            : `request failed: ${error instanceof Error ? `${error.message}${"code" in error && typeof error.code === "string" ? ` (${error.code})` : ""}` : String(error)}`
      })
    ),
    Effect.withSpan("Notifications.deliver", { attributes: { "outbox.id": row.id, "purchase.request_id": row.request_id, "outbox.event": row.event } })
  )

/** Stores the outcome of one attempt; a failed one only if the row is still ours (not claimed again since). */
const settle = ({ sql, maxAttempts, retryBaseMillis, retryMaxMillis }: Dispatcher, row: OutboxRow, delivery: Delivery) => {
  switch (delivery._tag) {
    case "Delivered":
      return sql`UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE id = ${row.id} AND delivered_at IS NULL`
    case "Refused":
      return sql`
        UPDATE outbox SET last_error = ${delivery.error}, next_attempt_at = 'infinity'
        WHERE id = ${row.id} AND attempts = ${row.attempts} AND delivered_at IS NULL`
    case "Failed": {
      const final = row.attempts >= maxAttempts
      const error = final ? `gave up after ${row.attempts} attempts; last: ${delivery.error}` : delivery.error
      return sql`
        UPDATE outbox SET last_error = ${error},
          next_attempt_at = ${final ? sql`'infinity'` : sql`now() + ${retryDelay(row.attempts, retryBaseMillis, retryMaxMillis)} * interval '1 millisecond'`}
        WHERE id = ${row.id} AND attempts = ${row.attempts} AND delivered_at IS NULL`
    }
  }
}

/** One claimed row: sent (or refused for its URL), then its outcome stored. */
const deliver = (dispatcher: Dispatcher, row: OutboxRow): Effect.Effect<void> => {
  const url = row.notify_url
  if (url === null) return Effect.void // marked delivered by the claim
  const refused = refusal(url, dispatcher.outbound)
  const attempt: Effect.Effect<Delivery> = refused === undefined ? send(dispatcher, row, url) : Effect.succeed({ _tag: "Refused", error: refused })
  return attempt.pipe(
    Effect.tap((delivery) =>
      delivery._tag === "Delivered"
        ? Effect.void
        : Effect.logWarning(`webhook ${row.event} for purchase request ${row.request_id} not delivered (attempt ${row.attempts})`, delivery.error)
    ),
    Effect.flatMap((delivery) => orDie(settle(dispatcher, row, delivery))),
    Effect.asVoid
  )
}

export const make = (options: NotificationsOptions): Effect.Effect<NotificationsService, InvalidWebhookSecret, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbound = yield* OutboundAddress.OutboundPolicy
    const webhook = yield* Effect.try({
      try: () => new Webhook(Redacted.value(options.secret)),
      catch: (error) => new InvalidWebhookSecret({ detail: error instanceof Error ? error.message : String(error) })
    })
    const batchSize = options.batchSize ?? 32
    const timeoutMillis = options.timeoutMillis ?? 10_000
    const pollMillis = options.pollMillis ?? 1_000
    // A claimed row is not due again before its request can have finished (or been abandoned).
    const claimMillis = 2 * timeoutMillis + 5_000
    const agent = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Agent({
            // The host (every address a notify_url's name resolves to) is checked at connect time: no DNS rebinding.
            connect: OutboundAddress.guardedConnector(outbound, { timeout: timeoutMillis }),
            headersTimeout: timeoutMillis,
            bodyTimeout: timeoutMillis,
            keepAliveTimeout: 4_000
          })
      ),
      (agent) => Effect.promise(() => agent.close())
    )
    const dispatcher: Dispatcher = {
      sql,
      outbound,
      webhook,
      agent,
      timeoutMillis,
      maxAttempts: options.maxAttempts ?? 12,
      retryBaseMillis: options.retryBaseMillis ?? 10_000,
      retryMaxMillis: options.retryMaxMillis ?? 6 * 60 * 60 * 1_000
    }

    const runOnce: Effect.Effect<number> = Effect.gen(function* () {
      const claimed = yield* orDie(sql<OutboxRow>`
        WITH picked AS (
          SELECT id FROM outbox
          WHERE delivered_at IS NULL AND next_attempt_at <= now() AND attempts < ${dispatcher.maxAttempts}
          ORDER BY next_attempt_at, id
          LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o SET
          attempts = CASE WHEN o.notify_url IS NULL THEN o.attempts ELSE o.attempts + 1 END,
          delivered_at = CASE WHEN o.notify_url IS NULL THEN now() ELSE NULL END,
          next_attempt_at = now() + ${claimMillis} * interval '1 millisecond'
        FROM picked WHERE o.id = picked.id
        RETURNING o.id, o.request_id, o.event, o.payload, o.notify_url, o.attempts, o.created_at`)
      yield* Effect.forEach(claimed, (row) => deliver(dispatcher, row), { concurrency: "unbounded", discard: true })
      return claimed.length
    }).pipe(Effect.withSpan("Notifications.runOnce"))

    const run = Effect.gen(function* () {
      while (true) {
        const handled = yield* runOnce.pipe(
          Effect.catchDefect((defect) => Effect.logError("webhook dispatch failed; continuing", defect).pipe(Effect.as(0)))
        )
        if (handled === 0) yield* Effect.sleep(pollMillis)
      }
    })

    return { runOnce, run: run as Effect.Effect<never> } satisfies NotificationsService
  })

export const layer = (options: NotificationsOptions): Layer.Layer<Notifications, InvalidWebhookSecret, SqlClient.SqlClient> =>
  Layer.effect(Notifications, make(options))

/** Dispatches in the background for as long as the layer lives. */
export const layerRunning = (options: NotificationsOptions): Layer.Layer<Notifications, InvalidWebhookSecret, SqlClient.SqlClient> =>
  Layer.effect(
    Notifications,
    Effect.tap(make(options), (notifications) => Effect.forkScoped(notifications.run))
  )
