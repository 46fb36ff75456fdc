/** The customer purchase endpoints and their wire shapes (snake_case, money in minor units). */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"
import { CustomerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"

export const MoneyAmount = Schema.Struct({
  amount: Schema.Int.pipe(
    Schema.positive({ message: () => "must be a positive whole number of minor units (e.g. 2999 for 29.99)" }),
    Schema.lessThanOrEqualTo(100_000_000, { message: () => "is above the largest accepted amount" })
  ).annotations({ description: "Integer minor units (cents)", message: () => "must be an integer number of minor units" }),
  currency: Money.CurrencyCode.annotations({ description: "ISO 4217 code", message: () => "must be an ISO 4217 currency code such as EUR" })
})

export const MoneyOut = Schema.Struct({ amount: Schema.Int, currency: Schema.String })

const Email = Schema.String.pipe(
  Schema.trimmed(),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "must be an email address" }),
  Schema.maxLength(254)
)

const Text = (max: number) => Schema.String.pipe(Schema.trimmed({ message: () => "must not start or end with spaces" }), Schema.minLength(1, { message: () => "must not be empty" }), Schema.maxLength(max))

export const ShippingAddress = Schema.Struct({
  line1: Text(200),
  line2: Schema.optional(Text(200)),
  city: Text(100),
  postal_code: Schema.optional(Text(20)),
  country: Schema.String.pipe(Schema.pattern(/^[A-Z]{2}$/, { message: () => "must be an ISO 3166-1 alpha-2 country code such as FR" }))
})

const HttpUrl = Schema.String.pipe(
  Schema.maxLength(2048),
  Schema.filter((value) => {
    try {
      const url = new URL(value)
      return url.protocol === "https:" || url.protocol === "http:" || "must be an http(s) URL"
    } catch {
      return "must be an absolute http(s) URL"
    }
  })
)

export const NewPurchaseRequest = Schema.Struct({
  isbn: Isbn.Isbn13FromString.annotations({ description: "ISBN-10 or ISBN-13, hyphens allowed" }),
  max_price: MoneyAmount,
  payment: Schema.Struct({ token: Text(255).annotations({ description: "Payment method token (sandbox: tok_approve, tok_decline, …)" }) }),
  customer: Schema.Struct({ name: Text(200), email: Email, shipping_address: ShippingAddress }),
  notify_url: Schema.optional(HttpUrl),
  answer_within_seconds: Schema.optional(
    Schema.Int.pipe(Schema.between(5, 86_400, { message: () => "must be a whole number of seconds from 5 to 86400" }))
  ).annotations({
    description:
      "How long you are willing to wait for a true answer (default 60): sellers whose request limits are full are asked again until then, and a request they keep from answering ends sellers_busy, never not_available"
  })
})

export const PurchaseStatus = Schema.Literal(
  "received",
  "authorized",
  "quoting",
  "deciding",
  "purchasing",
  "purchased",
  "price_not_met",
  "not_available",
  "sellers_busy",
  "failed"
)

export const AcceptedPurchase = Schema.Struct({
  id: Schema.String,
  status: PurchaseStatus,
  status_url: Schema.String,
  queue: Schema.Struct({
    depth: Schema.Int.annotations({ description: "Requests in flight, this one included" }),
    eta_seconds: Schema.NullOr(Schema.Int).annotations({ description: "How long they should take at the current pace; null before there is a pace" })
  }).annotations({ description: "Where this request stands: answers come at the pace the sellers' limits allow" })
})

export const Attempt = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  rank: Schema.Int,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String),
  order_id: Schema.NullOr(Schema.String),
  total: Schema.NullOr(MoneyOut)
})

export const QuoteProgress = Schema.Struct({
  sellers: Schema.Int.annotations({ description: "Sellers to ask" }),
  answered: Schema.Int.annotations({ description: "Sellers that answered (an offer, or that they do not have it)" }),
  failed: Schema.Int.annotations({ description: "Sellers asked that did not answer in time" }),
  not_asked: Schema.Int.annotations({ description: "Sellers not asked yet: their request limits were full (asked again until the answer time)" }),
  offers: Schema.Int,
  updated_at: Schema.String
}).annotations({ description: "How far asking sellers got" })

export const CounterOffer = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  price: MoneyOut,
  expires_at: Schema.String,
  accept_url: Schema.String
})

export const PurchaseRequest = Schema.Struct({
  id: Schema.String,
  status: PurchaseStatus,
  terminal: Schema.Boolean,
  isbn: Schema.String,
  max_price: MoneyOut,
  reason: Schema.NullOr(Schema.String),
  final_price: Schema.NullOr(MoneyOut),
  seller_id: Schema.NullOr(Schema.String),
  order_id: Schema.NullOr(Schema.String),
  counter_offer: Schema.NullOr(CounterOffer),
  attempts: Schema.Array(Attempt),
  quote_progress: Schema.NullOr(QuoteProgress),
  waiting: Schema.NullOr(Schema.String).annotations({
    description: "Why the request is waiting right now (for a seller's answer, a payment provider, a turn within a seller's limits); null when it is moving or finished"
  }),
  created_at: Schema.String,
  updated_at: Schema.String,
  completed_at: Schema.NullOr(Schema.String)
})

export const PurchaseRequestPage = Schema.Struct({ items: Schema.Array(PurchaseRequest), next_cursor: Schema.NullOr(Schema.String) })

const IdPath = Schema.Struct({ id: Schema.String })

export class PurchasesApi extends HttpApiGroup.make("purchases")
  .add(
    HttpApiEndpoint.post("create", "/v1/purchase-requests")
      .setHeaders(Schema.Struct({ "idempotency-key": Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)) }))
      .setPayload(NewPurchaseRequest)
      .addSuccess(AcceptedPurchase, { status: 202 })
      .addError(Problem.Conflict, { status: 409 })
      .addError(Problem.Unprocessable, { status: 422 })
      .addError(Problem.TooManyRequests, { status: 429 })
  )
  .add(HttpApiEndpoint.get("get", "/v1/purchase-requests/:id").setPath(IdPath).addSuccess(PurchaseRequest).addError(Problem.NotFound, { status: 404 }))
  .add(
    HttpApiEndpoint.post("accept", "/v1/purchase-requests/:id/accept")
      .setPath(IdPath)
      .setPayload(Schema.Struct({ payment: Schema.Struct({ token: Text(255) }) }))
      .addSuccess(PurchaseRequest, { status: 202 })
      .addError(Problem.NotFound, { status: 404 })
      .addError(Problem.Conflict, { status: 409 })
      .addError(Problem.Unprocessable, { status: 422 })
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/purchase-requests")
      .setUrlParams(
        Schema.Struct({
          status: Schema.optional(PurchaseStatus),
          cursor: Schema.optional(Schema.String),
          limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100)))
        })
      )
      .addSuccess(PurchaseRequestPage)
      .addError(Problem.BadRequest, { status: 400 })
      .addError(Problem.Unprocessable, { status: 422 })
  )
  .middleware(CustomerAuth) {}
