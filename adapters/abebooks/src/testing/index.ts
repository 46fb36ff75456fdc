/**
 * `@bookbroker/adapter-abebooks/testing`: a simulated AbeBooks (Search Web Services and the
 * Purchase API as msw handlers over the SDK's `SellerSimulator`), for conformance runs, engine
 * tests and demos.
 */
export * from "./AbeBooksSeller.js"
