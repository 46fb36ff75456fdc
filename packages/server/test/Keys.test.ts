/**
 * Customer keys that can be taken back (issue 13): an operator revokes or replaces a customer's
 * keys, a customer replaces its own; a revoked key is a 401 problem from then on, and nobody
 * else's key is touched. (How long another process may still accept a revoked key — the
 * engine's `Access.rememberMillis` — is the engine's test, `Access.test.ts`.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as TestServer from "./support/TestServer.js"

const problem = (reply: TestServer.Reply, status: number) => {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { status } })
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.body).toMatchObject({ type: expect.stringMatching(/^urn:bookbroker:problem:/), title: expect.any(String), detail: expect.any(String) })
}

describe("customer keys", () => {
  it.live("an operator revokes a customer's keys: each is a 401 problem at once, other customers go on; POST gives it a new one", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const bob = yield* server.customer("Bob")
      // A second live key of Ada's (as an earlier rotation without `rotate` would leave).
      const second = yield* server.operator("POST", `/v1/operator/customers/${ada.id}/keys`)
      expect(second.status).toBe(201)
      expect(second.body).toEqual({ customer_id: ada.id, name: "Ada", revoked: 1, api_key: expect.stringMatching(/^bb_cus_/) })
      // The replacement revoked the first key.
      problem(yield* server.call("GET", "/v1/purchase-requests", { token: ada.key }), 401)
      // Both of them are used (and so remembered by this process) before the revocation.
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: second.body.api_key })).status).toBe(200)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: bob.key })).status).toBe(200)

      const revoked = yield* server.operator("DELETE", `/v1/operator/customers/${ada.id}/keys`)
      expect(revoked.status).toBe(200)
      expect(revoked.body).toEqual({ customer_id: ada.id, name: "Ada", revoked: 1 })
      for (const path of ["/v1/purchase-requests", `/v1/purchase-requests/${crypto.randomUUID()}`, "/v1/books/9780306406157/offers"]) {
        const refused = yield* server.call("GET", path, { token: second.body.api_key })
        problem(refused, 401)
        expect(refused.body.detail).toMatch(/customer API key/)
      }
      problem(yield* server.call("POST", "/v1/customers/me/keys", { token: second.body.api_key }), 401)
      // Bob is not touched, and Ada is still a customer.
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: bob.key })).status).toBe(200)
      expect((yield* server.operator("GET", "/v1/operator/customers")).body.items.map((customer: { name: string }) => customer.name)).toEqual(["Ada", "Bob"])
      // Revoking again: nothing left to revoke.
      expect((yield* server.operator("DELETE", `/v1/operator/customers/${ada.id}/keys`)).body).toEqual({ customer_id: ada.id, name: "Ada", revoked: 0 })

      // A new key for Ada works at once; the revoked ones stay revoked.
      const fresh = yield* server.operator("POST", `/v1/operator/customers/${ada.id}/keys`)
      expect(fresh.body).toMatchObject({ customer_id: ada.id, revoked: 0 })
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: fresh.body.api_key })).status).toBe(200)
      problem(yield* server.call("GET", "/v1/purchase-requests", { token: second.body.api_key }), 401)
      const rows = yield* server.sql<{ live: number; revoked: number }>`
        SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS live, count(*) FILTER (WHERE revoked_at IS NOT NULL)::int AS revoked
        FROM api_keys WHERE owner_id = ${ada.id}`.pipe(Effect.orDie)
      expect(rows).toEqual([{ live: 1, revoked: 2 }])
    })
  )

  it.live("unknown customers are a 404 problem and change nothing; the routes need the operator token", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      for (const id of [crypto.randomUUID(), "not-a-uuid", "%00"]) {
        for (const method of ["DELETE", "POST"]) {
          const reply = yield* server.operator(method, `/v1/operator/customers/${id}/keys`)
          expect(reply.status, `${method} ${id}`).toBe(404)
          problem(reply, 404)
        }
      }
      problem(yield* server.call("DELETE", `/v1/operator/customers/${ada.id}/keys`, { token: ada.key }), 401)
      problem(yield* server.call("POST", `/v1/operator/customers/${ada.id}/keys`), 401)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).status).toBe(200)
      expect(yield* server.count("api_keys")).toBe(1)
    })
  )

  it.live("a customer replaces its own key: the new one works, the one that asked is a 401 problem", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const bob = yield* server.customer("Bob")
      const rotated = yield* server.call("POST", "/v1/customers/me/keys", { token: ada.key })
      expect(rotated.status).toBe(201)
      expect(rotated.body).toEqual({ api_key: expect.stringMatching(/^bb_cus_/) })
      problem(yield* server.call("GET", "/v1/purchase-requests", { token: ada.key }), 401)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: rotated.body.api_key })).status).toBe(200)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: bob.key })).status).toBe(200)
      // Seller and operator credentials do not rotate a customer's key.
      const [seller] = yield* server.registerSellers([{ name: "shop" }])
      problem(yield* server.call("POST", "/v1/customers/me/keys", { token: seller!.key }), 401)
      problem(yield* server.operator("POST", "/v1/customers/me/keys"), 401)
    })
  )
})
