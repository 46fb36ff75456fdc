/**
 * The operator endpoints (operator token): sellers and their health, every customer's purchase
 * requests and the retry of a failed one, customers and their API keys.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { OperatorAuth } from "../Auth.js"
import * as Problem from "../Problem.js"
import { Limit, PurchaseRequest, PurchaseStatus, Text } from "./Purchases.js"
import { EffectiveLimits, Seller, SellerStatus } from "./Sellers.js"

export const SellerList = Schema.Struct({ items: Schema.Array(Seller) })

export const SellerHealth = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  status: SellerStatus,
  circuit: Schema.Struct({
    state: Schema.Literals(["closed", "open", "half_open"]),
    consecutive_failures: Schema.Int,
    open_until: Schema.NullOr(Schema.String)
  }).annotate({ description: "The circuit breaker, as every process sees it (shared state)" }),
  limits: Schema.NullOr(EffectiveLimits),
  rate: Schema.Struct({
    window_seconds: Schema.Int,
    answered: Schema.Int,
    failed: Schema.Int,
    denied: Schema.Int.annotate({ description: "Calls not sent: circuit open, back-off, no rate budget or no concurrency permit" }),
    sent_per_second: Schema.Finite,
    utilization: Schema.NullOr(Schema.Finite).annotate({ description: "sent_per_second / limits.requests_per_second" })
  }).annotate({ description: "Quote calls in the last window, from this server process" }),
  latency_ms: Schema.NullOr(Schema.Finite).annotate({ description: "Recent quote latency (exponentially weighted), this process; null before any call" }),
  error_rate: Schema.NullOr(Schema.Finite).annotate({ description: "Recent share of failed calls (exponentially weighted), this process; null before any call" }),
  calls: Schema.Int.annotate({ description: "Quote calls this process has made to the seller" }),
  blocked_until: Schema.NullOr(Schema.String).annotate({ description: "Until when admission last refused the seller, if still ahead" })
})

export const SellerHealthList = Schema.Struct({ items: Schema.Array(SellerHealth) })

export const Attention = Schema.Struct({
  kind: Schema.Literals(["unresolved_attempt", "dead_letter", "order_mismatch"]),
  detail: Schema.String,
  since: Schema.String
}).annotate({ description: "Why a person has to look at this request (`requests list --stuck`)" })

export const OperatorPurchaseRequest = Schema.Struct({ ...PurchaseRequest.fields, customer_id: Schema.String, attention: Schema.NullOr(Attention) })
export const OperatorPurchaseRequestPage = Schema.Struct({ items: Schema.Array(OperatorPurchaseRequest), next_cursor: Schema.NullOr(Schema.String) })

export const RetryRequest = Schema.Struct({
  payment: Schema.optionalKey(Schema.Struct({ token: Text(255).annotate({ description: "A new payment method token for the new round" }) }))
}).annotate({
  description:
    "A failed request needs a new payment token (its own was dropped when it ended: 422 without one); a request set aside after internal errors is resumed with the token it has, so an empty body will do"
})

export const FindingKind = Schema.Literals(["capture_without_order", "order_without_capture", "captured_above_authorized", "authorization_left_open", "provider_mismatch", "duplicate_orders", "seller_order_unknown", "attempt_unresolved", "order_above_agreed_price", "order_currency_mismatch"])
export const Finding = Schema.Struct({
  request_id: Schema.String,
  kind: FindingKind,
  detail: Schema.String.annotate({ description: "What was found, what (if anything) was done, and the repair when a person must act" }),
  fixed: Schema.Boolean,
  found_at: Schema.String
})
export const FindingList = Schema.Struct({ items: Schema.Array(Finding) })
export const SettleFinding = Schema.Struct({ note: Text(500).annotate({ description: "What the person did, kept with the finding" }) })

export const Customer = Schema.Struct({ id: Schema.String, name: Schema.String, email: Schema.NullOr(Schema.String), created_at: Schema.String })
export const NewCustomer = Schema.Struct({
  name: Text(200),
  email: Schema.optionalKey(Schema.String.check(Schema.isTrimmed(), Schema.isPattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: "must be an email address" }), Schema.isMaxLength(254)))
})
export const CreatedCustomer = Schema.Struct({
  ...Customer.fields,
  api_key: Schema.String.annotate({ description: "The customer API key: shown only this once" })
})
export const CustomerList = Schema.Struct({ items: Schema.Array(Customer) })
export const RevokedKeys = Schema.Struct({
  customer_id: Schema.String,
  name: Schema.String,
  revoked: Schema.Int.annotate({ description: "How many live keys were revoked (0: it had none)" })
})
export const ReplacedKey = Schema.Struct({
  ...RevokedKeys.fields,
  api_key: Schema.String.annotate({ description: "The customer's new API key: shown only this once" })
})

const IdPath = { id: Schema.String }

export class OperatorApi extends HttpApiGroup.make("operator")
  .add(
    HttpApiEndpoint.get("listSellers", "/v1/operator/sellers", { query: { status: Schema.optionalKey(SellerStatus) }, success: SellerList, error: Problem.Unprocessable }),
    HttpApiEndpoint.get("sellersHealth", "/v1/operator/sellers/health", { success: SellerHealthList }),
    HttpApiEndpoint.get("getSeller", "/v1/operator/sellers/:id", { params: IdPath, success: Seller, error: Problem.NotFound }),
    HttpApiEndpoint.get("sellerHealth", "/v1/operator/sellers/:id/health", { params: IdPath, success: SellerHealth, error: Problem.NotFound }),
    HttpApiEndpoint.post("activateSeller", "/v1/operator/sellers/:id/activate", { params: IdPath, success: Seller, error: Problem.NotFound }),
    HttpApiEndpoint.post("disableSeller", "/v1/operator/sellers/:id/disable", { params: IdPath, success: Seller, error: Problem.NotFound }),
    HttpApiEndpoint.get("listPurchaseRequests", "/v1/operator/purchase-requests", {
      query: {
        status: Schema.optionalKey(PurchaseStatus),
        stuck: Schema.optionalKey(Schema.Boolean.annotate({ description: "Only requests a person has to look at" })),
        cursor: Schema.optionalKey(Schema.String),
        limit: Schema.optionalKey(Limit)
      },
      success: OperatorPurchaseRequestPage,
      error: [Problem.BadRequest, Problem.Unprocessable]
    }),
    HttpApiEndpoint.get("getPurchaseRequest", "/v1/operator/purchase-requests/:id", { params: IdPath, success: OperatorPurchaseRequest, error: Problem.NotFound }),
    HttpApiEndpoint.post("retryPurchaseRequest", "/v1/operator/purchase-requests/:id/retry", {
      params: IdPath,
      // An empty body is `null`: enough to resume a request set aside; a failed one needs a new token.
      payload: [RetryRequest, Schema.Null],
      success: OperatorPurchaseRequest.pipe(HttpApiSchema.status(202)),
      error: [Problem.NotFound, Problem.Conflict, Problem.Unprocessable]
    }).annotate(
      OpenApi.Description,
      "Runs a failed request again from received, in a new round (fresh quotes, new payment keys), with a new payment token (422 without one: a request's token is dropped when it ends) — only when that cannot buy or hold money twice: no confirmed seller order, no open attempt, no live authorization, no payment operation without an outcome (409 with the reason otherwise). A request set aside after repeated internal errors (attention `dead_letter`) is resumed where it stopped instead."
    ),
    HttpApiEndpoint.get("listFindings", "/v1/operator/findings", {
      query: { open: Schema.optionalKey(Schema.Boolean), request_id: Schema.optionalKey(Schema.String) },
      success: FindingList,
      error: Problem.Unprocessable
    }).annotate(
      OpenApi.Description,
      "What the reconciler and the purchase pipeline found that a person has to look at (at most 500, oldest first); `open=true` for the unsettled ones."
    ),
    HttpApiEndpoint.post("settleFinding", "/v1/operator/findings/:request_id/:kind/settle", {
      params: { request_id: Schema.String, kind: FindingKind },
      payload: SettleFinding,
      success: Finding,
      error: [Problem.NotFound, Problem.Unprocessable]
    }),
    HttpApiEndpoint.post("createCustomer", "/v1/operator/customers", {
      payload: NewCustomer,
      success: CreatedCustomer.pipe(HttpApiSchema.status(201)),
      error: Problem.Unprocessable
    }),
    HttpApiEndpoint.get("listCustomers", "/v1/operator/customers", { success: CustomerList }),
    HttpApiEndpoint.delete("revokeCustomerKeys", "/v1/operator/customers/:id/keys", { params: IdPath, success: RevokedKeys, error: Problem.NotFound }).annotate(
      OpenApi.Description,
      "Revokes every API key of the customer: each is refused (401) by this server at once and by every other server process within 1 s. The customer and its purchase requests stay; give it a new key with POST on the same path."
    ),
    HttpApiEndpoint.post("replaceCustomerKey", "/v1/operator/customers/:id/keys", {
      params: IdPath,
      success: ReplacedKey.pipe(HttpApiSchema.status(201)),
      error: Problem.NotFound
    }).annotate(OpenApi.Description, "A new API key for the customer (shown only this once); every earlier key is revoked, as by DELETE.")
  )
  .middleware(OperatorAuth) {}
