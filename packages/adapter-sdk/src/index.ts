/**
 * `@bookbroker/adapter-sdk`: the seller contract v1 and everything an adapter author needs.
 * Simulated sellers and the conformance kit live in `@bookbroker/adapter-sdk/testing`.
 */
export * as Adapter from "./Adapter.js"
export { defineAdapter, defineEffectAdapter } from "./Adapter.js"
export * as Contract from "./Contract.js"
export * as Http from "./Http.js"
export * as Isbn from "./Isbn.js"
export * as Money from "./Money.js"
export * as SellerClient from "./SellerClient.js"
export * as SellerError from "./SellerError.js"
