/** `@bookbroker/adapter-woocommerce`: plugs WooCommerce shops into bookbroker. */
export { assess, parseQuoteId, quoteIdOf, type Assessment, type ProductRef } from "./Availability.js"
export { WooCommerceConfig, wooCommerceAdapter, wooCommerceMaxBatchSize } from "./WooCommerceAdapter.js"
export { buyerReferenceMetaKey, idempotencyMetaKey } from "./Wire.js"
