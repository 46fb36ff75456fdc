/**
 * The adapter for buying through the AbeBooks Purchase API (affiliate ordering, select partners
 * only). AbeBooks is a marketplace: quotes come from its Search Web Services (the cheapest copy
 * of an ISBN), orders go to the Purchase API, which signs every request, treats `Abe-RequestId`
 * as an idempotency key (a duplicate answers `2003`, a duplicate with another body `4090`) and
 * reports the max-price guard and "item unavailable" later, as order statuses. So a purchase is
 * only settled by polling its order, within the operation's time.
 *
 * Step table of a purchase (request id = UUIDv5 of bookbroker's idempotency key):
 * 1. refuse locally what AbeBooks cannot be sent (a hold, another currency, no reference);
 * 2. `GET /orders?referenceId={request id}`: an order already placed for this key is settled
 *    and returned (a replay, or a try whose answer was lost) — never ordered again;
 * 3. the quote's expiry, by AbeBooks' clock (the `Date` of that answer);
 * 4. `POST /orders` with the request id, the listing, the card token and `maxPrice` = the
 *    quoted total (capped by the customer's maximum);
 * 5. poll `GET /orders/{orderId}` until the item has a final status: Ordered → the order; Item
 *    Unavailable, Max Price Exceeded… → a rejection; still pending when `confirmWithinMillis`
 *    runs out → OutcomeUnknown, resolved later by `lookupOrder` with the same request id.
 */
import { type Adapter, type Contract, defineEffectAdapter, Http, Money, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Duration, Effect, Option, Redacted, Result, Schema } from "effect"
import { outcomeOf } from "./OrderStatus.js"
import { meaningOf, toSellerError } from "./ResponseCode.js"
import { quoteOne, sellerNow } from "./Search.js"
import * as Signing from "./Signing.js"
import { type OrderRequestBody, WireEnvelope, type WireOrder, WireOrderAnswer, WireOrdersAnswer } from "./Wire.js"

export const abeBooksPurchaseBaseUrl = "https://purchase.api.abebooks.com/v1"
export const abeBooksSearchBaseUrl = "http://search2.abebooks.com"

const isLoopback = (host: string) => host === "localhost" || host === "127.0.0.1" || host === "[::1]"

const HttpsUrl = Schema.String.check(
  Schema.makeFilter((url: string) => {
    if (!URL.canParse(url)) return "must be an absolute URL"
    const parsed = new URL(url)
    return parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopback(parsed.hostname)) || "must be https:// (the card token travels in the body)"
  })
)
const AbsoluteUrl = Schema.String.check(Schema.makeFilter((url: string) => URL.canParse(url) || "must be an absolute URL"))

export const AbeBooksConfig = Schema.Struct({
  /** The Purchase API root (version 1). */
  purchaseBaseUrl: HttpsUrl.pipe(Schema.withDecodingDefaultKey(Effect.succeed(abeBooksPurchaseBaseUrl))),
  /** The Search Web Services root (AbeBooks documents plain http; https is not confirmed). */
  searchBaseUrl: AbsoluteUrl.pipe(Schema.withDecodingDefaultKey(Effect.succeed(abeBooksSearchBaseUrl))),
  /** The currency of the AbeBooks site the account buys on (abebooks.com USD, .co.uk GBP, .de/.fr/.it EUR). */
  currency: Money.CurrencyCode.pipe(Schema.withDecodingDefaultKey(Effect.succeed("USD" as Money.CurrencyCode))),
  /** Where the books ship to, ISO 3166 alpha-3 (drives `firstBookShipCost`). */
  destinationCountry: Schema.String.check(Schema.makeFilter((code: string) => /^[A-Z]{3}$/.test(code) || "destinationCountry must be ISO 3166 alpha-3, e.g. USA")).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed("USA"))
  ),
  /** The worst condition worth buying. */
  minimumCondition: Schema.Literals(["new", "like_new", "very_good", "good", "acceptable"]).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed("acceptable" as const))
  ),
  /** How long bookbroker honours a quote, by AbeBooks' clock (AbeBooks has no quotes: this is bookbroker's promise window). */
  quoteTtlSeconds: Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 3600 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(60))),
  /** Pause between two reads of a new order's status. */
  pollIntervalMillis: Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 10_000 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1_000))),
  /** How long a purchase waits for its order to settle before it reports OutcomeUnknown; keep it below the seller's timeout. */
  confirmWithinMillis: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 110_000 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(20_000))),
  /** After an order request that got no answer, how long its request id is treated as possibly still being processed. */
  settleSeconds: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 600 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(120))),
  /** The header that carries the access key (not confirmed by AbeBooks' docs). */
  accessKeyHeader: Schema.String.check(Schema.makeFilter((name: string) => /^[A-Za-z0-9-]+$/.test(name) || "accessKeyHeader must be a header name")).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(Signing.defaultAccessKeyHeader))
  )
})
export type AbeBooksConfig = typeof AbeBooksConfig.Type

// ---------------------------------------------------------------------------------------------

const malformed = (operation: Contract.Operation, detail: string) => new SellerError.MalformedSellerResponse({ operation, detail })
const invalid = (operation: Contract.Operation, detail: string) => new SellerError.SellerRejected({ operation, reason: "invalid_request", detail })

const decodeWire =
  <A, I>(schema: Schema.Codec<A, I>, operation: Contract.Operation) =>
  (body: unknown): Effect.Effect<A, SellerError.SellerError> =>
    Schema.decodeUnknownEffect(schema, { onExcessProperty: "ignore", reportInput: true })(body).pipe(Effect.mapError((error) => malformed(operation, error.message)))

const codeOf = (body: unknown): { readonly code: number; readonly message: string | undefined } | undefined =>
  Option.getOrUndefined(
    Schema.decodeUnknownOption(WireEnvelope)(body).pipe(Option.map((envelope) => ({ code: envelope.code, message: envelope.message ?? undefined })))
  )

/** Statuses AbeBooks' codes use that the adapter reads itself (5xx are left to the SDK). */
const expected = [400, 401, 403, 404, 405, 406, 409, 415, 422, 429]

/** A refusal of a call that cannot have placed an order, read from its code (or its status when it has none). */
const refusal = (operation: Contract.Operation, response: Http.HttpResponse): SellerError.SellerError => {
  const envelope = codeOf(response.body)
  const retryAfterMillis = Http.waitHint(response.headers)
  const mapped = envelope === undefined ? undefined : toSellerError(operation, envelope.code, response.status, envelope.message, retryAfterMillis)
  if (mapped !== undefined) return mapped
  const detail = `${response.status}${envelope === undefined ? " without an AbeBooks code" : ` code ${envelope.code}`}: ${JSON.stringify(response.body) ?? "empty body"}`
  if (response.status === 401 || response.status === 403) return new SellerError.SellerRejected({ operation, reason: "auth_failed", status: response.status, detail })
  if (response.status === 429) {
    return new SellerError.SellerUnavailable({ operation, reason: "rate_limited", status: response.status, detail, ...(retryAfterMillis === undefined ? {} : { retryAfterMillis }) })
  }
  return new SellerError.SellerRejected({ operation, reason: "invalid_request", status: response.status, detail })
}

const moneyOf = (operation: Contract.Operation, field: string, value: string | number, currency: string) => {
  const parsed = Money.fromDecimal(value, currency)
  return Result.isFailure(parsed) ? Effect.fail(malformed(operation, `${field}: ${parsed.failure}`)) : Effect.succeed(parsed.success)
}

/** The single item of one of bookbroker's orders (it always orders one listing). */
const itemOf = (operation: Contract.Operation, order: WireOrder) =>
  order.items.length === 1 ? Effect.succeed(order.items[0]!) : Effect.fail(malformed(operation, `order ${order.orderId} has ${order.items.length} items, bookbroker orders one`))

export const abeBooksAdapter: Adapter.Adapter<AbeBooksConfig, typeof AbeBooksConfig.Encoded> = defineEffectAdapter({
  kind: "abebooks",
  version: "0.1.0",
  description: "AbeBooks Purchase API (select partners): quotes from Search Web Services, signed orders with the request id as idempotency key, confirmed by polling the order.",
  config: AbeBooksConfig,
  credentials: ["accessKey", "secretKey", "clientKey", "creditCardToken"],
  capabilities: { batchQuotes: null, holds: false, orderLookup: true, pricePush: false },
  // AbeBooks publishes no limit values (4291 exists, its numbers are not documented): stay gentle.
  // The timeout covers an order request plus `confirmWithinMillis` of polling.
  limits: { requestsPerSecond: 2, burst: 4, maxConcurrency: 2, timeoutMillis: 30_000 },
  make: ({ config, credentials, http, fetch }) =>
    Effect.sync(() => {
      const api = http({
        baseUrl: config.purchaseBaseUrl,
        auth: Signing.auth({
          baseUrl: config.purchaseBaseUrl,
          accessKey: credentials["accessKey"]!,
          secretKey: credentials["secretKey"]!,
          accessKeyHeader: config.accessKeyHeader
        })
      })
      const search = {
        searchBaseUrl: config.searchBaseUrl,
        clientKey: credentials["clientKey"]!,
        currency: config.currency,
        destinationCountry: config.destinationCountry,
        minimumCondition: config.minimumCondition,
        quoteTtlSeconds: config.quoteTtlSeconds,
        fetch
      }
      const creditCardToken = credentials["creditCardToken"]!
      const pollInterval = Duration.millis(config.pollIntervalMillis)
      /** Request ids whose order request got no answer, with when: AbeBooks may still be processing them. */
      const unanswered = new Map<string, number>()
      /** Whether an order request under `requestId` got no answer less than `settleSeconds` ago — from this process, or any (`previouslySentAt`). */
      const stillSettling = (requestId: string, previouslySentAt: Date | undefined) => {
        const sentAt = unanswered.get(requestId)
        if (sentAt !== undefined && Date.now() - sentAt >= config.settleSeconds * 1000) unanswered.delete(requestId)
        return unanswered.has(requestId) || (previouslySentAt !== undefined && Date.now() - previouslySentAt.getTime() < config.settleSeconds * 1000)
      }

      /** One signed call; every call carries a request id (a fresh one unless it is an order's). */
      const send = (call: Http.HttpCall, requestId: string = crypto.randomUUID()) =>
        Effect.tryPromise({
          try: (signal) => api.request({ ...call, headers: { ...call.headers, "Abe-RequestId": requestId }, expect: expected, signal }),
          catch: (cause) => SellerClient.toSellerError(call.operation, cause)
        })

      /** `GET /orders?referenceId=…`: the order placed under a request id, if any, and AbeBooks' clock. */
      const findOrder = (operation: Contract.Operation, requestId: string) =>
        Effect.gen(function* () {
          const response = yield* send({ operation, method: "GET", path: "/orders", query: { referenceId: requestId } })
          const now = sellerNow(response.headers)
          if (response.status === 404 && codeOf(response.body)?.code === 4041) return { order: undefined, now }
          if (response.status >= 300) return yield* refusal(operation, response)
          const { orders } = yield* decodeWire(WireOrdersAnswer, operation)(response.body)
          const mine = orders.filter((order) => order.referenceId === undefined || order.referenceId === null || order.referenceId === requestId)
          if (mine.length > 1) {
            return yield* new SellerError.SellerUnavailable({
              operation,
              reason: "conflict",
              detail: `${mine.length} orders carry reference ${requestId} (${mine.map((order) => order.orderId).join(", ")}) — check them in the AbeBooks account`,
              mayHaveBeenProcessed: true
            })
          }
          return { order: mine[0], now }
        })

      /** `GET /orders/{orderId}`. */
      const readOrder = (operation: Contract.Operation, orderId: string) =>
        Effect.gen(function* () {
          if (orderId === "." || orderId === "..") return yield* malformed(operation, `order id "${orderId}" cannot be read back`)
          const response = yield* send({ operation, method: "GET", path: `/orders/${encodeURIComponent(orderId)}` })
          if (response.status >= 300) {
            const code = codeOf(response.body)?.code
            return yield* code === 4041 ? malformed(operation, `order ${orderId} was created but AbeBooks answers 4041 order not found`) : refusal(operation, response)
          }
          return (yield* decodeWire(WireOrderAnswer, operation)(response.body)).order
        })

      const toOrder = (operation: Contract.Operation, order: WireOrder, isbn: string) =>
        Effect.gen(function* () {
          const item = yield* itemOf(operation, order)
          if (order.currency !== config.currency) return yield* malformed(operation, `order ${order.orderId} is in ${order.currency}, the account buys in ${config.currency}`)
          if (item.isbn !== undefined && item.isbn !== null && item.isbn !== "" && item.isbn !== isbn) {
            return yield* malformed(operation, `order ${order.orderId} is for ${item.isbn}, not ${isbn}`)
          }
          const price = yield* moneyOf(operation, "price", item.price, order.currency)
          const shipping = yield* moneyOf(operation, "shipping", item.shipping, order.currency)
          return { orderId: order.orderId, isbn, status: "confirmed" as const, price, shipping }
        })

      type Settled =
        | { readonly _tag: "Order"; readonly order: Contract.OrderInput }
        | { readonly _tag: "Refused"; readonly error: SellerError.SellerRejected }
        | { readonly _tag: "Pending"; readonly orderId: string; readonly meaning: string }

      /** Reads the order until its item has a final status, or until the deadline. */
      const settle = (operation: Contract.Operation, first: WireOrder, isbn: string, deadline: number): Effect.Effect<Settled, SellerError.SellerError> =>
        Effect.gen(function* () {
          let order = first
          for (;;) {
            const item = yield* itemOf(operation, order)
            const outcome = outcomeOf(item.status)
            if (outcome._tag === "Confirmed") return { _tag: "Order" as const, order: yield* toOrder(operation, order, isbn) }
            if (outcome._tag === "Refused") {
              const error = new SellerError.SellerRejected({
                operation,
                reason: outcome.reason,
                detail: `order ${order.orderId} ended ${item.status} ${outcome.meaning}`
              })
              return { _tag: "Refused" as const, error }
            }
            if (outcome.needsOperator || Date.now() + config.pollIntervalMillis > deadline) {
              return { _tag: "Pending" as const, orderId: order.orderId, meaning: `${item.status ?? "no status"} ${outcome.meaning}` }
            }
            yield* Effect.sleep(pollInterval)
            order = yield* readOrder(operation, order.orderId)
          }
        })

      /** A purchase's settled order as its answer; anything short of a final status is OutcomeUnknown. */
      const purchaseAnswer = (request: Contract.PurchaseRequest, order: WireOrder, deadline: number) =>
        settle("purchase", order, request.isbn, deadline).pipe(
          // The order exists: a failed read says nothing about it.
          Effect.mapError((error) => unknown(request, `order ${order.orderId} was placed, then: ${error.message}`)),
          Effect.flatMap((settled) =>
            settled._tag === "Order"
              ? Effect.succeed(settled.order)
              : settled._tag === "Refused"
                ? Effect.fail<SellerError.SellerError>(settled.error)
                : Effect.fail(unknown(request, `order ${settled.orderId} is ${settled.meaning} after ${config.confirmWithinMillis} ms; resolve it with lookupOrder (same request id)`))
          )
        )

      const unknown = (request: Contract.PurchaseRequest, detail: string) =>
        new SellerError.OutcomeUnknown({ operation: "purchase", idempotencyKey: request.idempotencyKey, detail })

      /** An order request was answered "this request id was seen before": the order it made, looked up. */
      const duplicate = (request: Contract.PurchaseRequest, requestId: string, sameBody: boolean, deadline: number) =>
        Effect.gen(function* () {
          const found = yield* findOrder("purchase", requestId).pipe(Effect.mapError((error) => unknown(request, `duplicate request id, then: ${error.message}`)))
          if (found.order !== undefined) return yield* purchaseAnswer(request, found.order, deadline)
          return yield* unknown(
            request,
            sameBody
              ? `AbeBooks is still processing request ${requestId} (2003) and shows no order for it yet`
              : `request id ${requestId} was used before with another body (4090) and no order shows for it yet`
          )
        })

      const purchase = (request: Contract.PurchaseRequest) =>
        Effect.gen(function* () {
          // 1. What AbeBooks cannot be sent.
          if (request.source._tag !== "Offer") return yield* invalid("purchase", "AbeBooks has no holds: purchases are made from an offer")
          const offer = request.source.offer
          if (offer.price.currency !== config.currency || request.maxTotal.currency !== config.currency) {
            return yield* invalid("purchase", `the offer (${offer.price.currency}) and the maximum (${request.maxTotal.currency}) must be in the account's ${config.currency}`)
          }
          if (request.buyerReference.trim() === "") return yield* invalid("purchase", "a purchase needs a buyer reference")
          const requestId = Signing.requestIdFor(request.idempotencyKey)
          const deadline = Date.now() + config.confirmWithinMillis

          // 2. An order already placed under this request id is the answer.
          const found = yield* findOrder("purchase", requestId)
          if (found.order !== undefined) return yield* purchaseAnswer(request, found.order, deadline)

          // 3. The quote's expiry, by AbeBooks' clock — unless an unanswered order request of ours may still become an order.
          if (!stillSettling(requestId, request.previouslySentAt) && found.now >= offer.expiresAt.getTime()) {
            return yield* new SellerError.SellerRejected({
              operation: "purchase",
              reason: "quote_expired",
              detail: `the quote for listing ${offer.quoteId} expired at ${offer.expiresAt.toISOString()} (AbeBooks' clock: ${new Date(found.now).toISOString()})`
            })
          }

          // 4. The order request.
          const maxPrice = Money.make(Math.min(offer.total.amount, request.maxTotal.amount), config.currency)
          const body: OrderRequestBody = {
            referenceId: requestId,
            buyerReference: request.buyerReference,
            dryRun: false,
            ccToken: Redacted.value(creditCardToken),
            maxPrice: Money.toDecimal(maxPrice),
            currency: config.currency,
            items: [{ listingId: offer.quoteId, quantity: 1 }]
          }
          unanswered.set(requestId, Date.now())
          const response = yield* send({ operation: "purchase", method: "POST", path: "/orders", json: body }, requestId).pipe(
            Effect.tapError((error) =>
              Effect.sync(() => {
                if (error._tag === "SellerUnavailable" && !error.mayHaveBeenProcessed) unanswered.delete(requestId)
              })
            )
          )
          const envelope = codeOf(response.body)
          if (envelope !== undefined && envelope.code !== 2010) {
            const meaning = meaningOf(envelope.code)
            if (meaning._tag === "Duplicate") {
              const order = meaning.sameBody ? Schema.decodeUnknownOption(WireOrderAnswer)(response.body) : Option.none()
              if (Option.isSome(order)) {
                unanswered.delete(requestId)
                return yield* purchaseAnswer(request, order.value.order, deadline)
              }
              return yield* duplicate(request, requestId, meaning.sameBody, deadline)
            }
            if (response.status >= 300 && meaning._tag !== "Unknown") {
              // AbeBooks refused the request itself: nothing was ordered.
              unanswered.delete(requestId)
              return yield* refusal("purchase", response)
            }
            return yield* malformed("purchase", `POST /orders answered ${response.status} code ${envelope.code}: ${JSON.stringify(response.body)}`)
          }
          if (response.status >= 300) return yield* malformed("purchase", `POST /orders answered ${response.status}: ${JSON.stringify(response.body) ?? "empty body"}`)
          const created = yield* decodeWire(WireOrderAnswer, "purchase")(response.body)
          unanswered.delete(requestId)
          // 5. Poll until the order settles.
          return yield* purchaseAnswer(request, created.order, deadline)
        })

      const lookupOrder = ({ idempotencyKey, isbn, previouslySentAt }: Contract.LookupOrderRequest) =>
        Effect.gen(function* () {
          const requestId = Signing.requestIdFor(idempotencyKey)
          const found = yield* findOrder("lookupOrder", requestId)
          if (found.order === undefined) {
            if (!stillSettling(requestId, previouslySentAt)) return null
            return yield* new SellerError.SellerUnavailable({
              operation: "lookupOrder",
              reason: "conflict",
              detail: `an order request under ${requestId} got no answer less than ${config.settleSeconds} s ago; AbeBooks may still be processing it`,
              mayHaveBeenProcessed: true,
              retryAfterMillis: config.settleSeconds * 1000
            })
          }
          const settled = yield* settle("lookupOrder", found.order, isbn, Date.now() + config.confirmWithinMillis)
          // A refused order (unavailable, over the max price, cancelled) is no order: nothing was bought under this key.
          if (settled._tag === "Refused") return null
          if (settled._tag === "Pending") {
            return yield* new SellerError.SellerUnavailable({
              operation: "lookupOrder",
              reason: "conflict",
              detail: `order ${settled.orderId} is ${settled.meaning}`,
              mayHaveBeenProcessed: true
            })
          }
          return settled.order
        })

      return {
        quote: ({ isbns }) => Effect.forEach(isbns, (isbn) => quoteOne(search, isbn)),
        purchase,
        lookupOrder
      }
    })
})
