import { runConformanceSuite } from "@bookbroker/adapter-sdk/conformance"
import { ebayAdapter } from "../src/index.js"
import { ebayMarketplaceHandlers } from "../src/testing/index.js"

const clientId = "bookbroker-app-PRD"
const checkout = {
  contactEmail: "orders@broker.example",
  contactFirstName: "Ada",
  contactLastName: "Lovelace",
  shippingAddress: { recipient: "bookbroker receiving", addressLine1: "1 Main St", city: "London", postalCode: "N1 1AA", country: "GB", phoneNumber: "+441234567890" },
  card: {
    accountHolderName: "Bookbroker Ltd",
    brand: "VISA",
    expireMonth: 12,
    expireYear: 2030,
    billingAddress: { firstName: "Ada", lastName: "Lovelace", addressLine1: "1 Main St", city: "London", postalCode: "N1 1AA", country: "GB" }
  }
}

// An approved keyset on EBAY_GB, listings with a flat 2.80 shipping.
runConformanceSuite({
  name: "ebay (EBAY_GB, guest checkout approved)",
  adapter: ebayAdapter,
  handlers: (seller) => ebayMarketplaceHandlers(seller, { marketplaceId: "EBAY_GB", clientId }),
  // The kit's quotes live 60 s on the seller's clock; the adapter's quote window must not be longer.
  config: (baseUrl) => ({ marketplaceId: "EBAY_GB", apiBaseUrl: baseUrl, apixBaseUrl: baseUrl, guestCheckoutApproved: true, checkout, quoteTtlSeconds: 60 }),
  credentials: { clientId, clientSecret: "PRD-cert-secret", cardNumber: "4111111111111111" },
  badCredentials: { clientId, clientSecret: "PRD-not-the-secret", cardNumber: "4111111111111111" },
  simulator: { apiKey: "PRD-cert-secret", currency: "GBP" },
  shipping: 280
})
