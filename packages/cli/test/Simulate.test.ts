import { expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Api from "../src/Api.js"
import * as Simulate from "../src/services/Simulate.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("simulate", (it) => {
  it.effect(
    "2 sellers, 5 requests/s for 2 s: every request ends; outcomes, latency and seller calls are summarised",
    () =>
      Effect.gen(function* () {
        const { api } = yield* TestServer.TestServer
        const ui = Render.capture()
        const summary = yield* Simulate.simulate(api, ui, { sellers: 2, rate: "5", duration: "2s", waitMillis: 30_000, seed: 1 })
        expect(summary.submitted + summary.rejected).toBe(10)
        expect(summary.rejected).toBe(0)
        expect(summary.finished).toBe(10)
        expect(summary.unfinished).toBe(0)
        expect(Object.values(summary.outcomes).reduce((a, b) => a + b, 0)).toBe(10)
        expect(summary.outcomes["purchased"] ?? 0).toBeGreaterThan(0)
        expect(summary.outcomes["failed"] ?? 0).toBe(0)
        expect(summary.latencyMillis.p50).toBeGreaterThan(0)
        expect(summary.latencyMillis.p99).toBeGreaterThanOrEqual(summary.latencyMillis.p50!)
        expect(summary.sellerCalls.total).toBeGreaterThan(0)
        expect(summary.sellerCalls.perRequest).toBeCloseTo(summary.sellerCalls.total / 10, 2)
        expect(summary.elapsedSeconds).toBeGreaterThanOrEqual(1.8)

        const text = ui.text()
        expect(text).toMatch(/^customer Simulation \w+/m)
        expect(text).toMatch(/^seller sim-\w+-1 at http:\/\/127\.0\.0\.1:\d+ \(hold, batch quotes\)$/m)
        expect(text).toMatch(/^seller sim-\w+-2 at http:\/\/127\.0\.0\.1:\d+ \(atomic, batch quotes\)$/m)
        expect(text).toMatch(/^simulated 10 purchase requests against 2 sellers at 5\/s for 2 s/m)
        expect(text).toMatch(/^ {2}outcomes {5}purchased \d+, price_not_met \d+, not_available \d+, failed 0$/m)
        expect(text).toMatch(/^ {2}latency {6}p50 .+ms, p99 .+, max .+ \(created → decided\)$/m)
        expect(text).toMatch(/^ {2}seller calls [\d.]+ per request at the 2 simulated sellers \(\d+ in all, \d+ of them quotes\)$/m)

        // Its sellers are disabled again: nothing dead lingers in the directory.
        const sellers = yield* api.operator.sellers()
        const simulated = sellers.filter((seller) => seller.name.startsWith("sim-"))
        expect(simulated).toHaveLength(2)
        expect(simulated.every((seller) => seller.status === "disabled")).toBe(true)
      }),
    60_000
  )

  it.effect("--json prints the summary", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture({ json: true })
      const summary = yield* Simulate.simulate(api, ui, { sellers: 1, rate: "4", duration: "500ms", waitMillis: 30_000, seed: 2 })
      expect(ui.values).toEqual([JSON.parse(JSON.stringify(summary))])
      expect(summary.submitted).toBe(2)
    })
  )
})

it.live("simulate: refuses bad numbers and servers on other machines before doing anything", () =>
  Effect.gen(function* () {
    const local = TestServer.deadApi
    const sellers = yield* Effect.flip(Simulate.simulate(local, Render.capture(), { sellers: 0, rate: 5, duration: 2 }))
    expect(sellers.message).toMatch(/--sellers must be a whole number from 1 to 50/)
    const rate = yield* Effect.flip(Simulate.simulate(local, Render.capture(), { sellers: 2, rate: "fast", duration: 2 }))
    expect(rate.message).toMatch(/--rate must be a number above 0/)
    const duration = yield* Effect.flip(Simulate.simulate(local, Render.capture(), { sellers: 2, rate: 5, duration: "2h" }))
    expect(duration.message).toMatch(/--duration must be a duration like 10s/)
    const remote = yield* Effect.flip(Simulate.simulate(Api.make({ baseUrl: "http://bookbroker.example.com", apiKey: undefined, operatorToken: "x" }), Render.capture(), { sellers: 2, rate: 5, duration: 2 }))
    expect(remote.message).toBe("simulate only drives a server on this machine (127.0.0.1), not http://bookbroker.example.com")
  })
)
