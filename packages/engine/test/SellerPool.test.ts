/**
 * The seller connection pool connects only where the outbound policy allows, at every connect:
 * a seller whose address is (or has become) private is never sent a byte, and the refusal is a
 * "not sent" failure, so a purchase there is a plain failure, never an unknown outcome.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import { SimulatedSellers, TestDatabase } from "../src/testing/index.js"

const [isbn] = generateIsbns({ size: 1, seed: 91 }) as [Isbn.Isbn13]

const Infrastructure = Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter])).pipe(
  Layer.provideMerge(TestDatabase.layer)
)

const pool = (policy: OutboundAddress.OutboundPolicyService) =>
  Effect.map(Layer.build(SellerPool.layer().pipe(Layer.provide(Layer.succeed(OutboundAddress.OutboundPolicy, policy)))), (context) =>
    Context.get(context, SellerPool.SellerPool)
  )

describe("SellerPool", () => {
  it.live("never connects to a seller on an address the policy does not allow; the refusal says nothing was sent", () =>
      Effect.gen(function* () {
        const [running] = yield* SimulatedSellers.startSellers([{ name: "loopback-books", stock: [{ isbn, price: 1500, quantity: 2 }] }])
        // Registered while loopback was allowed (an operator's choice that was later withdrawn).
        const seller = yield* SellerDirectory.SellerDirectory.pipe(
          Effect.flatMap((directory) =>
            directory.register({ name: running!.name, kind: "reference", config: running!.config, credentials: { apiKey: running!.apiKey }, status: "active" })
          ),
          Effect.provide(SellerDirectory.layer().pipe(Layer.provide(OutboundAddress.layerLoopback)))
        )

        const publicOnly = yield* (yield* pool({ allowNetworks: [] })).client(seller)
        const refused = yield* Effect.flip(publicOnly.quote([isbn]))
        expect(refused).toMatchObject({ _tag: "SellerUnavailable", reason: "transport", mayHaveBeenProcessed: false })
        expect(refused._tag === "SellerUnavailable" && refused.detail).toMatch(/127\.0\.0\.1 is not a public address; not connecting/)
        expect(running!.simulator.calls.quote).toBe(0)

        const allowed = yield* (yield* pool(OutboundAddress.loopback)).client(seller)
        const quoted = yield* allowed.quote([isbn])
        expect(quoted[0]).toMatchObject({ isbn, available: true })
        expect(running!.simulator.calls.quote).toBe(1)
      }).pipe(Effect.provide(Infrastructure), Effect.scoped),
    60_000
  )

  it.live("clients for a fan-out: in order, each the one client of its seller's version, a seller whose config the adapter refuses a failure in its place", () =>
    Effect.gen(function* () {
      const directory = yield* SellerDirectory.SellerDirectory.pipe(Effect.provide(SellerDirectory.layer().pipe(Layer.provide(OutboundAddress.layerLoopback))))
      const good = yield* directory.register({ name: "good", kind: "reference", config: { baseUrl: "http://127.0.0.1:1", currency: "EUR" }, credentials: { apiKey: "k" }, status: "active" })
      const other = yield* directory.register({ name: "other", kind: "reference", config: { baseUrl: "http://127.0.0.1:2", currency: "EUR" }, credentials: { apiKey: "k" }, status: "active" })
      const sellers = yield* pool(OutboundAddress.loopback)
      const built = yield* sellers.client(good)
      // The same seller as stored, with a config its adapter no longer accepts.
      const broken = { ...other, id: "broken", config: { currency: "EUR" } }
      const results = yield* sellers.clients([good, broken, other])
      expect(results.map((result) => result._tag)).toEqual(["Success", "Failure", "Success"])
      expect(results[0]!._tag === "Success" && results[0]!.success).toBe(built)
      expect(results[1]!._tag === "Failure" && results[1]!.failure).toMatchObject({ _tag: "InvalidSellerConfig", sellerId: "broken" })
      const again = yield* sellers.clients([other, good])
      expect(again.map((result) => result._tag === "Success" && result.success)).toEqual([results[2]!._tag === "Success" && results[2]!.success, built])
    }).pipe(Effect.provide(Infrastructure), Effect.scoped)
  )
})
