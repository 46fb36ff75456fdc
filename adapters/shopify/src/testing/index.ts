/**
 * `@bookbroker/adapter-shopify/testing`: a simulated Shopify shop (Admin GraphQL as msw handlers
 * over the SDK's `SellerSimulator`), for conformance runs, engine tests and demos.
 */
export * from "./ShopifyShop.js"
