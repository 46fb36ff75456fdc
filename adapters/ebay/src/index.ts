/** `@bookbroker/adapter-ebay`: buys books on eBay marketplaces through the Buy APIs. */
export { contactEmailFor, ebayAdapter, notApprovedDetail } from "./EbayAdapter.js"
export { EbayConfig, marketplaces, type MarketplaceId } from "./EbayConfig.js"
export { reasonOf, toSellerError } from "./ErrorMapping.js"
export { assess, conditionOf, parseQuoteId, quoteIdOf, rank, searchFilter } from "./Listings.js"
