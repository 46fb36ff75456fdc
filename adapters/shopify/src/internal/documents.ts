/**
 * The Admin GraphQL documents the adapter sends and the schemas of what they answer. Only fields
 * the platform spec confirms for the API version are asked for, plus `totalShippingPriceSet` (a
 * MoneyBag on DraftOrder, like the confirmed `totalPriceSet`). Each document has a stable
 * operation name: Shopify's cost accounting and the adapter's cost tracker key on it.
 */
import { Schema } from "effect"

export interface Document<A> {
  readonly name: string
  readonly text: string
  readonly mutation: boolean
  /** Schema of the `data` member of a successful answer. */
  readonly data: Schema.Codec<A, unknown>
}

const document = <A, I>(name: string, text: string, data: Schema.Codec<A, I>): Document<A> => ({
  name,
  text,
  mutation: text.trimStart().startsWith("mutation"),
  data: data as unknown as Schema.Codec<A, unknown>
})

// ---------------------------------------------------------------------------------------------
// Wire shapes

const MoneyV2 = Schema.Struct({ amount: Schema.String, currencyCode: Schema.String })
const MoneyBag = Schema.Struct({ shopMoney: MoneyV2 })

export const WireVariant = Schema.Struct({
  id: Schema.String,
  barcode: Schema.NullOr(Schema.String),
  /** `Money`: a decimal string in the shop's currency, e.g. `"12.99"`. */
  price: Schema.String,
  inventoryQuantity: Schema.NullOr(Schema.Int),
  availableForSale: Schema.Boolean,
  /** `CONTINUE` (may oversell) or `DENY`; kept a string so a new value is not a malformed answer. */
  inventoryPolicy: Schema.String,
  inventoryItem: Schema.Struct({ tracked: Schema.Boolean }),
  product: Schema.Struct({ status: Schema.String })
})
export type WireVariant = typeof WireVariant.Type

/** A variant as the inventory listing reads it: the quote's fields and its product's title. */
export const WireListedVariant = Schema.Struct({
  ...WireVariant.fields,
  product: Schema.Struct({ status: Schema.String, title: Schema.String })
})
export type WireListedVariant = typeof WireListedVariant.Type

const VariantConnection = Schema.Struct({
  edges: Schema.Array(Schema.Struct({ node: WireVariant })),
  pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) })
})
export type VariantConnection = typeof VariantConnection.Type

export const WireDraftOrder = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  /** `OPEN | INVOICE_SENT | COMPLETED`. */
  status: Schema.String,
  ready: Schema.Boolean,
  customAttributes: Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.NullOr(Schema.String) })),
  order: Schema.NullOr(Schema.Struct({ id: Schema.String, name: Schema.String })),
  totalPriceSet: MoneyBag,
  totalShippingPriceSet: MoneyBag
})
export type WireDraftOrder = typeof WireDraftOrder.Type

const DraftOrderConnection = Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: WireDraftOrder })) })

const UserErrors = Schema.Array(Schema.Struct({ field: Schema.NullOr(Schema.Array(Schema.String)), message: Schema.String }))

const MutationPayload = Schema.NullOr(Schema.Struct({ draftOrder: Schema.NullOr(WireDraftOrder), userErrors: UserErrors }))
export type MutationPayload = typeof MutationPayload.Type

const Shop = Schema.Struct({ currencyCode: Schema.String })

// ---------------------------------------------------------------------------------------------
// Documents

const variantFields = "id barcode price inventoryQuantity availableForSale inventoryPolicy inventoryItem { tracked } product { status }"
const listedVariantFields = "id barcode price inventoryQuantity availableForSale inventoryPolicy inventoryItem { tracked } product { status title }"
const draftFields =
  "id name status ready customAttributes { key value } order { id name } " +
  "totalPriceSet { shopMoney { amount currencyCode } } totalShippingPriceSet { shopMoney { amount currencyCode } }"

const QuoteData = Schema.Struct({ productVariants: VariantConnection, shop: Shop })
export type QuoteData = typeof QuoteData.Type

/** Variants whose barcode matches any form of the asked ISBNs, and the shop's currency. */
export const quoteDocument = document(
  "BookbrokerQuote",
  `query BookbrokerQuote($query: String!, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $query) {
    edges { node { ${variantFields} } }
    pageInfo { hasNextPage endCursor }
  }
  shop { currencyCode }
}`,
  QuoteData
)

const InventoryData = Schema.Struct({
  productVariants: Schema.Struct({
    edges: Schema.Array(Schema.Struct({ node: WireListedVariant })),
    pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) })
  }),
  shop: Shop
})
export type InventoryData = typeof InventoryData.Type

/** One page of the shop's variants for the offer index, after the previous page's `endCursor`, and the shop's currency. */
export const inventoryDocument = document(
  "BookbrokerInventory",
  `query BookbrokerInventory($query: String!, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $query) {
    edges { node { ${listedVariantFields} } }
    pageInfo { hasNextPage endCursor }
  }
  shop { currencyCode }
}`,
  InventoryData
)

/**
 * Before ordering, in one call: drafts already tagged with the purchase's key (a replay or a
 * try whose answer was lost) and the book's variants as they are now (stock and price).
 */
export const preOrderDocument = document(
  "BookbrokerPreOrderCheck",
  `query BookbrokerPreOrderCheck($drafts: String!, $variants: String!, $first: Int!) {
  draftOrders(first: 10, query: $drafts) { edges { node { ${draftFields} } } }
  productVariants(first: $first, query: $variants) {
    edges { node { ${variantFields} } }
    pageInfo { hasNextPage endCursor }
  }
  shop { currencyCode }
}`,
  Schema.Struct({ draftOrders: DraftOrderConnection, productVariants: VariantConnection, shop: Shop })
)

/** Drafts tagged with a purchase's key. */
export const lookupDocument = document(
  "BookbrokerOrderLookup",
  `query BookbrokerOrderLookup($drafts: String!) {
  draftOrders(first: 10, query: $drafts) { edges { node { ${draftFields} } } }
}`,
  Schema.Struct({ draftOrders: DraftOrderConnection })
)

export const draftOrderCreateDocument = document(
  "BookbrokerDraftOrderCreate",
  `mutation BookbrokerDraftOrderCreate($input: DraftOrderInput!) {
  draftOrderCreate(input: $input) {
    draftOrder { ${draftFields} }
    userErrors { field message }
  }
}`,
  Schema.Struct({ draftOrderCreate: MutationPayload })
)

/**
 * Completes a draft into an order. No `paymentPending` (deprecated since 2025-10): a draft made
 * with payment terms becomes a payment-pending order; one without is completed as paid.
 */
export const draftOrderCompleteDocument = document(
  "BookbrokerDraftOrderComplete",
  `mutation BookbrokerDraftOrderComplete($id: ID!) {
  draftOrderComplete(id: $id) {
    draftOrder { ${draftFields} }
    userErrors { field message }
  }
}`,
  Schema.Struct({ draftOrderComplete: MutationPayload })
)
