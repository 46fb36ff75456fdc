/**
 * A seller's health over a real, throw-away PostgreSQL database and simulated sellers: nothing
 * before the first call, then what the quote engine saw; an erring seller's circuit opens.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as SellerHealth from "../../src/operations/SellerHealth.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../../src/quotes/QuoteEngine.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import * as SellerPool from "../../src/sellers/SellerPool.js"
import * as SellerViews from "../../src/sellers/SellerViews.js"
import * as SharedState from "../../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../../src/testing/index.js"

const [isbn] = generateIsbns({ size: 1, seed: 17 }) as [Isbn.Isbn13]

const Services = SellerHealth.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(QuoteEngine.layer({ deadlineMillis: 2_000 }), SellerViews.layer)),
  Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 0 }), SellerPool.layer(), SharedState.layerMemory({ failureThreshold: 1, openMillis: 60_000 }))),
  Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
  Layer.provideMerge(TestDatabase.layer)
)

describe("SellerHealth.report", () => {
  it.live("nothing measured before the first call; then the calls, latency, error rate and rate against the limit", () =>
    Effect.gen(function* () {
      const health = yield* SellerHealth.SellerHealth
      const [running] = yield* SimulatedSellers.startSellers([{ name: "good", stock: [{ isbn, price: 1500, quantity: 2 }] }])
      const [seller] = yield* SimulatedSellers.registerActive([running!], { requestsPerSecond: 50 })

      const fresh = yield* health.report(seller!)
      expect(fresh).toMatchObject({
        circuit: { state: "closed", consecutiveFailures: 0, openUntil: 0 },
        limits: { requestsPerSecond: 50 },
        calls: 0,
        latencyMillis: null,
        errorRate: null,
        utilization: 0,
        blockedUntil: null
      })

      yield* (yield* QuoteEngine.QuoteEngine).quotes(isbn, { currency: "EUR" })
      const after = yield* health.report(seller!)
      expect(after).toMatchObject({ calls: 1, errorRate: 0, recent: { answered: 1, failed: 0, denied: 0 }, blockedUntil: null })
      expect(after.latencyMillis).toBeGreaterThan(0)
      expect(after.utilization).toBeCloseTo(after.recent.sentPerSecond / 50)
      expect(after.utilization).toBeGreaterThan(0)
    }).pipe(Effect.provide(Services), Effect.scoped)
  )

  it.live("an erring seller: its circuit open until a time ahead, every call an error", () =>
    Effect.gen(function* () {
      const health = yield* SellerHealth.SellerHealth
      const [running] = yield* SimulatedSellers.startSellers([{ name: "bad", errorRate: 1, stock: [{ isbn, price: 1500, quantity: 2 }] }])
      const [seller] = yield* SimulatedSellers.registerActive([running!])
      yield* (yield* QuoteEngine.QuoteEngine).quotes(isbn, { currency: "EUR" })
      const report = yield* health.report(seller!)
      expect(report.circuit).toMatchObject({ state: "open", consecutiveFailures: 1 })
      expect(report.circuit.openUntil).toBeGreaterThan(Date.now())
      expect(report).toMatchObject({ calls: 1, errorRate: 1, recent: { failed: 1 } })
    }).pipe(Effect.provide(Services), Effect.scoped)
  )
})
