import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { TestDatabase } from "@bookbroker/engine/testing"
import { SqlClient } from "effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Metric, Redacted } from "effect"
import * as TestServer from "./support/TestServer.js"

const [isbn] = generateIsbns({ size: 1, seed: 41 }) as [Isbn.Isbn13]

describe("health, metrics and documentation", () => {
  it.live("healthz, readyz, openapi.json and docs answer without credentials; metrics only with the operator token", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      expect((yield* server.call("GET", "/healthz")).body).toEqual({ status: "ok" })
      expect((yield* server.call("GET", "/readyz")).body).toEqual({ status: "ready", checks: { database: "ok", shared_state: "ok" } })
      yield* Metric.update(Metric.counter("bookbroker_test_probe_total", { description: "a probe" }), 1)
      const metrics = yield* server.operator("GET", "/metrics")
      expect(metrics.status).toBe(200)
      expect(metrics.headers["content-type"]).toMatch(/^text\/plain/)
      expect(metrics.text).toMatch(/# TYPE bookbroker_test_probe_total counter\nbookbroker_test_probe_total 1/)
      // Without it — nothing, a wrong token, a customer's or a seller's key — a 401 problem that shows no metric.
      const ada = yield* server.customer("Ada")
      const [seller] = yield* server.registerSellers([{ name: "shop" }])
      for (const token of [undefined, "wrong-operator-token", ada.key, seller!.key]) {
        const refused = yield* server.call("GET", "/metrics", token === undefined ? {} : { token })
        expect(refused.status).toBe(401)
        expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/)
        expect(refused.body).toMatchObject({ status: 401, type: "urn:bookbroker:problem:unauthorized", detail: expect.stringMatching(/operator token/) })
        expect(refused.text).not.toContain("bookbroker_")
      }
      const openapi = yield* server.call("GET", "/openapi.json")
      expect(openapi.body.openapi).toMatch(/^3\./)
      expect(Object.keys(openapi.body.paths)).toEqual(
        expect.arrayContaining(["/v1/purchase-requests", "/v1/purchase-requests/{id}", "/v1/books/{isbn}/offers", "/v1/sellers", "/v1/sellers/me", "/v1/operator/sellers"])
      )
      const docs = yield* server.call("GET", "/docs")
      expect(docs.status).toBe(200)
      expect(docs.text).toMatch(/<html/i)
    })
  )

  it.live("metrics after a purchase: outcomes, time to decision, seller calls and latency, queue depth, open circuits", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [shop] = yield* server.registerSellers([{ name: "shop", stock: [{ isbn, price: 1500, quantity: 3 }] }])
      const ada = yield* server.customer("Ada")
      const created = yield* server.call("POST", "/v1/purchase-requests", {
        token: ada.key,
        headers: { "idempotency-key": "m" },
        body: {
          isbn,
          max_price: { amount: 3000, currency: "EUR" },
          payment: { token: "tok_approve" },
          customer: { name: "Ada", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
        }
      })
      yield* server.awaitTerminal(created.body.id, ada.key)
      const text = (yield* server.operator("GET", "/metrics")).text
      expect(text).toMatch(/# TYPE bookbroker_purchases_total counter\n(.*\n)*bookbroker_purchases_total\{outcome="purchased"\} 1\n/)
      expect(text).toMatch(/# TYPE bookbroker_purchase_decision_seconds histogram/)
      expect(text).toMatch(/bookbroker_purchase_decision_seconds_count 1\n/)
      expect(text).toContain(`bookbroker_seller_calls_total{seller="${shop!.id}",outcome="answered"} 1`)
      expect(text).toMatch(new RegExp(`bookbroker_seller_call_duration_seconds_bucket\\{seller="${shop!.id}",le="\\+Inf"\\} 1`))
      expect(text).toMatch(/# TYPE bookbroker_purchase_queue_depth gauge\nbookbroker_purchase_queue_depth 0\n/)
      expect(text).toMatch(/# TYPE bookbroker_seller_circuits_open gauge\nbookbroker_seller_circuits_open 0\n/)

      // A request waiting in the queue shows in the depth at the next scrape.
      yield* server.sql`
        INSERT INTO purchase_requests (id, customer_id, idempotency_key, request_hash, isbn, currency, original_max, max_amount, payment_token, customer, status, next_run_at)
        VALUES (${crypto.randomUUID()}, 'nobody', 'later', 'h', ${isbn}, 'EUR', 100, 100, 'tok', '{}'::jsonb, 'received', now() + interval '1 hour')`.pipe(Effect.orDie)
      expect((yield* server.operator("GET", "/metrics")).text).toMatch(/bookbroker_purchase_queue_depth 1\n/)
    })
  )

  it.live("readyz: Redis unreachable is degraded shared state, still ready (the engine falls back)", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({}, { sharedState: { _tag: "Redis", url: "redis://127.0.0.1:1", keyPrefix: `bbtest-${crypto.randomUUID()}` } })
      const ready = yield* server.call("GET", "/readyz")
      expect(ready.status).toBe(200)
      expect(ready.body).toEqual({ status: "ready", checks: { database: "ok", shared_state: "degraded" } })
    }).pipe(Effect.provide(Logger.layer([])))
  )

  it.live("readyz: a Redis that answers is ok", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({}, { sharedState: { _tag: "Redis", url: "redis://127.0.0.1:6379", keyPrefix: `bbtest-${crypto.randomUUID()}` } })
      expect((yield* server.call("GET", "/readyz")).body.checks).toEqual({ database: "ok", shared_state: "ok" })
    })
  )

  it.live("readyz: 503 problem when the database is gone; healthz still answers", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const rows = yield* server.sql<{ name: string }>`SELECT current_database() AS name`.pipe(Effect.orDie)
      const name = rows[0]!.name
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP DATABASE ${name} WITH (FORCE)`)).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(TestDatabase.adminUrl), maxConnections: 1 })),
        Effect.orDie
      )
      const ready = yield* server.call("GET", "/readyz")
      expect(ready.status).toBe(503)
      expect(ready.headers["content-type"]).toMatch(/^application\/problem\+json/)
      expect(ready.body).toMatchObject({ status: 503, detail: expect.stringMatching(/database not reachable/) })
      expect((yield* server.call("GET", "/healthz")).status).toBe(200)
    }).pipe(Effect.provide(Logger.layer([])))
  )
})
