/** `@bookbroker/adapter-abebooks`: buys through the AbeBooks Purchase API for bookbroker. */
export { abeBooksAdapter, AbeBooksConfig, abeBooksPurchaseBaseUrl, abeBooksSearchBaseUrl } from "./AbeBooksAdapter.js"
export * as OrderStatus from "./OrderStatus.js"
export * as ResponseCode from "./ResponseCode.js"
export * as Signing from "./Signing.js"
