/**
 * The operator endpoints (operator token): sellers and their health, every customer's purchase
 * requests and the retry of a failed one, customers and their API keys.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { OperatorAuth } from "../Auth.js"
import * as Problem from "../Problem.js"
import { PurchaseRequest, PurchaseStatus } from "./Purchases.js"
import { EffectiveLimits, Seller, SellerStatus } from "./Sellers.js"

const Text = (max: number) =>
  Schema.String.pipe(
    Schema.trimmed({ message: () => "must not start or end with spaces" }),
    Schema.minLength(1, { message: () => "must not be empty" }),
    Schema.maxLength(max, { message: () => `must be at most ${max} characters` })
  )

export const SellerList = Schema.Struct({ items: Schema.Array(Seller) })

export const SellerHealth = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  status: SellerStatus,
  circuit: Schema.Struct({
    state: Schema.Literal("closed", "open", "half_open"),
    consecutive_failures: Schema.Int,
    open_until: Schema.NullOr(Schema.String)
  }).annotations({ description: "The circuit breaker, as every process sees it (shared state)" }),
  limits: Schema.NullOr(EffectiveLimits),
  rate: Schema.Struct({
    window_seconds: Schema.Int,
    answered: Schema.Int,
    failed: Schema.Int,
    denied: Schema.Int.annotations({ description: "Calls not sent: circuit open, back-off, no rate budget or no concurrency permit" }),
    sent_per_second: Schema.Number,
    utilization: Schema.NullOr(Schema.Number).annotations({ description: "sent_per_second / limits.requests_per_second" })
  }).annotations({ description: "Quote calls in the last window, from this server process" }),
  latency_ms: Schema.NullOr(Schema.Number).annotations({ description: "Recent quote latency (exponentially weighted), this process; null before any call" }),
  error_rate: Schema.NullOr(Schema.Number).annotations({ description: "Recent share of failed calls (exponentially weighted), this process; null before any call" }),
  calls: Schema.Int.annotations({ description: "Quote calls this process has made to the seller" }),
  blocked_until: Schema.NullOr(Schema.String).annotations({ description: "Until when admission last refused the seller, if still ahead" })
})

export const SellerHealthList = Schema.Struct({ items: Schema.Array(SellerHealth) })

export const Attention = Schema.Struct({
  kind: Schema.Literal("unresolved_attempt", "dead_letter", "order_mismatch"),
  detail: Schema.String,
  since: Schema.String
}).annotations({ description: "Why a person has to look at this request (`requests list --stuck`)" })

export const OperatorPurchaseRequest = Schema.Struct({ ...PurchaseRequest.fields, customer_id: Schema.String, attention: Schema.NullOr(Attention) })
export const OperatorPurchaseRequestPage = Schema.Struct({ items: Schema.Array(OperatorPurchaseRequest), next_cursor: Schema.NullOr(Schema.String) })

export const RetryRequest = Schema.NullOr(
  Schema.Struct({
    payment: Schema.optional(Schema.Struct({ token: Text(255).annotations({ description: "A new payment method token for the new round" }) }))
  })
).annotations({ description: "Optional: an empty body keeps the request's payment token" })

export const FindingKind = Schema.Literal(
  "capture_without_order",
  "order_without_capture",
  "captured_above_authorized",
  "authorization_left_open",
  "provider_mismatch",
  "duplicate_orders",
  "seller_order_unknown",
  "attempt_unresolved",
  "order_above_agreed_price",
  "order_currency_mismatch"
)
export const Finding = Schema.Struct({
  request_id: Schema.String,
  kind: FindingKind,
  detail: Schema.String.annotations({ description: "What was found, what (if anything) was done, and the repair when a person must act" }),
  fixed: Schema.Boolean,
  found_at: Schema.String
})
export const FindingList = Schema.Struct({ items: Schema.Array(Finding) })
export const SettleFinding = Schema.Struct({ note: Text(500).annotations({ description: "What the person did, kept with the finding" }) })

export const Customer = Schema.Struct({ id: Schema.String, name: Schema.String, email: Schema.NullOr(Schema.String), created_at: Schema.String })
export const NewCustomer = Schema.Struct({
  name: Text(200),
  email: Schema.optional(Schema.String.pipe(Schema.trimmed(), Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "must be an email address" }), Schema.maxLength(254)))
})
export const CreatedCustomer = Schema.Struct({
  ...Customer.fields,
  api_key: Schema.String.annotations({ description: "The customer API key: shown only this once" })
})
export const CustomerList = Schema.Struct({ items: Schema.Array(Customer) })

const IdPath = Schema.Struct({ id: Schema.String })

export class OperatorApi extends HttpApiGroup.make("operator")
  .add(HttpApiEndpoint.get("listSellers", "/v1/operator/sellers").setUrlParams(Schema.Struct({ status: Schema.optional(SellerStatus) })).addSuccess(SellerList).addError(Problem.Unprocessable, { status: 422 }))
  .add(HttpApiEndpoint.get("sellersHealth", "/v1/operator/sellers/health").addSuccess(SellerHealthList))
  .add(HttpApiEndpoint.get("getSeller", "/v1/operator/sellers/:id").setPath(IdPath).addSuccess(Seller).addError(Problem.NotFound, { status: 404 }))
  .add(HttpApiEndpoint.get("sellerHealth", "/v1/operator/sellers/:id/health").setPath(IdPath).addSuccess(SellerHealth).addError(Problem.NotFound, { status: 404 }))
  .add(HttpApiEndpoint.post("activateSeller", "/v1/operator/sellers/:id/activate").setPath(IdPath).addSuccess(Seller).addError(Problem.NotFound, { status: 404 }))
  .add(HttpApiEndpoint.post("disableSeller", "/v1/operator/sellers/:id/disable").setPath(IdPath).addSuccess(Seller).addError(Problem.NotFound, { status: 404 }))
  .add(
    HttpApiEndpoint.get("listPurchaseRequests", "/v1/operator/purchase-requests")
      .setUrlParams(
        Schema.Struct({
          status: Schema.optional(PurchaseStatus),
          stuck: Schema.optional(Schema.BooleanFromString).annotations({ description: "Only requests a person has to look at" }),
          cursor: Schema.optional(Schema.String),
          limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100)))
        })
      )
      .addSuccess(OperatorPurchaseRequestPage)
      .addError(Problem.BadRequest, { status: 400 })
      .addError(Problem.Unprocessable, { status: 422 })
  )
  .add(
    HttpApiEndpoint.get("getPurchaseRequest", "/v1/operator/purchase-requests/:id")
      .setPath(IdPath)
      .addSuccess(OperatorPurchaseRequest)
      .addError(Problem.NotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.post("retryPurchaseRequest", "/v1/operator/purchase-requests/:id/retry")
      .setPath(IdPath)
      .setPayload(RetryRequest)
      .addSuccess(OperatorPurchaseRequest, { status: 202 })
      .addError(Problem.NotFound, { status: 404 })
      .addError(Problem.Conflict, { status: 409 })
      .addError(Problem.Unprocessable, { status: 422 })
      .annotate(
        OpenApi.Description,
        "Runs a failed request again from received, in a new round (fresh quotes, new payment keys), optionally with a new payment token — only when that cannot buy or hold money twice: no confirmed seller order, no open attempt, no live authorization, no payment operation without an outcome (409 with the reason otherwise). A request set aside after repeated internal errors (attention `dead_letter`) is resumed where it stopped instead."
      )
  )
  .add(
    HttpApiEndpoint.get("listFindings", "/v1/operator/findings")
      .setUrlParams(Schema.Struct({ open: Schema.optional(Schema.BooleanFromString), request_id: Schema.optional(Schema.String) }))
      .addSuccess(FindingList)
      .addError(Problem.Unprocessable, { status: 422 })
      .annotate(OpenApi.Description, "What the reconciler and the purchase pipeline found that a person has to look at (at most 500, oldest first); `open=true` for the unsettled ones.")
  )
  .add(
    HttpApiEndpoint.post("settleFinding", "/v1/operator/findings/:request_id/:kind/settle")
      .setPath(Schema.Struct({ request_id: Schema.String, kind: FindingKind }))
      .setPayload(SettleFinding)
      .addSuccess(Finding)
      .addError(Problem.NotFound, { status: 404 })
      .addError(Problem.Unprocessable, { status: 422 })
  )
  .add(HttpApiEndpoint.post("createCustomer", "/v1/operator/customers").setPayload(NewCustomer).addSuccess(CreatedCustomer, { status: 201 }).addError(Problem.Unprocessable, { status: 422 }))
  .add(HttpApiEndpoint.get("listCustomers", "/v1/operator/customers").addSuccess(CustomerList))
  .middleware(OperatorAuth) {}
