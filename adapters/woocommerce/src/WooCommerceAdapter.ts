/**
 * The adapter for WooCommerce shops (REST API v3). WooCommerce is a shop, not a seller API:
 * products are found by SKU (the ISBN), prices are decimal strings in the store currency, and
 * `POST /orders` creates whatever it is given — no stock or price check, no idempotency, no
 * search by meta. So the adapter does what the platform does not: it re-reads the product and
 * refuses a sold-out or dearer book before ordering, tags every order with bookbroker's
 * idempotency key and looks for that tag in the shop's recent orders before it ever creates
 * one, and keeps a key whose create got no answer from being created again while that create
 * may still be running.
 *
 * Step table of a purchase:
 * 1. find an order tagged with the key (a replay, or a create whose answer was lost) → return it;
 * 2. refuse while a create for the key got no answer less than `settleSeconds` ago;
 * 3. re-read the product: expiry on the shop's clock, publication, stock, price;
 * 4. `POST /orders` (set_paid, no price fields: the shop charges its own price) → the order.
 */
import { type Adapter, type Contract, defineEffectAdapter, Http, Money, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Option, Redacted, Result, Schema } from "effect"
import { assess, orderFilterId, parseQuoteId, productPath, quoteIdOf, type ProductRef } from "./Availability.js"
import { formatCursor, listingOf, nextPosition, positionOf } from "./Listing.js"
import {
  buyerReferenceMetaKey,
  confirmedStatuses,
  idempotencyMetaKey,
  refusedBeforeSave,
  restRoot,
  WireCurrency,
  WireError,
  WireOrder,
  WireOrders,
  WireProduct,
  WireProducts
} from "./Wire.js"

/** Most SKUs per `GET /products?sku=a,b,…`: one page of 100 always holds every match. */
export const wooCommerceMaxBatchSize = 50

const isLoopback = (host: string) => host === "localhost" || host === "127.0.0.1" || host === "[::1]"

const Address = Schema.Struct({
  first_name: Schema.optional(Schema.String),
  last_name: Schema.optional(Schema.String),
  company: Schema.optional(Schema.String),
  address_1: Schema.optional(Schema.String),
  address_2: Schema.optional(Schema.String),
  city: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String),
  postcode: Schema.optional(Schema.String),
  country: Schema.optional(Schema.String),
  email: Schema.optional(Schema.String),
  phone: Schema.optional(Schema.String)
})


export const WooCommerceConfig = Schema.Struct({
  /**
   * The shop's address, e.g. `https://books.example` (the REST API is under `/wp-json/wc/v3`).
   * HTTPS: WooCommerce only reads HTTP Basic credentials over TLS.
   */
  baseUrl: Schema.String.check(
    Schema.makeFilter((url: string) => {
      if (!URL.canParse(url)) return "baseUrl must be an absolute URL"
      const parsed = new URL(url)
      return parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopback(parsed.hostname)) || "baseUrl must be https:// (WooCommerce ignores Basic credentials over plain HTTP)"
    })
  ),
  /** Credentials as HTTP Basic (default) or as `consumer_key`/`consumer_secret` query parameters, for servers that strip `Authorization`. */
  credentialsIn: Schema.Literals(["header", "query"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("header" as const))),
  /** ISBNs per product query; 1 turns batching off. */
  maxBatchSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: wooCommerceMaxBatchSize })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(20))),
  /** How long a quote stands, in seconds of the shop's clock (WooCommerce has no quotes: this is bookbroker's promise window). */
  quoteTtlSeconds: Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 3600 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(120))),
  /** Shipping the seller agreed to charge per order, a decimal in the store currency; sent as a shipping line. */
  shipping: Schema.String.check(Schema.makeFilter((s: string) => /^\d+(\.\d+)?$/.test(s) || "shipping must be a decimal like \"3.50\"")).pipe(Schema.withDecodingDefaultKey(Effect.succeed("0"))),
  shippingMethodId: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("flat_rate"))),
  shippingMethodTitle: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("Shipping (bookbroker)"))),
  /** Buy books the shop sells on backorder. */
  acceptBackorders: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  paymentMethod: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("bookbroker"))),
  paymentMethodTitle: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("Paid through bookbroker"))),
  billing: Schema.optional(Address),
  shippingAddress: Schema.optional(Address),
  /**
   * List the shop's products for bookbroker's offer index (the `inventory` capability), so the
   * shop can join it without uploading files. On unless set to false: the listing reads the same
   * route with the same read access as quotes, and nothing is fetched until the seller asks
   * bookbroker to pull its inventory from the adapter.
   */
  inventory: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  /** How far back the orders list is searched for an order tagged with a key. */
  lookupWindowDays: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 90 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(14))),
  /** Pages of 100 orders searched at most; a lookup that cannot finish says so instead of answering "none". */
  lookupMaxPages: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 50 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10))),
  /** After a create that got no answer, how long the same key is not created again (the shop may still be saving it). */
  settleSeconds: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 600 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(120)))
})
export type WooCommerceConfig = typeof WooCommerceConfig.Type

/** How long the store currency read from the shop is trusted. */
const currencyTtlMillis = 10 * 60_000

// ---------------------------------------------------------------------------------------------

const malformed = (operation: Contract.Operation, detail: string) => new SellerError.MalformedSellerResponse({ operation, detail })

const rejected = (operation: Contract.Operation, reason: SellerError.RejectedReason, detail: string, extra: { status?: number; currentPrice?: Money.Money } = {}) =>
  new SellerError.SellerRejected({ operation, reason, detail, ...extra })

const decodeWire =
  <A, I>(schema: Schema.Codec<A, I>, operation: Contract.Operation) =>
  (body: unknown): Effect.Effect<A, SellerError.SellerError> =>
    Schema.decodeUnknownEffect(schema, { onExcessProperty: "ignore", reportInput: true })(body).pipe(Effect.mapError((error) => malformed(operation, error.message)))

const money = (operation: Contract.Operation, field: string, value: string, currency: string): Effect.Effect<Money.Money, SellerError.SellerError> => {
  const parsed = Money.fromDecimal(value, currency)
  return Result.isFailure(parsed) ? Effect.fail(malformed(operation, `${field}: ${parsed.failure}`)) : Effect.succeed(parsed.success)
}

const errorOf = (body: unknown): WireError | undefined => Option.getOrUndefined(Schema.decodeUnknownOption(WireError)(body))

/** The shop's clock from the `Date` header (1 s resolution); ours when a proxy dropped it. */
const shopNow = (response: Http.HttpResponse): number => {
  const date = Date.parse(response.headers["date"] ?? "")
  return Number.isNaN(date) ? Date.now() : date
}

/** A 404 that is not about the resource asked for: the URL does not reach WooCommerce's REST API. */
const notWooCommerce = (operation: Contract.Operation, response: Http.HttpResponse) =>
  rejected(
    operation,
    "invalid_request",
    `404 ${errorOf(response.body)?.code ?? "without a WooCommerce error"}: no WooCommerce REST route here — check baseUrl, that WooCommerce is active and that pretty permalinks are on`,
    { status: 404 }
  )

/** Is this order tagged with the key? */
const taggedWith = (order: WireOrder, idempotencyKey: string) =>
  order.meta_data.some((meta) => meta.key === idempotencyMetaKey && meta.value === idempotencyKey)

/** The shop's order as contract v1: what it charges for the book (taxes and fees included) and for shipping. */
const toOrder = (operation: Contract.Operation, order: WireOrder, isbn: string, currency: string) =>
  Effect.gen(function* () {
    if (!confirmedStatuses.has(order.status)) {
      // The order exists: never answer "no order", never place another; it needs a look (or a moment).
      return yield* new SellerError.SellerUnavailable({
        operation,
        reason: "conflict",
        detail: `order ${order.id} for this request is "${order.status}", not processing or completed — check it in the shop`,
        mayHaveBeenProcessed: true
      })
    }
    if (order.currency !== currency) return yield* malformed(operation, `order ${order.id} is in ${order.currency}, the offer in ${currency}`)
    const lines = order.line_items.filter((line) => line.sku === undefined || line.sku === null || line.sku === "" || line.sku === isbn)
    if (lines.length !== 1 || order.line_items.length !== 1) {
      return yield* malformed(operation, `order ${order.id} has ${order.line_items.length} line items, not one for ${isbn}`)
    }
    const total = yield* money(operation, "total", order.total, currency)
    const shippingNet = yield* money(operation, "shipping_total", order.shipping_total ?? "0", currency)
    const shippingTax = yield* money(operation, "shipping_tax", order.shipping_tax ?? "0", currency)
    const shipping = shippingNet.amount + shippingTax.amount
    if (shipping > total.amount) return yield* malformed(operation, `order ${order.id} charges more shipping than its total`)
    return {
      orderId: String(order.id),
      isbn,
      status: "confirmed" as const,
      price: { amount: total.amount - shipping, currency },
      shipping: { amount: shipping, currency }
    }
  })

export const wooCommerceAdapter: Adapter.Adapter<WooCommerceConfig, typeof WooCommerceConfig.Encoded> = defineEffectAdapter({
  kind: "woocommerce",
  version: "0.1.0",
  description: "WooCommerce shops (REST API v3): books by ISBN as SKU, orders checked and tagged with bookbroker's idempotency key.",
  config: WooCommerceConfig,
  credentials: ["consumerKey", "consumerSecret"],
  capabilities: (config) => ({
    batchQuotes: config.maxBatchSize >= 2 ? { maxBatchSize: config.maxBatchSize } : null,
    holds: false,
    orderLookup: true,
    pricePush: false,
    inventory: config.inventory
  }),
  // WooCommerce publishes no rate limit; WordPress hosts are slow and small: stay gentle.
  limits: { requestsPerSecond: 4, burst: 8, maxConcurrency: 4, timeoutMillis: 10_000 },
  make: ({ config, credentials, http }) =>
    Effect.sync(() => {
      const consumerKey = credentials["consumerKey"]!
      const consumerSecret = credentials["consumerSecret"]!
      const api = http({
        baseUrl: config.baseUrl,
        ...(config.credentialsIn === "header" ? { auth: Http.basic(Redacted.value(consumerKey), consumerSecret) } : {})
      })
      const settleMillis = config.settleSeconds * 1000
      /** Keys whose create was sent and got no answer, with when: the shop may still be saving that order. */
      const unanswered = new Map<string, number>()
      let currency: { readonly code: string; readonly readAt: number } | undefined

      const send = (call: Http.HttpCall): Effect.Effect<Http.HttpResponse, SellerError.SellerError> =>
        Effect.tryPromise({
          try: (signal) =>
            api.request({
              ...call,
              path: `${restRoot}${call.path}`,
              ...(config.credentialsIn === "query"
                ? { query: { ...call.query, consumer_key: Redacted.value(consumerKey), consumer_secret: Redacted.value(consumerSecret) } }
                : {}),
              signal
            }),
          catch: (cause) => SellerClient.toSellerError(call.operation, cause)
        })

      /** The store currency (`GET /data/currencies/current`), read again every ten minutes. */
      const storeCurrency = (operation: Contract.Operation) =>
        Effect.gen(function* () {
          if (currency !== undefined && Date.now() - currency.readAt < currencyTtlMillis) return currency.code
          const response = yield* send({ operation, method: "GET", path: "/data/currencies/current", expect: [404] })
          if (response.status === 404) return yield* notWooCommerce(operation, response)
          const { code } = yield* decodeWire(WireCurrency, operation)(response.body)
          if (Option.isNone(Schema.decodeUnknownOption(Money.CurrencyCode)(code))) return yield* malformed(operation, `store currency "${code}" is not ISO 4217`)
          currency = { code, readAt: Date.now() }
          return code
        })

      const shippingIn = (operation: Contract.Operation, code: string) =>
        money(operation, "config.shipping", config.shipping, code).pipe(
          Effect.mapError(() => rejected(operation, "invalid_request", `config shipping "${config.shipping}" is not an amount in ${code}`))
        )

      /** Products whose SKU is exactly one of the ISBNs (variations included), any status unless `published`. */
      const productsBySku = (operation: Contract.Operation, isbns: ReadonlyArray<string>, published: boolean) =>
        Effect.gen(function* () {
          const response = yield* send({
            operation,
            method: "GET",
            path: "/products",
            query: { sku: isbns.join(","), per_page: 100, ...(published ? { status: "publish" } : {}) },
            expect: [404]
          })
          if (response.status === 404) return yield* notWooCommerce(operation, response)
          const products = yield* decodeWire(WireProducts, operation)(response.body)
          if (Number(response.headers["x-wp-totalpages"] ?? "1") > 1) {
            return yield* malformed(operation, `more than 100 products share the SKUs ${isbns.join(",")}`)
          }
          return { products: products.filter((product) => isbns.includes(product.sku)), response }
        })

      /**
       * The order tagged with the key, searched newest first among the orders of the last
       * `lookupWindowDays` (of one product when known). WooCommerce cannot search meta, so this
       * reads the list; when it cannot read to the end it fails rather than answer "none".
       */
      const findTagged = (operation: Contract.Operation, idempotencyKey: string, productId: number | undefined) =>
        Effect.gen(function* () {
          // Site time without offset; a day of margin covers any timezone.
          const after = new Date(Date.now() - (config.lookupWindowDays + 1) * 86_400_000).toISOString().slice(0, 19)
          for (let page = 1; page <= config.lookupMaxPages; page++) {
            const response = yield* send({
              operation,
              method: "GET",
              path: "/orders",
              query: { ...(productId === undefined ? {} : { product: productId }), after, per_page: 100, page, orderby: "date", order: "desc" }
            })
            const orders = yield* decodeWire(WireOrders, operation)(response.body)
            const tagged = orders.filter((order) => taggedWith(order, idempotencyKey))
            if (tagged.length > 0) return tagged.reduce((oldest, order) => (order.id < oldest.id ? order : oldest))
            const pages = Number(response.headers["x-wp-totalpages"])
            if (Number.isInteger(pages) ? page >= pages : orders.length < 100) return undefined
          }
          return yield* new SellerError.SellerUnavailable({
            operation,
            reason: "conflict",
            detail: `more than ${config.lookupMaxPages * 100} recent orders to search for ${idempotencyKey}; raise lookupMaxPages`,
            mayHaveBeenProcessed: true
          })
        })

      /**
       * Fails while a create for the key got no answer less than `settleSeconds` ago — sent by
       * this process, or by any (`previouslySentAt`: the engine's durable record, so a process
       * that took over after a crash does not create the order again either).
       */
      const unsettled = (operation: Contract.Operation, idempotencyKey: string, previouslySentAt: Date | undefined) => {
        const mine = unanswered.get(idempotencyKey)
        const sentAt = mine === undefined && previouslySentAt === undefined ? undefined : Math.max(mine ?? 0, previouslySentAt?.getTime() ?? 0)
        const left = sentAt === undefined ? 0 : sentAt + settleMillis - Date.now()
        if (mine !== undefined && left <= 0) unanswered.delete(idempotencyKey)
        return left > 0
          ? Effect.fail(
              new SellerError.SellerUnavailable({
                operation,
                reason: "conflict",
                detail: `a create for ${idempotencyKey} got no answer ${Math.round((Date.now() - sentAt!) / 1000)} s ago and may still be saving; no order is tagged with it yet`,
                retryAfterMillis: left,
                mayHaveBeenProcessed: true
              })
            )
          : Effect.void
      }

      /** Re-reads the product right before ordering: WooCommerce's create would take a sold-out, unpublished or dearer book. */
      const recheck = (offer: Contract.Offer, ref: ProductRef, maxTotal: Money.Money, shipping: Money.Money) =>
        Effect.gen(function* () {
          const response = yield* send({ operation: "purchase", method: "GET", path: productPath(ref), expect: [404] })
          if (response.status === 404) {
            const code = errorOf(response.body)?.code ?? ""
            if (!/^woocommerce_rest_.*invalid_id$/.test(code)) return yield* notWooCommerce("purchase", response)
            return yield* rejected("purchase", "out_of_stock", `product ${ref.productId} is gone (${code})`, { status: 404 })
          }
          if (shopNow(response) >= offer.expiresAt.getTime()) {
            return yield* rejected("purchase", "quote_expired", `the quote expired at ${offer.expiresAt.toISOString()} (shop time)`)
          }
          const product = yield* decodeWire(WireProduct, "purchase")(response.body)
          if (product.sku !== offer.isbn) return yield* rejected("purchase", "out_of_stock", `product ${product.id} is no longer SKU ${offer.isbn}`)
          const assessment = assess(product, config)
          if (assessment._tag === "Unsellable") return yield* rejected("purchase", "out_of_stock", assessment.detail)
          const price = yield* money("purchase", "price", product.price, offer.price.currency)
          if (price.amount > offer.price.amount) {
            return yield* rejected("purchase", "price_changed", `product ${product.id} now costs ${product.price}`, { currentPrice: price })
          }
          if (price.amount + shipping.amount > maxTotal.amount) {
            return yield* rejected("purchase", "invalid_request", `${product.price} plus shipping is above the customer's maximum ${Money.toDecimal(maxTotal)}`)
          }
        })

      const orderBody = (request: Contract.PurchaseRequest, ref: ProductRef, shipping: Money.Money) => ({
        payment_method: config.paymentMethod,
        payment_method_title: config.paymentMethodTitle,
        // Paid: WooCommerce moves it to processing and takes the copy out of stock.
        set_paid: true,
        transaction_id: request.idempotencyKey,
        customer_note: `bookbroker purchase ${request.buyerReference}`,
        ...(config.billing === undefined ? {} : { billing: config.billing }),
        ...(config.shippingAddress === undefined ? {} : { shipping: config.shippingAddress }),
        // No total/subtotal/price: sent, they would override the shop's price.
        line_items: [ref.parentId > 0 ? { product_id: ref.parentId, variation_id: ref.productId, quantity: 1 } : { product_id: ref.productId, quantity: 1 }],
        ...(shipping.amount > 0
          ? { shipping_lines: [{ method_id: config.shippingMethodId, method_title: config.shippingMethodTitle, total: Money.toDecimal(shipping) }] }
          : {}),
        meta_data: [
          { key: idempotencyMetaKey, value: request.idempotencyKey },
          { key: buyerReferenceMetaKey, value: request.buyerReference }
        ]
      })

      /** `POST /orders`; a key whose create gets no answer is remembered until the shop has had time to finish. */
      const create = (request: Contract.PurchaseRequest, ref: ProductRef, shipping: Money.Money) =>
        Effect.gen(function* () {
          unanswered.set(request.idempotencyKey, Date.now())
          const response = yield* send({ operation: "purchase", method: "POST", path: "/orders", json: orderBody(request, ref, shipping), expect: [400] }).pipe(
            Effect.tapError((error) =>
              Effect.sync(() => {
                // Not sent, or a 4xx (the shop's whole answer): nothing can still be saving. A 5xx
                // may come from a proxy while PHP still runs; a timeout interrupts and skips this.
                const notSent = error._tag === "SellerUnavailable" && !error.mayHaveBeenProcessed
                const answered4xx = (error._tag === "SellerRejected" || error._tag === "SellerUnavailable") && error.status !== undefined && error.status < 500
                if (notSent || answered4xx) unanswered.delete(request.idempotencyKey)
              })
            )
          )
          unanswered.delete(request.idempotencyKey)
          if (response.status === 400) {
            const error = errorOf(response.body)
            const detail = `400 ${error?.code ?? "?"}: ${error?.message ?? JSON.stringify(response.body)}`
            // Refusals WooCommerce makes before saving are clean; any other 400 may hide a saved order.
            return yield* error !== undefined && refusedBeforeSave.has(error.code)
              ? rejected("purchase", "invalid_request", detail, { status: 400 })
              : malformed("purchase", `unexpected ${detail}`)
          }
          return yield* decodeWire(WireOrder, "purchase")(response.body)
        })

      return {
        quote: ({ isbns }) =>
          Effect.gen(function* () {
            const code = yield* storeCurrency("quote")
            const shipping = yield* shippingIn("quote", code)
            const { products, response } = yield* productsBySku("quote", isbns, true)
            const now = shopNow(response)
            const answers: Array<Contract.QuoteResultInput> = []
            for (const isbn of isbns) {
              const matches = products.filter((product) => product.sku === isbn)
              // Not listed: the SDK answers not_carried.
              if (matches.length === 0) continue
              if (matches.length > 1) return yield* malformed("quote", `SKU ${isbn} is on ${matches.length} products (${matches.map((p) => p.id).join(", ")})`)
              const product = matches[0]!
              const assessment = assess(product, config)
              if (assessment._tag === "Unsellable") {
                answers.push({ available: false, isbn, reason: assessment.reason })
                continue
              }
              const price = yield* money("quote", `price of product ${product.id}`, product.price, code)
              answers.push({
                available: true,
                isbn,
                quoteId: quoteIdOf(product, now),
                price: { amount: price.amount, currency: code },
                shipping: { amount: shipping.amount, currency: code },
                condition: "new",
                quantity: assessment.quantity,
                expiresAt: new Date(now + config.quoteTtlSeconds * 1000)
              })
            }
            return answers
          }),

        purchase: (request) =>
          Effect.gen(function* () {
            if (request.source._tag !== "Offer") return yield* rejected("purchase", "invalid_request", "WooCommerce has no holds: purchases are made from an offer")
            const offer = request.source.offer
            const ref = parseQuoteId(offer.quoteId)
            if (ref === undefined) return yield* rejected("purchase", "invalid_request", `quote id "${offer.quoteId}" is not a WooCommerce quote`)
            if (request.idempotencyKey.trim() === "" || request.buyerReference.trim() === "") {
              return yield* rejected("purchase", "invalid_request", "an order needs an idempotency key and a buyer reference to be found again")
            }
            if (request.maxTotal.currency !== offer.price.currency) {
              return yield* rejected("purchase", "invalid_request", `the maximum total is in ${request.maxTotal.currency}, the offer in ${offer.price.currency}`)
            }
            const currency = offer.price.currency
            const existing = yield* findTagged("purchase", request.idempotencyKey, orderFilterId(ref))
            if (existing !== undefined) return yield* toOrder("purchase", existing, offer.isbn, currency)
            yield* unsettled("purchase", request.idempotencyKey, request.previouslySentAt)
            const shipping = yield* shippingIn("purchase", currency)
            yield* recheck(offer, ref, request.maxTotal, shipping)
            const created = yield* create(request, ref, shipping)
            return yield* toOrder("purchase", created, offer.isbn, currency)
          }),

        /**
         * One page of the published products, oldest id first (new products join the end, so a
         * walk never sees one twice), each with an ISBN as SKU mapped as quotes would answer it.
         */
        inventory: ({ cursor, pageSize }) =>
          Effect.gen(function* () {
            const position = positionOf(cursor, pageSize)
            if (Result.isFailure(position)) return yield* rejected("inventory", "invalid_request", position.failure)
            const { page, perPage } = position.success
            const code = yield* storeCurrency("inventory")
            const shipping = yield* shippingIn("inventory", code)
            const response = yield* send({
              operation: "inventory",
              method: "GET",
              path: "/products",
              query: { status: "publish", orderby: "id", order: "asc", page, per_page: perPage },
              expect: [404]
            })
            if (response.status === 404) return yield* notWooCommerce("inventory", response)
            const products = yield* decodeWire(WireProducts, "inventory")(response.body)
            const listings: Array<Contract.InventoryListingInput> = []
            for (const product of products) {
              const listed = listingOf(product, config)
              if (listed === undefined) continue
              const price = Money.fromDecimal(product.price, code)
              if (Result.isFailure(price)) {
                // A sold-out product without a price has nothing to index; one on sale must have one.
                if (listed.quantity === 0) continue
                return yield* malformed("inventory", `price of product ${product.id}: ${price.failure}`)
              }
              listings.push({
                listingId: String(product.id),
                isbn: listed.isbn,
                price: { amount: price.success.amount, currency: code },
                shipping: { amount: shipping.amount, currency: code },
                condition: "new",
                quantity: listed.quantity,
                title: product.name ?? null
              })
            }
            const next = nextPosition(position.success, products.length, { totalPages: response.headers["x-wp-totalpages"], link: response.headers["link"] })
            return { listings, nextCursor: next === undefined ? null : formatCursor(next) }
          }),

        lookupOrder: ({ idempotencyKey, isbn, previouslySentAt }) =>
          Effect.gen(function* () {
            const { products } = yield* productsBySku("lookupOrder", [isbn], false)
            // One product: search its orders; none or several (SKU moved, product deleted): search them all.
            const productId = products.length === 1 ? orderFilterId({ productId: products[0]!.id, parentId: products[0]!.parent_id ?? 0 }) : undefined
            const order = yield* findTagged("lookupOrder", idempotencyKey, productId)
            if (order !== undefined) return yield* toOrder("lookupOrder", order, isbn, order.currency)
            yield* unsettled("lookupOrder", idempotencyKey, previouslySentAt)
            return null
          })
      }
    })
})
