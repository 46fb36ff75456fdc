/**
 * Other currencies, priced honestly: the operator's rates read from a file or URL (the ECB's
 * daily XML or JSON), exact conversion with the margin, the rate a request was priced at kept
 * for its order and capture — and, through the pipeline over real PostgreSQL and simulated
 * sellers, a USD request buying from a EUR seller at the converted price, charged exactly that.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Money } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Context, Effect, Exit, Layer, Result, Stream } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Conversion from "../src/exchange/Conversion.js"
import * as ExchangeRates from "../src/exchange/ExchangeRates.js"
import * as RateTable from "../src/exchange/RateTable.js"
import * as InventoryUploads from "../src/inventory/InventoryUploads.js"
import * as Wants from "../src/jobs/Wants.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Purchases from "../src/purchases/Purchases.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const today = () => new Date().toISOString().slice(0, 10)

const ecb = (date: string, rates: Record<string, string>) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time='${date}'>
${Object.entries(rates).map(([currency, rate]) => `      <Cube currency='${currency}' rate='${rate}'/>`).join("\n")}
    </Cube>
  </Cube>
</gesmes:Envelope>`

const ratesFile = (text: string) => {
  const file = join(mkdtempSync(join(tmpdir(), "bb-rates-")), "rates.xml")
  writeFileSync(file, text)
  return file
}

const parsed = (text: string) => {
  const result = RateTable.parse(text, "test")
  if (Result.isFailure(result)) throw new Error(result.failure)
  return result.success
}

describe("RateTable", () => {
  it("reads the ECB's daily reference rates", () => {
    const table = parsed(ecb("2026-12-04", { USD: "1.0842", JPY: "162.35", GBP: "0.85710" }))
    expect(table.base).toBe("EUR")
    expect(table.date).toBe("2026-12-04")
    expect([...table.rates]).toEqual([["USD", "1.0842"], ["JPY", "162.35"], ["GBP", "0.85710"]])
  })

  it("reads only the latest day of a history file", () => {
    const history = ecb("2026-12-04", { USD: "1.0842" }).replace("</Cube>\n  </Cube>", "</Cube>\n    <Cube time='2026-12-03'><Cube currency='USD' rate='1.5'/></Cube>\n  </Cube>")
    expect([...parsed(history).rates]).toEqual([["USD", "1.0842"]])
  })

  it("reads JSON, with rates as numbers or decimal strings", () => {
    const table = parsed(JSON.stringify({ base: "USD", date: "2026-12-04", rates: { EUR: 0.9223, GBP: "0.7905" } }))
    expect(table.base).toBe("USD")
    expect([...table.rates]).toEqual([["EUR", "0.9223"], ["GBP", "0.7905"]])
  })

  it("says what is wrong with a document it cannot use", () => {
    const failure = (text: string) => {
      const result = RateTable.parse(text, "test")
      return Result.isFailure(result) ? result.failure : "parsed"
    }
    expect(failure("<Cube><Cube time='2026-12-04'><Cube currency='USD' rate='1.08'/>")).toMatch(/not well-formed XML/)
    expect(failure("<Envelope><Cube/></Envelope>")).toMatch(/no <Cube time/)
    expect(failure(ecb("2026-12-04", { USD: "-1.08" }))).toMatch(/rate for USD \("-1.08"\) is not a positive decimal/)
    expect(failure(ecb("2026-12-04", { USD: "1e3" }))).toMatch(/not a positive decimal/)
    expect(failure(ecb("04.12.2026", { USD: "1.08" }))).toMatch(/not a YYYY-MM-DD day/)
    expect(failure(ecb("2026-12-04", { usd: "1.08" }))).toMatch(/"usd" is not a three-letter ISO 4217 code/)
    expect(failure("rates: 1")).toMatch(/neither the ECB's XML nor valid JSON/)
    expect(failure(JSON.stringify({ base: "EUR", rates: {} }))).toMatch(/"date"/)
    expect(failure(JSON.stringify({ base: "EUR", date: "2026-12-04", rates: {} }))).toMatch(/no rates/)
  })

  it("crosses two currencies through the base, exactly", () => {
    const table = parsed(ecb("2026-12-04", { USD: "1.0842", GBP: "0.8571" }))
    expect(RateTable.rate(table, "EUR", "USD")).toEqual({ numerator: 5421n, denominator: 5000n })
    expect(RateTable.rate(table, "USD", "EUR")).toEqual({ numerator: 5000n, denominator: 5421n })
    // 1 GBP = 1.0842 / 0.8571 USD
    expect(RateTable.toDecimal(RateTable.rate(table, "GBP", "USD")!)).toBe("1.264963")
    expect(RateTable.rate(table, "CHF", "USD")).toBeUndefined()
  })
})

describe("Conversion", () => {
  const table = parsed(ecb(today(), { USD: "1.0842", JPY: "162.35" }))

  it("converts minor units with the margin, rounded half up, across minor digits", () => {
    const eurUsd = RateTable.rate(table, "EUR", "USD")!
    // 12.50 EUR × 1.0842 × 1.02 = 13.82355 USD
    expect(Conversion.convertAmount(1250, "EUR", "USD", eurUsd, 200)).toBe(1382)
    expect(Conversion.convertAmount(1250, "EUR", "USD", eurUsd, 0)).toBe(1355) // 13.5525 → 13.55
    // 10.00 EUR → 1623.5 JPY → 1624 (half up; yen have no minor digits)
    expect(Conversion.convertAmount(1000, "EUR", "JPY", RateTable.rate(table, "EUR", "JPY")!, 0)).toBe(1624)
    // 1,624 JPY → EUR cents
    expect(Conversion.convertAmount(1624, "JPY", "EUR", RateTable.rate(table, "JPY", "EUR")!, 0)).toBe(1000)
  })

  it("prices new currencies at the current rates and keeps them; a kept rate wins over a newer one", () => {
    const converter = Conversion.make("USD", null, { table, marginBasisPoints: 200 })
    expect(converter.convert(Money.make(1250, "EUR"))).toEqual(Money.make(1382, "USD"))
    expect(converter.convert(Money.make(700, "USD"))).toEqual(Money.make(700, "USD"))
    expect(converter.convert(Money.make(100, "CHF"))).toBeUndefined()
    const locked = converter.locked()!
    expect(locked).toEqual({ marginBasisPoints: 200, rates: { EUR: { rate: "5421/5000", date: today(), source: "test" } } })
    // Later (the hold, the order, the capture): the kept rate, even with other rates now.
    const newer = parsed(ecb(today(), { USD: "2" }))
    expect(Conversion.make("USD", locked, { table: newer, marginBasisPoints: 0 }).convert(Money.make(1250, "EUR"))).toEqual(Money.make(1382, "USD"))
    // Only kept rates: a currency the request was not priced in has none.
    const only = Conversion.make("USD", locked, undefined)
    expect(only.convert(Money.make(1250, "EUR"))).toEqual(Money.make(1382, "USD"))
    expect(only.convert(Money.make(1000, "JPY"))).toBeUndefined()
    expect(only.locked()).toBe(locked)
  })
})

describe("ExchangeRates", () => {
  const pricingWith = (options: ExchangeRates.ExchangeRatesOptions) =>
    Effect.gen(function* () {
      const rates = yield* ExchangeRates.ExchangeRates
      return { pricing: yield* rates.pricing, status: yield* rates.status }
    }).pipe(Effect.provide(ExchangeRates.layer(options)))

  it.live("reads a file, and trusts it only while it is fresh", () =>
    Effect.gen(function* () {
      const fresh = yield* pricingWith({ source: ratesFile(ecb(today(), { USD: "1.0842" })), marginBasisPoints: 150 })
      expect(fresh.pricing?.table.rates.get("USD")).toBe("1.0842")
      expect(fresh.pricing?.marginBasisPoints).toBe(150)
      expect(fresh.status).toMatchObject({ configured: true, date: today(), stale: false })
      const old = yield* pricingWith({ source: ratesFile(ecb("2026-01-02", { USD: "1.0842" })) })
      expect(old.pricing).toBeUndefined()
      expect(old.status).toMatchObject({ date: "2026-01-02", stale: true })
    })
  )

  it.live("fails the start on a file it cannot read or understand", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.exit(pricingWith({ source: "/nonexistent/rates.xml" }))
      expect(Exit.isFailure(missing) && String(missing.cause)).toMatch(/cannot read \/nonexistent\/rates\.xml/)
      const garbled = yield* Effect.exit(pricingWith({ source: ratesFile("<Cube time='x'") }))
      expect(Exit.isFailure(garbled) && String(garbled.cause)).toMatch(/not well-formed XML|not a YYYY-MM-DD/)
    })
  )

  it.live("reads a URL; one that does not answer leaves offers uncompared, and says why", () =>
    Effect.gen(function* () {
      let answer = { status: 200, body: ecb(today(), { USD: "1.0842" }) }
      const server = createServer((_, response) => response.writeHead(answer.status, { "content-type": "text/xml" }).end(answer.body))
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))),
        () => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/eurofxref-daily.xml`
      const read = yield* pricingWith({ source: url })
      expect(read.pricing?.table).toMatchObject({ base: "EUR", source: url })
      answer = { status: 503, body: "" }
      const down = yield* pricingWith({ source: url })
      expect(down.pricing).toBeUndefined()
      expect(down.status).toMatchObject({ configured: true, error: expect.stringMatching(/HTTP 503/) })
    }).pipe(Effect.scoped)
  )
})

describe("a request in another currency than its sellers'", () => {
  const [isbn, second, third, fourth, fifth] = generateIsbns({ size: 5, seed: 8181 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]
  const Infrastructure = InventoryUploads.layer().pipe(Layer.provideMerge(Harness.infrastructure(new SandboxGateway.SandboxFaults())))
  const sellers = (specs: ReadonlyArray<Harness.SimulatedSellers.SimulatedSellerSpec>) =>
    Effect.tap(Harness.SimulatedSellers.startSellers(specs), (running) => Harness.register(running))
  const rates = () => ({ exchangeRates: { source: ratesFile(ecb(today(), { USD: "1.0842" })), marginBasisPoints: 200 } })

  it.live("buys from the cheaper seller in the other currency and charges the converted price, showing both", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([
        // 12.50 EUR is 13.82 USD with the 2 % margin: cheaper than 14.00 USD.
        { name: "paris", currency: "EUR", stock: [{ isbn, price: 1250, shipping: 0, quantity: 2 }] },
        { name: "boston", currency: "USD", stock: [{ isbn, price: 1400, shipping: 0, quantity: 2 }] }
      ])
      const worker = yield* Harness.worker("w1", rates())
      const { id } = yield* Harness.submit(isbn, 3000, { currency: "USD" })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice).toEqual(Money.make(1382, "USD"))
      expect(view.sellerPrice).toEqual(Money.make(1250, "EUR"))
      expect(view.exchangeRates).toEqual([{ from: "EUR", to: "USD", rate: "1.0842", marginPercent: "2", date: today(), source: expect.stringMatching(/rates\.xml$/) }])
      expect(view.attempts.map((attempt) => [attempt.sellerName, attempt.status, attempt.total])).toEqual([
        ["paris", "confirmed", Money.make(1250, "EUR")],
        ["boston", "not_tried", null]
      ])
      expect(fleet[0]!.simulator.orders.filter((order) => order.buyerReference === id)).toHaveLength(1)
      expect(fleet[1]!.simulator.orders).toHaveLength(0)
      expect(yield* Harness.ledger(id)).toEqual([{ id: expect.any(String), status: "captured", authorized: "3000", captured: "1382" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("compares the converted price with the maximum: above it, a counter-offer in the customer's currency", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([{ name: "madrid", currency: "EUR", stock: [{ isbn: second, price: 1250, shipping: 0, quantity: 2 }] }])
      const worker = yield* Harness.worker("w1", rates())
      // 13.82 USD is above 13.50
      const { id } = yield* Harness.submit(second, 1350, { currency: "USD" })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("price_not_met")
      expect(view.counterOffer).toMatchObject({ sellerName: "madrid", price: Money.make(1382, "USD") })
      expect(fleet[0]!.simulator.orders).toHaveLength(0)
      expect((yield* Harness.ledger(id))[0]).toMatchObject({ status: "voided" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("webhooks carry what the seller charged and the rates, as the status shows them; a want cancelled by SQL too", () =>
    Effect.gen(function* () {
      const fleet = yield* sellers([{ name: "porto", currency: "EUR", stock: [{ isbn: fifth, price: 1250, shipping: 0, quantity: 2 }] }])
      const worker = yield* Harness.worker("w1", rates())
      const sql = yield* SqlClient.SqlClient
      const told = (id: string, event: string) =>
        Effect.map(sql<{ payload: Record<string, unknown> }>`SELECT payload FROM outbox WHERE request_id = ${id} AND event = ${event}`, (rows) => rows[0]?.payload)
      const wire = (view: { readonly exchangeRates: ReadonlyArray<{ from: string; to: string; rate: string; marginPercent: string; date: string; source: string }> }) =>
        view.exchangeRates.map((rate) => ({ from: rate.from, to: rate.to, rate: rate.rate, margin_percent: rate.marginPercent, date: rate.date, source: rate.source }))

      // Bought in EUR for a USD request: the pipeline's own webhook.
      const { id } = yield* Harness.submit(fifth, 3000, { currency: "USD" })
      const bought = yield* Harness.runUntilDone(worker, id)
      expect(bought.status).toBe("purchased")
      expect(yield* told(id, "purchase_request.purchased")).toMatchObject({
        final_price: { amount: 1382, currency: "USD" },
        seller_price: { amount: 1250, currency: "EUR" },
        exchange_rates: [{ from: "EUR", to: "USD", rate: "1.0842", margin_percent: "2", date: expect.any(String), source: expect.any(String) }]
      })
      expect((yield* told(id, "purchase_request.purchased"))!["exchange_rates"]).toEqual(wire(bought))

      // A want priced in EUR, watching above its maximum, then cancelled: the statement that ends it writes its webhook in SQL.
      const { id: want } = yield* Harness.submit(fifth, 1300, { currency: "USD", waitUntil: new Date(Date.now() + 86_400_000) })
      const watching = yield* Harness.runUntilDone(worker, want, 200, true)
      expect(watching.status).toBe("watching")
      expect(watching.exchangeRates).toHaveLength(1)
      const purchases = yield* Purchases.Purchases
      yield* purchases.cancel(want)
      const cancelled = yield* told(want, "purchase_request.cancelled")
      expect(cancelled).toMatchObject({ status: "cancelled", final_price: null, seller_price: null })
      expect(cancelled!["exchange_rates"]).toEqual(wire(watching))
      expect(fleet[0]!.simulator.orders).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("without usable rates (stale), names the other currency instead of comparing", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "rome", currency: "EUR", stock: [{ isbn: third, price: 1250, shipping: 0, quantity: 2 }] }])
      const worker = yield* Harness.worker("w1", { exchangeRates: { source: ratesFile(ecb("2025-06-02", { USD: "1.0842" })) } })
      const { id } = yield* Harness.submit(third, 3000, { currency: "USD" })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("not_available")
      expect(view.reason).toBe("offered_in_other_currency: 12.50 EUR from rome; not comparable with USD prices")
      expect(view.exchangeRates).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a want in USD is woken by a copy listed in EUR within its maximum, converted, and buys it", () =>
    Effect.gen(function* () {
      const options = { offerIndex: true, ...rates() }
      const [dear] = yield* sellers([{ name: "denver", currency: "USD", stock: [{ isbn: fourth, price: 2500, shipping: 0, quantity: 1 }] }])
      const worker = yield* Harness.worker("w1", options)
      const wants = Context.get(yield* Layer.build(Wants.layer().pipe(Layer.provide(Harness.engine(options)))), Wants.Wants)
      const { id } = yield* Harness.submit(fourth, 1500, { currency: "USD", waitUntil: new Date(Date.now() + 7 * 86_400_000) })
      expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")

      // 14.00 EUR is 15.48 USD with the margin: above 15.00, no wake.
      const [lisbon] = yield* Harness.SimulatedSellers.startSellers([{ name: "lisbon", currency: "EUR", stock: [{ isbn: fourth, price: 1250, shipping: 0, quantity: 1 }] }])
      const [registered] = yield* Harness.register([lisbon!])
      const uploads = yield* InventoryUploads.InventoryUploads
      const list = (price: string) =>
        uploads.upload(
          registered!.id,
          { mode: "snapshot", format: "tsv", currency: "EUR" },
          Stream.make(new TextEncoder().encode(`listingid\tisbn\tprice\tquantity\tbookcondition\nL-1\t${fourth}\t${price}\t1\tNew\n`))
        )
      yield* list("14.00")
      expect((yield* wants.runOnce).woken).toBe(0)
      // 12.50 EUR is 13.82 USD: within, woken, bought at the live price converted.
      yield* list("12.50")
      expect((yield* wants.runOnce).woken).toBe(1)
      const bought = yield* Harness.runUntilDone(worker, id)
      expect(bought.status).toBe("purchased")
      expect(bought.finalPrice).toEqual(Money.make(1382, "USD"))
      expect(bought.sellerPrice).toEqual(Money.make(1250, "EUR"))
      expect(lisbon!.simulator.orders).toHaveLength(1)
      expect(dear!.simulator.orders).toHaveLength(0)
    }).pipe(Effect.provide(Infrastructure))
  )
})
