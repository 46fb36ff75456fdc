/** Current offers for a book, for customers deciding on a maximum. */
import { Contract, Isbn, Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { CustomerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"
import { MoneyOut } from "./Purchases.js"

export const BookOffer = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  price: MoneyOut,
  shipping: MoneyOut,
  total: MoneyOut.annotate({
    description: "In the currency asked: when the seller offers in another (price and shipping), converted at the operator's exchange rates plus their margin, as a purchase would be"
  }),
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

export const SearchOffer = Schema.Struct({
  seller_id: Schema.String,
  seller_name: Schema.String,
  price: MoneyOut.annotate({ description: "The seller's own price, in its currency" }),
  shipping: MoneyOut.annotate({ description: "The seller's own shipping, in its currency" }),
  total: MoneyOut.annotate({
    description: "Price + shipping in the currency asked: converted at the operator's exchange rates plus their margin when the seller's is another, as a purchase would be"
  }),
  condition: Schema.String,
  source: Schema.Literals(["feed", "push"]).annotate({ description: "Where the price comes from: the seller's inventory feed or a price it pushed; buying confirms it with the seller" }),
  as_of: Schema.String.annotate({ description: "When the feed or push stated the price" }),
  age_seconds: Schema.Int.annotate({ description: "How old that statement is, in whole seconds" })
})

export const SearchHit = Schema.Struct({
  isbn: Schema.String,
  title: Schema.NullOr(Schema.String),
  author: Schema.NullOr(Schema.String),
  publisher: Schema.NullOr(Schema.String),
  year: Schema.NullOr(Schema.Int),
  best_offer: Schema.NullOr(SearchOffer).annotate({
    description:
      "The cheapest current offer from the offer index, compared in the currency asked (offers in other currencies converted when the operator configured exchange rates; otherwise only offers in the currency asked), within the condition filter; null when there is none"
  }),
  offers: Schema.Int.annotate({ description: "How many current offers there are in the currency asked or convertible to it (within the condition filter)" }),
  other_currencies: Schema.Array(Schema.String).annotate({
    description:
      "Currencies the book is offered in that could not be compared with the one asked (no exchange rate for them), sorted; a book offered only in those is offered, not missing: ask in one of them"
  }),
  score: Schema.Finite.annotate({ description: "Relevance, higher is better (0 for an ISBN)" })
})

export const SearchPage = Schema.Struct({
  isbn: Schema.NullOr(Schema.String).annotate({ description: "The query read as an ISBN (normalised to ISBN-13), when it is one" }),
  currency: Schema.String,
  hits: Schema.Array(SearchHit),
  next_cursor: Schema.NullOr(Schema.String)
})

const SearchText = Schema.String.check(
  Schema.makeFilter((value: string) => (value.trim().length >= 1 && value.length <= 200) || "must be 1 to 200 characters, not only spaces")
)
const SearchLimit = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 50 }, { message: "must be a whole number from 1 to 50" }))
const Decimal = Schema.String.check(Schema.makeFilter((value: string) => /^\d{1,9}(\.\d{1,3})?$/.test(value) || "must be an amount such as 12.50"))

export class BooksApi extends HttpApiGroup.make("books")
  .add(
    HttpApiEndpoint.get("search", "/v1/books", {
      query: {
        q: SearchText.annotate({ description: "Title, author or publisher words (typos forgiven), or an ISBN-10/13 with or without hyphens" }),
        currency: Schema.optionalKey(Money.CurrencyCode),
        condition: Schema.optionalKey(Contract.Condition.annotate({ description: "This condition or better" })),
        in_stock: Schema.optionalKey(Schema.Boolean.annotate({ description: "Only books with a current offer" })),
        max_total: Schema.optionalKey(Decimal.annotate({ description: "Only books whose best offer (price + shipping) is at most this, in `currency`" })),
        sort: Schema.optionalKey(Schema.Literals(["relevance", "price"])),
        limit: Schema.optionalKey(SearchLimit),
        cursor: Schema.optionalKey(Schema.String)
      },
      success: SearchPage,
      error: [Problem.BadRequest, Problem.Unprocessable, Problem.TooManyRequests]
    }).annotate(
      OpenApi.Description,
      "Find books by title, author, publisher or ISBN, with each one's best current offer from the offer index (sellers' inventory feeds and pushed prices). Buying confirms the price with the seller."
    )
  )
  .add(
    HttpApiEndpoint.get("offers", "/v1/books/:isbn/offers", {
      params: { isbn: Isbn.Isbn13FromString },
      query: { currency: Schema.optionalKey(Money.CurrencyCode) },
      success: BookOffers,
      error: [Problem.Unprocessable, Problem.TooManyRequests]
    })
  )
  .middleware(CustomerAuth) {}
