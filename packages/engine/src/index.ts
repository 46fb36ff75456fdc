/**
 * `@bookbroker/engine`: the seller directory, shared state, the quote fan-out and (issue 4) the
 * purchase pipeline. Entry points compose the layers; see `docs/architecture.md`.
 */
export * as AdapterRegistry from "./AdapterRegistry.js"
export * as Database from "./Database.js"
export * as QuoteEngine from "./QuoteEngine.js"
export * as SecretBox from "./SecretBox.js"
export * as SellerDirectory from "./SellerDirectory.js"
export * as SellerPool from "./SellerPool.js"
export * as SharedState from "./SharedState.js"
