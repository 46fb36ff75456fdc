/**
 * The real server on a free port over a throw-away database, with simulated sellers and the
 * sandbox payment ledger; requests go over real HTTP (undici).
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { HttpServer } from "effect/http"
import { Access, Engine, OutboundAddress, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { SimulatedSellers, TestDatabase } from "@bookbroker/engine/testing"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import type { NetAddress } from "effect/net"
import { request } from "undici"
import * as Server from "../../src/Server.js"
import type { ServerSettings } from "../../src/Config.js"

export const operatorToken = "operator-test-token-0123456789"

/** A valid `POST /v1/purchase-requests` body for `isbn` (EUR 30.00 at most, sandbox card), with `overrides`. */
export const purchaseBody = (isbn: string, overrides: Record<string, unknown> = {}) => ({
  isbn,
  max_price: { amount: 3000, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } },
  ...overrides
})

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | undefined>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test replies are inspected field by field
  readonly body: any
  readonly text: string
}

export interface RequestOptions {
  readonly token?: string
  readonly body?: unknown
  /** Sent as is (for malformed bodies). */
  readonly raw?: string
  readonly headers?: Record<string, string>
}

export interface StartOptions {
  /** Shared state for the engine; in-process by default. */
  readonly sharedState?: Engine.EngineOptions["sharedState"]
  readonly intake?: Engine.EngineOptions["intake"]
  /** Run purchase workers (default true). */
  readonly workers?: boolean
  /** Where bookbroker may call (sellers, notify_urls); default loopback, where the simulated sellers run. */
  readonly outbound?: OutboundAddress.OutboundPolicyService
  /** The operator's exchange rates (none by default). */
  readonly exchangeRates?: Engine.EngineOptions["exchangeRates"]
  /** How long a verified key is remembered (`Access.RememberMillis`; 1 s by default). */
  readonly rememberKeysMillis?: number
}

/** A seller registered over HTTP, with its API key and the simulated seller behind it. */
export interface RegisteredSeller {
  readonly id: string
  readonly key: string
  readonly status: string
  readonly seller: SimulatedSellers.RunningSeller
}

export const start = (settings: Partial<ServerSettings> = {}, options: StartOptions = {}) =>
  Effect.gen(function* () {
    const layer = Server.layer({ port: 0, operatorToken: Redacted.make(operatorToken), settings }).pipe(
      Layer.provideMerge(
        Engine.layer({
          ...(options.sharedState === undefined ? {} : { sharedState: options.sharedState }),
          ...(options.intake === undefined ? {} : { intake: options.intake }),
          ...(options.exchangeRates === undefined ? {} : { exchangeRates: options.exchangeRates }),
          adapters: [referenceAdapter],
          secretKey: Redacted.make(SecretBox.generateKey()),
          pipeline: { leaseMillis: 2_000, maxBackoffMillis: 50 },
          quotes: { deadlineMillis: 2_000 },
          workers: options.workers === false ? false : { pollMillis: 20 },
          directoryRefreshMillis: 0,
          outbound: options.outbound ?? OutboundAddress.loopback
        })
      ),
      Layer.provideMerge(TestDatabase.layer),
      Layer.provide(options.rememberKeysMillis === undefined ? Layer.empty : Layer.succeed(Access.RememberMillis, options.rememberKeysMillis))
    )
    const context = yield* Layer.build(layer)
    const address = Context.get(context, HttpServer.HttpServer).address as NetAddress.InetAddress
    const url = `http://127.0.0.1:${address.port}`
    const access = Context.get(context, Access.Access)
    const sql = Context.get(context, SqlClient.SqlClient)
    const directory = Context.get(context, SellerDirectory.SellerDirectory)

    const call = (method: string, path: string, options: RequestOptions = {}): Effect.Effect<Reply> =>
      Effect.promise(async () => {
        const headers: Record<string, string> = { ...options.headers }
        if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
        let body: string | undefined = options.raw
        if (options.body !== undefined) {
          body = JSON.stringify(options.body)
          headers["content-type"] ??= "application/json"
        }
        const response = await request(`${url}${path}`, { method: method as "GET", headers, body: body ?? null })
        const text = await response.body.text()
        let parsed: unknown = undefined
        try {
          parsed = text === "" ? undefined : JSON.parse(text)
        } catch {
          parsed = undefined
        }
        const flat: Record<string, string | undefined> = {}
        for (const [name, value] of Object.entries(response.headers)) flat[name] = Array.isArray(value) ? value.join(", ") : value
        return { status: response.statusCode, headers: flat, body: parsed, text }
      })

    const customer = (name = "Ada") =>
      Effect.map(access.createCustomer(name, `${name.toLowerCase()}@example.com`), ({ customer, apiKey }) => ({ id: customer.id, key: Redacted.value(apiKey) }))

    const sellers = (specs: ReadonlyArray<SimulatedSellers.SimulatedSellerSpec>) =>
      Effect.gen(function* () {
        const running = yield* SimulatedSellers.startSellers(specs)
        yield* Effect.forEach(running, (seller) =>
          directory.register({
            name: seller.name,
            kind: "reference",
            config: seller.config,
            credentials: { apiKey: seller.apiKey },
            limits: { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 },
            status: "active"
          })
        )
        return running
      })

    /** A call with the operator token. */
    const operator = (method: string, path: string, options: Omit<RequestOptions, "token"> = {}) => call(method, path, { ...options, token: operatorToken })

    /** The registration body for a simulated seller (reference adapter). */
    const registration = (seller: SimulatedSellers.RunningSeller, overrides: Record<string, unknown> = {}) => ({
      name: seller.name,
      contact: `${seller.name}@sellers.example`,
      adapter: { kind: "reference", config: seller.config, credentials: { apiKey: seller.apiKey } },
      limits: { requests_per_second: 1_000, burst: 1_000, timeout_ms: 1_000 },
      ...overrides
    })

    /** Simulated sellers that register themselves over HTTP (`POST /v1/sellers`), activated by the operator unless told not to. */
    const registerSellers = (specs: ReadonlyArray<SimulatedSellers.SimulatedSellerSpec>, registerOptions: { readonly activate?: boolean } = {}) =>
      Effect.gen(function* () {
        const running = yield* SimulatedSellers.startSellers(specs)
        return yield* Effect.forEach(running, (seller) =>
          Effect.gen(function* () {
            const reply = yield* call("POST", "/v1/sellers", { body: registration(seller) })
            if (reply.status !== 201) return yield* Effect.die(new Error(`registering ${seller.name}: ${reply.status} ${reply.text}`))
            let status: string = reply.body.status
            if (registerOptions.activate !== false && status !== "active") {
              const activated = yield* operator("POST", `/v1/operator/sellers/${reply.body.id}/activate`)
              if (activated.status !== 200) return yield* Effect.die(new Error(`activating ${seller.name}: ${activated.status} ${activated.text}`))
              status = activated.body.status
            }
            return { id: reply.body.id as string, key: reply.body.api_key as string, status, seller } satisfies RegisteredSeller
          })
        )
      })

    const count = (table: string) => Effect.map(sql.unsafe<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`), (rows) => Number(rows[0]!.n)).pipe(Effect.orDie)

    /** Polls a purchase request until it is terminal. */
    const awaitTerminal = (id: string, token: string) =>
      Effect.gen(function* () {
        for (let i = 0; i < 300; i++) {
          const reply = yield* call("GET", `/v1/purchase-requests/${id}`, { token })
          if (reply.body?.terminal === true) return reply
          yield* Effect.sleep(20)
        }
        return yield* Effect.die(new Error(`purchase request ${id} did not finish`))
      })

    return { url, call, operator, customer, sellers, registration, registerSellers, count, awaitTerminal, access, sql, directory }
  })

export type TestServer = Effect.Success<ReturnType<typeof start>>
export type { Scope }
