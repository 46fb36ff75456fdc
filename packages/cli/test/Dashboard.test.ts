import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Api from "../src/Api.js"
import * as Buy from "../src/services/Buy.js"
import * as Dashboard from "../src/services/Dashboard.js"
import * as Render from "../src/ui/Render.js"
import * as TestServer from "./support/TestServer.js"
import { demoCustomer } from "../src/DemoCustomer.js"

layer(TestServer.layer, { timeout: 60_000, excludeTestServices: true })("dashboard", (it) => {
  it.effect("--once: one frame with the outcomes, queue and every seller's health", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const purchase = (max: string) =>
        Buy.buy(api, Render.capture(), {
          isbn: TestServer.carried,
          max,
          currency: "EUR",
          paymentToken: "tok_approve",
          customer: demoCustomer,
          idempotencyKey: randomUUID(),
          wait: true,
          pollMillis: 50
        })
      yield* purchase("30")
      yield* purchase("30")
      yield* purchase("1")

      const ui = Render.capture()
      const frame = yield* Dashboard.dashboard(api, ui, { once: true, intervalMillis: 200 })
      // The metric registry is per process (other test files' servers share it): at least ours.
      expect(frame.outcomes["purchased"]).toBeGreaterThanOrEqual(2)
      expect(frame.outcomes["price_not_met"]).toBeGreaterThanOrEqual(1)
      expect(frame.queueDepth).toBe(0)
      expect(frame.decisionP50Millis).toBeGreaterThan(0)
      expect(frame.completionsPerSecond).toBeDefined()
      const names = frame.sellers.map((row) => row.name)
      expect(names).toEqual(expect.arrayContaining(["cli-alpha", "cli-beta", "cli-gamma"]))
      const alpha = frame.sellers.find((row) => row.name === "cli-alpha")!
      expect(alpha.circuit).toBe("closed")
      expect(alpha.answered).toBeGreaterThanOrEqual(1)
      expect(alpha.rateLimit).toBe(1000)
      expect(alpha.p50Millis).toBeGreaterThan(0)

      const text = ui.text()
      expect(text).toMatch(/^bookbroker dashboard — http:\/\/127\.0\.0\.1:\d+ — /)
      expect(text).toMatch(/intake \S+\/s\s+completed \S+\/s\s+queue 0\s+decision p50 \S+ ms p99 \S+/)
      expect(text).toMatch(/outcomes \(\d+\): purchased \d+ \(\d+%\)\s+price_not_met \d+/)
      expect(text).toMatch(/^seller\s+circuit\s+calls \(rate use\)\s+sent\s+errors\s+denied\s+p50\s+p99$/m)
      expect(text).toMatch(/^cli-alpha\s+closed\s+/m)
    })
  )

  it.effect("without the operator token (the metrics need it): a readable error naming what to pass, before anything is shown", () =>
    Effect.gen(function* () {
      const { url, customerKey } = yield* TestServer.TestServer
      const ui = Render.capture({ json: true })
      const error = yield* Effect.flip(Dashboard.dashboard(Api.make({ baseUrl: url, apiKey: customerKey, operatorToken: undefined }), ui, { once: true, intervalMillis: 100 }))
      expect(error.message).toBe("no operator token")
      expect(error.hint).toMatch(/--operator-token or set BOOKBROKER_OPERATOR_TOKEN/)
      expect(ui.values).toEqual([])
      // A wrong token: the server's 401, with the same hint.
      const wrong = yield* Effect.flip(Dashboard.dashboard(Api.make({ baseUrl: url, apiKey: undefined, operatorToken: "not-the-operator-token-0123" }), ui, { once: true, intervalMillis: 100 }))
      expect(wrong.message).toMatch(/operator token/)
      expect(wrong.hint).toMatch(/BOOKBROKER_OPERATOR_TOKEN/)
    })
  )

  it.effect("live: refreshes in place until told to stop", () =>
    Effect.gen(function* () {
      const { api } = yield* TestServer.TestServer
      const ui = Render.capture()
      yield* Dashboard.dashboard(api, ui, { once: false, intervalMillis: 100, durationMillis: 350 })
      // Plain output prints a frame per refresh that changed (at least the first and the last).
      expect(ui.stdout.filter((line) => line.startsWith("bookbroker dashboard")).length).toBeGreaterThanOrEqual(2)
    })
  )
})
