/**
 * The seller self-service endpoints: registration (no credentials; rate limited per client IP),
 * then, with the seller API key it returns once, the seller's own record, its changes, key
 * rotation and pushed prices. Every `/v1/sellers/me…` endpoint acts on the caller only.
 * Credentials go in, never out: responses name them, nothing more.
 */
import { Contract, Isbn, Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { SellerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"
import { MoneyAmount, Text } from "./Purchases.js"

export const SellerStatus = Schema.Literals(["pending", "active", "disabled"])

/** Overrides of the adapter's default limits; bookbroker never calls the seller harder, across all its processes. */
export const SellerLimits = Schema.Struct({
  requests_per_second: Schema.optionalKey(
    // At least one call every 100 seconds: slower is no seller bookbroker can serve (and a rate
    // near zero turns into refill times no clock or Redis script can represent).
    Schema.Finite.check(
      Schema.isGreaterThanOrEqualTo(0.01, { message: "must be at least 0.01 (one call every 100 seconds)" }),
      Schema.isLessThanOrEqualTo(10_000, { message: "must be at most 10000" })
    )
  ),
  burst: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0, { message: "must be a positive integer" }), Schema.isLessThanOrEqualTo(100_000))),
  max_concurrency: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0, { message: "must be a positive integer" }), Schema.isLessThanOrEqualTo(10_000))),
  timeout_ms: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 120_000 }, { message: "must be between 1 and 120000 milliseconds" })))
})

export const AdapterConfig = Schema.Record(Schema.String, Schema.Unknown).annotate({
  description: "The adapter's configuration (not secret), e.g. the reference adapter's { baseUrl, currency, mode, batch, shipping, condition }"
})

export const Credentials = Schema.Record(
  Schema.String.check(Schema.isPattern(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, { message: "credential names are letters, digits, _ . - (at most 64)" })),
  Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096))
).annotate({ description: "Secrets the adapter needs (e.g. { apiKey }); stored encrypted, never shown again" })

export const NewSeller = Schema.Struct({
  name: Text(100),
  contact: Schema.optionalKey(Text(254)),
  adapter: Schema.Struct({
    kind: Text(64).annotate({ description: 'An installed adapter kind, e.g. "reference"' }),
    config: AdapterConfig,
    credentials: Schema.optionalKey(Credentials)
  }),
  limits: Schema.optionalKey(SellerLimits)
})

export const RegisteredSeller = Schema.Struct({
  id: Schema.String,
  status: SellerStatus,
  api_key: Schema.String.annotate({ description: "The seller API key: shown only this once (bookbroker keeps only its hash)" })
})

export const EffectiveLimits = Schema.Struct({
  requests_per_second: Schema.Finite,
  burst: Schema.Int,
  max_concurrency: Schema.Int,
  timeout_ms: Schema.Int
})

export const Capabilities = Schema.Struct({
  batch_quotes: Schema.NullOr(Schema.Struct({ max_batch_size: Schema.Int })),
  holds: Schema.Boolean,
  order_lookup: Schema.Boolean,
  price_push: Schema.Boolean,
  inventory: Schema.Boolean.annotate({ description: "The adapter can list the seller's inventory: bookbroker can keep its offer index without uploads (PATCH /v1/sellers/me/inventory with pull.adapter)" })
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
    credentials: Schema.Array(Schema.String).annotate({ description: "The names of the stored credentials (never their values)" })
  }),
  limit_overrides: SellerLimits,
  limits: Schema.NullOr(EffectiveLimits).annotate({ description: "The limits in force: the adapter's defaults with the overrides; null when the config is not usable" }),
  capabilities: Schema.NullOr(Capabilities),
  config_error: Schema.NullOr(Schema.String).annotate({ description: "Why the adapter refuses the stored config, if it does" }),
  created_at: Schema.String,
  updated_at: Schema.String
})

export const SellerChanges = Schema.Struct({
  contact: Schema.optionalKey(Schema.NullOr(Text(254))),
  adapter: Schema.optionalKey(
    Schema.Struct({
      config: Schema.optionalKey(AdapterConfig.annotate({ description: "Replaces the whole config" })),
      credentials: Schema.optionalKey(Credentials.annotate({ description: "Replace the credentials of the same names; the others are kept" }))
    })
  ),
  limits: Schema.optionalKey(SellerLimits.annotate({ description: "Merged into the current overrides" }))
})

export const NewKey = Schema.Struct({
  api_key: Schema.String.annotate({ description: "The new seller API key, shown only this once; every earlier key is revoked" })
})

const Shipping = Schema.Struct({
  amount: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { message: "must be zero or a positive whole number of minor units" }), Schema.isLessThanOrEqualTo(100_000_000)),
  currency: Money.CurrencyCode.annotate({ message: "must be an ISO 4217 currency code such as EUR" })
})

export const PushedOffer = Schema.Struct({
  isbn: Isbn.Isbn13FromString.annotate({ description: "ISBN-10 or ISBN-13, hyphens allowed" }),
  available: Schema.Boolean,
  price: Schema.optionalKey(MoneyAmount.annotate({ description: "Required when available" })),
  shipping: Schema.optionalKey(Shipping.annotate({ description: "Default: free, in the price's currency" })),
  quantity: Schema.optionalKey(Schema.NullOr(Schema.Int.check(Schema.isGreaterThan(0, { message: "must be a positive integer" })))),
  condition: Schema.optionalKey(Contract.Condition),
  reason: Schema.optionalKey(Contract.UnavailableReason.annotate({ description: "When not available; default out_of_stock" })),
  valid_for_seconds: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 300 }, { message: "must be between 1 and 300 seconds (pushed prices live at most 5 minutes)" })).annotate({
      description: "How long the answer holds; default and at most 300"
    })
  )
})

export const OfferPush = Schema.Struct({
  offers: Schema.Array(PushedOffer).check(
    Schema.isMinLength(1, { message: "must hold at least one offer" }),
    Schema.isMaxLength(500, { message: "must hold at most 500 offers per push" })
  )
})

export const OfferPushResult = Schema.Struct({
  accepted: Schema.Int,
  offers: Schema.Array(Schema.Struct({ isbn: Schema.String, available: Schema.Boolean, expires_at: Schema.String }))
})

export class SellersApi extends HttpApiGroup.make("sellers").add(
  HttpApiEndpoint.post("register", "/v1/sellers", {
    payload: NewSeller,
    success: RegisteredSeller.pipe(HttpApiSchema.status(201)),
    error: [Problem.Conflict, Problem.Unprocessable, Problem.TooManyRequests]
  }).annotate(
    OpenApi.Description,
    "Registers a seller (no credentials; rate limited per client IP). The adapter must accept the config, credentials and limits. Answers the seller id, its status (pending until an operator activates it, unless the server auto-activates) and its API key, shown only this once."
  ),
  HttpApiEndpoint.get("me", "/v1/sellers/me", { success: Seller }).middleware(SellerAuth),
  HttpApiEndpoint.patch("update", "/v1/sellers/me", { payload: SellerChanges, success: Seller, error: [Problem.Forbidden, Problem.Unprocessable] }).middleware(SellerAuth),
  HttpApiEndpoint.post("rotateKey", "/v1/sellers/me/keys", { success: NewKey.pipe(HttpApiSchema.status(201)) }).middleware(SellerAuth),
  HttpApiEndpoint.post("pushOffers", "/v1/sellers/me/offers", {
    payload: OfferPush,
    success: OfferPushResult,
    error: [Problem.Forbidden, Problem.Unprocessable]
  })
    .middleware(SellerAuth)
    .annotate(
      OpenApi.Description,
      "Pushes prices and stock for ISBNs into the quote cache (active sellers only). Customers see a pushed answer in offers at once, for at most 5 minutes; a purchase never buys from it but asks the seller for a quote of its own first."
    )
) {}
