/**
 * The adapter for Shelfwise sellers. Shelfwise looks nothing like the reference seller API:
 * every request is HMAC-signed, availability is one batch call that omits books it does not
 * carry, prices are integer minor units with the currency on each item, there are no holds,
 * and an order is an idempotent `PUT /v2/orders/{client_order_id}` from an offer token, with
 * bookbroker's idempotency key as the client order id (so the order can also be looked up).
 *
 * Written in the Effect form: every operation is an Effect failing with the seller error
 * taxonomy; the SDK's `SellerClient` adds timeouts, contract validation and spans.
 */
import { type Adapter, type Contract, defineEffectAdapter, Http, Money, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Option, Redacted, Schema } from "effect"

/** Shelfwise's documented maximum number of ISBNs per `POST /v2/availability`. */
export const shelfwiseMaxBatchSize = 25

export const ShelfwiseConfig = Schema.Struct({
  /** The seller's Shelfwise API root, e.g. `https://api.shelfwise.example`. */
  baseUrl: Schema.String.check(Schema.makeFilter((url: string) => URL.canParse(url) || "baseUrl must be an absolute URL")),
  /**
   * ISBNs per availability call: Shelfwise accepts up to 25; lower it for sellers on a smaller
   * plan. 1 turns batching off (one ISBN per call).
   */
  maxBatchSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: shelfwiseMaxBatchSize })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(shelfwiseMaxBatchSize))
  )
})
export type ShelfwiseConfig = typeof ShelfwiseConfig.Type

// ---------------------------------------------------------------------------------------------
// The Shelfwise wire format

/** Shelfwise's condition grades, and what they are in contract v1. */
export const ShelfwiseCondition = Schema.Literals(["new", "used_like_new", "used_very_good", "used_good", "used_acceptable"])
export type ShelfwiseCondition = typeof ShelfwiseCondition.Type

export const conditionFromShelfwise: Readonly<Record<ShelfwiseCondition, Contract.Condition>> = {
  new: "new",
  used_like_new: "like_new",
  used_very_good: "very_good",
  used_good: "good",
  used_acceptable: "acceptable"
}

/** Integer minor units ("cents"; yen for JPY). */
const Cents = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

const WireOffer = Schema.Struct({
  isbn: Schema.String,
  in_stock: Schema.Int.check(Schema.isGreaterThan(0)),
  unit_price_cents: Cents,
  shipping_cents: Cents,
  currency: Schema.String,
  condition: ShelfwiseCondition,
  offer_token: Schema.Trimmed.check(Schema.isNonEmpty()),
  /** Unix seconds. */
  valid_until: Schema.Int.check(Schema.isGreaterThan(0))
})

/** A book Shelfwise carries but has none of: `in_stock: 0`, the rest is not an offer. */
const WireSoldOut = Schema.Struct({
  isbn: Schema.String,
  in_stock: Schema.Literal(0)
})

const WireAvailability = Schema.Struct({
  items: Schema.Array(Schema.Union([WireSoldOut, WireOffer]))
})

const WireOrder = Schema.Struct({
  order: Schema.Struct({
    id: Schema.Trimmed.check(Schema.isNonEmpty()),
    isbn: Schema.String,
    unit_price_cents: Cents,
    shipping_cents: Cents,
    currency: Schema.String,
    state: Schema.Literal("accepted")
  })
})

const WireError = Schema.Struct({
  code: Schema.String,
  /** With `PRICE_MOVED`: the new unit price. */
  unit_price_cents: Schema.optional(Schema.Unknown)
})

// ---------------------------------------------------------------------------------------------

const malformed = (operation: Contract.Operation, detail: string) => new SellerError.MalformedSellerResponse({ operation, detail })

const invalid = (operation: Contract.Operation, detail: string) =>
  new SellerError.SellerRejected({ operation, reason: "invalid_request", detail })

/** Decodes a Shelfwise body; anything off-format is a `MalformedSellerResponse` naming the field. */
const decodeWire =
  <A, I>(schema: Schema.Codec<A, I>, operation: Contract.Operation) =>
  (body: unknown): Effect.Effect<A, SellerError.SellerError> =>
    Schema.decodeUnknownEffect(schema, { onExcessProperty: "ignore", reportInput: true })(body).pipe(Effect.mapError((error) => malformed(operation, error.message)))

/**
 * The order path for an idempotency key. The key is URL-encoded into one path segment; keys
 * that cannot be one (empty, `.` or `..`, which URLs resolve away even when percent-encoded)
 * are refused before anything is sent.
 */
const orderPath = (operation: Contract.Operation, idempotencyKey: string): Effect.Effect<string, SellerError.SellerError> =>
  idempotencyKey === "" || idempotencyKey === "." || idempotencyKey === ".."
    ? Effect.fail(invalid(operation, `idempotency key ${JSON.stringify(idempotencyKey)} cannot be a Shelfwise client order id`))
    : Effect.succeed(`/v2/orders/${encodeURIComponent(idempotencyKey)}`)

const toOrder = (operation: Contract.Operation, body: unknown): Effect.Effect<Contract.OrderInput, SellerError.SellerError> =>
  decodeWire(WireOrder, operation)(body).pipe(
    Effect.map(({ order }) => ({
      orderId: order.id,
      isbn: order.isbn,
      status: "confirmed" as const,
      price: { amount: order.unit_price_cents, currency: order.currency },
      shipping: { amount: order.shipping_cents, currency: order.currency }
    }))
  )

const isSoldOut = Schema.is(WireSoldOut)

const toAnswer = (item: typeof WireAvailability.Type["items"][number]): Contract.QuoteResultInput =>
  isSoldOut(item)
    ? { available: false, isbn: item.isbn, reason: "out_of_stock" }
    : {
        available: true,
        isbn: item.isbn,
        quoteId: item.offer_token,
        price: { amount: item.unit_price_cents, currency: item.currency },
        shipping: { amount: item.shipping_cents, currency: item.currency },
        condition: conditionFromShelfwise[item.condition],
        quantity: item.in_stock,
        expiresAt: new Date(item.valid_until * 1000)
      }

/** A purchase Shelfwise refused (409/410/412), as the contract's rejection. */
const purchaseRefusal = (response: Http.HttpResponse, currency: string): Effect.Effect<never, SellerError.SellerError> =>
  decodeWire(WireError, "purchase")(response.body).pipe(
    Effect.flatMap((body): Effect.Effect<never, SellerError.SellerError> => {
      const status = response.status
      const detail = `${status} ${body.code}`
      switch (body.code) {
        case "SOLD_OUT":
          return Effect.fail(new SellerError.SellerRejected({ operation: "purchase", reason: "out_of_stock", status, detail }))
        case "OFFER_EXPIRED":
          return Effect.fail(new SellerError.SellerRejected({ operation: "purchase", reason: "quote_expired", status, detail }))
        case "PRICE_MOVED": {
          const current = Schema.decodeUnknownOption(Money.MinorUnits)(body.unit_price_cents)
          return Effect.fail(
            new SellerError.SellerRejected({
              operation: "purchase",
              reason: "price_changed",
              status,
              detail,
              ...(Option.isSome(current) ? { currentPrice: Money.make(current.value, currency) } : {})
            })
          )
        }
        default:
          // Not a refusal we know: the order may or may not exist (the SDK reports OutcomeUnknown).
          return Effect.fail(malformed("purchase", `unexpected ${detail}`))
      }
    })
  )

export const shelfwiseAdapter: Adapter.Adapter<ShelfwiseConfig, typeof ShelfwiseConfig.Encoded> = defineEffectAdapter({
  kind: "shelfwise",
  version: "0.1.0",
  description: "Shelfwise sellers: HMAC-signed API, batch availability in minor units, atomic idempotent orders from offer tokens.",
  config: ShelfwiseConfig,
  credentials: ["keyId", "secret"],
  capabilities: (config) => ({
    batchQuotes: config.maxBatchSize >= 2 ? { maxBatchSize: config.maxBatchSize } : null,
    holds: false,
    orderLookup: true,
    pricePush: false
  }),
  limits: { requestsPerSecond: 5, burst: 10, maxConcurrency: 4, timeoutMillis: 5_000 },
  make: ({ config, credentials, http }) =>
    Effect.sync(() => {
      const api = http({
        baseUrl: config.baseUrl,
        auth: Http.hmac({ keyId: Redacted.value(credentials["keyId"]!), secret: credentials["secret"]! })
      })

      /** One Shelfwise call; the SDK's HTTP errors are already seller errors, anything else is mapped. */
      const send = (call: Http.HttpCall): Effect.Effect<Http.HttpResponse, SellerError.SellerError> =>
        Effect.tryPromise({
          try: (signal) => api.request({ ...call, signal }),
          catch: (cause) => SellerClient.toSellerError(call.operation, cause)
        })

      return {
        quote: ({ isbns }) =>
          send({ operation: "quote", method: "POST", path: "/v2/availability", json: { isbns } }).pipe(
            Effect.flatMap((response) => decodeWire(WireAvailability, "quote")(response.body)),
            // Books Shelfwise does not carry are simply absent: the SDK answers them `not_carried`.
            Effect.map(({ items }) => items.map(toAnswer))
          ),

        purchase: (request) =>
          Effect.gen(function* () {
            if (request.source._tag !== "Offer") {
              return yield* invalid("purchase", "Shelfwise has no holds: purchases are made from an offer")
            }
            const offer = request.source.offer
            if (request.maxTotal.currency !== offer.price.currency) {
              return yield* invalid(
                "purchase",
                `the maximum total is in ${request.maxTotal.currency} but the offer is in ${offer.price.currency}; Shelfwise caps in the offer's currency`
              )
            }
            const response = yield* send({
              operation: "purchase",
              method: "PUT",
              path: yield* orderPath("purchase", request.idempotencyKey),
              json: { offer_token: offer.quoteId, customer_ref: request.buyerReference, max_total_cents: request.maxTotal.amount },
              expect: [409, 410, 412]
            })
            if (response.status === 409 || response.status === 410 || response.status === 412) {
              return yield* purchaseRefusal(response, offer.price.currency)
            }
            return yield* toOrder("purchase", response.body)
          }),

        lookupOrder: ({ idempotencyKey, isbn }) =>
          Effect.gen(function* () {
            const response = yield* send({
              operation: "lookupOrder",
              method: "GET",
              path: yield* orderPath("lookupOrder", idempotencyKey),
              expect: [404]
            })
            if (response.status === 404) {
              const code = Schema.decodeUnknownOption(WireError)(response.body).pipe(Option.map((body) => body.code))
              if (Option.contains(code, "NO_SUCH_ORDER")) return null
              // Any other 404 (a wrong baseUrl, a proxy) must not read as "no order was ever placed".
              return yield* new SellerError.SellerRejected({
                operation: "lookupOrder",
                reason: "invalid_request",
                status: 404,
                detail: `order lookup answered 404 without NO_SUCH_ORDER: ${JSON.stringify(response.body) ?? "empty body"}`
              })
            }
            const order = yield* toOrder("lookupOrder", response.body)
            if (order.isbn !== isbn) {
              return yield* malformed("lookupOrder", `order ${order.orderId} is for ${order.isbn}, not ${isbn}`)
            }
            return order
          })
      }
    })
})
