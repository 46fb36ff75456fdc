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

// Order lookup by idempotency key, on the seller API that offers it.
runConformanceSuite({
  name: "reference (hold, order lookup)",
  adapter: referenceAdapter,
  handlers: (seller) => referenceSellerHandlers(seller, { mode: "hold", orderLookup: true }),
  config: (baseUrl) => ({ baseUrl, currency: "EUR", mode: "hold", orderLookup: true, shipping: 350 }),
  credentials,
  badCredentials,
  simulator: { apiKey: credentials.apiKey, currency: "EUR" },
  shipping: 350
})
