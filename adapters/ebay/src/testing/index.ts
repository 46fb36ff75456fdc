/**
 * `@bookbroker/adapter-ebay/testing`: a simulated eBay (OAuth, Browse, Order v1_beta guest
 * checkout as msw handlers over the SDK's `SellerSimulator`), for conformance runs, engine
 * tests and demos.
 */
export * from "./EbayMarketplace.js"
