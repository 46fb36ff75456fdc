/**
 * The gauges computed when scraped, over a real, throw-away PostgreSQL database: the queue's
 * depth counts the requests not yet terminal, the open circuits count active sellers whose
 * circuit is not closed.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Effect, Layer, Metric, Redacted } from "effect"
import * as Metrics from "../../src/Metrics.js"
import * as Gauges from "../../src/operations/Gauges.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import * as SharedState from "../../src/state/SharedState.js"
import { TestDatabase } from "../../src/testing/index.js"
import { admitted, limits } from "../support/admission.js"

const Services = Gauges.layer.pipe(
  Layer.provideMerge(SellerDirectory.layer({ refreshMillis: 0 })),
  Layer.provideMerge(Layer.mergeAll(SharedState.layerMemory({ failureThreshold: 1 }), SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]))),
  Layer.provide(OutboundAddress.layerLoopback),
  Layer.provideMerge(TestDatabase.layer)
)

const receive = (status: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`
      INSERT INTO purchase_requests (id, customer_id, idempotency_key, request_hash, isbn, currency, original_max, max_amount, payment_token, customer, status, next_run_at)
      VALUES (${randomUUID()}, 'nobody', ${randomUUID()}, 'h', '9780000000002', 'EUR', 100, 100, 'tok', '{}'::jsonb, ${status}, now() + interval '1 hour')`
  ).pipe(Effect.orDie)

const register = (name: string) =>
  Effect.flatMap(SellerDirectory.SellerDirectory, (directory) =>
    directory.register({ name, kind: "reference", config: { baseUrl: "http://127.0.0.1:9", currency: "EUR" }, credentials: { apiKey: "k" }, status: "active" })
  ).pipe(Effect.orDie)

const failOnce = (sellerId: string) =>
  Effect.gen(function* () {
    const state = yield* SharedState.SharedState
    const admission = admitted(yield* state.admit(sellerId, limits()))
    yield* state.complete(sellerId, admission.permit, "failure", admission.probe)
  })

describe("Gauges.refresh", () => {
  it.live("sets the queue depth and the open circuits of active sellers", () =>
    Effect.gen(function* () {
      const gauges = yield* Gauges.Gauges
      yield* gauges.refresh
      expect(yield* Metric.value(Metrics.queueDepth)).toEqual({ value: 0 })
      expect(yield* Metric.value(Metrics.circuitsOpen)).toEqual({ value: 0 })

      yield* Effect.forEach(["received", "quoting", "purchasing", "purchased", "failed"], receive)
      const [broken] = yield* Effect.forEach(["broken", "fine"], register)
      yield* failOnce(broken!.id)
      yield* gauges.refresh
      expect(yield* Metric.value(Metrics.queueDepth)).toEqual({ value: 3 })
      expect(yield* Metric.value(Metrics.circuitsOpen)).toEqual({ value: 1 })
    }).pipe(Effect.provide(Services))
  )
})
