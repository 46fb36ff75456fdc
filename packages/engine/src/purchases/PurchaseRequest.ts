/**
 * The purchase request as a customer asks it — one schema, in the wire's words (snake_case,
 * money in integer minor units). The HTTP API takes `NewPurchaseRequest` as its payload (so the
 * OpenAPI document, the typed client the CLI builds its body with, and the fast intake lane all
 * follow it); the engine's `Purchases.submit` takes it decoded, unchanged; the intake stores it
 * by `columns` and hashes what it stores; a request's status shows `Shown` back.
 *
 * A request's fields are listed here and nowhere else. To add one:
 * 1. its schema in `NewPurchaseRequest`;
 * 2. its column in `columns` and `toColumns` (and a migration that adds it);
 * 3. when the customer sees it back on the status, in `Shown`, `shownColumns` and `shown`.
 * The intake's statement, the request hash, the status resource and its OpenAPI follow.
 */
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { hash as digest } from "node:crypto"
import { Schema } from "effect"

/** An amount a customer names: a positive whole number of minor units, in a known currency. */
export const MoneyAmount = Schema.Struct({
  amount: Schema.Int.annotate({ description: "Integer minor units (cents)", message: "must be an integer number of minor units" }).check(
    Schema.isGreaterThan(0, { message: "must be a positive whole number of minor units (e.g. 2999 for 29.99)" }),
    Schema.isLessThanOrEqualTo(100_000_000, { message: "is above the largest accepted amount" })
  ),
  currency: Money.CurrencyCode.annotate({ description: "ISO 4217 code", message: "must be an ISO 4217 currency code such as EUR" })
})

/** An amount as bookbroker shows it. */
export const MoneyOut = Schema.Struct({ amount: Schema.Int, currency: Schema.String })

const Email = Schema.String.check(
  Schema.isTrimmed(),
  Schema.isPattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: "must be an email address" }),
  Schema.isMaxLength(254)
)

/** Text a person typed: not blank, no surrounding spaces, at most `max` characters. */
export const Text = (max: number) =>
  Schema.String.check(
    Schema.isTrimmed({ message: "must not start or end with spaces" }),
    Schema.isMinLength(1, { message: "must not be empty" }),
    Schema.isMaxLength(max, { message: `must be at most ${max} characters` })
  )

export const ShippingAddress = Schema.Struct({
  line1: Text(200),
  line2: Schema.optionalKey(Text(200)),
  city: Text(100),
  postal_code: Schema.optionalKey(Text(20)),
  country: Schema.String.check(Schema.isPattern(/^[A-Z]{2}$/, { message: "must be an ISO 3166-1 alpha-2 country code such as FR" }))
})

const HttpUrl = Schema.String.check(
  Schema.isMaxLength(2048),
  Schema.makeFilter((value: string) => {
    try {
      const url = new URL(value)
      return url.protocol === "https:" || url.protocol === "http:" || "must be an http(s) URL"
    } catch {
      return "must be an absolute http(s) URL"
    }
  })
)

/** An RFC 3339 date and time with its offset; the groups are its fields (seconds and offset optional). */
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i

/**
 * Whether an RFC 3339 date and time names a real moment: a day its month has, hours to 23,
 * minutes and seconds to 59, an offset within ±23:59 (`Date.parse` alone rolls 2026-02-30 over
 * to March 2nd).
 */
const isRealDateTime = (value: string): boolean => {
  const [, year, month, day, hour, minute, second, offsetHour, offsetMinute] = rfc3339.exec(value) ?? []
  if (year === undefined) return false
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate()
  return (
    Number(month) >= 1 &&
    Number(month) <= 12 &&
    Number(day) >= 1 &&
    Number(day) <= daysInMonth &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second ?? 0) <= 59 &&
    Number(offsetHour ?? 0) <= 23 &&
    Number(offsetMinute ?? 0) <= 59
  )
}

/** An RFC 3339 date and time with its offset (`2026-12-18T12:00:00Z`). */
const DateTime = Schema.String.check(
  Schema.isPattern(rfc3339, { message: "must be an RFC 3339 date and time with its offset, such as 2026-12-18T12:00:00Z" }),
  Schema.makeFilter((value: string) => isRealDateTime(value) || "is not a real date and time")
)

/** What a customer asks: the body of `POST /v1/purchase-requests`. */
export const NewPurchaseRequest = Schema.Struct({
  isbn: Isbn.Isbn13FromString.annotate({ description: "ISBN-10 or ISBN-13, hyphens allowed" }),
  max_price: MoneyAmount,
  payment: Schema.Struct({ token: Text(255).annotate({ description: "Payment method token (sandbox: tok_approve, tok_decline, …)" }) }),
  customer: Schema.Struct({ name: Text(200), email: Email, shipping_address: ShippingAddress }),
  notify_url: Schema.optionalKey(HttpUrl).annotateKey({
    description:
      "Where to POST a signed Standard Webhook (webhook-id / webhook-timestamp / webhook-signature) when the request ends, starts watching or is woken: `{ type: \"purchase_request.<status>\", timestamp, data }`, `data` being `id`, `status`, `isbn`, `reason`, `final_price`, `seller_price`, `exchange_rates`, `seller_id`, `order_id` and `counter_offer` as the status resource gives them"
  }),
  answer_within_seconds: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 86_400 }, { message: "must be a whole number of seconds from 5 to 86400" })).annotate({
      description:
        "How long you are willing to wait for a true answer (default 60): sellers whose request limits are full are asked again until then, and a request they keep from answering ends sellers_busy, never not_available"
    })
  ),
  wait_until: Schema.optionalKey(
    DateTime.annotate({
      description:
        "Make it a want (a standing order): when nothing is offered within max_price now, the request is watching instead of ending — no payment is held — until a copy within max_price is listed or found (then it is bought as usual, the payment method authorized again) or until this time (then it ends expired). At most 30 days ahead. Cancel it while it watches with POST /v1/purchase-requests/{id}/cancel"
    })
  )
})
export type NewPurchaseRequest = typeof NewPurchaseRequest.Type

/**
 * The columns of `purchase_requests` a new request fills, with their PostgreSQL types: the
 * intake's statement inserts exactly these (besides who asked, the key, the hash and the
 * moment of arrival, which are the intake's own).
 */
export const columns = {
  isbn: "text",
  currency: "text",
  max_amount: "bigint",
  payment_token: "text",
  customer: "jsonb",
  notify_url: "text",
  answer_within_millis: "integer",
  wait_until: "timestamptz"
} as const

export interface Columns {
  readonly isbn: string
  readonly currency: string
  readonly max_amount: number
  readonly payment_token: string
  readonly customer: { readonly name: string; readonly email: string; readonly shipping_address: typeof ShippingAddress.Type }
  readonly notify_url: string | null
  readonly answer_within_millis: number | null
  /** ISO 8601, normalised (a `Date`'s `toISOString`). */
  readonly wait_until: string | null
}

/** A request as stored: every column of `columns`, null when it was not asked. */
export const toColumns = (request: NewPurchaseRequest): Columns => ({
  isbn: request.isbn,
  currency: request.max_price.currency,
  max_amount: request.max_price.amount,
  payment_token: request.payment.token,
  customer: request.customer,
  notify_url: request.notify_url ?? null,
  answer_within_millis: answerWithinMillis(request) ?? null,
  wait_until: request.wait_until === undefined ? null : new Date(request.wait_until).toISOString()
})

/** How long the customer will wait for a true answer, when it said (milliseconds). */
export const answerWithinMillis = (request: NewPurchaseRequest): number | undefined =>
  request.answer_within_seconds === undefined ? undefined : Math.round(request.answer_within_seconds * 1_000)

/**
 * What the hash covered when requests were first stored, in order. A column added since is
 * hashed after them, by name, and only when given: a request stored before it keeps its hash,
 * so the same Idempotency-Key with the same body is still the same request after an upgrade.
 */
const hashedFirst = ["isbn", "max_amount", "currency", "payment_token", "customer", "notify_url", "answer_within_millis", "wait_until"] as const
const hashedSince = (Object.keys(columns) as Array<keyof Columns>).filter((column) => !(hashedFirst as ReadonlyArray<string>).includes(column))

/**
 * What an Idempotency-Key promises: the same key with a different request is refused. The hash
 * is over the stored columns (all of them: a new column is covered without a word here).
 */
export const hash = (stored: Columns): string => {
  const customer = stored.customer
  const first = [
    stored.isbn,
    stored.max_amount,
    stored.currency,
    stored.payment_token,
    customer.name,
    customer.email,
    customer.shipping_address,
    stored.notify_url,
    stored.answer_within_millis,
    stored.wait_until
  ]
  const since = hashedSince.flatMap((column) => (stored[column] === null ? [] : [[column, stored[column]]]))
  return digest("sha256", JSON.stringify(since.length === 0 ? first : [...first, ...since]), "hex")
}

/** What a request's status shows of what was asked (beside its outcome). */
export const Shown = Schema.Struct({
  isbn: Schema.String,
  max_price: MoneyOut,
  wait_until: Schema.NullOr(Schema.String).annotate({ description: "A want: until when it watches for a copy within max_price (null: it answers now)" })
})
export type Shown = typeof Shown.Type

/** The columns `shown` reads. */
export const shownColumns = ["isbn", "currency", "max_amount", "wait_until"] as const

/** Those columns as the purchase store decodes them. */
export interface ShownRow {
  readonly isbn: string
  readonly currency: string
  /** The current round's maximum (an accepted counter-offer's). */
  readonly max_amount: number
  readonly wait_until: Date | null
}

export const shown = (row: ShownRow): Shown => ({
  isbn: row.isbn,
  max_price: { amount: row.max_amount, currency: row.currency },
  wait_until: row.wait_until === null ? null : row.wait_until.toISOString()
})
