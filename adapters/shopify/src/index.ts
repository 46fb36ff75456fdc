/** `@bookbroker/adapter-shopify`: plugs bookshops on Shopify into bookbroker. */
export { shopifyAdapter, ShopifyConfig, shopifyDefaultApiVersion, shopifyMaxBatchSize } from "./ShopifyAdapter.js"
