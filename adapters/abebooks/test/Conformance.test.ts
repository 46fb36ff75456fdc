import { runConformanceSuite } from "@bookbroker/adapter-sdk/conformance"
import { abeBooksAdapter } from "../src/index.js"
import { abeBooksSellerHandlers } from "../src/testing/index.js"

const credentials = { accessKey: "abe-access-key-1", secretKey: "abe-secret-key", clientKey: "sws-client-key", creditCardToken: "cctok-4242" }
const badCredentials = { accessKey: "abe-access-key-1", secretKey: "not-the-secret", clientKey: "not-the-client-key", creditCardToken: "cctok-4242" }

// AbeBooks.com (USD, free shipping on the simulated copies) and AbeBooks.co.uk (GBP, shipping
// per copy). Polls every 10 ms and gives an order 250 ms to settle: inside the kit's 400 ms.
for (const { currency, destinationCountry, shipping } of [
  { currency: "USD", destinationCountry: "USA", shipping: 0 },
  { currency: "GBP", destinationCountry: "GBR", shipping: 375 }
]) {
  runConformanceSuite({
    name: `abebooks (${currency})`,
    adapter: abeBooksAdapter,
    handlers: (seller) =>
      abeBooksSellerHandlers(seller, { accessKey: credentials.accessKey, clientKey: credentials.clientKey, creditCardToken: credentials.creditCardToken }),
    config: (baseUrl) => ({
      purchaseBaseUrl: `${baseUrl}/v1`,
      searchBaseUrl: baseUrl,
      currency,
      destinationCountry,
      pollIntervalMillis: 10,
      confirmWithinMillis: 250
    }),
    credentials,
    badCredentials,
    simulator: { apiKey: credentials.secretKey, currency, latency: { medianMillis: 2 } },
    shipping
  })
}
