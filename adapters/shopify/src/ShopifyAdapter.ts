/**
 * The adapter for bookshops on Shopify, through the Admin GraphQL API of one dated version.
 * Shopify is a shop platform, not a seller API, so three parts of the contract are emulated:
 *
 * - **Quotes** are read live (`productVariants` by barcode = ISBN, price, stock); Shopify has no
 *   quote object, so a quote id names the variant and the shop's clock at the answer, and
 *   expires after `quoteTtlSeconds` by that clock. Shipping is the flat rate in the config.
 * - **No holds**: a purchase is made straight from an offer, after the adapter re-checks stock,
 *   price and the quote's age itself.
 * - **No idempotency** for draft orders: every draft carries a tag derived from bookbroker's
 *   idempotency key (and the key itself as a custom attribute). Before creating anything the
 *   adapter looks for drafts with that tag: a completed one is the order, an open one is
 *   finished instead of creating another. A draft completes into at most one order, and only one
 *   draft per key is ever completed — so at most one order per purchase request, even when an
 *   answer was lost. An ambiguous answer is reported as outcome unknown and resolved by the same
 *   look-up (`lookupOrder`, or the next try with the same key), never by creating blindly.
 *
 * The shop's variants are listed page by page for bookbroker's offer index (`inventory`), with
 * Shopify's own cursor, mapped by the quotes' rules.
 *
 * Orders are draft orders completed with `draftOrderComplete(id)`: as a payment-pending order
 * when the config names payment terms, as paid otherwise. The deprecated `paymentPending`
 * argument is never sent.
 */
import { type Adapter, type Contract, defineEffectAdapter, Http, Money, SellerError } from "@bookbroker/adapter-sdk"
import { Duration, Effect, Option, Result, Schema } from "effect"
import * as AdminApi from "./internal/adminApi.js"
import { malformed, rejected } from "./internal/adminApi.js"
import {
  draftOrderCompleteDocument,
  draftOrderCreateDocument,
  inventoryDocument,
  lookupDocument,
  type MutationPayload,
  preOrderDocument,
  type QuoteData,
  quoteDocument,
  type VariantConnection,
  type WireDraftOrder
} from "./internal/documents.js"
import { keyedDrafts, moneyOf, toOrder } from "./internal/drafts.js"
import { attributes, barcodeQuery, formatQuoteId, keyTag, parseQuoteId } from "./internal/identifiers.js"
import { listingOf, listingSearch, shopifyMaxInventoryPageSize } from "./internal/listings.js"
import { choose, isSellable, priceOf, toOffer, variantsOf } from "./internal/variants.js"

/** The newest stable Admin API version the adapter was written against (per the platform spec). */
export const shopifyDefaultApiVersion = "2026-07"

/** ISBNs per quote call; each adds three barcode spellings to one search. */
export const shopifyMaxBatchSize = 25

const AbsoluteUrl = Schema.String.check(Schema.makeFilter((url: string) => URL.canParse(url) || "shopUrl must be an absolute URL, e.g. https://my-bookshop.myshopify.com"))
const ApiVersion = Schema.String.check(
  Schema.makeFilter((version: string) => /^\d{4}-(01|04|07|10)$/.test(version) || `apiVersion "${version}" is not a Shopify release (YYYY-01, -04, -07 or -10)`)
)
const Decimal = Schema.String.check(Schema.makeFilter((value: string) => /^\d+(\.\d+)?$/.test(value) || `"${value}" is not a plain decimal amount like "3.50"`))

export const ShopifyConfig = Schema.Struct({
  /** The shop's admin origin: `https://{shop}.myshopify.com`. */
  shopUrl: AbsoluteUrl,
  /** The dated Admin API version in the URL. */
  apiVersion: ApiVersion.pipe(Schema.withDecodingDefaultKey(Effect.succeed(shopifyDefaultApiVersion))),
  /** ISBNs per quote call; 1 turns batching off. */
  maxBatchSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: shopifyMaxBatchSize })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(10))
  ),
  /** Flat shipping per order, in the shop's currency, added to each draft as a custom shipping line. */
  shipping: Decimal.pipe(Schema.withDecodingDefaultKey(Effect.succeed("0"))),
  shippingTitle: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("Shipping"))),
  /** Shopify has no condition field: what the shop sells. */
  condition: Schema.Literals(["new", "like_new", "very_good", "good", "acceptable"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("new" as const))),
  /** How long a quote is honoured, by the shop's clock. */
  quoteTtlSeconds: Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 3_600 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(120))),
  /**
   * List the shop's variants for bookbroker's offer index (the `inventory` capability), so the
   * shop can join it without uploading files. On unless set to false: the listing reads
   * `productVariants` with the same access as quotes, and nothing is fetched until the seller
   * asks bookbroker to pull its inventory from the adapter.
   */
  inventory: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  /**
   * A payment terms template (`gid://shopify/PaymentTermsTemplate/…`): drafts get these terms
   * and complete as payment-pending orders. Without it, completed orders are marked paid.
   */
  paymentTermsTemplateId: Schema.optional(Schema.String.check(Schema.isNonEmpty()))
})
export type ShopifyConfig = typeof ShopifyConfig.Type

/** Reads of a draft Shopify is still calculating before the adapter gives up for now. */
const readyPolls = 5
const readyPollInterval = Duration.millis(200)
/** Variants per barcode spelling fetched per page. */
const variantsPerForm = 2

export const shopifyAdapter: Adapter.Adapter<ShopifyConfig, typeof ShopifyConfig.Encoded> = defineEffectAdapter({
  kind: "shopify",
  version: "0.1.0",
  description: "Shopify shops (Admin GraphQL): variants by barcode, purchases through draft orders tagged with bookbroker's idempotency key.",
  config: ShopifyConfig,
  credentials: ["accessToken"],
  capabilities: (config) => ({
    batchQuotes: config.maxBatchSize >= 2 ? { maxBatchSize: config.maxBatchSize } : null,
    holds: false,
    orderLookup: true,
    pricePush: false,
    inventory: config.inventory
  }),
  // A purchase is three calls (check, create, complete); Shopify's bucket (100 points/s on the
  // Standard plan) pays for a few of either a second. The cost tracker does the fine-tuning.
  limits: { requestsPerSecond: 2, burst: 4, maxConcurrency: 2, timeoutMillis: 10_000 },
  make: ({ config, credentials, http }) =>
    Effect.sync(() => {
      const admin = AdminApi.make({
        http: http({ baseUrl: config.shopUrl, auth: Http.apiKeyHeader("X-Shopify-Access-Token", credentials["accessToken"]!) }),
        apiVersion: config.apiVersion
      })

      const shippingIn = (operation: Contract.Operation, currency: string): Effect.Effect<Money.Money, SellerError.SellerError> => {
        const shipping = Money.fromDecimal(config.shipping, currency)
        return Result.isFailure(shipping)
          ? Effect.fail(rejected(operation, "invalid_request", `config shipping ${config.shipping} does not fit the shop's currency: ${shipping.failure}`))
          : Effect.succeed(shipping.success)
      }

      /** Every variant matching the search, page after page (a page holds a few per spelling). */
      const allVariants = (query: string, first: number) =>
        Effect.gen(function* () {
          const nodes: Array<VariantConnection["edges"][number]["node"]> = []
          let after: string | null = null
          for (;;) {
            const answer: AdminApi.AdminAnswer<QuoteData> = yield* admin.run({
              operation: "quote",
              document: quoteDocument,
              variables: { query, first, after },
              preflight: after === null
            })
            nodes.push(...answer.data.productVariants.edges.map((edge) => edge.node))
            const page = answer.data.productVariants.pageInfo
            if (!page.hasNextPage) return { nodes, currency: answer.data.shop.currencyCode, shopTime: answer.shopTime }
            if (page.endCursor === null) return yield* malformed("quote", "productVariants has a next page but no endCursor")
            after = page.endCursor
          }
        })

      const quote = ({ isbns }: Contract.QuoteRequest) =>
        Effect.gen(function* () {
          const { nodes, currency, shopTime } = yield* allVariants(barcodeQuery(isbns), Math.min(250, isbns.length * 3 * variantsPerForm))
          const shipping = yield* shippingIn("quote", currency)
          const expiresAt = new Date(Date.now() + config.quoteTtlSeconds * 1000)
          const issuedAtSeconds = Math.floor(shopTime / 1000)
          const answers: Array<Contract.QuoteResultInput> = []
          for (const isbn of isbns) {
            const choice = choose(nodes, isbn, currency)
            if (Result.isFailure(choice)) return yield* malformed("quote", choice.failure)
            // Not carried: no answer; the SDK reports the ISBN as not_carried.
            if (choice.success === "not_carried") continue
            answers.push(
              choice.success === "out_of_stock"
                ? { available: false, isbn, reason: "out_of_stock" }
                : toOffer(isbn, choice.success, {
                    quoteId: formatQuoteId({ variantId: choice.success.variant.id, issuedAtSeconds }),
                    shipping,
                    condition: config.condition,
                    expiresAt
                  })
            )
          }
          return answers
        })

      /** Reads the drafts tagged with a key (lookups and the ready poll). */
      const draftsFor = (operation: Contract.Operation, idempotencyKey: string) =>
        admin.run({ operation, document: lookupDocument, variables: { drafts: `tag:${keyTag(idempotencyKey)}` } }).pipe(
          Effect.map((answer) => keyedDrafts(answer.data.draftOrders.edges.map((edge) => edge.node), idempotencyKey))
        )

      /** The payload of a draft mutation: a draft and no userErrors, or a rejection naming them. */
      const draftOf = (name: string, payload: MutationPayload): Effect.Effect<WireDraftOrder, SellerError.SellerError> => {
        if (payload === null) return Effect.fail(malformed("purchase", `${name} answered a null payload`))
        if (payload.userErrors.length > 0 && payload.draftOrder === null) {
          const messages = payload.userErrors.map((error) => `${(error.field ?? []).join(".") || "-"}: ${error.message}`).join("; ")
          return Effect.fail(rejected("purchase", "invalid_request", `${name} refused: ${messages}`))
        }
        if (payload.userErrors.length > 0 || payload.draftOrder === null) {
          return Effect.fail(malformed("purchase", `${name} answered ${payload.userErrors.length} userErrors and ${payload.draftOrder === null ? "no" : "a"} draft order`))
        }
        return Effect.succeed(payload.draftOrder)
      }

      const createDraft = (request: Contract.PurchaseRequest, variantId: string, shipping: Money.Money) =>
        Effect.gen(function* () {
          const input: Record<string, unknown> = {
            lineItems: [{ variantId, quantity: 1 }],
            tags: [keyTag(request.idempotencyKey)],
            note: `bookbroker purchase ${request.buyerReference}`,
            customAttributes: [
              { key: attributes.idempotencyKey, value: request.idempotencyKey },
              { key: attributes.buyerReference, value: request.buyerReference },
              { key: attributes.isbn, value: request.isbn }
            ]
          }
          if (shipping.amount > 0) {
            input["shippingLine"] = { title: config.shippingTitle, priceWithCurrency: { amount: Money.toDecimal(shipping), currencyCode: shipping.currency } }
          }
          if (config.paymentTermsTemplateId !== undefined) {
            input["paymentTerms"] = { paymentTermsTemplateId: config.paymentTermsTemplateId, paymentSchedules: [{ issuedAt: new Date().toISOString() }] }
          }
          const answer = yield* admin.run({ operation: "purchase", document: draftOrderCreateDocument, variables: { input } })
          return yield* draftOf("draftOrderCreate", answer.data.draftOrderCreate)
        })

      /** Shopify may still be calculating a new draft (`ready: false`); wait a little for it. */
      const whenReady = (draft: WireDraftOrder, idempotencyKey: string) =>
        Effect.gen(function* () {
          let current = draft
          for (let poll = 0; !current.ready && poll < readyPolls; poll++) {
            yield* Effect.sleep(readyPollInterval)
            const drafts = yield* draftsFor("purchase", idempotencyKey)
            if (drafts.completed !== undefined) return drafts.completed
            current = drafts.open?.id === current.id ? drafts.open : current
          }
          if (!current.ready) {
            // No order exists (the draft is open): safe to try again later with the same key.
            return yield* new SellerError.SellerUnavailable({
              operation: "purchase",
              reason: "conflict",
              detail: `draft order ${current.id} is not ready to complete yet`
            })
          }
          return current
        })

      /** The draft must bill what the offer said, or it is not completed. */
      const verifyDraft = (draft: WireDraftOrder, offer: Contract.Offer, request: Contract.PurchaseRequest) =>
        Effect.gen(function* () {
          const money = moneyOf(draft)
          if (Result.isFailure(money)) return yield* malformed("purchase", money.failure)
          const { price, shipping, total } = money.success
          if (price.currency !== offer.price.currency || price.amount !== offer.price.amount || shipping.amount !== offer.shipping.amount) {
            return yield* new SellerError.SellerRejected({
              operation: "purchase",
              reason: "price_changed",
              detail: `draft order ${draft.id} bills ${Money.toDecimal(price)} + ${Money.toDecimal(shipping)} ${price.currency}, the offer was ${Money.toDecimal(offer.price)} + ${Money.toDecimal(offer.shipping)} ${offer.price.currency}; it is left open, not completed`,
              ...(price.currency === offer.price.currency ? { currentPrice: price } : {})
            })
          }
          if (total.amount > request.maxTotal.amount) {
            return yield* rejected("purchase", "invalid_request", `draft order ${draft.id} totals ${Money.toDecimal(total)}, above the maximum ${Money.toDecimal(request.maxTotal)}`)
          }
        })

      const complete = (draft: WireDraftOrder, request: Contract.PurchaseRequest) =>
        Effect.gen(function* () {
          const answer = yield* admin.run({ operation: "purchase", document: draftOrderCompleteDocument, variables: { id: draft.id } })
          const payload = answer.data.draftOrderComplete
          if (payload !== null && payload.userErrors.length > 0 && payload.draftOrder === null) {
            // Refused — perhaps because an earlier try completed it after all. Look before answering.
            const drafts = yield* draftsFor("purchase", request.idempotencyKey)
            if (drafts.completed !== undefined) return yield* toOrder("purchase", drafts.completed, request.isbn)
          }
          return yield* toOrder("purchase", yield* draftOf("draftOrderComplete", payload), request.isbn)
        })

      const purchase = (request: Contract.PurchaseRequest) =>
        Effect.gen(function* () {
          if (request.source._tag !== "Offer") return yield* rejected("purchase", "invalid_request", "Shopify has no holds: purchases are made from an offer")
          const offer = request.source.offer
          if (request.buyerReference.trim() === "") return yield* rejected("purchase", "invalid_request", "the buyer reference is empty; a draft order must name its bookbroker request")
          if (request.idempotencyKey.trim() === "") return yield* rejected("purchase", "invalid_request", "the idempotency key is empty")
          if (request.maxTotal.currency !== offer.price.currency) {
            return yield* rejected("purchase", "invalid_request", `the maximum total is in ${request.maxTotal.currency} but the shop sells in ${offer.price.currency}`)
          }
          if (offer.total.amount > request.maxTotal.amount) {
            return yield* rejected("purchase", "invalid_request", `the offer totals ${Money.toDecimal(offer.total)}, above the maximum ${Money.toDecimal(request.maxTotal)}`)
          }
          const quoted = parseQuoteId(offer.quoteId)
          if (Option.isNone(quoted)) return yield* rejected("purchase", "invalid_request", `quote id ${JSON.stringify(offer.quoteId)} was not made by this adapter`)

          const check = yield* admin.run({
            operation: "purchase",
            document: preOrderDocument,
            variables: { drafts: `tag:${keyTag(request.idempotencyKey)}`, variants: barcodeQuery([request.isbn]), first: 3 * variantsPerForm * 2 },
            preflight: true
          })
          const drafts = keyedDrafts(check.data.draftOrders.edges.map((edge) => edge.node), request.idempotencyKey)
          // A replay: the order exists, whatever has happened to stock and prices since.
          if (drafts.completed !== undefined) return yield* toOrder("purchase", drafts.completed, request.isbn)

          const variants = variantsOf(check.data.productVariants.edges.map((edge) => edge.node), request.isbn)
          const variant = variants.find((candidate) => candidate.id === quoted.value.variantId)
          if (variant === undefined && check.data.productVariants.pageInfo.hasNextPage) {
            return yield* rejected("purchase", "invalid_request", `more variants share the barcode of ${request.isbn} than one check reads`)
          }
          if (variant === undefined || !isSellable(variant)) {
            return yield* rejected("purchase", "out_of_stock", `variant ${quoted.value.variantId} ${variant === undefined ? "is gone" : "has no stock to sell"}`)
          }

          let draft = drafts.open
          if (draft === undefined) {
            // A new order: the quote must still stand, by the shop's clock and by ours.
            const ageSeconds = Math.floor(check.shopTime / 1000) - quoted.value.issuedAtSeconds
            if (ageSeconds >= config.quoteTtlSeconds || offer.expiresAt.getTime() <= Date.now()) {
              return yield* rejected("purchase", "quote_expired", `the quote is ${ageSeconds} s old by the shop's clock; quotes stand ${config.quoteTtlSeconds} s`)
            }
            const price = priceOf(variant, check.data.shop.currencyCode)
            if (Result.isFailure(price)) return yield* malformed("purchase", price.failure)
            if (price.success.currency !== offer.price.currency || price.success.amount !== offer.price.amount) {
              return yield* new SellerError.SellerRejected({
                operation: "purchase",
                reason: "price_changed",
                detail: `${variant.id} now costs ${variant.price} ${check.data.shop.currencyCode}`,
                ...(price.success.currency === offer.price.currency ? { currentPrice: price.success } : {})
              })
            }
            draft = yield* createDraft(request, variant.id, offer.shipping)
          }
          const ready = yield* whenReady(draft, request.idempotencyKey)
          if (ready.status === "COMPLETED") return yield* toOrder("purchase", ready, request.isbn)
          yield* verifyDraft(ready, offer, request)
          return yield* complete(ready, request)
        })

      const lookupOrder = ({ idempotencyKey, isbn }: Contract.LookupOrderRequest) =>
        draftsFor("lookupOrder", idempotencyKey).pipe(
          Effect.flatMap((drafts) => (drafts.completed === undefined ? Effect.succeed(null) : toOrder("lookupOrder", drafts.completed, isbn)))
        )

      /**
       * One page of the shop's variants of products on sale, after Shopify's own `endCursor`
       * (our cursor as it is), each with an ISBN barcode mapped as a quote would answer it. Held
       * back like a quote while the shop's cost bucket cannot pay for it.
       */
      const inventory = ({ cursor, pageSize }: Contract.InventoryRequest) =>
        Effect.gen(function* () {
          const answer = yield* admin.run({
            operation: "inventory",
            document: inventoryDocument,
            variables: { query: listingSearch, first: Math.min(pageSize, shopifyMaxInventoryPageSize), after: cursor },
            preflight: true
          })
          const currency = answer.data.shop.currencyCode
          const shipping = yield* shippingIn("inventory", currency)
          const listings: Array<Contract.InventoryListingInput> = []
          for (const { node } of answer.data.productVariants.edges) {
            const listing = listingOf(node, { currency, shipping, condition: config.condition })
            if (Result.isFailure(listing)) return yield* malformed("inventory", listing.failure)
            if (listing.success !== undefined) listings.push(listing.success)
          }
          const page = answer.data.productVariants.pageInfo
          if (page.hasNextPage && page.endCursor === null) return yield* malformed("inventory", "productVariants has a next page but no endCursor")
          return { listings, nextCursor: page.hasNextPage ? page.endCursor : null }
        })

      return { quote, purchase, lookupOrder, inventory }
    })
})
