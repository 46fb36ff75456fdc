import { runConformanceSuite } from "@bookbroker/adapter-sdk/conformance"
import { referenceSellerHandlers } from "@bookbroker/adapter-sdk/testing"
import { referenceAdapter } from "../src/index.js"

const credentials = { apiKey: "reference-key" }
const badCredentials = { apiKey: "stolen-key" }

for (const mode of ["hold", "atomic"] as const) {
  for (const batch of [false, true]) {
    runConformanceSuite({
      name: `reference (${mode}, batch ${batch ? "on" : "off"})`,
      adapter: referenceAdapter,
      handlers: (seller) => referenceSellerHandlers(seller, { mode, batch }),
      config: (baseUrl) => ({ baseUrl, currency: "EUR", mode, batch, maxBatchSize: 3, shipping: 350 }),
      credentials,
      badCredentials,
      simulator: { apiKey: credentials.apiKey, currency: "EUR" },
      shipping: 350
    })
  }
}

// The optional endpoints: order lookup by idempotency key, and the inventory listing.
runConformanceSuite({
  name: "reference (hold, order lookup, inventory)",
  adapter: referenceAdapter,
  handlers: (seller) => referenceSellerHandlers(seller, { mode: "hold", orderLookup: true }),
  config: (baseUrl) => ({ baseUrl, currency: "EUR", mode: "hold", orderLookup: true, inventory: true, shipping: 350 }),
  credentials,
  badCredentials,
  simulator: { apiKey: credentials.apiKey, currency: "EUR" },
  shipping: 350
})

runConformanceSuite({
  name: "reference (atomic, batch on, inventory)",
  adapter: referenceAdapter,
  handlers: (seller) => referenceSellerHandlers(seller, { mode: "atomic", batch: true }),
  config: (baseUrl) => ({ baseUrl, currency: "EUR", mode: "atomic", batch: true, maxBatchSize: 3, inventory: true, shipping: 350 }),
  credentials,
  badCredentials,
  simulator: { apiKey: credentials.apiKey, currency: "EUR" },
  shipping: 350
})
