/**
 * The example end to end: a real bookbroker server (throw-away database, simulated sellers, the
 * sandbox payment ledger) on a free port, then `src/main.ts` run as a program against it.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { Access, Engine, OutboundAddress, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { SimulatedSellers, TestDatabase } from "@bookbroker/engine/testing"
import { Server } from "@bookbroker/server"
import { HttpServer } from "effect/http"
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Context, Effect, Layer, Redacted } from "effect"
import type { NetAddress } from "effect/net"
import { buy } from "../src/ApiClient.js"

const [isbn] = generateIsbns({ size: 1, seed: 61 }) as [Isbn.Isbn13]
const root = fileURLToPath(new URL("..", import.meta.url))

const startServer = Effect.gen(function* () {
  const layer = Server.layer({ port: 0, operatorToken: Redacted.make("example-operator-token") }).pipe(
    Layer.provideMerge(
      Engine.layer({
        adapters: [referenceAdapter],
        secretKey: Redacted.make(SecretBox.generateKey()),
        pipeline: { leaseMillis: 2_000, maxBackoffMillis: 50 },
        workers: { pollMillis: 20 },
        directoryRefreshMillis: 0,
        // The simulated sellers run on this machine.
        outbound: OutboundAddress.loopback
      })
    ),
    Layer.provideMerge(TestDatabase.layer)
  )
  const context = yield* Layer.build(layer)
  const address = Context.get(context, HttpServer.HttpServer).address as NetAddress.InetAddress
  const directory = Context.get(context, SellerDirectory.SellerDirectory)
  const sellers = yield* SimulatedSellers.startSellers([
    { name: "corner-books", stock: [{ isbn, price: 1650, shipping: 0, quantity: 2 }] },
    { name: "big-shelf", stock: [{ isbn, price: 1400, shipping: 0, quantity: 2 }] }
  ])
  yield* Effect.forEach(sellers, (seller) =>
    directory.register({ name: seller.name, kind: "reference", config: seller.config, credentials: { apiKey: seller.apiKey }, status: "active" })
  )
  const { apiKey } = yield* Context.get(context, Access.Access).createCustomer("Example Reader")
  return { url: `http://127.0.0.1:${address.port}`, apiKey: Redacted.value(apiKey) }
})

const run = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.callback<{ code: number; stdout: string; stderr: string }>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }))
    )
  })

describe("api-client example", () => {
  it.live("src/main.ts lists the offers and buys the cheapest through the typed client", () =>
    Effect.gen(function* () {
      const server = yield* startServer
      const result = yield* run([isbn], { BOOKBROKER_URL: server.url, BOOKBROKER_API_KEY: server.apiKey, BOOKBROKER_MAX_PRICE: "2000" })
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/2 offers for \d{13}/)
      expect(result.stdout).toMatch(/14\.00 EUR {2}big-shelf/)
      expect(result.stdout).toMatch(/purchased for 14\.00 EUR \(order /)
    }),
    60_000
  )

  it.live("buy: a maximum below every offer ends price_not_met; a bad key is a clear error", () =>
    Effect.gen(function* () {
      const server = yield* startServer
      const result = yield* Effect.promise(() => buy({ baseUrl: server.url, apiKey: server.apiKey, isbn, maxPrice: { amount: 1000, currency: "EUR" }, paymentToken: "tok_approve" }))
      expect(result).toMatchObject({ status: "price_not_met", finalPrice: null, offers: [{ seller: "big-shelf", total: 1400 }, { seller: "corner-books", total: 1650 }] })
      const refused = yield* run([isbn], { BOOKBROKER_URL: server.url, BOOKBROKER_API_KEY: "bb_cus_wrong" })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/^offers: 401 /)
    }),
    60_000
  )
})
