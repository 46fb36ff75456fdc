import { runConformanceSuite } from "@bookbroker/adapter-sdk/conformance"
import { wooCommerceAdapter } from "../src/index.js"
import { wooCommerceShopHandlers } from "../src/testing/index.js"

const consumerKey = "ck_4f9a1c0e7b2d"
const credentials = { consumerKey, consumerSecret: "cs_8e31b7a05d64" }
const badCredentials = { consumerKey, consumerSecret: "cs_not_the_secret" }

// One shop as most are set up (EUR, no shipping line, batches of 20, Basic auth) and one in GBP
// on a server that strips Authorization: credentials in the query, flat shipping, one ISBN per call.
for (const { currency, maxBatchSize, shipping, credentialsIn } of [
  { currency: "EUR", maxBatchSize: 20, shipping: 0, credentialsIn: "header" },
  { currency: "GBP", maxBatchSize: 1, shipping: 299, credentialsIn: "query" }
]) {
  runConformanceSuite({
    name: `woocommerce (${currency}, batches of ${maxBatchSize}, credentials in ${credentialsIn})`,
    adapter: wooCommerceAdapter,
    handlers: (seller) => wooCommerceShopHandlers(seller, { consumerKey }),
    // The kit's quotes live 60 s on the seller's clock; the adapter's quote window must not be longer.
    config: (baseUrl) => ({ baseUrl, maxBatchSize, credentialsIn, quoteTtlSeconds: 60, shipping: (shipping / 100).toFixed(2) }),
    credentials,
    badCredentials,
    simulator: { apiKey: credentials.consumerSecret, currency },
    shipping
  })
}
