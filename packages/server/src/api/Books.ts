/** Current offers for a book, for customers deciding on a maximum. */
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
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
  expires_at: Schema.String,
  source: Schema.Literals(["live", "feed", "push"]).annotate({
    description: "Where the price comes from: the seller's answer now (live), its inventory feed (feed) or a price it pushed (push). A purchase confirms feed and push prices with the seller before buying."
  }),
  as_of: Schema.NullOr(Schema.String).annotate({ description: "When the feed or push stated the price (null for live answers)" }),
  age_seconds: Schema.NullOr(Schema.Int).annotate({ description: "How old that statement is, in whole seconds (null for live answers)" })
})

export const SellerOutcome = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String),
  cached: Schema.Boolean,
  latency_ms: Schema.Finite
})

export const BookOffers = Schema.Struct({
  isbn: Schema.String,
  currency: Schema.String,
  offers: Schema.Array(BookOffer),
  sellers: Schema.Array(SellerOutcome),
  duration_ms: Schema.Finite
})

export class BooksApi extends HttpApiGroup.make("books")
  .add(
    HttpApiEndpoint.get("offers", "/v1/books/:isbn/offers", {
      params: { isbn: Isbn.Isbn13FromString },
      query: { currency: Schema.optionalKey(Money.CurrencyCode) },
      success: BookOffers,
      error: [Problem.Unprocessable, Problem.TooManyRequests]
    })
  )
  .middleware(CustomerAuth) {}
