/**
 * `@bookbroker/adapter-sdk/conformance`: the vitest suite every adapter passes against its
 * simulated seller. Import it from test files only (it registers vitest tests).
 */
export * from "./Conformance.js"
export * from "./InventoryWalk.js"
