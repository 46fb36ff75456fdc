import { runConformanceSuite } from "@bookbroker/adapter-sdk/conformance"
import { shopifyAdapter } from "../src/index.js"
import { shopifyShopHandlers } from "../src/testing/index.js"

const credentials = { accessToken: "shpat_conformance_token" }
const badCredentials = { accessToken: "shpat_revoked_token" }

// A shop in GBP with free shipping and full batches, and one in EUR with flat shipping, quoting
// 3 ISBNs a call and its barcodes typed as ISBN-10 where the book has one.
for (const { currency, shipping, maxBatchSize, isbn10 } of [
  { currency: "GBP", shipping: 0, maxBatchSize: 10, isbn10: false },
  { currency: "EUR", shipping: 299, maxBatchSize: 3, isbn10: true }
]) {
  runConformanceSuite({
    name: `shopify (${currency}, batches of ${maxBatchSize}${isbn10 ? ", ISBN-10 barcodes" : ""})`,
    adapter: shopifyAdapter,
    handlers: (seller) =>
      shopifyShopHandlers(seller, isbn10 ? { barcodeOf: (isbn) => (isbn.startsWith("978") ? toIsbn10(isbn) : isbn) } : {}),
    config: (baseUrl) => ({ shopUrl: baseUrl, maxBatchSize, shipping: (shipping / 100).toFixed(2), quoteTtlSeconds: 60 }),
    credentials,
    badCredentials,
    simulator: { apiKey: credentials.accessToken, currency },
    shipping
  })
}

/** The ISBN-10 spelling, as a merchant would type it (computed independently of the adapter). */
function toIsbn10(isbn13: string): string {
  const body = isbn13.slice(3, 12)
  let sum = 0
  for (let index = 0; index < 9; index++) sum += (index + 1) * Number(body[index])
  const check = sum % 11
  return body + (check === 10 ? "X" : String(check))
}
