/**
 * The customer-facing side of purchases: accept a request durably (idempotent per customer and
 * `Idempotency-Key`), show it, list a customer's requests, accept a counter-offer — and the
 * operator's retry of a failed request. The work itself is done by `PurchaseWorker` running
 * `PurchasePipeline`.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { SqlClient, type SqlError } from "effect/sql"
import { Clock, Context, Effect, Exit, Layer, Schema, type Scope } from "effect"
import { Decode, eventPayload, isTerminal, movedFromWatching, type Attention, type QuoteProgress, type AttemptRow, type PurchaseStatus, type RequestRow } from "./store/PurchaseStore.js"
import { readStatements } from "./store/reads.js"

/** Every status a purchase request can have, as a schema (the HTTP API's is this one). */
export { PurchaseStatus } from "./store/PurchaseStore.js"
import { uninterruptibleSql } from "../internal/sql.js"
import { lockedRatesView, type ExchangeRateView } from "../exchange/RateView.js"
import { signalWork } from "./workSignal.js"
import * as OutboundAddress from "../outbound/OutboundAddress.js"
import * as Backlog from "./Backlog.js"
import * as IntakeCommit from "./IntakeCommit.js"
import * as PurchaseRequest from "./PurchaseRequest.js"
import * as RetryRule from "./RetryRule.js"
import * as WantPolicy from "./WantPolicy.js"
import { isUuid } from "../internal/ids.js"

/** Spans on the request path skip the call-site stack: capturing it builds an Error per request. */
const noStack = { captureStackTrace: false } as const

/** A new purchase request: who asks, with which Idempotency-Key, and what (`PurchaseRequest.ts`). */
export interface NewPurchase {
  readonly customerId: string
  readonly idempotencyKey: string
  readonly request: PurchaseRequest.NewPurchaseRequest
}

export interface Accepted {
  readonly id: string
  readonly status: PurchaseStatus
  /** False when the idempotency key had already created this request. */
  readonly created: boolean
  /** Requests in flight ahead of and including this one, and how long they should take at the current pace (null: no pace yet). */
  readonly queue: { readonly depth: number; readonly etaSeconds: number | null }
}

/**
 * Intake is full: requests arrive faster than the sellers can answer them, and this customer
 * already has its fair share in flight. Nothing was stored; try again after `retryAfterSeconds`.
 */
export class Backlogged extends Schema.TaggedError<Backlogged>()("Backlogged", {
  depth: Schema.Number,
  share: Schema.Number,
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `bookbroker has ${this.depth} requests in flight and yours are at your share (${this.share}): try again in ${this.retryAfterSeconds} s`
  }
}

export interface AttemptView {
  readonly sellerId: string
  readonly sellerName: string
  readonly rank: number
  /** `not_tried`: a candidate its round never came to (it ended, or bought from a cheaper seller first). */
  readonly status: AttemptRow["status"] | "not_tried"
  readonly reason: string | null
  readonly orderId: string | null
  readonly total: Money.Money | null
}

export interface PurchaseView {
  readonly id: string
  readonly customerId: string
  readonly status: PurchaseStatus
  readonly terminal: boolean
  /** What was asked, as the status shows it (`PurchaseRequest.Shown`: the ISBN, the current maximum, a want's end). */
  readonly request: PurchaseRequest.Shown
  readonly reason: string | null
  readonly finalPrice: Money.Money | null
  readonly sellerId: string | null
  readonly orderId: string | null
  readonly counterOffer: { readonly sellerId: string; readonly sellerName: string; readonly price: Money.Money; readonly expiresAt: string } | null
  readonly attempts: ReadonlyArray<AttemptView>
  /** Why the request is waiting right now (parked until a seller, the payment provider or a permit allows), in our words. */
  readonly waiting: string | null
  /** How far asking sellers got (asked, answered, not asked yet and why), once quoting started. */
  readonly quoteProgress: QuoteProgress | null
  /** Set while a person has to look at the request (`requests list --stuck`). */
  readonly attention: { readonly kind: Attention; readonly detail: string; readonly since: Date } | null
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly completedAt: Date | null
  /**
   * What the seller charged in its own currency, when that is not the request's (`finalPrice`
   * is what the customer paid, converted at `exchangeRates`).
   */
  readonly sellerPrice: Money.Money | null
  /** The exchange rates the request's offers in other currencies were priced at (empty: none). */
  readonly exchangeRates: ReadonlyArray<ExchangeRateView>
}

export type { ExchangeRateView }

export class PurchaseNotFound extends Schema.TaggedError<PurchaseNotFound>()("PurchaseNotFound", { id: Schema.String }) {
  override get message(): string {
    return `no purchase request ${this.id}`
  }
}

/** The same Idempotency-Key came back with a different body (IETF draft: 422). */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  idempotencyKey: Schema.String,
  existingId: Schema.String
}) {
  override get message(): string {
    return `Idempotency-Key "${this.idempotencyKey}" was already used for a different request (${this.existingId}); use a new key for a new request`
  }
}

/** A `notify_url` bookbroker will not call: not http(s), credentials in it, or not a public address. */
export class NotifyUrlRefused extends Schema.TaggedError<NotifyUrlRefused>()("NotifyUrlRefused", { notifyUrl: Schema.String, reason: Schema.String }) {
  override get message(): string {
    return `notify_url ${JSON.stringify(this.notifyUrl.slice(0, 200))} ${this.reason}; webhooks go to public http(s) addresses only`
  }
}

export class CounterOfferNotAvailable extends Schema.TaggedError<CounterOfferNotAvailable>()("CounterOfferNotAvailable", {
  id: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `purchase request ${this.id} has no counter-offer to accept: ${this.detail}`
  }
}

/** A `wait_until` bookbroker will not watch until: in the past, or more than 30 days away. */
export class WaitUntilRefused extends Schema.TaggedError<WaitUntilRefused>()("WaitUntilRefused", { waitUntil: Schema.String, reason: Schema.String }) {
  override get message(): string {
    return `wait_until ${this.waitUntil} ${this.reason}: a want watches for at most 30 days from now`
  }
}

/** Only a watching want can be cancelled; `detail` says what the request is doing instead. */
export class CancelNotAllowed extends Schema.TaggedError<CancelNotAllowed>()("CancelNotAllowed", { id: Schema.String, detail: Schema.String }) {
  override get message(): string {
    return `purchase request ${this.id} cannot be cancelled: ${this.detail}`
  }
}

/** The request is not in a state where running it again is safe; `detail` says why. */
export class RetryNotAllowed extends Schema.TaggedError<RetryNotAllowed>()("RetryNotAllowed", {
  id: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `purchase request ${this.id} cannot be retried: ${this.detail}`
  }
}

/**
 * A failed request is retried without a new payment method token, and it has none: tokens are
 * dropped when a request ends (the one it had may have been declined anyway).
 */
export class PaymentTokenRequired extends Schema.TaggedError<PaymentTokenRequired>()("PaymentTokenRequired", { id: Schema.String }) {
  override get message(): string {
    return `purchase request ${this.id} keeps no payment method token after it ended: send a new one to retry it`
  }
}

export interface RetryOptions {
  /** A new payment method token; required for a `failed` request (its token was dropped when it ended). */
  readonly paymentToken?: string
  /** Recorded in the state transition; default "operator". */
  readonly actor?: string
}

export interface ListOptions {
  readonly status?: PurchaseStatus
  /** Only requests a person has to look at. */
  readonly stuck?: boolean
  readonly cursor?: string
  readonly limit?: number
}

/** A list cursor that is not one this service handed out. */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", { cursor: Schema.String }) {
  override get message(): string {
    return `cursor ${JSON.stringify(this.cursor.slice(0, 64))} is not valid: pass back the next_cursor of a previous page unchanged`
  }
}

/** Why a submission is refused (its input already decoded): each names what to change. */
export type SubmitRefusal = IdempotencyKeyReused | NotifyUrlRefused | Backlogged | WaitUntilRefused

export interface PurchasesService {
  /** Accepts a new request: answered once its row is committed (group commit), or refused. */
  readonly submit: (purchase: NewPurchase) => Effect.Effect<Accepted, SubmitRefusal>
  /**
   * `submit` as a callback, for a caller that answers many requests without a fiber for each
   * (the server's fast intake lane): the same checks, answers and refusals, in the same order;
   * `done` is called once. `nowMillis` is the clock's time (`submit` reads it from `Clock`). No span:
   * the lane runs only while tracing is off.
   */
  readonly accept: (purchase: NewPurchase, nowMillis: number, done: (exit: Exit.Exit<Accepted, SubmitRefusal>) => void) => void
  /** A request; with `customerId`, only that customer's (others are not found). */
  readonly get: (id: string, customerId?: string) => Effect.Effect<PurchaseView, PurchaseNotFound>
  readonly list: (
    customerId: string | undefined,
    options?: ListOptions
  ) => Effect.Effect<{ readonly items: ReadonlyArray<PurchaseView>; readonly nextCursor: string | null }, InvalidCursor>
  readonly acceptCounterOffer: (id: string, customerId: string | undefined, paymentToken: string) => Effect.Effect<PurchaseView, PurchaseNotFound | CounterOfferNotAvailable>
  /**
   * Cancels a watching want (`cancelled`, with its webhook). A want that found a copy is being
   * bought: it can no longer be cancelled (`CancelNotAllowed`); the one statement that cancels
   * and the one that wakes a want both require it watching, so exactly one of them wins.
   */
  readonly cancel: (id: string, customerId?: string) => Effect.Effect<PurchaseView, PurchaseNotFound | CancelNotAllowed>
  /**
   * Runs a `failed` request again, from `received` in a new round (new payment idempotency keys,
   * fresh quotes), when that cannot buy twice or hold money twice: no confirmed seller order, no
   * attempt whose outcome is open, no live authorization, no payment operation without a known
   * outcome or a capture, and — after a `payment_unavailable` failure — only once the sweeper has
   * asked the provider what it holds. Sellers already attempted for the request are not
   * attempted again. A request set aside after repeated internal errors (`dead_letter`) is
   * resumed where it stopped instead. A new round needs a new payment token (`PaymentTokenRequired`
   * otherwise): a request's token is dropped when it ends.
   */
  readonly retry: (id: string, options?: RetryOptions) => Effect.Effect<PurchaseView, PurchaseNotFound | RetryNotAllowed | PaymentTokenRequired>
}

export class Purchases extends Context.Service<Purchases, PurchasesService>()("@bookbroker/engine/Purchases") {}

/** The status columns of a request a customer's view shows (not its payment token, contact or lease). */
const statusColumns = [
  "id", "customer_id", "status", "currency", "reason", "final_amount", "seller_id", "order_id", "counter_offer", "waiting", "quote_progress",
  "attention", "attention_detail", "attention_since", "created_at", "updated_at", "completed_at", "exchange", "round"
] as const
/** Those, and what the view shows of what was asked (`PurchaseRequest.shownColumns`). */
const viewColumns = [...new Set([...statusColumns, ...PurchaseRequest.shownColumns])].map((column) => `r.${column}`).join(", ")
type ViewRow = Pick<RequestRow, (typeof statusColumns)[number] | "isbn"> & PurchaseRequest.ShownRow
/** An attempt as the view reads it (aggregated as JSON with its request: `order_total` comes as a JSON number). */
type ViewAttempt = Pick<AttemptRow, "seller_id" | "seller_name" | "rank" | "round" | "status" | "reason" | "order_id" | "order_total" | "order_currency">



/** `{microseconds since the epoch}.{id}`, base64url: opaque to clients, strictly decoded here. */
const encodeCursor = (micros: string, id: string): string => Buffer.from(`${micros}.${id}`).toString("base64url")
const cursorPattern = /^(\d{1,17})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i
/** The cursor's position, or `null` for anything this service did not hand out. */
const decodeCursor = (cursor: string): { readonly micros: string; readonly id: string } | null => {
  if (cursor.length > 128 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null
  const match = cursorPattern.exec(Buffer.from(cursor, "base64url").toString("utf8"))
  return match === null ? null : { micros: match[1]!, id: match[2]! }
}

/**
 * An attempt's status as the customer reads it: one still `pending` once its round is over (the
 * request ended, watches, or moved on to a new round) was never tried — `not_tried`, not a
 * promise that it will be.
 */
const attemptStatus = (row: Pick<ViewRow, "status" | "round">, attempt: Pick<ViewAttempt, "status" | "round">): AttemptView["status"] =>
  attempt.status === "pending" && (isTerminal(row.status) || row.status === "watching" || attempt.round < row.round) ? "not_tried" : attempt.status

/** A request as its customer sees it. */
const view = (row: ViewRow, attempts: ReadonlyArray<ViewAttempt>): PurchaseView => {
  const currency = row.currency
  const payload = eventPayload(row)
  return {
    id: row.id,
    customerId: row.customer_id,
    status: row.status,
    terminal: isTerminal(row.status),
    request: PurchaseRequest.shown(row),
    reason: row.reason,
    finalPrice: payload.final_price === null ? null : Money.make(payload.final_price.amount, currency),
    sellerId: row.seller_id,
    orderId: row.order_id,
    counterOffer:
      row.counter_offer === null
        ? null
        : {
            sellerId: row.counter_offer.seller_id,
            sellerName: row.counter_offer.seller_name,
            price: Money.make(row.counter_offer.total, row.counter_offer.currency),
            expiresAt: row.counter_offer.expires_at
          },
    attempts: attempts.map((attempt) => ({
      sellerId: attempt.seller_id,
      sellerName: attempt.seller_name,
      rank: attempt.rank,
      status: attemptStatus(row, attempt),
      reason: attempt.reason,
      orderId: attempt.order_id,
      total: attempt.order_total === null ? null : Money.make(attempt.order_total, attempt.order_currency ?? currency)
    })),
    waiting: isTerminal(row.status) ? null : row.waiting,
    quoteProgress: row.quote_progress,
    attention:
      row.attention === null ? null : { kind: row.attention, detail: row.attention_detail ?? "", since: row.attention_since ?? row.updated_at },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
    sellerPrice: (() => {
      const bought = attempts.find((attempt) => attempt.status === "confirmed" && attempt.order_currency !== null && attempt.order_total !== null)
      return bought?.order_total == null || bought.order_currency === null || row.status !== "purchased" ? null : Money.make(bought.order_total, bought.order_currency)
    })(),
    exchangeRates: lockedRatesView(row.exchange, currency)
  }
}

export interface PurchasesOptions {
  /** Backpressure at the door (see `purchases/Backlog.ts`). */
  readonly backlog?: Backlog.BacklogOptions
  /** The answer time of a request that does not say (the pipeline's `answerWithinMillis`): what the backlog must clear within. Default 60 s. */
  readonly answerWithinMillis?: number
}

/** What the changes to a stored request read with. */
interface Reads {
  readonly sql: SqlClient.SqlClient
  /** The request as its customer sees it; with `customerId`, only that customer's. */
  readonly load: (id: string, customerId?: string) => Effect.Effect<PurchaseView, PurchaseNotFound | SqlError.SqlError>
}

/** A customer takes the counter-offer of a `price_not_met` request: a new round at its price. */
const acceptCounterOffer = ({ sql, load }: Reads): PurchasesService["acceptCounterOffer"] => (id, customerId, paymentToken) =>
  uninterruptibleSql(
    Effect.gen(function* () {
      yield* load(id, customerId)
      const outcome = yield* sql.withTransaction(
        Effect.gen(function* () {
          const [row] = yield* Effect.map(
            sql<Decode.StoredRequest<RequestRow & { leased: boolean }>>`
              SELECT *, (lease_expires_at IS NOT NULL AND lease_expires_at > now()) AS leased
              FROM purchase_requests WHERE id = ${id} FOR UPDATE`,
            Decode.each(Decode.request<RequestRow & { leased: boolean }>)
          )
          if (row!.status !== "price_not_met" || row!.counter_offer === null) {
            return `it is ${row!.status}${row!.status === "received" || row!.status === "authorized" || row!.status === "purchasing" ? " (already accepted?)" : ""}`
          }
          // The sweeper or the reconciler may be voiding this round's authorization right now.
          if (row!.leased) return "bookbroker is settling its previous payment authorization right now; try again in a few seconds"
          if (Date.parse(row!.counter_offer.expires_at) <= Date.now()) return `the counter-offer expired at ${row!.counter_offer.expires_at}`
          yield* sql`
            UPDATE purchase_requests SET
              status = 'received', round = round + 1, max_amount = ${row!.counter_offer.total}, payment_token = ${paymentToken},
              reason = NULL, completed_at = NULL, round_started_at = now(), next_run_at = now(), updated_at = now(),
              lease_owner = NULL, lease_expires_at = NULL
            WHERE id = ${id}`
          yield* sql`
            INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
            VALUES (${id}, 'price_not_met', 'received', 'customer', 'counter_offer_accepted')`
          return undefined
        })
      )
      if (outcome !== undefined) return yield* new CounterOfferNotAvailable({ id, detail: outcome })
      yield* signalWork(sql)
      return yield* load(id, customerId)
    })
  ).pipe(Effect.withSpan("Purchases.acceptCounterOffer", { attributes: { "purchase.request_id": id } }))

/** A customer cancels a watching want; one statement, racing the one that wakes it. */
const cancel = ({ sql, load }: Reads): PurchasesService["cancel"] => (id, customerId) =>
  uninterruptibleSql(
    Effect.gen(function* () {
      yield* load(id, customerId)
      // One statement: only a watching want nobody holds right now is cancelled (a want being
      // woken is taken by the statement that wakes it: the row lock orders the two).
      const [cancelled] = yield* sql<{ id: string }>`
        WITH req AS (
          UPDATE purchase_requests SET
            status = 'cancelled', reason = 'cancelled_by_customer', payment_token = NULL, waiting = NULL,
            completed_at = now(), next_run_at = now(), updated_at = now(), fence = fence + 1
          WHERE id = ${id} AND status = 'watching' AND (lease_expires_at IS NULL OR lease_expires_at < now())
          RETURNING *
        ), ${movedFromWatching(sql, "cancelled", "customer")}
        SELECT id FROM req`
      if (cancelled === undefined) {
        const now = yield* load(id, customerId)
        const detail =
          now.status === "cancelled"
            ? "it is already cancelled"
            : now.status === "watching"
              ? "it is being looked at right now (a copy may have been found); try again in a few seconds"
              : now.terminal
                ? `it already ended (${now.status})`
                : `a copy was found and it is being bought (${now.status}); only a watching want can be cancelled`
        return yield* new CancelNotAllowed({ id, detail })
      }
      return yield* load(id, customerId)
    })
  ).pipe(Effect.withSpan("Purchases.cancel", { attributes: { "purchase.request_id": id } }))

/** An operator runs a failed (or set-aside) request again, when `RetryRule.ts` says it is safe. */
const retry = ({ sql, load }: Reads): PurchasesService["retry"] => (id, options = {}) =>
  uninterruptibleSql(
    Effect.gen(function* () {
      yield* load(id)
      const refusal = yield* sql.withTransaction(
        Effect.gen(function* () {
          type Locked = RequestRow & { leased: boolean; looked_up: boolean }
          const [row] = yield* Effect.map(
            sql<Decode.StoredRequest<Locked>>`
              SELECT r.*, (r.lease_expires_at IS NOT NULL AND r.lease_expires_at > now()) AS leased,
                     EXISTS (SELECT 1 FROM sweeper_lookups l WHERE l.request_id = r.id) AS looked_up
              FROM purchase_requests r WHERE r.id = ${id} FOR UPDATE OF r`,
            Decode.each(Decode.request<Locked>)
          )
          // Attempts and payments decide only for a failed request nobody holds.
          const history = row!.status === "failed" && !row!.leased
          const decision = RetryRule.decide({
            request: row!,
            leased: row!.leased,
            providerLookedUp: row!.looked_up,
            attempts: history ? yield* readStatements(sql).attempts(id) : [],
            payments: history ? yield* readStatements(sql).payments(id) : [],
            ...(options.paymentToken === undefined ? {} : { paymentToken: options.paymentToken })
          })
          switch (decision._tag) {
            case "Refused":
              return decision.detail
            case "TokenRequired":
              return new PaymentTokenRequired({ id })
            case "Resume":
              // Set aside after repeated internal errors: resume where it stopped (its own steps are safe to re-run).
              yield* sql`
                UPDATE purchase_requests SET
                  attention = NULL, attention_detail = NULL, attention_since = NULL, defects = 0, waiting = NULL,
                  lease_owner = NULL, lease_expires_at = NULL, next_run_at = now(), updated_at = now()
                WHERE id = ${id}`
              yield* sql`
                INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
                VALUES (${id}, ${row!.status}, ${row!.status}, ${options.actor ?? "operator"}, 'resumed after being set aside')`
              return undefined
            case "NewRound":
              yield* sql`
                UPDATE purchase_requests SET
                  status = 'received', round = round + 1, payment_token = ${decision.paymentToken},
                  reason = NULL, counter_offer = NULL, quote_progress = NULL, completed_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                  round_started_at = now(), next_run_at = now(), updated_at = now()
                WHERE id = ${id}`
              yield* sql`
                INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
                VALUES (${id}, 'failed', 'received', ${options.actor ?? "operator"}, ${`retry from round ${row!.round}: ${row!.reason ?? "failed"}`})`
              // A new failure of the new round is a new question for the sweeper.
              yield* sql`DELETE FROM sweeper_lookups WHERE request_id = ${id}`
              return undefined
          }
        })
      )
      if (refusal instanceof PaymentTokenRequired) return yield* refusal
      if (refusal !== undefined) return yield* new RetryNotAllowed({ id, detail: refusal })
      yield* signalWork(sql)
      return yield* load(id)
    })
  ).pipe(Effect.withSpan("Purchases.retry", { attributes: { "purchase.request_id": id } }))


export const makeWith = (options: PurchasesOptions = {}): Effect.Effect<PurchasesService, never, SqlClient.SqlClient | Scope.Scope> => Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const outbound = yield* OutboundAddress.OutboundPolicy
  const backlog = yield* Backlog.make(sql, options.backlog)

  /**
   * One statement per read: the request's columns a view shows and its attempts as one JSON
   * array. Each statement costs the server more CPU than PostgreSQL's answer takes to parse
   * (about 250 µs in `bookbroker serve`; see BENCHMARKS.md, "Intake and status reads").
   */
  const load = (id: string, customerId?: string) =>
    Effect.gen(function* () {
      if (!isUuid(id)) return yield* new PurchaseNotFound({ id })
      const [stored] = yield* sql<Decode.StoredRequest<ViewRow> & { readonly attempts: ReadonlyArray<Decode.StoredAttempt<ViewAttempt>> }>`
        SELECT ${sql.literal(viewColumns)},
               COALESCE((SELECT json_agg(json_build_object(
                           'seller_id', a.seller_id, 'seller_name', a.seller_name, 'rank', a.rank, 'round', a.round, 'status', a.status,
                           'reason', a.reason, 'order_id', a.order_id, 'order_total', a.order_total, 'order_currency', a.order_currency) ORDER BY a.round, a.rank)
                         FROM purchase_attempts a WHERE a.request_id = r.id), '[]'::json) AS attempts
        FROM purchase_requests r WHERE r.id = ${id}`
      if (stored === undefined || (customerId !== undefined && stored.customer_id !== customerId)) return yield* new PurchaseNotFound({ id })
      return view(Decode.request<ViewRow>(stored), stored.attempts.map(Decode.attempt<ViewAttempt>))
    })

  const reads: Reads = { sql, load }
  // Group commit of new requests (`IntakeCommit.ts`).
  const intake = yield* IntakeCommit.make(sql)

  const accept: PurchasesService["accept"] = ({ customerId, idempotencyKey, request }, nowMillis, done) => {
    if (request.wait_until !== undefined) {
      const refusal = WantPolicy.waitUntilRefusal(new Date(request.wait_until), nowMillis)
      if (refusal !== undefined) return done(Exit.fail(new WaitUntilRefused({ waitUntil: request.wait_until, reason: refusal })))
    }
    if (request.notify_url !== undefined) {
      const checked = OutboundAddress.checkUrl(request.notify_url, outbound)
      if (checked._tag === "Refused") return done(Exit.fail(new NotifyUrlRefused({ notifyUrl: request.notify_url, reason: checked.reason })))
    }
    const admission = backlog.admit(customerId, PurchaseRequest.answerWithinMillis(request) ?? options.answerWithinMillis ?? 60_000)
    if (admission._tag === "Refused") {
      return done(Exit.fail(new Backlogged({ depth: admission.depth, share: admission.share, retryAfterSeconds: admission.retryAfterSeconds })))
    }
    const stored = PurchaseRequest.toColumns(request)
    const queue = { depth: admission.depth, etaSeconds: admission.etaSeconds }
    intake.enqueue({ customer_id: customerId, idempotency_key: idempotencyKey, request_hash: PurchaseRequest.hash(stored), ...stored }, (exit) => {
      if (Exit.isFailure(exit)) return done(Exit.failCause(exit.cause))
      const committed = exit.value
      if (committed._tag === "KeyReused") return done(Exit.fail(new IdempotencyKeyReused({ idempotencyKey, existingId: committed.existingId })))
      done(
        Exit.succeed(
          committed._tag === "Created"
            ? { id: committed.id, status: "received" as const, created: true, queue }
            : { id: committed.id, status: committed.status, created: false, queue }
        )
      )
    })
  }

  const service: PurchasesService = {
    submit: (purchase) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.callback<Accepted, SubmitRefusal>((resume) => accept(purchase, now, resume))).pipe(
        Effect.withSpan("Purchases.submit", { attributes: { isbn: purchase.request.isbn } }, noStack)
      ),
    accept,

    get: (id, customerId) =>
      uninterruptibleSql(load(id, customerId)).pipe(Effect.withSpan("Purchases.get", { attributes: { "purchase.request_id": id } }, noStack)),

    list: (customerId, options = {}) =>
      Effect.gen(function* () {
        const limit = Math.min(Math.max(options.limit ?? 20, 1), 100)
        const cursor = options.cursor === undefined ? undefined : decodeCursor(options.cursor)
        if (cursor === null) return yield* new InvalidCursor({ cursor: options.cursor! })
        return yield* uninterruptibleSql(
          Effect.gen(function* () {
            // Keyset on (created_at, id) at the database's full precision: one group commit gives
            // many rows the same created_at, and a millisecond cursor would skip some of them.
            type Listed = ViewRow & { readonly created_micros: string }
            const rows = yield* Effect.map(sql<Decode.StoredRequest<Listed>>`
              SELECT ${sql.literal(viewColumns)}, (extract(epoch FROM r.created_at) * 1000000)::bigint AS created_micros
              FROM purchase_requests r
              WHERE ${customerId === undefined ? sql`TRUE` : sql`customer_id = ${customerId}`}
                AND ${options.status === undefined ? sql`TRUE` : sql`status = ${options.status}`}
                AND ${options.stuck === true ? sql`attention IS NOT NULL` : sql`TRUE`}
                AND ${
                  cursor === undefined
                    ? sql`TRUE`
                    : sql`(created_at, id) < (timestamptz 'epoch' + ${cursor.micros}::bigint * interval '1 microsecond', ${cursor.id}::uuid)`
                }
              ORDER BY created_at DESC, id DESC
              LIMIT ${limit + 1}`, Decode.each(Decode.request<Listed>))
            const page = rows.slice(0, limit)
            const last = page.at(-1)
            return {
              items: page.map((row) => view(row, [])),
              nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.created_micros, last.id) : null
            }
          })
        )
      }).pipe(Effect.withSpan("Purchases.list", undefined, noStack)),

    acceptCounterOffer: acceptCounterOffer(reads),
    cancel: cancel(reads),
    retry: retry(reads)
  }
  return service
})

export const make: Effect.Effect<PurchasesService, never, SqlClient.SqlClient | Scope.Scope> = makeWith()

export const layer: Layer.Layer<Purchases, never, SqlClient.SqlClient> = Layer.effect(Purchases, make)

export const layerWith = (options: PurchasesOptions): Layer.Layer<Purchases, never, SqlClient.SqlClient> => Layer.effect(Purchases, makeWith(options))
