/**
 * The parts of eBay's Buy APIs the adapter reads, as schemas: OAuth token answers, Browse
 * (`item_summary/search`, `item/{item_id}`) and Order v1_beta guest checkout (initiate,
 * place_order, guest purchase order), plus eBay's one error envelope. Only fields the adapter
 * decides on are declared. Amounts stay decimal strings here (`{ value: "6.49", currency }`):
 * they become minor units in one place, with their currency, never through a float.
 */
import { Schema } from "effect"

/** `POST /identity/v1/oauth2/token` (client credentials). */
export const WireToken = Schema.Struct({
  access_token: Schema.String.check(Schema.isNonEmpty()),
  expires_in: Schema.Int.check(Schema.isGreaterThan(0)),
  token_type: Schema.optional(Schema.String)
})

/** The token endpoint's RFC 6749 error (`invalid_client`, `invalid_scope`, …). */
export const WireOAuthError = Schema.Struct({ error: Schema.String, error_description: Schema.optional(Schema.String) })

/** One element of `errors[]` / `warnings[]`, the same shape on every Buy API. */
export const WireError = Schema.Struct({
  errorId: Schema.Int,
  domain: Schema.optional(Schema.String),
  subdomain: Schema.optional(Schema.String),
  category: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  longMessage: Schema.optional(Schema.String),
  parameters: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.optional(Schema.String), value: Schema.optional(Schema.String) })))
})
export type WireError = typeof WireError.Type

export const WireErrorEnvelope = Schema.Struct({
  errors: Schema.optional(Schema.Array(WireError)),
  warnings: Schema.optional(Schema.Array(WireError))
})

/** `Amount` (Order API). */
export const WireAmount = Schema.Struct({ value: Schema.String, currency: Schema.String })
export type WireAmount = typeof WireAmount.Type

/** `ConvertedAmount` (Browse): `convertedFrom*` set when eBay converted the listing's own currency. */
export const WireConvertedAmount = Schema.Struct({
  value: Schema.String,
  currency: Schema.String,
  convertedFromValue: Schema.optional(Schema.String),
  convertedFromCurrency: Schema.optional(Schema.String)
})
export type WireConvertedAmount = typeof WireConvertedAmount.Type

export const WireSeller = Schema.Struct({
  username: Schema.optional(Schema.String),
  feedbackPercentage: Schema.optional(Schema.String),
  feedbackScore: Schema.optional(Schema.Int)
})
export type WireSeller = typeof WireSeller.Type

export const WireShippingOption = Schema.Struct({
  shippingCostType: Schema.optional(Schema.String),
  shippingCost: Schema.optional(WireConvertedAmount)
})
export type WireShippingOption = typeof WireShippingOption.Type

export const WireItemSummary = Schema.Struct({
  itemId: Schema.String,
  title: Schema.optional(Schema.String),
  price: Schema.optional(WireConvertedAmount),
  buyingOptions: Schema.optional(Schema.Array(Schema.String)),
  conditionId: Schema.optional(Schema.String),
  seller: Schema.optional(WireSeller),
  shippingOptions: Schema.optional(Schema.Array(WireShippingOption))
})
export type WireItemSummary = typeof WireItemSummary.Type

/** `SearchPagedCollection`; eBay leaves `itemSummaries` out when nothing matched. */
export const WireSearch = Schema.Struct({
  total: Schema.optional(Schema.Int),
  itemSummaries: Schema.optional(Schema.Array(WireItemSummary)),
  warnings: Schema.optional(Schema.Array(WireError))
})

export const WireAvailability = Schema.Struct({
  estimatedAvailabilityStatus: Schema.optional(Schema.String),
  estimatedAvailableQuantity: Schema.optional(Schema.Int),
  availabilityThreshold: Schema.optional(Schema.Int),
  availabilityThresholdType: Schema.optional(Schema.String)
})

/** `Item` from `GET /item/{item_id}`: live price, stock estimate, GTIN and checkout eligibility. */
export const WireItem = Schema.Struct({
  itemId: Schema.String,
  gtin: Schema.optional(Schema.String),
  price: WireConvertedAmount,
  buyingOptions: Schema.Array(Schema.String),
  conditionId: Schema.optional(Schema.String),
  seller: Schema.optional(WireSeller),
  shippingOptions: Schema.optional(Schema.Array(WireShippingOption)),
  estimatedAvailabilities: Schema.optional(Schema.Array(WireAvailability)),
  eligibleForInlineCheckout: Schema.optional(Schema.Boolean),
  enabledForGuestCheckout: Schema.optional(Schema.Boolean)
})
export type WireItem = typeof WireItem.Type

export const WirePricingSummary = Schema.Struct({
  priceSubtotal: Schema.optional(WireAmount),
  deliveryCost: Schema.optional(WireAmount),
  tax: Schema.optional(WireAmount),
  total: WireAmount
})
export type WirePricingSummary = typeof WirePricingSummary.Type

/** `GuestCheckoutSessionResponse` (initiate). */
export const WireCheckoutSession = Schema.Struct({
  checkoutSessionId: Schema.String.check(Schema.isNonEmpty()),
  expirationDate: Schema.optional(Schema.String),
  lineItems: Schema.Array(
    Schema.Struct({
      lineItemId: Schema.optional(Schema.String),
      itemId: Schema.String,
      quantity: Schema.optional(Schema.Int),
      baseUnitPrice: Schema.optional(WireAmount)
    })
  ),
  pricingSummary: WirePricingSummary,
  warnings: Schema.optional(Schema.Array(WireError))
})
export type WireCheckoutSession = typeof WireCheckoutSession.Type

/** `PurchaseOrderSummary` (place_order). */
export const WirePurchaseOrderSummary = Schema.Struct({
  purchaseOrderId: Schema.optional(Schema.String),
  purchaseOrderPaymentStatus: Schema.optional(Schema.String),
  warnings: Schema.optional(Schema.Array(WireError))
})

/** `GuestPurchaseOrder` (getGuestPurchaseOrder). */
export const WirePurchaseOrder = Schema.Struct({
  purchaseOrderId: Schema.String,
  purchaseOrderPaymentStatus: Schema.String,
  purchaseOrderStatus: Schema.optional(Schema.String),
  lineItems: Schema.Array(
    Schema.Struct({
      itemId: Schema.String,
      quantity: Schema.optional(Schema.Int),
      lineItemPaymentStatus: Schema.optional(Schema.String)
    })
  ),
  pricingSummary: WirePricingSummary
})
export type WirePurchaseOrder = typeof WirePurchaseOrder.Type

/** Warning ids on a 200 that mean "your item is not in this cart any more" (initiate). */
export const removedFromCart: ReadonlySet<number> = new Set([15043, 15055])
/** place_order 200 warning: an order was already placed for this session. */
export const alreadyPlaced = 15006
/** place_order 200 warning: some line items were not purchased. */
export const partlyPlaced = 15005
