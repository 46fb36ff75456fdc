import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Customers from "../src/services/Customers.js"
import * as Offers from "../src/services/Offers.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("customers", (it) => {
  it.effect("add creates a customer whose key works at once; list shows it", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const created = yield* Customers.add(api, ui, { name: "Grace Hopper", email: "grace@example.com" })
      expect(created.name).toBe("Grace Hopper")
      expect(created.api_key).toMatch(/\S{20,}/)
      expect(ui.text()).toContain("created customer Grace Hopper")
      expect(ui.text()).toContain(`${created.api_key}   (shown only this once)`)

      const book = yield* Offers.offers(api.withApiKey(created.api_key!), Render.capture(), { isbn: TestServer.carried, currency: "EUR" })
      expect(book.offers.length).toBe(3)

      const listed = Render.capture()
      const customers = yield* Customers.list(api, listed)
      expect(customers.map((customer) => customer.name)).toEqual(expect.arrayContaining(["CLI Tester", "Grace Hopper"]))
      expect(listed.text()).toMatch(/Grace Hopper\s+grace@example\.com/)
      expect(customers.every((customer) => customer.api_key === undefined)).toBe(true)
    })
  )

  it.effect("--json and a bad email", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture({ json: true })
      yield* Customers.add(api, ui, { name: "Json Person" })
      expect(ui.values[0]).toMatchObject({ name: "Json Person", email: null })
      const error = yield* Effect.flip(Customers.add(api, Render.capture(), { name: "Bad", email: "not-an-email" }))
      expect(error.message).toMatch(/email/)
    })
  )
})
