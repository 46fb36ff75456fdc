/**
 * `@bookbroker/adapter-woocommerce/testing`: a simulated WooCommerce shop (msw handlers over the
 * SDK's `SellerSimulator`), for conformance runs, engine tests and demos.
 */
export * from "./WooCommerceShop.js"
