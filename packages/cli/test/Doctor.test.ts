import { expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Api from "../src/Api.js"
import * as Doctor from "../src/services/Doctor.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("doctor", (it) => {
  it.effect("a healthy server: every check passes", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Doctor.doctor(api, ui, { hasApiKey: true, hasOperatorToken: true })
      expect(result.ok).toBe(true)
      const byName = Object.fromEntries(result.checks.map((check) => [check.name, check.status]))
      expect(byName).toMatchObject({ API: "ok", database: "ok", "customer key": "ok", sellers: "ok", "seller health": "ok" })
      expect(ui.stdout[0]).toBe(`bookbroker doctor — ${api.baseUrl}`)
      expect(ui.text()).toMatch(/^✓ sellers: 3 active$/m)
      expect(ui.stdout.at(-1)).toBe("all good")
    })
  )

  it.effect("a refused customer key and no operator token are problems with fixes", () =>
    Effect.gen(function* () {
      const { url } = yield* TestServer.TestServer
      const ui = Render.capture()
      const result = yield* Doctor.doctor(Api.make({ baseUrl: url, apiKey: "bb_cus_wrong", operatorToken: undefined }), ui, { hasApiKey: true, hasOperatorToken: false })
      expect(result.ok).toBe(false)
      expect(ui.text()).toMatch(/^✗ customer key: .+$/m)
      expect(ui.text()).toMatch(/^✗ sellers: cannot check without the operator token\n {4}fix: pass --operator-token/m)
      expect(ui.stdout.at(-1)).toBe("2 problems to fix")
    })
  )

  it.effect("no active seller: says how to activate the pending one", () =>
    Effect.gen(function* () {
      const { api, sellers } = yield* TestServer.TestServer
      yield* Effect.forEach(sellers, (seller) => api.operator.disable(seller.id))
      const result = yield* Doctor.doctor(api, Render.capture({ json: true }), { hasApiKey: true, hasOperatorToken: true }).pipe(
        Effect.ensuring(Effect.orDie(Effect.forEach(sellers, (seller) => api.operator.activate(seller.id))))
      )
      expect(result.ok).toBe(false)
      expect(result.checks.find((check) => check.name === "sellers")).toMatchObject({ status: "fail", detail: "none active (3 registered, 0 pending)" })
    })
  )
})

it.live("doctor: nothing answering at the URL is one failed check that says to start it", () =>
  Effect.gen(function* () {
    const ui = Render.capture()
    const result = yield* Doctor.doctor(TestServer.deadApi, ui, { hasApiKey: true, hasOperatorToken: true })
    expect(result.ok).toBe(false)
    expect(result.checks).toEqual([{ name: "API", status: "fail", detail: "nothing answers at http://127.0.0.1:2", fix: "start it with: pnpm start" }])
    expect(ui.text()).toBe(
      ["bookbroker doctor — http://127.0.0.1:2", "✗ API: nothing answers at http://127.0.0.1:2", "    fix: start it with: pnpm start", "1 problem to fix"].join("\n")
    )
  })
)
