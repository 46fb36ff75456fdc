/**
 * Offers in other currencies over HTTP, with the operator's exchange rates: `GET …/offers` prices
 * them in the currency asked, a purchase buys the cheapest after conversion and charges the
 * converted price, and the status shows both amounts and the rate.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as TestServer from "./support/TestServer.js"

const [isbn] = generateIsbns({ size: 1, seed: 8282 }) as [Isbn.Isbn13]

const ratesFile = () => {
  const file = join(mkdtempSync(join(tmpdir(), "bb-rates-")), "rates.json")
  writeFileSync(file, JSON.stringify({ base: "EUR", date: new Date().toISOString().slice(0, 10), rates: { USD: "1.0842" } }))
  return file
}

describe("exchange rates over HTTP", () => {
  it.live("offers, purchase and status in the customer's currency, with the seller's amount and the rate", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({}, { exchangeRates: { source: ratesFile(), marginBasisPoints: 200 } })
      yield* server.sellers([
        { name: "paris", currency: "EUR", stock: [{ isbn, price: 1250, shipping: 0, quantity: 2 }] },
        { name: "boston", currency: "USD", stock: [{ isbn, price: 1400, shipping: 0, quantity: 2 }] }
      ])
      const ada = yield* server.customer("Ada")

      const offers = yield* server.call("GET", `/v1/books/${isbn}/offers?currency=USD`, { token: ada.key })
      expect(offers.status).toBe(200)
      expect(offers.body.offers.map((offer: { seller_name: string; price: unknown; total: unknown }) => [offer.seller_name, offer.price, offer.total])).toEqual([
        ["paris", { amount: 1250, currency: "EUR" }, { amount: 1382, currency: "USD" }],
        ["boston", { amount: 1400, currency: "USD" }, { amount: 1400, currency: "USD" }]
      ])

      const created = yield* server.call("POST", "/v1/purchase-requests", {
        token: ada.key,
        headers: { "idempotency-key": "usd-1" },
        body: {
          isbn,
          max_price: { amount: 2000, currency: "USD" },
          payment: { token: "tok_approve" },
          customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Boston", country: "US" } }
        }
      })
      expect(created.status).toBe(202)
      const done = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(done.body).toMatchObject({
        status: "purchased",
        final_price: { amount: 1382, currency: "USD" },
        seller_price: { amount: 1250, currency: "EUR" },
        exchange_rates: [{ from: "EUR", to: "USD", rate: "1.0842", margin_percent: "2", source: "rates.json" }]
      })
      expect(done.body.attempts[0]).toMatchObject({ seller_name: "paris", status: "confirmed", total: { amount: 1250, currency: "EUR" } })
    })
  )

  it.live("search compares a feed's offers in another currency converted, keeping the seller's price", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({}, { exchangeRates: { source: ratesFile(), marginBasisPoints: 200 } })
      const [lyon] = yield* server.registerSellers([{ name: "lyon", stock: [] }])
      const uploaded = yield* server.call("POST", "/v1/sellers/me/inventory/uploads?mode=snapshot&currency=EUR", {
        token: lyon!.key,
        raw: ["listingid\tisbn\ttitle\tauthor\tprice\tquantity\tbookcondition", ["L1", isbn, "Les Misérables", "Hugo, Victor", "12.50", "1", "New"].join("\t")].join("\n"),
        headers: { "content-type": "text/tab-separated-values" }
      })
      expect(uploaded.status).toBe(201)
      const ada = yield* server.customer("Ada")
      const found = yield* server.call("GET", "/v1/books?q=miserables&currency=USD", { token: ada.key })
      expect(found.status).toBe(200)
      expect(found.body.hits).toMatchObject([
        { isbn, offers: 1, best_offer: { seller_name: "lyon", price: { amount: 1250, currency: "EUR" }, total: { amount: 1382, currency: "USD" } } }
      ])
    })
  )
})
