import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Buy from "../src/services/Buy.js"
import * as Requests from "../src/services/Requests.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"
import { demoCustomer } from "../src/DemoCustomer.js"

const buy = (overrides: Partial<Buy.BuyOptions> = {}) =>
  Effect.gen(function* () {
    const { api } = yield* TestServer.TestServer
    const result = yield* Buy.buy(api, Render.capture(), {
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
    if (result._tag !== "Finished") return yield* Effect.die(new Error("expected a finished request"))
    return result.request
  })

/** `buy --max 2.00 --wait <waitFor>` for a book every seller prices above 2.00. */
const wantOptions = (waitFor: string): Buy.BuyOptions => ({
  isbn: TestServer.carried,
  max: "2.00",
  currency: "EUR",
  paymentToken: "tok_approve",
  customer: demoCustomer,
  idempotencyKey: randomUUID(),
  wait: true,
  waitFor,
  pollMillis: 50
})

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("requests", (it) => {
  it.effect("list shows the customer's requests, newest first, with a status filter", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const bought = yield* buy()
      const refused = yield* buy({ max: "2.00" })
      const ui = Render.capture()
      const page = yield* Requests.list(api, ui, { operator: false })
      expect(page.items.map((item) => item.id).slice(0, 2)).toEqual([refused.id, bought.id])
      expect(ui.stdout[0]).toMatch(/^id\s+status\s+isbn\s+max\s+price\s+created$/)
      expect(ui.text()).toContain(`${bought.id}  purchased`)
      expect(ui.text()).toMatch(new RegExp(`${refused.id}\\s+price_not_met.*offer €12\\.00`))

      const filtered = yield* Requests.list(api, Render.capture(), { operator: false, status: "price_not_met" })
      expect(filtered.items.every((item) => item.status === "price_not_met")).toBe(true)
      const limited = Render.capture()
      const one = yield* Requests.list(api, limited, { operator: false, limit: "1" })
      expect(one.items).toHaveLength(1)
      expect(limited.text()).toMatch(/more: bookbroker requests list --cursor \S+/)
      const next = yield* Requests.list(api, Render.capture(), { operator: false, limit: 1, cursor: one.next_cursor! })
      expect(next.items[0]?.id).not.toBe(one.items[0]?.id)
    })
  )

  it.effect("buy --wait: nothing within the maximum now, so it watches (exit 6); list --watching shows it; cancel ends it", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Buy.buy(api, ui, wantOptions("14d"))
      if (result._tag !== "Finished") return yield* Effect.die(new Error("expected a followed request"))
      expect(result.request.status).toBe("watching")
      expect(result.exitCode).toBe(6)
      const until = Date.parse(result.request.wait_until!)
      expect(Math.abs(until - (Date.now() + 14 * 86_400_000))).toBeLessThan(120_000)
      expect(ui.text()).toContain("◷ watching: nothing within €2.00 right now")
      expect(ui.text()).toContain("the cheapest offer now is 12.00 EUR from cli-alpha")
      expect(ui.text()).toContain(`bookbroker requests cancel ${result.request.id}`)

      const listed = Render.capture()
      const page = yield* Requests.list(api, listed, { operator: false, watching: true })
      expect(page.items.map((item) => item.id)).toContain(result.request.id)
      expect(page.items.every((item) => item.status === "watching")).toBe(true)

      const shown = Render.capture()
      yield* Requests.cancel(api, shown, { id: result.request.id })
      expect(shown.text()).toMatch(/status\s+cancelled/)
      expect(shown.text()).toContain("✗ cancelled while watching — nothing was charged")
      const again = yield* Effect.flip(Requests.cancel(api, Render.capture(), { id: result.request.id }))
      expect(again.message).toContain("already cancelled")
    })
  )

  it.effect("buy --wait refuses a duration it cannot watch for, before calling", () =>
    Effect.gen(function* () {
      for (const waitFor of ["31d", "0m", "soon", "5w"]) {
        const error = yield* Effect.flip(Buy.buy(TestServer.deadApi, Render.capture(), wantOptions(waitFor)))
        expect(error.message).toContain("--wait must be how long to watch for a copy")
      }
    })
  )

  it.effect("list refuses an unknown status and a bad limit before calling", () =>
    Effect.gen(function* () {
      const unknown = yield* Effect.flip(Requests.list(TestServer.deadApi, Render.capture(), { operator: false, status: "lost" }))
      expect(unknown.message).toBe('unknown status "lost"')
      const limit = yield* Effect.flip(Requests.list(TestServer.deadApi, Render.capture(), { operator: false, limit: "500" }))
      expect(limit.message).toMatch(/--limit must be a whole number from 1 to 100/)
    })
  )

  it.effect("show prints a request, its attempts and outcome", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const bought = yield* buy()
      const ui = Render.capture()
      const shown = yield* Requests.show(api, ui, { id: bought.id, operator: false })
      expect(shown.status).toBe("purchased")
      const text = ui.text()
      expect(text).toContain(`purchase request ${bought.id}`)
      expect(text).toMatch(/status\s+purchased/)
      expect(text).toMatch(/price\s+€12\.00/)
      expect(text).toMatch(/seller\s+cli-alpha/)
      expect(text).toMatch(/attempt #1\s+cli-alpha — confirmed at €12\.00/)
      expect(text).toContain("✓ purchased from cli-alpha for €12.00")
    })
  )

  it.effect("show of an unknown id is a one-line error", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const error = yield* Effect.flip(Requests.show(api, Render.capture(), { id: "00000000-0000-0000-0000-000000000000", operator: false }))
      expect(error.message).toBe("no purchase request 00000000-0000-0000-0000-000000000000 for this customer")
    })
  )

  it.effect("accept buys at the counter-offer's price and follows it to the end", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const refused = yield* buy({ max: "3.00" })
      expect(refused.counter_offer?.price.amount).toBe(1200)
      const ui = Render.capture()
      const { request, exitCode } = yield* Requests.accept(api, ui, { id: refused.id, paymentToken: "tok_approve", wait: true })
      expect(exitCode).toBe(0)
      expect(request.status).toBe("purchased")
      expect(request.final_price).toEqual({ amount: 1200, currency: "EUR" })
      expect(ui.text()).toContain("accepted the counter-offer")
      expect(ui.text()).toContain("✓ purchased")

      const again = yield* Effect.flip(Requests.accept(api, Render.capture(), { id: refused.id, paymentToken: "tok_approve", wait: true }))
      expect(again.message).toMatch(/no counter-offer to accept/)
    })
  )

  it.effect("operators list and show every customer's requests and retry a failed one", () =>
    Effect.gen(function* () {
      const { api, customerId } = yield* TestServer.TestServer
      const failed = yield* buy({ paymentToken: "tok_decline" })
      expect(failed.status).toBe("failed")

      const ui = Render.capture()
      const page = yield* Requests.list(api, ui, { operator: true, status: "failed" })
      expect(page.items.map((item) => item.id)).toContain(failed.id)
      expect(ui.stdout[0]).toMatch(/customer/)
      expect(ui.text()).toContain(customerId)

      const shown = yield* Requests.show(api, Render.capture(), { id: failed.id, operator: true })
      expect(shown.customer_id).toBe(customerId)

      // Its token was dropped when it failed: without a new one, what to pass.
      const tokenless = yield* Effect.flip(Requests.retry(api, Render.capture(), { id: failed.id }))
      expect(tokenless.message).toMatch(/keeps no payment method token after it ended/)
      expect(tokenless.hint).toBe("pass --payment-token <token>")

      const retryUi = Render.capture()
      const retried = yield* Requests.retry(api, retryUi, { id: failed.id, paymentToken: "tok_approve" })
      expect(retried.id).toBe(failed.id)
      expect(retryUi.text()).toContain(`retrying purchase request ${failed.id}`)
      const final = yield* Requests.awaitTerminal(api, failed.id, { operator: true, pollMillis: 50, timeoutMillis: 20_000 })
      expect(final.status).toBe("purchased")
    })
  )

  it.effect("operator calls with a wrong token say which credential to fix", () =>
    Effect.gen(function* () {
      const { url, customerKey } = yield* TestServer.TestServer
      const { make } = yield* Effect.promise(() => import("../src/Api.js"))
      const error = yield* Effect.flip(Requests.list(make({ baseUrl: url, apiKey: customerKey, operatorToken: "wrong" }), Render.capture(), { operator: true }))
      expect(error.message).toMatch(/operator token/)
      expect(error.hint).toMatch(/--operator-token/)
      const missing = yield* Effect.flip(Requests.list(make({ baseUrl: url, apiKey: customerKey, operatorToken: undefined }), Render.capture(), { operator: true }))
      expect(missing.message).toBe("no operator token")
    })
  )
})
