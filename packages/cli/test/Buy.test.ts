import { describe, expect, it, layer } from "@effect/vitest"
import type * as Api from "../src/Api.js"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Buy from "../src/services/Buy.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"
import { demoCustomer } from "../src/DemoCustomer.js"

const options = (overrides: Partial<Buy.BuyOptions> = {}): Buy.BuyOptions => ({
  isbn: TestServer.carried,
  max: "30.00",
  currency: "EUR",
  paymentToken: "tok_approve",
  customer: demoCustomer,
  idempotencyKey: randomUUID(),
  wait: true,
  pollMillis: 50,
  ...overrides
})

describe("buy: the sellers' answers", () => {
  it("are listed cheapest first, then the sellers without an offer in the order they were asked", () => {
    const seller = (id: string, status: string) => ({ seller_id: id, seller_name: id, status }) as unknown as Api.SellerOutcome
    const offer = (id: string) => ({ seller_id: id }) as unknown as Api.BookOffer
    const book = {
      sellers: [seller("a", "offer"), seller("b", "not_carried"), seller("c", "offer"), seller("d", "failed"), seller("e", "offer")],
      offers: [offer("e"), offer("a"), offer("c")]
    } as unknown as Api.BookOffers
    expect(Buy.cheapestFirst(book).map((s) => s.seller_id)).toEqual(["e", "a", "c", "b", "d"])
  })
})

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("buy", (it) => {
  it.effect("buys from the cheapest seller and says so", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Buy.buy(api, ui, options())
      expect(result._tag).toBe("Finished")
      if (result._tag !== "Finished") return
      expect(result.exitCode).toBe(0)
      expect(result.request.status).toBe("purchased")
      expect(result.request.final_price).toEqual({ amount: 1200, currency: "EUR" })
      expect(result.sellerName).toBe("cli-alpha")
      const text = ui.text()
      expect(text).toContain(`buying ${TestServer.carried} for at most €30.00`)
      expect(text).toMatch(/3 sellers answered in .*, 3 with an offer/)
      expect(text).toContain("cli-beta")
      expect(text).toContain("✓ purchased from cli-alpha for €12.00")
      expect(text).toMatch(/\bpurchased$/m)
    })
  )

  it.effect("accepts an ISBN-10 and a whole-number price", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      // The same book as its ISBN-10 with hyphens: 978 prefix dropped, check digit recomputed.
      const body = TestServer.carried.slice(3, 12)
      const sum = [...body].reduce((total, digit, index) => total + Number(digit) * (10 - index), 0)
      const check = (11 - (sum % 11)) % 11
      const isbn10 = `${body.slice(0, 1)}-${body.slice(1, 5)}-${body.slice(5)}-${check === 10 ? "X" : check}`
      const result = yield* Buy.buy(api, Render.capture(), options({ isbn: isbn10, max: "30" }))
      expect(result._tag === "Finished" && result.request.isbn).toBe(TestServer.carried)
    })
  )

  it.effect("a maximum below every offer ends in price_not_met (exit code 2) with the command to accept", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Buy.buy(api, ui, options({ max: "5.00" }))
      if (result._tag !== "Finished") return expect.unreachable()
      expect(result.exitCode).toBe(2)
      expect(result.request.status).toBe("price_not_met")
      expect(result.request.counter_offer?.price).toEqual({ amount: 1200, currency: "EUR" })
      expect(ui.text()).toContain("✗ price not met: the best offer is €12.00 from cli-alpha, above your €5.00")
      expect(ui.text()).toContain(`accept it with: bookbroker requests accept ${result.request.id}`)
    })
  )

  it.effect("a book nobody carries ends in not_available (exit code 3)", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Buy.buy(api, ui, options({ isbn: TestServer.nobodyCarries }))
      if (result._tag !== "Finished") return expect.unreachable()
      expect(result.exitCode).toBe(3)
      expect(result.request.status).toBe("not_available")
      expect(ui.text()).toContain("✗ not available")
    })
  )

  it.effect("a declined payment ends in failed (exit code 4)", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const result = yield* Buy.buy(api, Render.capture(), options({ paymentToken: "tok_decline" }))
      if (result._tag !== "Finished") return expect.unreachable()
      expect(result.request.status).toBe("failed")
      expect(result.exitCode).toBe(4)
    })
  )

  it.effect("--no-wait prints only the id and returns", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Buy.buy(api, ui, options({ wait: false }))
      expect(result._tag).toBe("Submitted")
      if (result._tag !== "Submitted") return
      expect(ui.stdout).toEqual([result.accepted.id])
      expect(ui.stderr.join("\n")).toContain(`bookbroker requests show ${result.accepted.id}`)
    })
  )

  it.effect("--json prints the final request with the seller's name, and nothing else", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture({ json: true })
      yield* Buy.buy(api, ui, options())
      expect(ui.values).toHaveLength(1)
      expect(ui.values[0]).toMatchObject({
        status: "purchased",
        terminal: true,
        isbn: TestServer.carried,
        max_price: { amount: 3000, currency: "EUR" },
        final_price: { amount: 1200, currency: "EUR" },
        seller_name: "cli-alpha",
        counter_offer: null
      })
      expect(JSON.parse(ui.text())).toEqual(ui.values[0])
    })
  )

  it.effect("--json for price_not_met carries the accept command", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture({ json: true })
      yield* Buy.buy(api, ui, options({ max: "1" }))
      const value = ui.values[0] as { id: string; status: string; accept_command: string }
      expect(value.status).toBe("price_not_met")
      expect(value.accept_command).toBe(`bookbroker requests accept ${value.id}`)
    })
  )

  it.effect("the same idempotency key twice is one purchase", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const key = randomUUID()
      const first = yield* Buy.buy(api, Render.capture(), options({ idempotencyKey: key }))
      const second = yield* Buy.buy(api, Render.capture(), options({ idempotencyKey: key }))
      expect(first._tag === "Finished" && second._tag === "Finished" && first.request.id === second.request.id).toBe(true)
    })
  )
})

describe("buy: bad input fails before any call", () => {
  const cases: ReadonlyArray<readonly [string, Partial<Buy.BuyOptions>, RegExp]> = [
    ["a malformed ISBN", { isbn: "12345" }, /"12345" is not a valid ISBN/],
    ["a wrong check digit", { isbn: "9780140449137" }, /is not a valid ISBN/],
    ["a price that is not a number", { max: "thirty" }, /--max "thirty" is not a non-negative decimal amount/],
    ["a float-ish price with too many decimals", { max: "30.001" }, /--max "30.001" has more than 2 decimals for EUR/],
    ["a negative price", { max: "-5" }, /--max "-5" is not a non-negative decimal amount/],
    ["a zero price", { max: "0.00" }, /--max must be more than 0/],
    ["an exponent", { max: "3e1" }, /not a non-negative decimal amount/],
    ["an unknown currency", { currency: "XYZ" }, /"XYZ" is not an ISO 4217 currency code/]
  ]
  for (const [name, overrides, message] of cases) {
    it.live(`rejects ${name}`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Buy.buy(TestServer.deadApi, Render.capture(), options(overrides)))
        expect(error._tag).toBe("CliError")
        expect(error.message).toMatch(message)
        expect(error.message).not.toMatch(/nothing answers/)
        expect(error.message.split("\n")).toHaveLength(1)
      })
    )
  }

  it.live("a good ISBN and price reach the network (and a dead server is a one-line error)", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Buy.buy(TestServer.deadApi, Render.capture(), options()))
      expect(error.message).toBe("nothing answers at http://127.0.0.1:2")
      expect(error.hint).toBe("start it with: pnpm start")
    })
  )
})
