/** Current offers for a book, for customers deciding on a maximum. */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"
import { CustomerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"
import { MoneyOut } from "./Purchases.js"

export const BookOffer = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  price: MoneyOut,
  shipping: MoneyOut,
  total: MoneyOut,
  condition: Schema.String,
  quantity: Schema.NullOr(Schema.Int),
  expires_at: Schema.String
})

export const SellerOutcome = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String),
  cached: Schema.Boolean,
  latency_ms: Schema.Number
})

export const BookOffers = Schema.Struct({
  isbn: Schema.String,
  currency: Schema.String,
  offers: Schema.Array(BookOffer),
  sellers: Schema.Array(SellerOutcome),
  duration_ms: Schema.Number
})

export class BooksApi extends HttpApiGroup.make("books")
  .add(
    HttpApiEndpoint.get("offers", "/v1/books/:isbn/offers")
      .setPath(Schema.Struct({ isbn: Isbn.Isbn13FromString }))
      .setUrlParams(Schema.Struct({ currency: Schema.optional(Money.CurrencyCode) }))
      .addSuccess(BookOffers)
      .addError(Problem.Unprocessable, { status: 422 })
      .addError(Problem.TooManyRequests, { status: 429 })
  )
  .middleware(CustomerAuth) {}
