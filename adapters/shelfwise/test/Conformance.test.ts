import { runConformanceSuite } from "@bookbroker/adapter-sdk/conformance"
import { shelfwiseAdapter } from "../src/index.js"
import { shelfwiseSellerHandlers } from "../src/testing/index.js"

const credentials = { keyId: "bookbroker-live-1", secret: "shelfwise-shared-secret" }
const badCredentials = { keyId: "bookbroker-live-1", secret: "not-the-secret" }

// One run as most Shelfwise sellers are set up (EUR, full batches of 25) and one on a smaller
// plan in another currency: 4 ISBNs in batches of 3, prices in GBP straight off the wire.
for (const { currency, maxBatchSize } of [
  { currency: "EUR", maxBatchSize: 25 },
  { currency: "GBP", maxBatchSize: 3 }
]) {
  runConformanceSuite({
    name: `shelfwise (${currency}, batches of ${maxBatchSize})`,
    adapter: shelfwiseAdapter,
    handlers: (seller) => shelfwiseSellerHandlers(seller, { keyId: credentials.keyId, maxBatchSize }),
    config: (baseUrl) => ({ baseUrl, maxBatchSize }),
    credentials,
    badCredentials,
    simulator: { apiKey: credentials.secret, currency },
    shipping: 299
  })
}
