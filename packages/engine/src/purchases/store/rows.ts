/**
 * The purchase records: the status lists, the rows of requests, attempts, payment operations and
 * quotes as the engine reads them (decoded once: amounts in minor units, currencies as codes,
 * `decode.ts`), a run's lease, what one step changes, and what a webhook says
 * about a request (`eventPayload`, and the same in SQL).
 */
import type { SqlClient, Statement } from "effect/sql"
import { Schema } from "effect"
import type { Locked } from "../../exchange/Conversion.js"
import { lockedRatesWire, lockedRatesWireSql } from "../../exchange/RateView.js"

export const terminalStatuses = ["purchased", "price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"] as const
/** The endings that bought nothing: their authorization is voided, their holds released. */
export const unboughtStatuses = ["price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"] as const satisfies ReadonlyArray<TerminalStatus>
/**
 * A want (a request with `wait_until`) that found nothing within its maximum: it holds no
 * authorization and no worker runs it; `jobs/Wants.ts` reopens it when a copy is found, or ends it.
 */
export const watchingStatus = "watching" as const
/** At rest without a purchase: what the sweeper gives back for (authorizations, holds). */
export const restingStatuses = [...unboughtStatuses, watchingStatus] as const
export { holdNotGivenBack } from "../AttemptReuse.js"

export const activeStatuses = ["received", "authorized", "quoting", "deciding", "purchasing"] as const
export const PurchaseStatus = Schema.Literals([...activeStatuses, watchingStatus, ...terminalStatuses])
export type PurchaseStatus = typeof PurchaseStatus.Type
export type TerminalStatus = (typeof terminalStatuses)[number]
export const isTerminal = (status: PurchaseStatus): status is TerminalStatus => (terminalStatuses as ReadonlyArray<string>).includes(status)

export interface CustomerDetails {
  readonly name: string
  readonly email: string
  readonly shipping_address: unknown
}

export interface CounterOffer {
  /** The round whose quotes it came from: accepting it buys from those (absent on rows from before rounds were recorded: 0). */
  readonly round?: number
  readonly seller_id: string
  readonly seller_name: string
  readonly total: number
  readonly currency: string
  readonly expires_at: string
}

export interface RequestRow {
  readonly id: string
  readonly customer_id: string
  readonly idempotency_key: string
  readonly request_hash: string
  readonly isbn: string
  /** The request's ISO 4217 code (decoded: `decode.ts`). */
  readonly currency: string
  /** The maximum the customer asked for, in minor units; `max_amount` is the current round's (an accepted counter-offer's). */
  readonly original_max: number
  readonly max_amount: number
  /** The customer's payment method token; null once the request is final (cleared by the step that ends it). */
  readonly payment_token: string | null
  readonly customer: CustomerDetails
  readonly notify_url: string | null
  readonly round: number
  readonly status: PurchaseStatus
  readonly reason: string | null
  /** What the customer paid, in minor units of `currency`. */
  readonly final_amount: number | null
  readonly seller_id: string | null
  readonly order_id: string | null
  readonly counter_offer: CounterOffer | null
  /** How long after the round started the request may wait for sellers' answers (null: the engine's default). */
  readonly answer_within_millis: number | null
  /** A want: until when the customer waits for a copy within the maximum (null: answer now). */
  readonly wait_until: Date | null
  /** When the current round started (a reopened want, an accepted counter-offer, a retry); null: at `created_at`. */
  readonly round_started_at: Date | null
  /** How far asking sellers got: asked, answered, still not asked and why (while quoting and after). */
  readonly quote_progress: QuoteProgress | null
  /** The exchange rate each other currency was priced at for this request (null: none converted). */
  readonly exchange: Locked | null
  /** Why the request is parked right now, in words a customer may read. */
  readonly waiting: string | null
  /** Set when a person has to look; cleared when the request moves on to a final state. */
  readonly attention: Attention | null
  readonly attention_detail: string | null
  readonly attention_since: Date | null
  /** Runs in a row that ended in a defect (reset by any regular step). */
  readonly defects: number
  readonly fence: string
  readonly lease_owner: string | null
  readonly next_run_at: Date
  readonly created_at: Date
  readonly updated_at: Date
  readonly completed_at: Date | null
}

/**
 * A request as a worker claimed it. `interrupted`: the run before this one did not give the
 * request back (its worker died or lost its lease mid-step, or the run ended in a defect), so a
 * seller call it sent may have no recorded answer.
 */
export interface ClaimedRow extends RequestRow {
  readonly interrupted: boolean
}

/** An offer the index or a push knows of, not yet confirmed live (`QuoteProgress.leads`). */
export interface Lead {
  readonly sellerId: string
  readonly sellerName: string
  /** The indexed total, minor units of the request's currency. */
  readonly total: number
}

/** Offers in one other currency (`QuoteProgress.otherCurrencies`). */
export interface OtherCurrency {
  readonly currency: string
  readonly sellers: number
  /** The cheapest of them, total in minor units of `currency`. */
  readonly cheapest: { readonly sellerId: string; readonly sellerName: string; readonly total: number }
}

export interface QuoteProgress {
  /** Sellers that were to be asked. */
  readonly sellers: number
  /** Sellers that answered (an offer, or "not carried / out of stock"). */
  readonly answered: number
  /** Sellers whose call failed or timed out (asked, no answer). */
  readonly failed: number
  /** Sellers not asked yet: their limits were full; with why (`rate_limited`, `concurrency`, `backoff`, `queued`). */
  readonly notAsked: ReadonlyArray<{ readonly sellerId: string; readonly sellerName: string; readonly reason: string }>
  /**
   * The failed sellers were asked again until the retry window (`retryFailedForMillis`) ran out:
   * their failure is final ("a dead seller means fewer quotes"), not a reason to wait.
   */
  readonly failedFinal?: boolean
  /**
   * Indexed or pushed offers within the maximum that were not confirmed with their sellers
   * (enough cheaper live offers were found), cheapest first: when every offer bought from fails,
   * these are confirmed next (`steps/quote.ts`, `confirmLeads`) before the request may end
   * without a purchase.
   */
  readonly leads?: ReadonlyArray<Lead>
  /**
   * Offers made in other currencies than the request's (not comparable without exchange rates):
   * the cheapest per currency and how many sellers offered in it. A request is never told the
   * book is not available when it is offered in another currency.
   */
  readonly otherCurrencies?: ReadonlyArray<OtherCurrency>
  readonly offers: number
  readonly updatedAt: string
}

export type Attention = "unresolved_attempt" | "dead_letter" | "order_mismatch"

export type AttemptStatus = "pending" | "holding" | "held" | "purchasing" | "unknown" | "confirmed" | "failed"

export interface AttemptRow {
  readonly id: string
  readonly request_id: string
  readonly round: number
  readonly seller_id: string
  readonly seller_name: string
  readonly rank: number
  readonly idempotency_key: string
  readonly status: AttemptStatus
  readonly offer: unknown
  readonly hold: unknown
  readonly order_id: string | null
  /** The order's total in minor units of `order_currency` (or of the request's currency when that is null). */
  readonly order_total: number | null
  /** The currency the seller confirmed the order in, when not the request's (converted at the request's locked rate). */
  readonly order_currency: string | null
  readonly reason: string | null
  readonly tries: number
  /** When a purchase was first / last sent for this attempt (null: never). */
  readonly first_sent_at: Date | null
  readonly last_sent_at: Date | null
  readonly created_at: Date
  readonly updated_at: Date
}

export type PaymentKind = "authorize" | "capture" | "void" | "refund"

export interface PaymentOperationRow {
  readonly id: string
  readonly request_id: string
  readonly kind: PaymentKind
  readonly round: number
  readonly idempotency_key: string
  /** Minor units of `currency`. */
  readonly amount: number
  readonly currency: string
  readonly status: "pending" | "succeeded" | "declined" | "rejected"
  readonly provider_ref: string | null
  readonly live: boolean
  readonly detail: string | null
  readonly tries: number
}

export interface QuoteRow {
  readonly seller_id: string
  readonly seller_name: string
  readonly rank: number
  /** Minor units of `currency`. */
  readonly total: number
  readonly currency: string
  readonly offer: unknown
}

/** Another worker holds the request now: stop touching it. */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", { requestId: Schema.String }) {}

export interface Lease {
  readonly requestId: string
  readonly worker: string
  readonly fence: string
  readonly leaseMillis: number
}

/** What a step changes on the request besides its status. */
export interface RequestChanges {
  readonly final_amount?: number
  readonly seller_id?: string
  readonly order_id?: string | null
  readonly counter_offer?: CounterOffer
  readonly quote_progress?: QuoteProgress
  /** Why the request waits from now on, in the same statement as the move (a watching want says so at once). */
  readonly waiting?: string
  /** Told in the webhook only (the attempt keeps it): what the seller charged in its own currency, when that is not the request's. */
  readonly seller_price?: { readonly amount: number; readonly currency: string }
}

/** A move of the purchase state machine, recorded in `state_transitions` (and the outbox when final or watching). */
export interface Transition {
  readonly to: PurchaseStatus
  /** Statuses passed on the way, in order (each recorded as a transition of its own, without a reason). */
  readonly through?: ReadonlyArray<PurchaseStatus>
  readonly reason: string | null
  readonly changes?: RequestChanges
}

/**
 * Everything one step of a run writes: it commits as one statement, and only while the run
 * still holds the request's lease (`store.step`).
 */
export interface StepChanges {
  readonly transition?: Transition
  /** How far quoting got, and why the request waits (shown on its status). */
  readonly progress?: { readonly progress: QuoteProgress; readonly waiting: string | null }
  /** Asks a person to look (cleared when the request reaches a final state). */
  readonly attention?: { readonly kind: Attention; readonly detail: string }
  /** The exchange rates the request's offers were priced at (`Conversion.Locked`), kept for its hold, order and capture. */
  readonly exchange?: Locked | null
  /** Writes to the request's other records, from `store.writes`. */
  readonly writes?: ReadonlyArray<Statement.Fragment>
}


/**
 * What a customer (and its webhook) sees of a finished request: `final_price` is what it paid;
 * `seller_price` what the seller charged in its own currency when that is not the request's (the
 * order's, known to the step that captures it), and `exchange_rates` the rates it was priced at.
 */
export const eventPayload = (
  row: Pick<RequestRow, "id" | "status" | "isbn" | "reason" | "final_amount" | "currency" | "seller_id" | "order_id" | "counter_offer" | "exchange">,
  sellerPrice: { readonly amount: number; readonly currency: string } | null = null
) => ({
  id: row.id,
  status: row.status,
  isbn: row.isbn,
  reason: row.reason,
  final_price: row.final_amount === null ? null : { amount: row.final_amount, currency: row.currency },
  seller_price: sellerPrice,
  exchange_rates: lockedRatesWire(row.exchange, row.currency),
  seller_id: row.seller_id,
  order_id: row.order_id,
  counter_offer: row.counter_offer
})

/**
 * The CTEs that follow a CTE `req` moving watching wants (rows it returns) from `watching` to
 * `to`: the state transition (with the row's reason) and the webhook, as one statement with it.
 */
export const movedFromWatching = (sql: SqlClient.SqlClient, to: PurchaseStatus, actor: string) => sql`
  moved AS (
    INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
    SELECT id, ${watchingStatus}::text, ${to}::text, ${actor}::text, reason FROM req
  ), told AS (
    INSERT INTO outbox (request_id, event, payload, notify_url)
    SELECT id, ${`purchase_request.${to}`}::text, ${sql.literal(eventPayloadSql)}, notify_url FROM req
  )`

/**
 * `eventPayload` as SQL over a request row's columns, for the statements that end requests in
 * bulk (expired wants) or in one statement (a cancelled want); the same shape, key for key.
 */
export const eventPayloadSql =
  "jsonb_build_object('id', id, 'status', status, 'isbn', isbn, 'reason', reason, " +
  "'final_price', CASE WHEN final_amount IS NULL THEN NULL ELSE jsonb_build_object('amount', final_amount, 'currency', btrim(currency)) END, " +
  // Nothing was bought by the endings written this way (a cancelled or expired want).
  "'seller_price', NULL::jsonb, 'exchange_rates', " + lockedRatesWireSql + ", " +
  "'seller_id', seller_id, 'order_id', order_id, 'counter_offer', counter_offer)"
