/**
 * The adapter for buying books on eBay through its Buy APIs. eBay is a marketplace, not one
 * shop: a quote is the cheapest fitting Buy It Now listing for the ISBN on one marketplace.
 *
 * - **Quote**: Browse `item_summary/search?q=<isbn>` (the `gtin` parameter takes UPCs only),
 *   ranked on price + shipping, condition and seller feedback; then `item/{item_id}` for the
 *   cheapest candidates, which alone confirms the GTIN, stock and Order API eligibility.
 * - **Purchase** only for keysets eBay approved for the Order API's guest checkout (a Limited
 *   Release). Order v2 pays in the buyer's browser; server-side ordering exists only in
 *   v1_beta: `guest_checkout_session/initiate` → compare the session's totals with the quote
 *   (eBay has no "price changed" error) → `place_order` → `guest_purchase_order/{id}` for the
 *   payment status and what eBay charged. Unapproved, every purchase is refused
 *   `invalid_request` before any call.
 * - **No idempotency** on eBay: place_order on one session never makes a second order (15006),
 *   so the adapter remembers the session it placed per key and sends every retry back to it;
 *   an ambiguous answer is `OutcomeUnknown`, resolved by that replay, never by a new session.
 *   eBay cannot find an order by our key, so there is no `lookupOrder`.
 *
 * Step table of a purchase:
 * 1. approved? an offer? a key and a buyer reference? (else invalid_request, nothing sent);
 * 2. the key was placed before → replay place_order on its session, or read its purchase order;
 * 3. initiate a guest checkout session for the listing; expiry on eBay's clock; totals ≤ quote;
 * 4. remember the session for the key, then place_order → read the purchase order → the order.
 */
import { type Adapter, type Contract, defineEffectAdapter, Http, Money, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Redacted, Result, Schema } from "effect"
import { type Checkout, EbayConfig, hostsOf, marketplaces, scopesOf } from "./EbayConfig.js"
import { errorsOf, describe as describeErrors, toSellerError } from "./ErrorMapping.js"
import * as BuyApi from "./internal/buyApi.js"
import { CheckoutLedger, type Placement } from "./internal/checkoutLedger.js"
import * as OAuthToken from "./internal/oauthToken.js"
import { assess, parseQuoteId, quoteIdOf, rank, type Rules, searchFilter } from "./Listings.js"
import {
  alreadyPlaced,
  removedFromCart,
  type WireAmount,
  WireCheckoutSession,
  WireItem,
  type WirePricingSummary,
  WirePurchaseOrder,
  WirePurchaseOrderSummary,
  WireSearch
} from "./Wire.js"

const orderPath = "/buy/order/v1"
const browsePath = "/buy/browse/v1"

const malformed = (operation: Contract.Operation, detail: string) => new SellerError.MalformedSellerResponse({ operation, detail })

const rejected = (operation: Contract.Operation, reason: SellerError.RejectedReason, detail: string, extra: { currentPrice?: Money.Money } = {}) =>
  new SellerError.SellerRejected({ operation, reason, detail, ...extra })

/** An order may exist: never answer "none", never place again; a later try (or a person) settles it. */
const unsettled = (detail: string, retryAfterMillis?: number) =>
  new SellerError.SellerUnavailable({
    operation: "purchase",
    reason: "conflict",
    detail,
    mayHaveBeenProcessed: true,
    ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
  })

const decodeWire =
  <A, I>(schema: Schema.Codec<A, I>, operation: Contract.Operation) =>
  (body: unknown): Effect.Effect<A, SellerError.SellerError> =>
    Schema.decodeUnknownEffect(schema, { onExcessProperty: "ignore", reportInput: true })(body).pipe(Effect.mapError((error) => malformed(operation, error.message)))

const money = (operation: Contract.Operation, field: string, amount: WireAmount, currency: string): Effect.Effect<Money.Money, SellerError.SellerError> => {
  if (amount.currency !== currency) return Effect.fail(malformed(operation, `${field} is in ${amount.currency}, not ${currency}`))
  const parsed = Money.fromDecimal(amount.value, currency)
  return Result.isFailure(parsed) ? Effect.fail(malformed(operation, `${field}: ${parsed.failure}`)) : Effect.succeed(parsed.success)
}

/** Item and shipping as eBay totals them: shipping is `deliveryCost`, everything else (tax, fees, discounts) is the price. */
const split = (operation: Contract.Operation, summary: WirePricingSummary, currency: string) =>
  Effect.gen(function* () {
    const total = yield* money(operation, "pricingSummary.total", summary.total, currency)
    const shipping = summary.deliveryCost === undefined ? Money.make(0, currency) : yield* money(operation, "pricingSummary.deliveryCost", summary.deliveryCost, currency)
    if (shipping.amount > total.amount) return yield* malformed(operation, "pricingSummary.deliveryCost is above pricingSummary.total")
    return { total, price: Money.make(total.amount - shipping.amount, currency), shipping }
  })

/** eBay's clock (the `Date` header); ours when a proxy dropped it. */
const ebayNow = (response: Http.HttpResponse): number => {
  const date = Date.parse(response.headers["date"] ?? "")
  return Number.isNaN(date) ? Date.now() : date
}

/** `orders@broker.example` → `orders+req-42@broker.example`: the confirmation mail names the request. */
export const contactEmailFor = (checkout: Checkout, buyerReference: string): string => {
  const at = checkout.contactEmail.lastIndexOf("@")
  const local = checkout.contactEmail.slice(0, at)
  const tag = buyerReference.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, Math.max(0, 63 - local.length))
  return checkout.tagContactEmail && tag !== "" ? `${local}+${tag}${checkout.contactEmail.slice(at)}` : checkout.contactEmail
}

export const notApprovedDetail =
  "this eBay account is not approved to place orders: server-side ordering needs eBay's approval of the keyset for the Order API " +
  "(Limited Release, scope buy.guest.order, guest checkout v1_beta); until then the adapter only quotes — set guestCheckoutApproved and checkout once eBay approved it"

export const ebayAdapter: Adapter.Adapter<EbayConfig, typeof EbayConfig.Encoded> = defineEffectAdapter({
  kind: "ebay",
  version: "0.1.0",
  description: "eBay marketplaces (Buy APIs): Buy It Now listings by ISBN; guest checkout orders where eBay approved the keyset.",
  config: EbayConfig,
  credentials: ["clientId", "clientSecret"],
  // eBay has no holds, no batch search by ISBN, and no way to find a guest order by our key.
  capabilities: { batchQuotes: null, holds: false, orderLookup: false, pricePush: false },
  // Browse allows 5,000 calls a day by default and a quote takes two or more: about one quote
  // every 40 s, in bursts. Raise after eBay's Application Growth Check.
  limits: { requestsPerSecond: 0.025, burst: 20, maxConcurrency: 4, timeoutMillis: 10_000 },
  make: ({ config, credentials, http, fetch }) =>
    Effect.gen(function* () {
      const cardNumber = credentials["cardNumber"]
      const cardSecurityCode = credentials["cardSecurityCode"]
      if (config.guestCheckoutApproved && cardNumber === undefined) {
        return yield* Effect.die(new Error("guestCheckoutApproved needs the credential cardNumber (and cardSecurityCode when eBay asks for the card's security code)"))
      }
      const marketplace = marketplaces[config.marketplaceId]
      const hosts = hostsOf(config)
      const address = config.checkout?.shippingAddress
      const deliveryCountry = address?.country ?? marketplace.country
      const call = BuyApi.make({
        api: http({ baseUrl: hosts.api }),
        apix: http({ baseUrl: hosts.apix }),
        tokens: OAuthToken.make({
          tokenUrl: `${hosts.api.replace(/\/$/, "")}/identity/v1/oauth2/token`,
          clientId: credentials["clientId"]!,
          clientSecret: credentials["clientSecret"]!,
          scopes: scopesOf(config),
          timeoutMillis: 10_000,
          fetch
        }),
        marketplaceId: config.marketplaceId,
        contextualLocation: address === undefined ? undefined : `country=${address.country},zip=${address.postalCode}`
      })
      const rules: Rules = { ...config, currency: marketplace.currency }
      const filter = searchFilter({ ...rules, deliveryCountry, itemLocationCountry: marketplace.country })
      const ledger = new CheckoutLedger()

      /** Fails with the taxonomy error for an eBay error answer. */
      const refused = (operation: Contract.Operation, response: Http.HttpResponse) => Effect.fail(toSellerError(operation, response.status, response.body))

      /** The live listing, or `undefined` when eBay says it is gone (404, or 11001/11004 in a 200). */
      const readItem = (itemId: string) =>
        Effect.gen(function* () {
          const response = yield* call({ operation: "quote", host: "api", method: "GET", path: `${browsePath}/item/${Http.pathSegment(itemId)}`, expect: [400, 404, 409] })
          if (response.status === 404) return undefined
          if (response.status !== 200) return yield* refused("quote", response)
          const errors = errorsOf(response.body)
          if (errors.some((error) => error.errorId === 11001 || error.errorId === 11004)) return undefined
          return { item: yield* decodeWire(WireItem, "quote")(response.body), ebayTime: ebayNow(response) }
        })

      const quoteOne = (isbn: Contract.QuoteRequest["isbns"][number]) =>
        Effect.gen(function* () {
          const response = yield* call({
            operation: "quote",
            host: "api",
            method: "GET",
            path: `${browsePath}/item_summary/search`,
            query: { q: isbn, filter, sort: "price", limit: config.searchLimit },
            expect: [400, 403, 404, 409]
          })
          if (response.status !== 200) return yield* refused("quote", response)
          const search = yield* decodeWire(WireSearch, "quote")(response.body)
          let soldOut = false
          for (const candidate of rank(search.itemSummaries ?? [], rules).slice(0, config.itemChecks)) {
            const read = yield* readItem(candidate.itemId)
            if (read === undefined) continue
            const assessment = assess(read.item, isbn, rules)
            if (assessment._tag === "Unsellable") {
              soldOut ||= assessment.reason === "out_of_stock"
              continue
            }
            const offer: Contract.QuoteResultInput = {
              available: true,
              isbn,
              quoteId: quoteIdOf(read.item.itemId, read.ebayTime),
              price: { amount: assessment.price.amount, currency: assessment.price.currency },
              shipping: { amount: assessment.shipping.amount, currency: assessment.shipping.currency },
              condition: assessment.condition,
              quantity: assessment.quantity,
              expiresAt: new Date(read.ebayTime + config.quoteTtlSeconds * 1000)
            }
            return offer
          }
          // Listed but sold out since the search index saw it; otherwise (nothing fitting) not carried.
          return soldOut ? ({ available: false, isbn, reason: "out_of_stock" } as const) : undefined
        })

      /** What eBay charged for the key's order, once its payment went through. */
      const readOrder = (request: Contract.PurchaseRequest, placement: Placement & { readonly purchaseOrderId: string }, currency: string) =>
        Effect.gen(function* () {
          const response = yield* call({
            operation: "purchase",
            host: "apix",
            method: "GET",
            path: `${orderPath}/guest_purchase_order/${Http.pathSegment(placement.purchaseOrderId)}`,
            expect: [400, 403, 404]
          })
          if (response.status !== 200) {
            return yield* unsettled(`eBay placed purchase order ${placement.purchaseOrderId} but cannot show it now: ${describeErrors(response.status, errorsOf(response.body))}`)
          }
          const order = yield* decodeWire(WirePurchaseOrder, "purchase")(response.body)
          const line = order.lineItems.find((candidate) => candidate.itemId === placement.itemId)
          const status = line?.lineItemPaymentStatus ?? order.purchaseOrderPaymentStatus
          if (status === "FAILED") {
            // No payment, no order: the session is spent, and a later try may start a new one.
            ledger.forget(request.idempotencyKey)
            return yield* rejected("purchase", "invalid_request", `eBay could not take payment for purchase order ${order.purchaseOrderId} (FAILED) — check the configured card`)
          }
          if (line === undefined || status !== "PAID") {
            return yield* unsettled(`purchase order ${order.purchaseOrderId} is ${line === undefined ? "without our item" : `payment ${status}`}; ask again shortly`, 30_000)
          }
          const charged = yield* split("purchase", order.pricingSummary, currency)
          return {
            orderId: order.purchaseOrderId,
            isbn: placement.isbn as Contract.PurchaseRequest["isbn"],
            status: "confirmed" as const,
            price: { amount: charged.price.amount, currency: charged.price.currency },
            shipping: { amount: charged.shipping.amount, currency: charged.shipping.currency }
          }
        })

      /**
       * `place_order` on the key's session. A first try that eBay refused (or never received)
       * frees the key; a replay is only ever settled by an order id.
       */
      const place = (request: Contract.PurchaseRequest, placement: Placement, replay: boolean) =>
        Effect.gen(function* () {
          const response = yield* call({
            operation: "purchase",
            host: "apix",
            method: "POST",
            path: `${orderPath}/guest_checkout_session/${Http.pathSegment(placement.checkoutSessionId)}/place_order`,
            json: {},
            expect: [400, 403, 404, 409]
          }).pipe(
            Effect.tapError((error) =>
              Effect.sync(() => {
                const notSent = (error._tag === "SellerUnavailable" && !error.mayHaveBeenProcessed) || error._tag === "SellerRejected"
                if (!replay && notSent) ledger.forget(request.idempotencyKey)
              })
            )
          )
          if (response.status !== 200) {
            const error = toSellerError("purchase", response.status, response.body)
            if (replay || error._tag !== "SellerRejected") {
              return yield* unsettled(
                `place_order for checkout session ${placement.checkoutSessionId} ${replay ? "was sent before without an answer; eBay now answers" : "answered"} ${error.message} — check the eBay order confirmation mail before buying this book again`
              )
            }
            ledger.forget(request.idempotencyKey)
            return yield* Effect.fail(error)
          }
          const summary = yield* decodeWire(WirePurchaseOrderSummary, "purchase")(response.body)
          const placedBefore = (summary.warnings ?? []).some((warning) => warning.errorId === alreadyPlaced)
          if (summary.purchaseOrderId === undefined || summary.purchaseOrderId === "") {
            return yield* placedBefore
              ? unsettled(`eBay says an order was already placed for checkout session ${placement.checkoutSessionId} (15006) without naming it — find it in the eBay order confirmation mail`)
              : malformed("purchase", "place_order answered 200 without a purchaseOrderId")
          }
          const placed = { ...placement, purchaseOrderId: summary.purchaseOrderId }
          ledger.set(request.idempotencyKey, placed)
          return yield* readOrder(request, placed, request.maxTotal.currency)
        })

      const initiate = (request: Contract.PurchaseRequest, checkout: Checkout, itemId: string) =>
        call({
          operation: "purchase",
          host: "apix",
          method: "POST",
          path: `${orderPath}/guest_checkout_session/initiate`,
          json: {
            contactEmail: contactEmailFor(checkout, request.buyerReference),
            contactFirstName: checkout.contactFirstName,
            contactLastName: checkout.contactLastName,
            creditCard: {
              accountHolderName: checkout.card.accountHolderName,
              brand: checkout.card.brand,
              cardNumber: Redacted.value(cardNumber!),
              ...(cardSecurityCode === undefined ? {} : { cvvNumber: Redacted.value(cardSecurityCode) }),
              expireMonth: checkout.card.expireMonth,
              expireYear: checkout.card.expireYear,
              billingAddress: checkout.card.billingAddress
            },
            lineItemInputs: [{ itemId, quantity: 1 }],
            shippingAddress: checkout.shippingAddress
          },
          expect: [400, 403, 404, 409]
        })

      /** The session eBay opened, held against the quote: the item still in it, not dearer, within the customer's maximum. */
      const checkSession = (request: Contract.PurchaseRequest, offer: Contract.Offer, itemId: string, response: Http.HttpResponse) =>
        Effect.gen(function* () {
          if (response.status !== 200) return yield* refused("purchase", response)
          if (ebayNow(response) >= offer.expiresAt.getTime()) {
            return yield* rejected("purchase", "quote_expired", `the quote expired at ${offer.expiresAt.toISOString()} (eBay time)`)
          }
          const session = yield* decodeWire(WireCheckoutSession, "purchase")(response.body)
          const removed = (session.warnings ?? []).filter((warning) => removedFromCart.has(warning.errorId))
          if (removed.length > 0 || !session.lineItems.some((line) => line.itemId === itemId)) {
            return yield* rejected("purchase", "out_of_stock", `eBay took item ${itemId} out of the checkout session: ${describeErrors(200, removed)}`)
          }
          const currency = offer.price.currency
          if (session.pricingSummary.total.currency !== currency) {
            return yield* rejected("purchase", "invalid_request", `the checkout is in ${session.pricingSummary.total.currency}, the quote in ${currency}`)
          }
          const { total, price } = yield* split("purchase", session.pricingSummary, currency)
          if (total.amount > offer.total.amount) {
            return yield* rejected("purchase", "price_changed", `eBay's checkout totals ${Money.toDecimal(total)} ${currency}, the quote ${Money.toDecimal(offer.total)}`, { currentPrice: price })
          }
          if (total.amount > request.maxTotal.amount) {
            return yield* rejected("purchase", "invalid_request", `eBay's checkout total ${Money.toDecimal(total)} is above the customer's maximum ${Money.toDecimal(request.maxTotal)}`)
          }
          return session
        })

      return {
        quote: ({ isbns }) =>
          Effect.forEach(isbns, quoteOne).pipe(Effect.map((answers) => answers.filter((answer) => answer !== undefined))),

        purchase: (request) =>
          Effect.gen(function* () {
            const checkout = config.checkout
            if (!config.guestCheckoutApproved || checkout === undefined) return yield* rejected("purchase", "invalid_request", notApprovedDetail)
            if (request.source._tag !== "Offer") return yield* rejected("purchase", "invalid_request", "eBay has no holds: purchases are made from an offer")
            const offer = request.source.offer
            const ref = parseQuoteId(offer.quoteId)
            if (ref === undefined) return yield* rejected("purchase", "invalid_request", `quote id "${offer.quoteId}" is not an eBay quote`)
            if (request.idempotencyKey.trim() === "" || request.buyerReference.trim() === "") {
              return yield* rejected("purchase", "invalid_request", "a purchase needs an idempotency key and a buyer reference")
            }
            if (request.maxTotal.currency !== offer.price.currency) {
              return yield* rejected("purchase", "invalid_request", `the maximum total is in ${request.maxTotal.currency}, the offer in ${offer.price.currency}`)
            }
            const known = ledger.get(request.idempotencyKey)
            if (known !== undefined) {
              if (known.isbn !== request.isbn) return yield* rejected("purchase", "invalid_request", `idempotency key ${request.idempotencyKey} was used for ${known.isbn}`)
              return yield* known.purchaseOrderId === undefined ? place(request, known, true) : readOrder(request, { ...known, purchaseOrderId: known.purchaseOrderId }, offer.price.currency)
            }
            if (Date.now() >= offer.expiresAt.getTime()) return yield* rejected("purchase", "quote_expired", `the quote expired at ${offer.expiresAt.toISOString()}`)
            const response = yield* initiate(request, checkout, ref.itemId)
            const session = yield* checkSession(request, offer, ref.itemId, response)
            const placement: Placement = { checkoutSessionId: session.checkoutSessionId, itemId: ref.itemId, isbn: request.isbn, sentAt: Date.now() }
            ledger.set(request.idempotencyKey, placement)
            return yield* place(request, placement, false)
          })
      }
    })
})
