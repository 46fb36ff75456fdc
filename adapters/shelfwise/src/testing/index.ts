/**
 * `@bookbroker/adapter-shelfwise/testing`: a simulated Shelfwise seller (msw handlers over the
 * SDK's `SellerSimulator`), for conformance runs, engine tests and demos.
 */
export * from "./ShelfwiseSeller.js"
