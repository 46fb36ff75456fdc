/**
 * The adapter for sellers that expose the reference seller API
 * (`@bookbroker/adapter-sdk/openapi/reference-seller.v1.yaml`). Configuration picks the
 * seller's currency, whether it holds (quote → hold → order) or sells atomically from a quote,
 * whether it takes batch quotes, and which optional endpoints (order lookup, inventory) the
 * seller serves. Wire types are generated from the OpenAPI document.
 */
import { type Adapter, Contract, defineAdapter, Http, Money, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Result, Schema } from "effect"
import type { components } from "./internal/wire.generated.js"

type WireQuote = components["schemas"]["Quote"]
type WireHold = components["schemas"]["Hold"]
type WireOrder = components["schemas"]["Order"]
type WireError = components["schemas"]["Error"]

export const ReferenceConfig = Schema.Struct({
  /** The seller's API root, e.g. `https://books.example.com`. */
  baseUrl: Schema.String.check(Schema.makeFilter((url: string) => URL.canParse(url) || "baseUrl must be an absolute URL")),
  /** The currency the seller prices in (the wire carries bare decimals). */
  currency: Money.CurrencyCode,
  /** `hold`: quote → hold → order. `atomic`: the seller has no holds; order straight from a quote. */
  mode: Schema.Literals(["hold", "atomic"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("hold" as const))),
  /** Use `POST /api/v1/quotes` for many ISBNs per call. */
  batch: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  maxBatchSize: Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 500 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(50))),
  /** The seller answers `GET /api/v1/orders/{idempotency_key}`: unknown purchase outcomes are settled by asking. */
  orderLookup: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  /**
   * The seller answers `GET /api/v1/inventory`: bookbroker can keep its offer index from the
   * listing instead of uploads. Off unless set, like `orderLookup`: sellers that implemented
   * the API before the endpoint existed don't serve it, and declaring it for them would fail
   * every feed fetch.
   */
  inventory: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  /** Flat shipping per item in minor units (the API has no shipping field). */
  shipping: Money.MinorUnits.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  /** The condition the seller sells in (the API has no condition field). */
  condition: Contract.Condition.pipe(Schema.withDecodingDefaultKey(Effect.succeed("new" as const)))
})
export type ReferenceConfig = typeof ReferenceConfig.Type

const malformed = (operation: Contract.Operation, detail: string) =>
  new SellerError.MalformedSellerResponse({ operation, detail })

const money = (operation: Contract.Operation, value: unknown, currency: string): Money.MoneyInput => {
  if (typeof value !== "number" && typeof value !== "string") throw malformed(operation, `price ${JSON.stringify(value)} is not a decimal`)
  const parsed = Money.fromDecimal(value, currency)
  if (Result.isFailure(parsed)) throw malformed(operation, parsed.failure)
  return { amount: parsed.success.amount, currency }
}

/**
 * `GET /api/v1/inventory` (`InventoryPage` in the OpenAPI document), decoded rather than cast:
 * the page is walked in bulk, and one bad listing should name its field.
 */
const WireInventoryPage = Schema.Struct({
  listings: Schema.Array(
    Schema.Struct({
      listing_id: Schema.String,
      book_id: Schema.String,
      price: Schema.Union([Schema.Number, Schema.String]),
      quantity: Schema.Number,
      title: Schema.optional(Schema.NullOr(Schema.String)),
      author: Schema.optional(Schema.NullOr(Schema.String)),
      publisher: Schema.optional(Schema.NullOr(Schema.String))
    })
  ),
  next_cursor: Schema.NullOr(Schema.String)
})

const errorCode = (body: unknown): WireError["error"] | undefined =>
  typeof body === "object" && body !== null && "error" in body ? (body.error as WireError["error"]) : undefined

export const referenceAdapter: Adapter.Adapter<ReferenceConfig, typeof ReferenceConfig.Encoded> = defineAdapter({
  kind: "reference",
  version: "1.0.0",
  description: "Sellers speaking the reference seller API (quote, optional hold, idempotent orders).",
  config: ReferenceConfig,
  credentials: ["apiKey"],
  capabilities: (config) => ({
    batchQuotes: config.batch ? { maxBatchSize: config.maxBatchSize } : null,
    holds: config.mode === "hold",
    orderLookup: config.orderLookup,
    pricePush: false,
    inventory: config.inventory
  }),
  limits: { requestsPerSecond: 20, burst: 40, maxConcurrency: 16, timeoutMillis: 3_000 },
  create: ({ config, credentials, http }) => {
    const api = http({ baseUrl: config.baseUrl, auth: Http.apiKeyHeader("X-Api-Key", credentials["apiKey"]!) })
    const shipping = { amount: config.shipping, currency: config.currency }

    const toAnswer = (isbn: string, wire: WireQuote): Contract.QuoteResultInput =>
      wire.available
        ? {
            available: true,
            isbn,
            quoteId: wire.quote_id ?? "",
            price: money("quote", wire.price, config.currency),
            shipping,
            condition: config.condition,
            // Optional on the wire: a seller that says how many it has lets scarce copies go first come, first served.
            quantity: typeof wire.quantity === "number" && Number.isInteger(wire.quantity) && wire.quantity > 0 ? wire.quantity : null,
            expiresAt: wire.expires_at ?? ""
          }
        : { available: false, isbn, reason: "out_of_stock" }

    const rejection = (operation: Contract.Operation, status: number, body: unknown): SellerError.SellerError => {
      const code = errorCode(body)
      const detail = `${status} ${code ?? "without an error code"}`
      switch (code) {
        case "out_of_stock":
        case "unknown_book":
          return new SellerError.SellerRejected({ operation, reason: "out_of_stock", status, detail })
        case "quote_expired":
        case "unknown_quote":
          return new SellerError.SellerRejected({ operation, reason: "quote_expired", status, detail })
        case "hold_expired":
        case "unknown_hold":
          return new SellerError.SellerRejected({ operation, reason: "hold_expired", status, detail })
        case "in_progress":
          // An order under this key is still being processed: this call decided nothing.
          return new SellerError.SellerUnavailable({ operation, reason: "conflict", status, detail })
        case "price_changed": {
          const current = (body as WireError).current_price
          return new SellerError.SellerRejected({
            operation,
            reason: "price_changed",
            status,
            detail,
            ...(current === undefined ? {} : { currentPrice: Money.make(money(operation, current, config.currency).amount, config.currency) })
          })
        }
        default:
          return malformed(operation, `unexpected ${detail}`)
      }
    }

    return {
      async quote({ isbns }, { signal }) {
        if (config.batch) {
          const response = await api.request({ operation: "quote", method: "POST", path: "/api/v1/quotes", json: { book_ids: isbns }, signal })
          const quotes = (response.body as { quotes?: Array<WireQuote> } | undefined)?.quotes
          if (!Array.isArray(quotes)) throw malformed("quote", "batch answer has no quotes list")
          return quotes.map((wire) => toAnswer(wire.book_id, wire))
        }
        const isbn = isbns[0]!
        const response = await api.request({ operation: "quote", method: "GET", path: `/api/v1/books/${isbn}/quote`, expect: [404], signal })
        if (response.status === 404) return [{ available: false, isbn, reason: "not_carried" }]
        return [toAnswer(isbn, response.body as WireQuote)]
      },

      async hold({ offer, quantity, idempotencyKey }, { signal }) {
        const response = await api.request({
          operation: "hold",
          method: "POST",
          path: "/api/v1/books/hold",
          ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
          json: { quote_id: offer.quoteId, quantity },
          expect: [404, 409],
          signal
        })
        if (response.status !== 200 && response.status !== 201) throw rejection("hold", response.status, response.body)
        const wire = response.body as WireHold
        // The seller keeps the hold under the key only when it echoes it.
        const keyed = idempotencyKey !== undefined && wire.idempotency_key === idempotencyKey ? { idempotencyKey } : {}
        return { holdId: wire.hold_id, isbn: offer.isbn, price: money("hold", wire.price, config.currency), shipping, expiresAt: wire.expires_at, ...keyed }
      },

      async release({ hold }, { signal }) {
        const response = await api.request({
          operation: "release",
          method: "DELETE",
          path: `/api/v1/books/hold/${encodeURIComponent(hold.holdId)}`,
          expect: [204, 404],
          signal
        })
        // Unknown to the seller: nothing reserved under it any more (the seller forgot an expired hold).
        if (response.status === 404 && errorCode(response.body) === "unknown_hold") return
        if (response.status !== 204 && response.status !== 200) throw rejection("release", response.status, response.body)
      },

      async lookupOrder({ idempotencyKey, isbn }, { signal }) {
        const response = await api.request({
          operation: "lookupOrder",
          method: "GET",
          path: `/api/v1/orders/${encodeURIComponent(idempotencyKey)}`,
          expect: [404],
          signal
        })
        if (response.status === 404) {
          if (errorCode(response.body) === "unknown_order") return null
          throw malformed("lookupOrder", "404 without unknown_order: the seller may not offer order lookup")
        }
        const wire = response.body as WireOrder
        return { orderId: wire.order_id, isbn, status: wire.status, price: money("lookupOrder", wire.price, config.currency), shipping }
      },

      async inventory({ cursor, pageSize }, { signal }) {
        const response = await api.request({
          operation: "inventory",
          method: "GET",
          path: "/api/v1/inventory",
          query: { cursor: cursor ?? undefined, limit: pageSize },
          signal
        })
        const page = Http.decodeBody(WireInventoryPage, response.body, "inventory")
        return {
          listings: page.listings.map((wire) => ({
            listingId: wire.listing_id,
            isbn: wire.book_id,
            price: money("inventory", wire.price, config.currency),
            // The same flat shipping and condition the seller's quotes carry.
            shipping,
            condition: config.condition,
            quantity: wire.quantity,
            title: wire.title,
            author: wire.author,
            publisher: wire.publisher
          })),
          nextCursor: page.next_cursor
        }
      },

      async purchase(request, { signal }) {
        const source =
          request.source._tag === "Hold" ? { hold_id: request.source.hold.holdId } : { quote_id: request.source.offer.quoteId }
        const response = await api.request({
          operation: "purchase",
          method: "POST",
          path: "/api/v1/orders",
          idempotencyKey: request.idempotencyKey,
          json: { ...source, buyer_reference: request.buyerReference },
          expect: [404, 409],
          signal
        })
        if (response.status !== 200 && response.status !== 201) throw rejection("purchase", response.status, response.body)
        const wire = response.body as WireOrder
        return { orderId: wire.order_id, isbn: request.isbn, status: wire.status, price: money("purchase", wire.price, config.currency), shipping }
      }
    }
  }
})
