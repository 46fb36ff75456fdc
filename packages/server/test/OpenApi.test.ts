/**
 * The OpenAPI document and the typed client: the committed `openapi.json` and
 * `src/client/schema.generated.ts` are what the API definition generates now (run
 * `pnpm --filter @bookbroker/server openapi` after changing the API), every operation lists the
 * problems it can answer, and the generated client drives the real server.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { SimulatedSellers } from "@bookbroker/engine/testing"
import { describe, expect, it } from "@effect/vitest"
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import { document, generate, openApiPath, schemaPath } from "../scripts/generate.js"
import { createBookbrokerClient, describeProblem } from "../src/client/Client.js"
import * as TestServer from "./support/TestServer.js"

const [isbn] = generateIsbns({ size: 1, seed: 51 }) as [Isbn.Isbn13]

interface Operation {
  readonly security?: ReadonlyArray<Record<string, unknown>>
  readonly requestBody?: unknown
  readonly parameters?: ReadonlyArray<{ readonly in: string }>
  readonly responses: Record<string, { readonly content?: Record<string, unknown> }>
}

const operations = () => {
  const spec = document() as unknown as { paths: Record<string, Record<string, Operation>> }
  return Object.entries(spec.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })))
}

describe("OpenAPI document and typed client", () => {
  it.live("openapi.json and schema.generated.ts are up to date (pnpm --filter @bookbroker/server openapi)", () =>
    Effect.gen(function* () {
      const fresh = yield* Effect.promise(() => generate())
      const [openapi, schema] = yield* Effect.promise(() => Promise.all([readFile(openApiPath, "utf8"), readFile(schemaPath, "utf8")]))
      expect(openapi === fresh.openapi, "packages/server/openapi.json is stale: run pnpm --filter @bookbroker/server openapi").toBe(true)
      expect(schema === fresh.schema, "packages/server/src/client/schema.generated.ts is stale: run pnpm --filter @bookbroker/server openapi").toBe(true)
      expect(JSON.parse(openapi).openapi).toBe("3.1.0")
    })
  )

  it("every operation lists the problems it can answer, as application/problem+json", () => {
    const all = operations()
    expect(all.length).toBeGreaterThanOrEqual(24)
    for (const { name, operation } of all) {
      const statuses = Object.keys(operation.responses)
      const errors = statuses.filter((status) => Number(status) >= 400)
      expect(errors, name).toEqual(expect.arrayContaining(["400", "413", "415"]))
      for (const status of errors) expect(Object.keys(operation.responses[status]!.content ?? {}), `${name} ${status}`).toEqual(["application/problem+json"])
      if ((operation.security ?? []).length > 0) expect(statuses, `${name} is authenticated`).toContain("401")
      const queried = (operation.parameters ?? []).some((parameter) => parameter.in === "query")
      if (operation.requestBody !== undefined || queried) expect(statuses, `${name} takes input`).toContain("422")
      if (/\{id\}/.test(name)) expect(statuses, `${name} names a resource`).toContain("404")
    }
    const byName = new Map(all.map(({ name, operation }) => [name, operation]))
    expect(Object.keys(byName.get("POST /v1/sellers")!.responses)).toEqual(expect.arrayContaining(["201", "409", "422", "429"]))
    expect(byName.get("POST /v1/sellers")!.security).toEqual([])
    expect(Object.keys(byName.get("POST /v1/operator/purchase-requests/{id}/retry")!.responses)).toEqual(expect.arrayContaining(["202", "404", "409"]))
    expect(Object.keys(byName.get("POST /v1/sellers/me/offers")!.responses)).toContain("403")
    expect(Object.keys(byName.get("GET /readyz")!.responses)).toContain("503")
  })

  it.live("the served /openapi.json is the committed document", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const served = (yield* server.call("GET", "/openapi.json")).body
      const committed = JSON.parse(yield* Effect.promise(() => readFile(openApiPath, "utf8")))
      expect(served).toEqual(committed)
    })
  )

  it.live("the typed client: an operator creates a customer, a seller registers, the customer buys", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const operator = createBookbrokerClient({ baseUrl: server.url, apiKey: TestServer.operatorToken })
      const anonymous = createBookbrokerClient({ baseUrl: server.url })

      const created = yield* Effect.promise(() => operator.POST("/v1/operator/customers", { body: { name: "Client Ada", email: "ada@example.com" } }))
      expect(created.response.status).toBe(201)
      const customer = createBookbrokerClient({ baseUrl: server.url, apiKey: created.data!.api_key })

      const [simulated] = yield* SimulatedSellers.startSellers([{ name: "typed-shop", stock: [{ isbn, price: 1800, quantity: 2 }] }])
      const registered = yield* Effect.promise(() =>
        anonymous.POST("/v1/sellers", {
          body: {
            name: "typed-shop",
            adapter: { kind: "reference", config: { ...simulated!.config }, credentials: { apiKey: simulated!.apiKey } },
            limits: { requests_per_second: 100, burst: 100, timeout_ms: 1_000 }
          }
        })
      )
      expect(registered.data?.status).toBe("pending")
      const activated = yield* Effect.promise(() => operator.POST("/v1/operator/sellers/{id}/activate", { params: { path: { id: registered.data!.id } } }))
      expect(activated.data?.status).toBe("active")
      const seller = createBookbrokerClient({ baseUrl: server.url, apiKey: registered.data!.api_key })
      expect((yield* Effect.promise(() => seller.GET("/v1/sellers/me"))).data?.capabilities?.holds).toBe(true)

      const offers = yield* Effect.promise(() => customer.GET("/v1/books/{isbn}/offers", { params: { path: { isbn } } }))
      expect(offers.data?.offers.map((offer) => [offer.seller_name, offer.total.amount])).toEqual([["typed-shop", 1800]])

      const submitted = yield* Effect.promise(() =>
        customer.POST("/v1/purchase-requests", {
          params: { header: { "idempotency-key": "typed-1" } },
          body: {
            isbn,
            max_price: { amount: 2000, currency: "EUR" },
            payment: { token: "tok_approve" },
            customer: { name: "Ada", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
          }
        })
      )
      expect(submitted.response.status).toBe(202)
      const done = yield* server.awaitTerminal(submitted.data!.id, created.data!.api_key)
      expect(done.body.status).toBe("purchased")
      const shown = yield* Effect.promise(() => operator.GET("/v1/operator/purchase-requests/{id}", { params: { path: { id: submitted.data!.id } } }))
      expect(shown.data).toMatchObject({ status: "purchased", customer_id: created.data!.id, final_price: { amount: 1800 } })

      // Errors are typed problems.
      const missing = yield* Effect.promise(() => customer.GET("/v1/purchase-requests/{id}", { params: { path: { id: crypto.randomUUID() } } }))
      expect(missing.data).toBeUndefined()
      expect(missing.error).toMatchObject({ status: 404, type: "urn:bookbroker:problem:not-found" })
      expect(describeProblem(missing.error)).toMatch(/^404 Not found: /)
      const unauthorized = yield* Effect.promise(() => anonymous.GET("/v1/sellers/me"))
      expect(unauthorized.error?.status).toBe(401)
    })
  )
})
