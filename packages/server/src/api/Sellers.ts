/**
 * The seller self-service endpoints: registration (no credentials; rate limited per client IP),
 * then, with the seller API key it returns once, the seller's own record, its changes, key
 * rotation and pushed prices. Every `/v1/sellers/me…` endpoint acts on the caller only.
 * Credentials go in, never out: responses name them, nothing more.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Contract, Isbn, Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"
import { SellerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"
import { MoneyAmount } from "./Purchases.js"

const Text = (max: number) =>
  Schema.String.pipe(
    Schema.trimmed({ message: () => "must not start or end with spaces" }),
    Schema.minLength(1, { message: () => "must not be empty" }),
    Schema.maxLength(max, { message: () => `must be at most ${max} characters` })
  )

export const SellerStatus = Schema.Literal("pending", "active", "disabled")

/** Overrides of the adapter's default limits; bookbroker never calls the seller harder, across all its processes. */
export const SellerLimits = Schema.Struct({
  requests_per_second: Schema.optional(
    Schema.Number.pipe(Schema.positive({ message: () => "must be positive" }), Schema.lessThanOrEqualTo(10_000, { message: () => "must be at most 10000" }))
  ),
  burst: Schema.optional(Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer" }), Schema.lessThanOrEqualTo(100_000))),
  max_concurrency: Schema.optional(Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer" }), Schema.lessThanOrEqualTo(10_000))),
  timeout_ms: Schema.optional(Schema.Int.pipe(Schema.between(1, 120_000, { message: () => "must be between 1 and 120000 milliseconds" })))
})

export const AdapterConfig = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  description: "The adapter's configuration (not secret), e.g. the reference adapter's { baseUrl, currency, mode, batch, shipping, condition }"
})

export const Credentials = Schema.Record({
  key: Schema.String.pipe(Schema.pattern(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, { message: () => "credential names are letters, digits, _ . - (at most 64)" })),
  value: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))
}).annotations({ description: "Secrets the adapter needs (e.g. { apiKey }); stored encrypted, never shown again" })

export const NewSeller = Schema.Struct({
  name: Text(100),
  contact: Schema.optional(Text(254)),
  adapter: Schema.Struct({
    kind: Text(64).annotations({ description: 'An installed adapter kind, e.g. "reference"' }),
    config: AdapterConfig,
    credentials: Schema.optional(Credentials)
  }),
  limits: Schema.optional(SellerLimits)
})

export const RegisteredSeller = Schema.Struct({
  id: Schema.String,
  status: SellerStatus,
  api_key: Schema.String.annotations({ description: "The seller API key: shown only this once (bookbroker keeps only its hash)" })
})

export const EffectiveLimits = Schema.Struct({
  requests_per_second: Schema.Number,
  burst: Schema.Int,
  max_concurrency: Schema.Int,
  timeout_ms: Schema.Int
})

export const Capabilities = Schema.Struct({
  batch_quotes: Schema.NullOr(Schema.Struct({ max_batch_size: Schema.Int })),
  holds: Schema.Boolean,
  order_lookup: Schema.Boolean,
  price_push: Schema.Boolean
})

export const Seller = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: SellerStatus,
  contact: Schema.NullOr(Schema.String),
  adapter: Schema.Struct({
    kind: Schema.String,
    version: Schema.String,
    config: AdapterConfig,
    credentials: Schema.Array(Schema.String).annotations({ description: "The names of the stored credentials (never their values)" })
  }),
  limit_overrides: SellerLimits,
  limits: Schema.NullOr(EffectiveLimits).annotations({ description: "The limits in force: the adapter's defaults with the overrides; null when the config is not usable" }),
  capabilities: Schema.NullOr(Capabilities),
  config_error: Schema.NullOr(Schema.String).annotations({ description: "Why the adapter refuses the stored config, if it does" }),
  created_at: Schema.String,
  updated_at: Schema.String
})

export const SellerChanges = Schema.Struct({
  contact: Schema.optional(Schema.NullOr(Text(254))),
  adapter: Schema.optional(
    Schema.Struct({
      config: Schema.optional(AdapterConfig.annotations({ description: "Replaces the whole config" })),
      credentials: Schema.optional(Credentials.annotations({ description: "Replace the credentials of the same names; the others are kept" }))
    })
  ),
  limits: Schema.optional(SellerLimits.annotations({ description: "Merged into the current overrides" }))
})

export const NewKey = Schema.Struct({
  api_key: Schema.String.annotations({ description: "The new seller API key, shown only this once; every earlier key is revoked" })
})

const Shipping = Schema.Struct({
  amount: Schema.Int.pipe(Schema.nonNegative({ message: () => "must be zero or a positive whole number of minor units" }), Schema.lessThanOrEqualTo(100_000_000)),
  currency: Money.CurrencyCode.annotations({ message: () => "must be an ISO 4217 currency code such as EUR" })
})

export const PushedOffer = Schema.Struct({
  isbn: Isbn.Isbn13FromString.annotations({ description: "ISBN-10 or ISBN-13, hyphens allowed" }),
  available: Schema.Boolean,
  price: Schema.optional(MoneyAmount.annotations({ description: "Required when available" })),
  shipping: Schema.optional(Shipping.annotations({ description: "Default: free, in the price's currency" })),
  quantity: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer" })))),
  condition: Schema.optional(Contract.Condition),
  reason: Schema.optional(Contract.UnavailableReason.annotations({ description: "When not available; default out_of_stock" })),
  valid_for_seconds: Schema.optional(
    Schema.Int.pipe(Schema.between(1, 300, { message: () => "must be between 1 and 300 seconds (pushed prices live at most 5 minutes)" }))
  ).annotations({ description: "How long the answer holds; default and at most 300" })
})

export const OfferPush = Schema.Struct({
  offers: Schema.Array(PushedOffer).pipe(
    Schema.minItems(1, { message: () => "must hold at least one offer" }),
    Schema.maxItems(500, { message: () => "must hold at most 500 offers per push" })
  )
})

export const OfferPushResult = Schema.Struct({
  accepted: Schema.Int,
  offers: Schema.Array(Schema.Struct({ isbn: Schema.String, available: Schema.Boolean, expires_at: Schema.String }))
})

export class SellersApi extends HttpApiGroup.make("sellers")
  .add(
    HttpApiEndpoint.post("register", "/v1/sellers")
      .setPayload(NewSeller)
      .addSuccess(RegisteredSeller, { status: 201 })
      .addError(Problem.Conflict, { status: 409 })
      .addError(Problem.Unprocessable, { status: 422 })
      .addError(Problem.TooManyRequests, { status: 429 })
      .annotate(
        OpenApi.Description,
        "Registers a seller (no credentials; rate limited per client IP). The adapter must accept the config, credentials and limits. Answers the seller id, its status (pending until an operator activates it, unless the server auto-activates) and its API key, shown only this once."
      )
  )
  .add(HttpApiEndpoint.get("me", "/v1/sellers/me").addSuccess(Seller).middleware(SellerAuth))
  .add(
    HttpApiEndpoint.patch("update", "/v1/sellers/me")
      .setPayload(SellerChanges)
      .addSuccess(Seller)
      .addError(Problem.Unprocessable, { status: 422 })
      .middleware(SellerAuth)
  )
  .add(HttpApiEndpoint.post("rotateKey", "/v1/sellers/me/keys").addSuccess(NewKey, { status: 201 }).middleware(SellerAuth))
  .add(
    HttpApiEndpoint.post("pushOffers", "/v1/sellers/me/offers")
      .setPayload(OfferPush)
      .addSuccess(OfferPushResult)
      .addError(Problem.Forbidden, { status: 403 })
      .addError(Problem.Unprocessable, { status: 422 })
      .middleware(SellerAuth)
      .annotate(
        OpenApi.Description,
        "Pushes prices and stock for ISBNs into the quote cache (active sellers only). Customers see a pushed answer in offers at once, for at most 5 minutes; a purchase never buys from it but asks the seller for a quote of its own first."
      )
  ) {}
