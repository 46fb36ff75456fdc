/** The customer purchase endpoints and their wire shapes (snake_case, money in minor units). */
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Purchases } from "@bookbroker/engine"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { CustomerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"

export const MoneyAmount = Schema.Struct({
  amount: Schema.Int.annotate({ description: "Integer minor units (cents)", message: "must be an integer number of minor units" }).check(
    Schema.isGreaterThan(0, { message: "must be a positive whole number of minor units (e.g. 2999 for 29.99)" }),
    Schema.isLessThanOrEqualTo(100_000_000, { message: "is above the largest accepted amount" })
  ),
  currency: Money.CurrencyCode.annotate({ description: "ISO 4217 code", message: "must be an ISO 4217 currency code such as EUR" })
})

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

/** An RFC 3339 date and time with its offset (`2026-12-18T12:00:00Z`). */
const DateTime = Schema.String.check(
  Schema.isPattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i, {
    message: "must be an RFC 3339 date and time with its offset, such as 2026-12-18T12:00:00Z"
  }),
  Schema.makeFilter((value: string) => Number.isFinite(Date.parse(value)) || "is not a real date and time")
)

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

/** The engine's list of statuses: defined once (`purchases/store/rows.ts`). */
export const PurchaseStatus = Purchases.PurchaseStatus

export const AcceptedPurchase = Schema.Struct({
  id: Schema.String,
  status: PurchaseStatus,
  status_url: Schema.String,
  queue: Schema.Struct({
    depth: Schema.Int.annotate({ description: "Requests in flight, this one included" }),
    eta_seconds: Schema.NullOr(Schema.Int).annotate({ description: "How long they should take at the current pace; null before there is a pace" })
  }).annotate({ description: "Where this request stands: answers come at the pace the sellers' limits allow" })
})

export const Attempt = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  rank: Schema.Int,
  status: Schema.String.annotate({
    description:
      "pending (not tried yet), holding, held, purchasing, unknown (no authoritative answer yet: asked again), confirmed, failed (see reason), or not_tried (its round ended without coming to it)"
  }),
  reason: Schema.NullOr(Schema.String),
  order_id: Schema.NullOr(Schema.String),
  total: Schema.NullOr(MoneyOut)
})

export const QuoteProgress = Schema.Struct({
  sellers: Schema.Int.annotate({ description: "Sellers to ask" }),
  answered: Schema.Int.annotate({ description: "Sellers that answered (an offer, or that they do not have it)" }),
  failed: Schema.Int.annotate({ description: "Sellers asked that did not answer in time" }),
  not_asked: Schema.Int.annotate({ description: "Sellers not asked yet: their request limits were full (asked again until the answer time)" }),
  offers: Schema.Int,
  updated_at: Schema.String
}).annotate({ description: "How far asking sellers got" })

export const CounterOffer = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  price: MoneyOut,
  expires_at: Schema.String,
  accept_url: Schema.String
})

export const ExchangeRate = Schema.Struct({
  from: Schema.String.annotate({ description: "The seller's currency" }),
  to: Schema.String.annotate({ description: "The request's currency" }),
  rate: Schema.String.annotate({ description: "1 `from` = `rate` `to`, as a decimal rounded to 6 places (prices use the exact rate)" }),
  margin_percent: Schema.String.annotate({ description: "Added to every converted price" }),
  date: Schema.String.annotate({ description: "The day of the rates (YYYY-MM-DD)" }),
  source: Schema.String.annotate({ description: "Where the operator's rates came from" })
}).annotate({ description: "An exchange rate offers in another currency were priced at for this request" })

export const PurchaseRequest = Schema.Struct({
  id: Schema.String,
  status: PurchaseStatus,
  terminal: Schema.Boolean,
  isbn: Schema.String,
  max_price: MoneyOut,
  reason: Schema.NullOr(Schema.String),
  final_price: Schema.NullOr(MoneyOut),
  seller_price: Schema.NullOr(MoneyOut).annotate({
    description: "What the seller charged in its own currency, when that is not the request's; final_price is that converted at exchange_rates"
  }),
  exchange_rates: Schema.Array(ExchangeRate).annotate({
    description: "The operator's exchange rates offers in other currencies were compared and bought at (empty when every offer was in the request's currency)"
  }),
  seller_id: Schema.NullOr(Schema.String),
  order_id: Schema.NullOr(Schema.String),
  counter_offer: Schema.NullOr(CounterOffer),
  attempts: Schema.Array(Attempt),
  quote_progress: Schema.NullOr(QuoteProgress),
  waiting: Schema.NullOr(Schema.String).annotate({
    description: "Why the request is waiting right now (for a seller's answer, a payment provider, a turn within a seller's limits); null when it is moving or finished"
  }),
  wait_until: Schema.NullOr(Schema.String).annotate({ description: "A want: until when it watches for a copy within max_price (null: it answers now)" }),
  created_at: Schema.String,
  updated_at: Schema.String,
  completed_at: Schema.NullOr(Schema.String)
})

export const PurchaseRequestPage = Schema.Struct({ items: Schema.Array(PurchaseRequest), next_cursor: Schema.NullOr(Schema.String) })

const IdPath = { id: Schema.String }

export const Limit = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 }, { message: "must be a whole number from 1 to 100" }))

export class PurchasesApi extends HttpApiGroup.make("purchases")
  .add(
    HttpApiEndpoint.post("create", "/v1/purchase-requests", {
      headers: { "idempotency-key": Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)) },
      payload: NewPurchaseRequest,
      success: AcceptedPurchase.pipe(HttpApiSchema.status(202)),
      error: [Problem.Conflict, Problem.Unprocessable, Problem.TooManyRequests]
    }),
    HttpApiEndpoint.get("get", "/v1/purchase-requests/:id", { params: IdPath, success: PurchaseRequest, error: Problem.NotFound }),
    HttpApiEndpoint.post("accept", "/v1/purchase-requests/:id/accept", {
      params: IdPath,
      payload: Schema.Struct({ payment: Schema.Struct({ token: Text(255) }) }),
      success: PurchaseRequest.pipe(HttpApiSchema.status(202)),
      error: [Problem.NotFound, Problem.Conflict, Problem.Unprocessable]
    }),
    HttpApiEndpoint.post("cancel", "/v1/purchase-requests/:id/cancel", {
      params: IdPath,
      success: PurchaseRequest,
      error: [Problem.NotFound, Problem.Conflict]
    }).annotate(OpenApi.Description, "Cancels a watching want (status cancelled). A want that found a copy is being bought and can no longer be cancelled (409)."),
    HttpApiEndpoint.get("list", "/v1/purchase-requests", {
      query: { status: Schema.optionalKey(PurchaseStatus), cursor: Schema.optionalKey(Schema.String), limit: Schema.optionalKey(Limit) },
      success: PurchaseRequestPage,
      error: [Problem.BadRequest, Problem.Unprocessable]
    })
  )
  .middleware(CustomerAuth) {}
