import { referenceSellerHandlers, SellerSimulator, serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Sellers from "../src/services/Sellers.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("sellers", (it) => {
  it.effect("list shows the directory; --status filters", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const sellers = yield* Sellers.list(api, ui, {})
      expect(sellers.map((seller) => seller.name).sort()).toEqual(["cli-alpha", "cli-beta", "cli-gamma"])
      expect(ui.stdout[0]).toMatch(/^id\s+name\s+status\s+adapter/)
      expect(ui.text()).toMatch(/cli-alpha\s+active\s+reference/)
      expect(ui.text()).toContain("3 sellers, 3 active")
      const pending = yield* Sellers.list(api, Render.capture(), { status: "pending" })
      expect(pending).toEqual([])
      const bad = yield* Effect.flip(Sellers.list(api, Render.capture(), { status: "asleep" }))
      expect(bad.message).toBe('unknown seller status "asleep"')
    })
  )

  it.effect("disable and activate change the status; show prints a seller", () =>
    Effect.gen(function* () {
      const { api, sellers } = yield* TestServer.TestServer
      const gamma = sellers.find((seller) => seller.name === "cli-gamma")!
      const ui = Render.capture()
      const disabled = yield* Sellers.disable(api, ui, { id: gamma.id })
      expect(disabled.status).toBe("disabled")
      expect(ui.text()).toBe("seller cli-gamma is disabled — no more calls to it")
      const activated = yield* Sellers.activate(api, Render.capture(), { id: gamma.id })
      expect(activated.status).toBe("active")

      const shown = Render.capture()
      const seller = yield* Sellers.show(api, shown, { id: gamma.id })
      expect(seller.adapter.kind).toBe("reference")
      expect(shown.text()).toContain("seller cli-gamma (active)")
      expect(shown.text()).toMatch(/adapter\.kind\s+reference/)
      expect(shown.text()).not.toContain("cli-gamma-key")

      const missing = yield* Effect.flip(Sellers.show(api, Render.capture(), { id: "00000000-0000-0000-0000-000000000000" }))
      expect(missing.message).toMatch(/00000000-0000-0000-0000-000000000000/)
    })
  )

  it.effect("health shows every seller's circuit and recent calls; one seller's in detail", () =>
    Effect.gen(function* () {
      const { api, sellers } = yield* TestServer.TestServer
      const ui = Render.capture()
      const entries = (yield* Sellers.health(api, ui, {})) as ReadonlyArray<{ seller_name: string; circuit: { state: string } }>
      expect(entries.map((entry) => entry.seller_name).sort()).toEqual(["cli-alpha", "cli-beta", "cli-gamma"])
      expect(entries.every((entry) => entry.circuit.state === "closed")).toBe(true)
      expect(ui.stdout[0]).toMatch(/^seller\s+status\s+circuit\s+calls \(rate use\)/)
      expect(ui.text()).toMatch(/cli-alpha\s+active\s+closed/)

      const one = Render.capture({ json: true })
      yield* Sellers.health(api, one, { id: sellers[0]!.id })
      expect(one.values[0]).toMatchObject({ seller_id: sellers[0]!.id, circuit: { state: "closed" } })
    })
  )

  it.effect("add registers a seller (pending, key shown once); an operator activates it", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const simulator = new SellerSimulator({ name: "cli-delta", apiKey: "delta-key", stock: [{ isbn: TestServer.carried, price: 1100, quantity: 5 }] })
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => serveHandlers(referenceSellerHandlers(simulator, { mode: "hold" }))),
        (server) => Effect.promise(() => server.close())
      )
      const ui = Render.capture()
      const registered = yield* Sellers.add(api, ui, {
        name: "cli-delta",
        kind: "reference",
        config: JSON.stringify({ baseUrl: server.url, currency: "EUR", mode: "hold", batch: false }),
        credentials: ["apiKey=delta-key"],
        contact: "delta@example.com",
        requestsPerSecond: "20",
        timeoutMillis: "1500"
      })
      expect(registered.status).toBe("pending")
      expect(ui.text()).toContain(`${registered.api_key}   (shown only this once)`)
      expect(ui.text()).toContain(`bookbroker sellers activate ${registered.id}`)

      const pending = yield* Sellers.list(api, Render.capture(), { status: "pending" })
      expect(pending.map((seller) => seller.name)).toEqual(["cli-delta"])
      yield* Sellers.activate(api, Render.capture(), { id: registered.id })
      const seller = yield* Sellers.show(api, Render.capture(), { id: registered.id })
      expect(seller.status).toBe("active")
      expect(seller.limits?.requests_per_second).toBe(20)
      yield* Sellers.disable(api, Render.capture(), { id: registered.id })
    }).pipe(Effect.scoped)
  )

  it.effect("add refuses a config that is not JSON and a credential without a value, before calling", () =>
    Effect.gen(function* () {
      const base = { name: "x", kind: "reference", credentials: [] }
      const notJson = yield* Effect.flip(Sellers.add(TestServer.deadApi, Render.capture(), { ...base, config: "{baseUrl:" }))
      expect(notJson.message).toMatch(/^--adapter-config is not valid JSON/)
      const array = yield* Effect.flip(Sellers.add(TestServer.deadApi, Render.capture(), { ...base, config: "[]" }))
      expect(array.message).toBe("--adapter-config must be a JSON object")
      const credential = yield* Effect.flip(Sellers.add(TestServer.deadApi, Render.capture(), { ...base, config: "{}", credentials: ["apiKey"] }))
      expect(credential.message).toMatch(/must be name=value/)
    })
  )
})
