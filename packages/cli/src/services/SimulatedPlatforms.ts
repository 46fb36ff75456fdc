/**
 * Simulated sellers on each platform bookbroker has an adapter for — the reference seller API,
 * a WooCommerce shop, a Shopify shop, an eBay marketplace (guest checkout approved), an
 * AbeBooks-style seller — as `serve --demo` and `simulate` start them: the msw
 * handlers to serve over HTTP on 127.0.0.1, and the adapter kind, config and credentials to
 * register the seller with.
 */
import { referenceSellerHandlers, type SellerSimulator } from "@bookbroker/adapter-sdk/testing"
import { abeBooksSellerHandlers } from "@bookbroker/adapter-abebooks/testing"
import { ebayMarketplaceHandlers } from "@bookbroker/adapter-ebay/testing"
import { shopifyShopHandlers } from "@bookbroker/adapter-shopify/testing"
import { wooCommerceShopHandlers } from "@bookbroker/adapter-woocommerce/testing"

export type Platform = "reference" | "woocommerce" | "shopify" | "ebay" | "abebooks"

/** What a simulated eBay guest checkout is told about the buyer (bookbroker's receiving desk). */
const ebayCheckout = {
  contactEmail: "orders@bookbroker.local",
  contactFirstName: "Demo",
  contactLastName: "Receiving",
  shippingAddress: { recipient: "bookbroker receiving", addressLine1: "Buchweg 1", city: "Berlin", postalCode: "10115", country: "DE", phoneNumber: "+49301234567" },
  card: {
    accountHolderName: "bookbroker demo",
    brand: "VISA",
    expireMonth: 12,
    expireYear: 2030,
    billingAddress: { firstName: "Demo", lastName: "Receiving", addressLine1: "Buchweg 1", city: "Berlin", postalCode: "10115", country: "DE" }
  }
}

export interface SimulatedShop {
  readonly kind: string
  readonly handlers: ReturnType<typeof referenceSellerHandlers>
  readonly config: (baseUrl: string) => Record<string, unknown>
  readonly credentials: Record<string, string>
}

/** The shop for `simulator` on `platform`; `key` is the seller's secret (the simulator's `apiKey`). */
export const shop = (
  platform: Platform,
  simulator: SellerSimulator,
  options: { readonly name: string; readonly key: string; readonly mode: "hold" | "atomic"; readonly batch: boolean }
): SimulatedShop => {
  switch (platform) {
    case "woocommerce":
      return {
        kind: "woocommerce",
        handlers: wooCommerceShopHandlers(simulator, { consumerKey: `ck_${options.name}` }),
        // The simulated shop's quotes live 60 s: the adapter's quote window is no longer.
        config: (baseUrl) => ({ baseUrl, quoteTtlSeconds: 60 }),
        credentials: { consumerKey: `ck_${options.name}`, consumerSecret: options.key }
      }
    case "shopify":
      return {
        kind: "shopify",
        handlers: shopifyShopHandlers(simulator),
        config: (baseUrl) => ({ shopUrl: baseUrl, quoteTtlSeconds: 60 }),
        credentials: { accessToken: options.key }
      }
    case "ebay":
      return {
        kind: "ebay",
        handlers: ebayMarketplaceHandlers(simulator, { marketplaceId: "EBAY_DE", clientId: `${options.name}-app` }),
        config: (baseUrl) => ({ marketplaceId: "EBAY_DE", apiBaseUrl: baseUrl, apixBaseUrl: baseUrl, guestCheckoutApproved: true, checkout: ebayCheckout, quoteTtlSeconds: 60 }),
        credentials: { clientId: `${options.name}-app`, clientSecret: options.key, cardNumber: "4111111111111111" }
      }
    case "abebooks": {
      const keys = { accessKey: `${options.name}-access`, clientKey: `${options.name}-client`, creditCardToken: "cctok-demo" }
      return {
        kind: "abebooks",
        handlers: abeBooksSellerHandlers(simulator, keys),
        config: (baseUrl) => ({ purchaseBaseUrl: `${baseUrl}/v1`, searchBaseUrl: baseUrl, currency: "EUR", destinationCountry: "DEU", quoteTtlSeconds: 60 }),
        credentials: { ...keys, secretKey: options.key }
      }
    }
    case "reference":
      return {
        kind: "reference",
        handlers: referenceSellerHandlers(simulator, { mode: options.mode, batch: options.batch }),
        config: (baseUrl) => ({ baseUrl, currency: "EUR", mode: options.mode, batch: options.batch }),
        credentials: { apiKey: options.key }
      }
  }
}
