/**
 * The seller contract, version "v1": what bookbroker asks a seller (quote, hold, release,
 * purchase, look up an order, list its inventory), what a seller may answer, what it can do
 * (capabilities) and how hard it may be called (limits). Adapters translate a seller's own API
 * into these shapes; the SDK validates every answer against them. Change with extreme care: a
 * new contract version is added beside this one, never edited in place (an optional operation
 * and a capability that defaults to off, like `inventory`, leave every v1 adapter valid).
 */
import { Effect, Schema } from "effect"
import { Isbn13 } from "./Isbn.js"
import { Money } from "./Money.js"

export const specificationVersion = "v1" as const

/** An identifier a seller gave: non-empty, no surrounding spaces. */
const NonEmptyTrimmedString = Schema.Trimmed.check(Schema.isNonEmpty())

/** An instant; adapters may hand over a `Date` or an ISO-8601 string. */
const Instant = Schema.Union([Schema.Date, Schema.DateFromString])

export const Condition = Schema.Literals(["new", "like_new", "very_good", "good", "acceptable"])
export type Condition = typeof Condition.Type

/** A priced, time-limited offer for one ISBN from one seller. Totals are price + shipping. */
export class Offer extends Schema.Class<Offer>("Offer")({
  available: Schema.Literal(true),
  isbn: Isbn13,
  quoteId: NonEmptyTrimmedString,
  price: Money,
  shipping: Money,
  condition: Condition,
  /** How many the seller says it has; `null` when it doesn't say. */
  quantity: Schema.NullOr(Schema.Int.check(Schema.isGreaterThan(0))),
  expiresAt: Instant
}) {
  get total(): Money {
    return new Money({ amount: this.price.amount + this.shipping.amount, currency: this.price.currency })
  }
}

export const UnavailableReason = Schema.Literals(["out_of_stock", "not_carried"])
export type UnavailableReason = typeof UnavailableReason.Type

/** The seller has no offer for this ISBN right now. */
export class Unavailable extends Schema.Class<Unavailable>("Unavailable")({
  available: Schema.Literal(false),
  isbn: Isbn13,
  reason: UnavailableReason
}) {}

/** One answer per requested ISBN. */
export const QuoteResult = Schema.Union([Offer, Unavailable])
export type QuoteResult = typeof QuoteResult.Type
export type QuoteResultInput = typeof QuoteResult.Encoded

export interface QuoteRequest {
  /** At most `capabilities.batchQuotes.maxBatchSize` ISBNs; exactly one for sellers without batch quotes. */
  readonly isbns: ReadonlyArray<Isbn13>
}

export interface HoldRequest {
  readonly offer: Offer
  readonly quantity: number
  /**
   * The same key for every try of this hold (bookbroker uses `{requestId}:{sellerId}:hold:{round}`).
   * Pass it on where the seller's API takes one; absent when the caller sends none. A seller
   * that keeps one hold per key answers a replay with the hold it already took, so a try whose
   * answer was lost (a timeout, a worker stopped mid-call) takes no second copy.
   */
  readonly idempotencyKey?: string
}

/** A reservation of an offer, valid until `expiresAt`, at the held price. */
export class Hold extends Schema.Class<Hold>("Hold")({
  holdId: NonEmptyTrimmedString,
  isbn: Isbn13,
  price: Money,
  shipping: Money,
  expiresAt: Instant,
  /**
   * The request's idempotency key, set only when the seller said it keeps this hold under it
   * (a replay of the key answers this hold): then whoever replays the key gets it back, and a
   * run that cannot record it leaves it for them instead of giving it back. Absent: a replay
   * would take a second hold.
   */
  idempotencyKey: Schema.optional(NonEmptyTrimmedString)
}) {
  get total(): Money {
    return new Money({ amount: this.price.amount + this.shipping.amount, currency: this.price.currency })
  }
}
export type HoldInput = typeof Hold.Encoded

export interface ReleaseRequest {
  readonly hold: Hold
}

/** Where a purchase comes from: a hold, or (sellers without holds) straight from a quote. */
export type PurchaseSource =
  | { readonly _tag: "Hold"; readonly hold: Hold }
  | { readonly _tag: "Offer"; readonly offer: Offer }

export interface PurchaseRequest {
  readonly isbn: Isbn13
  readonly source: PurchaseSource
  /**
   * The same key for every try of this purchase; sellers that honour it return the first
   * outcome on a replay instead of placing a second order. bookbroker uses `{requestId}:{sellerId}`.
   */
  readonly idempotencyKey: string
  /** The customer's maximum for price + shipping; adapters pass it on when the seller's API can refuse above it. */
  readonly maxTotal: Money
  /** bookbroker's reference for the seller's records (the purchase request id). */
  readonly buyerReference: string
  /**
   * When a purchase with this key was last sent (by any bookbroker process; the engine keeps it
   * durably), absent on the first try. An adapter whose platform has no idempotency keys and may
   * still be saving an order it got no answer for must not place it again before that settles —
   * whichever process sent it.
   */
  readonly previouslySentAt?: Date
}

/** A confirmed seller order and what the seller charges for it. */
export class Order extends Schema.Class<Order>("Order")({
  orderId: NonEmptyTrimmedString,
  isbn: Isbn13,
  status: Schema.Literal("confirmed"),
  price: Money,
  shipping: Money
}) {
  get total(): Money {
    return new Money({ amount: this.price.amount + this.shipping.amount, currency: this.price.currency })
  }
}
export type OrderInput = typeof Order.Encoded

export interface LookupOrderRequest {
  readonly idempotencyKey: string
  readonly isbn: Isbn13
  /** When a purchase with this key was last sent, by any process (see `PurchaseRequest.previouslySentAt`). */
  readonly previouslySentAt?: Date
}

export interface InventoryRequest {
  /** The previous page's `nextCursor`; `null` asks for the first page. */
  readonly cursor: string | null
  /** The most listings wanted on this page, 1..1000 (bookbroker asks 500); a seller may answer fewer. */
  readonly pageSize: number
}

/**
 * One of the seller's listings, as bookbroker's offer index keeps it: who lists which book at
 * what price. Unlike an {@link Offer} it promises nothing — no quote id, no expiry: bookbroker
 * still quotes live before it buys — so it may say what an offer cannot: `quantity` 0 (the
 * listing is sold out; the index retires it) and `shipping` `null` (many platforms keep
 * shipping as a shop-wide rule, not on the product; the seller's default from its inventory
 * settings applies). When it does carry a price and shipping they must be what a quote for the
 * ISBN would answer (the conformance kit checks it).
 */
export class InventoryListing extends Schema.Class<InventoryListing>("InventoryListing")({
  /** The seller's own id for the listing (SKU, product or variant id), unique in its inventory; at most 100 characters. */
  listingId: NonEmptyTrimmedString.check(Schema.isMaxLength(100)),
  isbn: Isbn13,
  price: Money,
  /** Per item, in the price's currency; `null` when the listing does not say (the seller's default applies). */
  shipping: Schema.NullOr(Money),
  condition: Condition,
  /** Copies for sale; 0 when none are left. A platform that does not count stock says 1 for a listing on sale. */
  quantity: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  title: Schema.optional(Schema.NullOr(Schema.String)),
  author: Schema.optional(Schema.NullOr(Schema.String)),
  publisher: Schema.optional(Schema.NullOr(Schema.String))
}) {}
export type InventoryListingInput = typeof InventoryListing.Encoded

/** One page of a seller's listings. */
export class InventoryPage extends Schema.Class<InventoryPage>("InventoryPage")({
  listings: Schema.Array(InventoryListing),
  /** Where the next page starts, opaque to bookbroker; `null` on the last page. */
  nextCursor: Schema.NullOr(NonEmptyTrimmedString)
}) {}
export type InventoryPageInput = typeof InventoryPage.Encoded

/** What a seller can do beyond quote and purchase. */
export class Capabilities extends Schema.Class<Capabilities>("Capabilities")({
  /** Many ISBNs in one quote call, up to `maxBatchSize`; `null` when the seller quotes one at a time. */
  batchQuotes: Schema.NullOr(Schema.Struct({ maxBatchSize: Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 1000 })) })),
  holds: Schema.Boolean,
  orderLookup: Schema.Boolean,
  pricePush: Schema.Boolean,
  /**
   * The adapter lists the seller's inventory page by page (the `inventory` operation), so
   * bookbroker can keep the seller's offer index without uploads. Optional in an adapter's
   * declaration (absent: `false`): it came after the other capabilities, and declarations
   * written before it stay valid.
   */
  inventory: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false)), Schema.withDecodingDefault(Effect.succeed(false)))
}) {}
export type CapabilitiesInput = typeof Capabilities.Encoded

/** How hard bookbroker may call a seller, shared across all its processes. */
export class Limits extends Schema.Class<Limits>("Limits")({
  // Finite, and not so small that the budgets shared by every process break (1e-300 would); a
  // million calls per second stands for "no limit of its own" (the benchmarks use it).
  requestsPerSecond: Schema.Finite.check(Schema.isBetween({ minimum: 0.01, maximum: 1_000_000 })),
  burst: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })),
  maxConcurrency: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 })),
  timeoutMillis: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 120_000 }))
}) {}
export type LimitsInput = typeof Limits.Encoded

export const defaultLimits: Limits = new Limits({
  requestsPerSecond: 10,
  burst: 20,
  maxConcurrency: 8,
  timeoutMillis: 3_000
})

/** The operations of the contract, as names (spans, metrics, error context). */
export const Operation = Schema.Literals(["quote", "hold", "release", "purchase", "lookupOrder", "inventory"])
export type Operation = typeof Operation.Type
