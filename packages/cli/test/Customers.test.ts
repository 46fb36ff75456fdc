import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Customers from "../src/services/Customers.js"
import * as Offers from "../src/services/Offers.js"
import * as Render from "../src/ui/Render.js"
import * as Command from "./support/Command.js"
import * as TestServer from "./support/TestServer.js"

/** The `bookbroker` command itself, as a person runs it. */
const bookbroker = (args: ReadonlyArray<string>) => Effect.promise(() => Command.run(args, { NO_COLOR: "1" }))

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

  it.effect("revoke-key: the customer's key is refused at once, other customers go on; new-key gives it one that works", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const created = yield* Customers.add(api, Render.capture(), { name: "Mallory Leaked", email: "mallory@example.com" })
      const leaked = api.withApiKey(created.api_key!)
      expect((yield* leaked.purchases()).items).toEqual([])

      const ui = Render.capture()
      const revoked = yield* Customers.revokeKey(api, ui, { id: created.id })
      expect(revoked).toEqual({ customer_id: created.id, name: "Mallory Leaked", revoked: 1 })
      expect(ui.text()).toContain("revoked 1 API key of customer Mallory Leaked")
      expect(ui.text()).toContain(`a new key: bookbroker customers new-key ${created.id}`)
      const refused = yield* Effect.flip(leaked.purchases())
      expect(refused.message).toMatch(/customer API key/)
      expect(refused.hint).toMatch(/--api-key/)
      // The test's own customer is not touched.
      expect((yield* api.purchases()).items).toBeDefined()

      const fresh = Render.capture()
      const replaced = yield* Customers.newKey(api, fresh, { id: created.id })
      expect(replaced).toMatchObject({ customer_id: created.id, revoked: 0, api_key: expect.stringMatching(/^bb_cus_/) })
      expect(fresh.text()).toContain(`${replaced.api_key}   (shown only this once)`)
      expect((yield* api.withApiKey(replaced.api_key).purchases()).items).toEqual([])
      expect((yield* Effect.flip(leaked.purchases())).message).toMatch(/customer API key/)
    })
  )

  it.effect("revoke-key from the command line: a readable result and exit 0; an unknown id is one line, a hint and exit 1", () =>
    Effect.gen(function* () {
      const { api, url } = yield* TestServer.TestServer
      const created = yield* Customers.add(api, Render.capture(), { name: "Oscar Shell" })
      const flags = ["--url", url, "--operator-token", TestServer.operatorToken]

      const done = yield* bookbroker(["customers", "revoke-key", created.id, ...flags])
      expect(done.stderr).toBe("")
      expect(done.code).toBe(0)
      expect(done.stdout).toContain("revoked 1 API key of customer Oscar Shell")
      expect(done.stdout).toContain("every bookbroker server refuses them within 1 s")
      expect((yield* Effect.flip(api.withApiKey(created.api_key!).purchases())).message).toMatch(/customer API key/)

      const unknown = randomUUID()
      const missing = yield* bookbroker(["customers", "revoke-key", unknown, ...flags])
      expect(missing.code).toBe(1)
      expect(missing.stdout).toBe("")
      expect(missing.stderr).toBe(`error: no customer ${unknown}\nhint: see: bookbroker customers list\n`)

      const service = yield* Effect.flip(Customers.revokeKey(api, Render.capture(), { id: "not-a-customer" }))
      expect(service.message).toBe("no customer not-a-customer")
    })
  )
})
