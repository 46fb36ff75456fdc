/**
 * The parts of the WooCommerce REST API v3 wire format the adapter reads, as schemas. Only
 * fields the adapter decides on are declared; everything else a shop sends (and plugins add a
 * lot) is ignored. Money stays a decimal string here: it becomes minor units in one place,
 * with the currency it belongs to, never through a float.
 */
import { Schema } from "effect"

/** The REST namespace every route lives under. */
export const restRoot = "/wp-json/wc/v3"

/** A product or a variation, from `GET /products` (by `sku=…`, or page by page), `/products/{id}` or `/products/{p}/variations/{id}`. */
export const WireProduct = Schema.Struct({
  id: Schema.Int,
  /** The product's title (a variation's carries its attributes); the listing's title. */
  name: Schema.optional(Schema.String),
  /** `simple`, `variable`, `grouped`, `external` or `variation`; absent on older variation answers. */
  type: Schema.optional(Schema.String),
  status: Schema.String,
  sku: Schema.String,
  /** The variable product a variation belongs to; 0 for products. */
  parent_id: Schema.optional(Schema.Int),
  /** The current price (the sale price when on sale), a decimal string; `""` when the product has none. */
  price: Schema.String,
  purchasable: Schema.Boolean,
  manage_stock: Schema.Boolean,
  /** Null unless stock is managed; a number when the shop allows fractional stock. */
  stock_quantity: Schema.NullOr(Schema.Finite),
  stock_status: Schema.String,
  backorders: Schema.optional(Schema.String)
})
export type WireProduct = typeof WireProduct.Type

export const WireProducts = Schema.Array(WireProduct)

/** `GET /data/currencies/current`. */
export const WireCurrency = Schema.Struct({ code: Schema.String })

export const WireMeta = Schema.Struct({ key: Schema.String, value: Schema.Unknown })

export const WireLineItem = Schema.Struct({
  product_id: Schema.Int,
  variation_id: Schema.optional(Schema.Int),
  quantity: Schema.Finite,
  sku: Schema.optional(Schema.NullOr(Schema.String))
})

export const WireOrder = Schema.Struct({
  id: Schema.Int,
  status: Schema.String,
  currency: Schema.String,
  /** Everything the buyer pays, taxes, fees and shipping included. */
  total: Schema.String,
  shipping_total: Schema.optional(Schema.String),
  shipping_tax: Schema.optional(Schema.String),
  line_items: Schema.Array(WireLineItem),
  meta_data: Schema.Array(WireMeta)
})
export type WireOrder = typeof WireOrder.Type

export const WireOrders = Schema.Array(WireOrder)

/** Every WooCommerce / WordPress REST error: `{ code, message, data: { status } }`. */
export const WireError = Schema.Struct({
  code: Schema.String,
  message: Schema.optional(Schema.String)
})
export type WireError = typeof WireError.Type

/** Order statuses in which a shop has accepted and been paid for an order. */
export const confirmedStatuses: ReadonlySet<string> = new Set(["processing", "completed"])

/** Where bookbroker's idempotency key and buyer reference are kept on an order (public meta, returned on GET). */
export const idempotencyMetaKey = "bookbroker_idempotency_key"
export const buyerReferenceMetaKey = "bookbroker_buyer_reference"

/**
 * 400 codes a create is refused with before anything is saved (WordPress' own parameter
 * validation, and the order controller's checks that run before `save()`). Any other 400 on
 * a create may hide a saved order.
 */
export const refusedBeforeSave: ReadonlySet<string> = new Set([
  "rest_invalid_param",
  "rest_missing_callback_param",
  "rest_invalid_json",
  "woocommerce_rest_required_product_reference",
  "woocommerce_rest_invalid_customer_id",
  "woocommerce_rest_invalid_shipping_item",
  "woocommerce_rest_invalid_fee_item",
  "woocommerce_rest_invalid_coupon",
  "woocommerce_rest_shop_order_exists"
])
