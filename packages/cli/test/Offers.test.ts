import { expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Offers from "../src/services/Offers.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("offers", (it) => {
  it.effect("ranks the current offers, cheapest total first", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const book = yield* Offers.offers(api, ui, { isbn: TestServer.carried, currency: "eur" })
      expect(book.offers.map((offer) => [offer.seller_name, offer.total.amount])).toEqual([
        ["cli-alpha", 1200],
        ["cli-beta", 1500],
        ["cli-gamma", 1800]
      ])
      const lines = ui.stdout
      expect(lines[0]).toMatch(new RegExp(`^3 offers for ${TestServer.carried} \\(3 sellers asked`))
      expect(lines[1]).toMatch(/^#\s+seller\s+price\s+shipping\s+total\s+condition\s+qty\s+source\s+age\s+valid until$/)
      // The sellers answered now: live, no age, with how many they have (the reference API's quote says it).
      expect(lines[2]).toMatch(/^1\s+cli-alpha\s+€12\.00\s+€0\.00\s+€12\.00\s+new\s+1000\s+live\s+—\s+\d\d:\d\d:\d\d$/)
      expect(lines[3]).toMatch(/^2\s+cli-beta\s+€15\.00/)
      expect(lines[4]).toMatch(/^3\s+cli-gamma\s+€18\.00/)
      expect(ui.text()).toContain(`buy the cheapest: bookbroker buy ${TestServer.carried} --max 12.00`)
      expect(ui.text()).not.toContain("confirms them with the seller")
    })
  )

  it.effect("says when nobody offers the book, and who answered what", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const book = yield* Offers.offers(api, ui, { isbn: TestServer.nobodyCarries, currency: "EUR" })
      expect(book.offers).toEqual([])
      expect(ui.text()).toContain("no seller offers this book right now")
      expect(ui.text()).toMatch(/no offer from: cli-alpha \(.+\), cli-beta/)
    })
  )

  it.effect("--json prints the API's answer", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture({ json: true })
      yield* Offers.offers(api, ui, { isbn: TestServer.carried, currency: "EUR" })
      expect(ui.values[0]).toMatchObject({
        isbn: TestServer.carried,
        currency: "EUR",
        offers: [{ seller_name: "cli-alpha", total: { amount: 1200, currency: "EUR" }, source: "live", as_of: null, age_seconds: null }, {}, {}]
      })
    })
  )

  it.effect("a wrong API key is a one-line error with a hint", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const error = yield* Effect.flip(Offers.offers(api.withApiKey("bb_cus_wrong"), Render.capture(), { isbn: TestServer.carried, currency: "EUR" }))
      expect(error.message).toMatch(/API key/)
      expect(error.hint).toMatch(/--api-key/)
    })
  )
})

it.live("offers: an invalid ISBN fails before any call", () =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(Offers.offers(TestServer.deadApi, Render.capture(), { isbn: "978-0", currency: "EUR" }))
    expect(error.message).toBe('"978-0" is not a valid ISBN')
  })
)

it("offers: sellers left out say why in words (a straggler, the deadline)", () => {
  const outcome = (seller_name: string, status: string, reason: string | null) => ({ seller_id: seller_name, seller_name, status, reason, cached: false, latency_ms: 500 })
  const { footer } = Offers.table({
    isbn: "9780306406157",
    currency: "EUR",
    offers: [],
    sellers: [outcome("slow", "deadline", "straggler"), outcome("late", "deadline", "deadline"), outcome("odd", "error", "malformed")],
    duration_ms: 520
  })
  expect(footer).toEqual(["no offer from: slow (too slow, not waited for), late (no answer by the deadline), odd (malformed)"])
})

it("offers: the age of a feed or pushed price in its largest unit; none for a live answer", () => {
  const ages = [null, 0, 59, 60, 3_599, 3_600, 86_399, 86_400, 900_000].map((age_seconds) => Offers.age({ source: age_seconds === null ? "live" : "feed", age_seconds }))
  expect(ages).toEqual(["—", "0s", "59s", "1m", "59m", "1h", "23h", "1d", "10d"])
  expect(Offers.age({ source: "push", age_seconds: 42 })).toBe("42s")
})
