/**
 * `@bookbroker/adapter-sdk/testing`: simulated sellers (msw handlers over a seller model),
 * a server that serves them over real HTTP, catalogs with Zipf popularity, and the
 * conformance kit every adapter passes.
 */
export * from "./Catalog.js"
export * from "./HandlerServer.js"
export * from "./ReferenceSeller.js"
export * from "./SellerSimulator.js"
export * from "./Simulation.js"
export * as Random from "./Random.js"
