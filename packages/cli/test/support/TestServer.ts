/**
 * A real bookbroker server for the CLI's service tests: the engine and the HTTP API on a free
 * port over a throw-away PostgreSQL database (as `packages/server/test/support/TestServer.ts`),
 * with simulated sellers over real HTTP and a customer. The services under test talk to it
 * through the CLI's own `Api`, exactly as the commands do.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { Access, Engine, OutboundAddress, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { SimulatedSellers, TestDatabase } from "@bookbroker/engine/testing"
import { Server } from "@bookbroker/server"
import { HttpServer } from "effect/http"
import { Context, Effect, Layer, Redacted } from "effect"
import type { NetAddress } from "effect/net"
import * as Api from "../../src/Api.js"

export const operatorToken = "cli-test-operator-token-0123456789"

export const [carried, nobodyCarries, lowStock] = generateIsbns({ size: 3, seed: 4242 }) as unknown as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]

/** Three sellers carry `carried` at 12.00, 15.00 and 18.00 (free shipping); nobody has `nobodyCarries`. */
export const sellerSpecs: ReadonlyArray<SimulatedSellers.SimulatedSellerSpec> = [
  { name: "cli-alpha", mode: "hold", stock: [{ isbn: carried, price: 1200, quantity: 1000 }, { isbn: lowStock, price: 900, quantity: 1000 }], latency: { medianMillis: 5 } },
  { name: "cli-beta", mode: "atomic", batch: true, stock: [{ isbn: carried, price: 1500, quantity: 1000 }], latency: { medianMillis: 10 } },
  { name: "cli-gamma", mode: "hold", stock: [{ isbn: carried, price: 1800, quantity: 1000 }], latency: { medianMillis: 15 } }
]

export interface Fixture {
  readonly url: string
  readonly customerKey: string
  readonly customerId: string
  /** The CLI's API as the test customer and the operator. */
  readonly api: Api.Api
  readonly sellers: ReadonlyArray<SimulatedSellers.RunningSeller & { readonly id: string }>
}

export class TestServer extends Context.Service<TestServer, Fixture>()("@bookbroker/cli/test/TestServer") {}

export const layer: Layer.Layer<TestServer> = Layer.effect(
  TestServer,
  Effect.gen(function* () {
    const stack = Server.layer({ port: 0, operatorToken: Redacted.make(operatorToken) }).pipe(
      Layer.provideMerge(
        Engine.layer({
          adapters: [referenceAdapter],
          secretKey: Redacted.make(SecretBox.generateKey()),
          pipeline: { leaseMillis: 2_000, maxBackoffMillis: 50 },
          quotes: { deadlineMillis: 2_000 },
          workers: { pollMillis: 20 },
          directoryRefreshMillis: 0,
          // The simulated sellers run on this machine.
          outbound: OutboundAddress.loopback
        })
      ),
      Layer.provideMerge(TestDatabase.layer)
    )
    const context = yield* Layer.build(stack)
    const address = Context.get(context, HttpServer.HttpServer).address as NetAddress.InetAddress
    const url = `http://127.0.0.1:${address.port}`
    const access = Context.get(context, Access.Access)
    const directory = Context.get(context, SellerDirectory.SellerDirectory)

    const running = yield* SimulatedSellers.startSellers(sellerSpecs)
    const sellers = yield* Effect.forEach(running, (seller) =>
      Effect.map(
        directory.register({
          name: seller.name,
          kind: "reference",
          config: seller.config,
          credentials: { apiKey: seller.apiKey },
          limits: { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 },
          status: "active"
        }),
        (registered) => ({ ...seller, id: registered.id })
      )
    )
    const { customer, apiKey } = yield* access.createCustomer("CLI Tester", "cli@example.com")
    const customerKey = Redacted.value(apiKey)
    return { url, customerKey, customerId: customer.id, api: Api.make({ baseUrl: url, apiKey: customerKey, operatorToken }), sellers }
  }).pipe(Effect.orDie)
)

/** An API at an address where nothing listens: any call would fail with "nothing answers". */
export const deadApi = Api.make({ baseUrl: "http://127.0.0.1:2", apiKey: "bb_cus_nobody", operatorToken: "nobody" })
