/** The customer purchase endpoints and their wire shapes (snake_case, money in minor units). */
import { PurchaseRequest as Request, Purchases } from "@bookbroker/engine"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { CustomerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"

/** The request's own schemas are the engine's (`purchases/PurchaseRequest.ts`): defined once. */
export const { MoneyAmount, MoneyOut, Text, NewPurchaseRequest } = Request

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
  ...Request.Shown.fields,
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
