import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as TestServer from "./support/TestServer.js"

const [isbn, second] = generateIsbns({ size: 2, seed: 31 }) as [Isbn.Isbn13, Isbn.Isbn13]

const problem = (reply: TestServer.Reply, status: number) => {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { status } })
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.body).toMatchObject({ type: expect.stringMatching(/^urn:bookbroker:problem:/), title: expect.any(String), detail: expect.any(String) })
  expect(reply.text).not.toMatch(/\n\s+at /)
}

const purchase = (overrides: Record<string, unknown> = {}) => TestServer.purchaseBody(isbn, overrides)

const operatorEndpoints: ReadonlyArray<readonly [string, string, unknown?]> = [
  ["GET", "/v1/operator/sellers"],
  ["GET", "/v1/operator/sellers/health"],
  ["GET", "/v1/operator/sellers/00000000-0000-0000-0000-000000000000"],
  ["GET", "/v1/operator/sellers/00000000-0000-0000-0000-000000000000/health"],
  ["POST", "/v1/operator/sellers/00000000-0000-0000-0000-000000000000/activate"],
  ["POST", "/v1/operator/sellers/00000000-0000-0000-0000-000000000000/disable"],
  ["GET", "/v1/operator/purchase-requests"],
  ["GET", "/v1/operator/purchase-requests/00000000-0000-0000-0000-000000000000"],
  ["POST", "/v1/operator/purchase-requests/00000000-0000-0000-0000-000000000000/retry", {}],
  ["POST", "/v1/operator/customers", { name: "Eve" }],
  ["GET", "/v1/operator/customers"],
  ["DELETE", "/v1/operator/customers/00000000-0000-0000-0000-000000000000/keys"],
  ["POST", "/v1/operator/customers/00000000-0000-0000-0000-000000000000/keys"],
  ["GET", "/metrics"],
  ["GET", "/v1/operator/findings"],
  ["POST", "/v1/operator/findings/00000000-0000-0000-0000-000000000000/attempt_unresolved/settle", { note: "done" }]
]

describe("operator API", () => {
  it.live("authentication: no token, a wrong token, a customer key and a seller key are 401 on every operator endpoint", () =>
    Effect.gen(function* () {
      // Far more failed sign-ins than an address is allowed by default (that limit: BadInput.test.ts "guessing keys").
      const server = yield* TestServer.start({ signInFailureLimit: { requestsPerSecond: 1_000, burst: 10_000, blockMillis: 1_000 } })
      const ada = yield* server.customer("Ada")
      const [seller] = yield* server.registerSellers([{ name: "s" }])
      for (const [method, path, body] of operatorEndpoints) {
        for (const token of [undefined, "wrong-operator-token", `${TestServer.operatorToken}x`, ada.key, seller!.key]) {
          problem(yield* server.call(method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) }), 401)
        }
      }
      expect(yield* server.count("customers")).toBe(1)
    })
  )

  it.live("sellers: list with a status filter, show, activate, disable; unknown is 404; credentials never shown", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [a, b] = yield* server.registerSellers(
        [
          { name: "alpha", apiKey: "alpha-upstream-secret", stock: [{ isbn, price: 1500, quantity: 3 }] },
          { name: "beta", apiKey: "beta-upstream-secret", stock: [{ isbn, price: 1400, quantity: 3 }] }
        ],
        { activate: false }
      )
      const all = yield* server.operator("GET", "/v1/operator/sellers")
      expect(all.status).toBe(200)
      expect(all.body.items.map((seller: { name: string; status: string }) => [seller.name, seller.status])).toEqual([
        ["alpha", "pending"],
        ["beta", "pending"]
      ])
      expect(all.text).not.toMatch(/upstream-secret/)
      expect(all.body.items[0].adapter.credentials).toEqual(["apiKey"])

      const activated = yield* server.operator("POST", `/v1/operator/sellers/${a!.id}/activate`)
      expect(activated.body).toMatchObject({ id: a!.id, status: "active" })
      expect((yield* server.operator("GET", "/v1/operator/sellers?status=active")).body.items.map((seller: { id: string }) => seller.id)).toEqual([a!.id])
      expect((yield* server.operator("GET", "/v1/operator/sellers?status=pending")).body.items.map((seller: { id: string }) => seller.id)).toEqual([b!.id])
      problem(yield* server.operator("GET", "/v1/operator/sellers?status=asleep"), 422)

      const shown = yield* server.operator("GET", `/v1/operator/sellers/${b!.id}`)
      expect(shown.body).toMatchObject({ id: b!.id, name: "beta", status: "pending", contact: "beta@sellers.example" })
      expect(shown.text).not.toMatch(/upstream-secret/)
      for (const path of [`/v1/operator/sellers/${crypto.randomUUID()}`, "/v1/operator/sellers/not-an-id"]) problem(yield* server.operator("GET", path), 404)
      problem(yield* server.operator("POST", `/v1/operator/sellers/${crypto.randomUUID()}/activate`), 404)
      problem(yield* server.operator("POST", "/v1/operator/sellers/nope/disable"), 404)

      // Activation and disabling decide who is asked for quotes.
      const ada = yield* server.customer("Ada")
      const offers = () => Effect.map(server.call("GET", `/v1/books/${second}/offers`, { token: ada.key }), (reply) => reply.body.sellers.map((seller: { seller_name: string }) => seller.seller_name))
      expect(yield* offers()).toEqual(["alpha"])
      yield* server.operator("POST", `/v1/operator/sellers/${b!.id}/activate`)
      yield* server.operator("POST", `/v1/operator/sellers/${a!.id}/disable`)
      expect((yield* server.operator("GET", `/v1/operator/sellers/${a!.id}`)).body.status).toBe("disabled")
      expect(yield* offers()).toEqual(["beta"])
    })
  )

  it.live("seller health: circuit, calls, latency and error rate after quotes; an erring seller's circuit opens; unknown is 404", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ customerRateLimit: { requestsPerSecond: 1_000, burst: 1_000 } })
      const [good, bad] = yield* server.registerSellers([
        { name: "good", stock: [{ isbn, price: 1500, quantity: 3 }] },
        { name: "bad", errorRate: 1 }
      ])
      const fresh = yield* server.operator("GET", `/v1/operator/sellers/${good!.id}/health`)
      expect(fresh.status).toBe(200)
      expect(fresh.body).toMatchObject({
        seller_id: good!.id,
        seller_name: "good",
        status: "active",
        circuit: { state: "closed", consecutive_failures: 0, open_until: null },
        limits: { requests_per_second: 1_000 },
        rate: { window_seconds: 60, answered: 0, failed: 0, denied: 0, sent_per_second: 0, utilization: 0 },
        latency_ms: null,
        error_rate: null,
        calls: 0,
        blocked_until: null
      })
      const ada = yield* server.customer("Ada")
      // Different ISBNs: no cached answer, so every request asks both sellers.
      const isbns = generateIsbns({ size: 7, seed: 32 })
      for (const each of isbns) yield* server.call("GET", `/v1/books/${each}/offers`, { token: ada.key })

      const health = yield* server.operator("GET", "/v1/operator/sellers/health")
      expect(health.status).toBe(200)
      const byName = Object.fromEntries(health.body.items.map((item: { seller_name: string }) => [item.seller_name, item]))
      expect(byName["good"]).toMatchObject({ circuit: { state: "closed" }, calls: 7, error_rate: 0, rate: { answered: 7, failed: 0 } })
      expect(byName["good"].latency_ms).toBeGreaterThanOrEqual(0)
      expect(byName["good"].rate.sent_per_second).toBeCloseTo(7 / 60, 5)
      expect(byName["bad"]).toMatchObject({ circuit: { state: "open", consecutive_failures: 5, open_until: expect.any(String) }, calls: 5, rate: { failed: 5, denied: 2 } })
      expect(byName["bad"].error_rate).toBeGreaterThan(0.9)
      expect(byName["bad"].blocked_until).toEqual(expect.any(String))
      expect((yield* server.operator("GET", `/v1/operator/sellers/${bad!.id}/health`)).body.circuit.state).toBe("open")
      problem(yield* server.operator("GET", `/v1/operator/sellers/${crypto.randomUUID()}/health`), 404)
    })
  )

  it.live("purchase requests: every customer's, filtered by status, paged; any one shown with its customer; unknown is 404", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      yield* server.registerSellers([{ name: "shop", stock: [{ isbn, price: 1500, quantity: 10 }] }])
      const ada = yield* server.customer("Ada")
      const bob = yield* server.customer("Bob")
      const adas = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase(), headers: { "idempotency-key": "a" } })
      const bobs = yield* server.call("POST", "/v1/purchase-requests", { token: bob.key, body: purchase({ payment: { token: "tok_decline" } }), headers: { "idempotency-key": "b" } })
      yield* server.awaitTerminal(adas.body.id, ada.key)
      yield* server.awaitTerminal(bobs.body.id, bob.key)

      const all = yield* server.operator("GET", "/v1/operator/purchase-requests")
      expect(all.status).toBe(200)
      expect(new Set(all.body.items.map((item: { id: string; customer_id: string }) => `${item.id}:${item.customer_id}`))).toEqual(
        new Set([`${adas.body.id}:${ada.id}`, `${bobs.body.id}:${bob.id}`])
      )
      const failed = yield* server.operator("GET", "/v1/operator/purchase-requests?status=failed")
      expect(failed.body.items.map((item: { id: string }) => item.id)).toEqual([bobs.body.id])
      const page = yield* server.operator("GET", "/v1/operator/purchase-requests?limit=1")
      expect(page.body.items).toHaveLength(1)
      const rest = yield* server.operator("GET", `/v1/operator/purchase-requests?limit=1&cursor=${page.body.next_cursor}`)
      expect(rest.body.items).toHaveLength(1)
      expect(rest.body.items[0].id).not.toBe(page.body.items[0].id)
      problem(yield* server.operator("GET", "/v1/operator/purchase-requests?cursor=%3Cx%3E"), 400)
      problem(yield* server.operator("GET", "/v1/operator/purchase-requests?status=lost"), 422)

      const shown = yield* server.operator("GET", `/v1/operator/purchase-requests/${adas.body.id}`)
      expect(shown.body).toMatchObject({ id: adas.body.id, customer_id: ada.id, status: "purchased", attempts: [{ seller_name: "shop", status: "confirmed" }] })
      problem(yield* server.operator("GET", `/v1/operator/purchase-requests/${crypto.randomUUID()}`), 404)
      problem(yield* server.operator("GET", "/v1/operator/purchase-requests/nope"), 404)
    })
  )

  it.live("retry: a request that failed on a declined payment runs again with a new token and is bought; anything else is 409", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      yield* server.registerSellers([{ name: "shop", stock: [{ isbn, price: 1500, quantity: 10 }] }])
      const ada = yield* server.customer("Ada")
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase({ payment: { token: "tok_decline" } }), headers: { "idempotency-key": "d" } })
      const failed = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(failed.body).toMatchObject({ status: "failed", reason: expect.stringMatching(/^payment_declined/) })

      // Its token was dropped when it failed: a retry without a new one is a 422 naming the field, and nothing moves.
      const tokenless = yield* server.operator("POST", `/v1/operator/purchase-requests/${created.body.id}/retry`)
      problem(tokenless, 422)
      expect(tokenless.body.detail).toMatch(/keeps no payment method token after it ended: send a new one/)
      expect(tokenless.body.errors).toEqual([{ pointer: "/payment/token", detail: expect.stringMatching(/required/) }])
      expect((yield* server.operator("GET", `/v1/operator/purchase-requests/${created.body.id}`)).body.status).toBe("failed")

      const retried = yield* server.operator("POST", `/v1/operator/purchase-requests/${created.body.id}/retry`, { body: { payment: { token: "tok_approve" } } })
      expect(retried.status).toBe(202)
      expect(retried.body).toMatchObject({ id: created.body.id, customer_id: ada.id, status: "received", terminal: false, reason: null })
      const bought = yield* server.awaitTerminal(created.body.id, ada.key)
      expect(bought.body).toMatchObject({ status: "purchased", final_price: { amount: 1500 }, attempts: [{ seller_name: "shop", status: "confirmed" }] })

      const transitions = yield* server.sql<{ from_status: string; to_status: string; actor: string }>`
        SELECT from_status, to_status, actor FROM state_transitions WHERE request_id = ${created.body.id} AND actor = 'operator'`.pipe(Effect.orDie)
      expect(transitions).toEqual([{ from_status: "failed", to_status: "received", actor: "operator" }])
      const rounds = yield* server.sql<{ round: number; kind: string; status: string }>`
        SELECT round, kind, status FROM payment_operations WHERE request_id = ${created.body.id} ORDER BY id`.pipe(Effect.orDie)
      expect(rounds).toEqual([
        { round: 0, kind: "authorize", status: "declined" },
        { round: 1, kind: "authorize", status: "succeeded" },
        { round: 1, kind: "capture", status: "succeeded" }
      ])

      // Not failed (any more): 409, and nothing changes.
      const again = yield* server.operator("POST", `/v1/operator/purchase-requests/${created.body.id}/retry`, { body: {} })
      problem(again, 409)
      expect(again.body.detail).toMatch(/it is purchased; only failed requests \(or ones set aside after internal errors\) can be retried/)
      problem(yield* server.operator("POST", `/v1/operator/purchase-requests/${crypto.randomUUID()}/retry`, { body: {} }), 404)
      problem(yield* server.operator("POST", `/v1/operator/purchase-requests/${created.body.id}/retry`, { body: { payment: { token: "" } } }), 422)
    })
  )

  it.live("retry refuses a failed request that may still buy or hold money twice, saying why", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const failOne = (key: string) =>
        Effect.gen(function* () {
          const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase({ payment: { token: "tok_decline" } }), headers: { "idempotency-key": key } })
          yield* server.awaitTerminal(created.body.id, ada.key)
          return created.body.id as string
        })
      // Each refusal below is about money, and comes before the missing token (no body) is looked at.
      const retry = (id: string) => server.operator("POST", `/v1/operator/purchase-requests/${id}/retry`)
      const sql = server.sql

      // A live authorization (as a void the provider refused leaves behind).
      const live = yield* failOne("live")
      yield* sql`UPDATE payment_operations SET live = true, status = 'succeeded' WHERE request_id = ${live}`.pipe(Effect.orDie)
      const liveReply = yield* retry(live)
      problem(liveReply, 409)
      expect(liveReply.body.detail).toMatch(/authorization still holds/)

      // A confirmed seller order.
      const ordered = yield* failOne("ordered")
      const sellerId = crypto.randomUUID()
      yield* sql`
        INSERT INTO purchase_attempts (request_id, round, seller_id, seller_name, rank, idempotency_key, status, offer, order_id)
        VALUES (${ordered}, 0, ${sellerId}, 'shop', 0, ${`${ordered}:${sellerId}`}, 'confirmed', '{}'::jsonb, 'order-1')`.pipe(Effect.orDie)
      const orderedReply = yield* retry(ordered)
      problem(orderedReply, 409)
      expect(orderedReply.body.detail).toMatch(/confirmed order order-1/)

      // An attempt whose outcome is unknown.
      const unknown = yield* failOne("unknown")
      yield* sql`
        INSERT INTO purchase_attempts (request_id, round, seller_id, seller_name, rank, idempotency_key, status, offer)
        VALUES (${unknown}, 0, ${sellerId}, 'shop', 0, ${`${unknown}:${sellerId}`}, 'unknown', '{}'::jsonb)`.pipe(Effect.orDie)
      const unknownReply = yield* retry(unknown)
      problem(unknownReply, 409)
      expect(unknownReply.body.detail).toMatch(/attempt at shop is unknown/)

      // The provider never answered the authorization: only after the sweeper has looked it up.
      const unavailable = yield* failOne("unavailable")
      yield* sql`UPDATE purchase_requests SET reason = 'payment_unavailable: timeout' WHERE id = ${unavailable}`.pipe(Effect.orDie)
      const unavailableReply = yield* retry(unavailable)
      problem(unavailableReply, 409)
      expect(unavailableReply.body.detail).toMatch(/sweeper/)
      yield* sql`INSERT INTO sweeper_lookups (request_id, authorizations_found) VALUES (${unavailable}, 0)`.pipe(Effect.orDie)
      problem(yield* retry(unavailable), 422)
      const withToken = yield* server.operator("POST", `/v1/operator/purchase-requests/${unavailable}/retry`, { body: { payment: { token: "tok_approve" } } })
      expect(withToken.status).toBe(202)
      expect(yield* server.count("sweeper_lookups")).toBe(0)

      // None of the refused ones moved.
      for (const id of [live, ordered, unknown]) {
        expect((yield* server.operator("GET", `/v1/operator/purchase-requests/${id}`)).body.status).toBe("failed")
      }
    })
  )

  it.live("customers: created with a key shown once that works at once; listed; a bad body is 422", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const created = yield* server.operator("POST", "/v1/operator/customers", { body: { name: "Grace", email: "grace@example.com" } })
      expect(created.status).toBe(201)
      expect(created.body).toEqual({ id: expect.any(String), name: "Grace", email: "grace@example.com", created_at: expect.any(String), api_key: expect.stringMatching(/^bb_cus_/) })
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: created.body.api_key })).status).toBe(200)
      const anonymous = yield* server.operator("POST", "/v1/operator/customers", { body: { name: "Anon" } })
      expect(anonymous.body.email).toBeNull()
      const list = yield* server.operator("GET", "/v1/operator/customers")
      expect(list.body.items.map((customer: { name: string }) => customer.name)).toEqual(["Grace", "Anon"])
      expect(list.text).not.toMatch(/bb_cus_/)
      problem(yield* server.operator("POST", "/v1/operator/customers", { body: { name: "" } }), 422)
      problem(yield* server.operator("POST", "/v1/operator/customers", { body: { name: "X", email: "nope" } }), 422)
      expect(yield* server.count("customers")).toBe(2)
    })
  )

  it.live("stuck requests and findings: listed for operators, with what a person must do; settled with a note", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      yield* server.registerSellers([{ name: "shop", stock: [{ isbn, price: 1500, quantity: 3 }] }])
      const created = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase(), headers: { "idempotency-key": "stuck-1" } })
      yield* server.awaitTerminal(created.body.id, ada.key)
      const id = created.body.id as string
      // What the pipeline writes when an attempt stays unknown past its deadline (parked: no
      // worker picks it up again before this test is done).
      yield* server.sql`
        UPDATE purchase_requests SET status = 'purchasing', completed_at = NULL, next_run_at = now() + interval '1 hour', attention = 'unresolved_attempt',
          attention_detail = 'the purchase at shop has had no authoritative answer', attention_since = now(),
          waiting = 'waiting for shop to confirm whether the order was placed; an operator is checking with the seller'
        WHERE id = ${id}`.pipe(Effect.orDie)
      yield* server.sql`
        INSERT INTO reconciliation_findings (request_id, kind, detail, fixed) VALUES (${id}, 'attempt_unresolved', 'ask shop whether the order exists', false)`.pipe(Effect.orDie)

      const stuck = yield* server.operator("GET", "/v1/operator/purchase-requests?stuck=true")
      expect(stuck.body.items.map((item: { id: string }) => item.id)).toEqual([id])
      expect(stuck.body.items[0]).toMatchObject({ attention: { kind: "unresolved_attempt", detail: expect.stringMatching(/no authoritative answer/) } })
      // The customer sees why it waits, in our words, and no operator detail.
      const mine = yield* server.call("GET", `/v1/purchase-requests/${id}`, { token: ada.key })
      expect(mine.body.waiting).toMatch(/an operator is checking with the seller/)
      expect(mine.body).not.toHaveProperty("attention")

      const open = yield* server.operator("GET", "/v1/operator/findings?open=true")
      expect(open.body.items).toEqual([{ request_id: id, kind: "attempt_unresolved", detail: "ask shop whether the order exists", fixed: false, found_at: expect.any(String) }])
      const settled = yield* server.operator("POST", `/v1/operator/findings/${id}/attempt_unresolved/settle`, { body: { note: "shop says no order" } })
      expect(settled.body).toMatchObject({ fixed: true, detail: "ask shop whether the order exists — settled: shop says no order" })
      expect((yield* server.operator("GET", "/v1/operator/findings?open=true")).body.items).toEqual([])
      expect((yield* server.operator("GET", `/v1/operator/findings?request_id=${id}`)).body.items).toHaveLength(1)
      problem(yield* server.operator("POST", `/v1/operator/findings/${id}/duplicate_orders/settle`, { body: { note: "x" } }), 404)
      problem(yield* server.operator("POST", `/v1/operator/findings/${id}/no_such_kind/settle`, { body: { note: "x" } }), 422)
      problem(yield* server.operator("POST", `/v1/operator/findings/${id}/attempt_unresolved/settle`, { body: { note: "" } }), 422)
    })
  )
})
