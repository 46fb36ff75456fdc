/**
 * What is in force for a seller, over a real, throw-away PostgreSQL database: the adapter's
 * limits with the seller's overrides and its capabilities, or why the adapter refuses it.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Layer, Redacted } from "effect"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SellerViews from "../src/sellers/SellerViews.js"
import { TestDatabase } from "../src/testing/index.js"

const Services = SellerViews.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 0 }), SellerPool.layer())),
  Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
  Layer.provideMerge(TestDatabase.layer)
)

const register = (limits: NonNullable<SellerDirectory.NewSeller["limits"]>) =>
  Effect.flatMap(SellerDirectory.SellerDirectory, (directory) =>
    directory.register({ name: "shop", kind: "reference", config: { baseUrl: "http://127.0.0.1:9", currency: "EUR" }, credentials: { apiKey: "k" }, limits })
  )

describe("SellerViews.inForce", () => {
  it.live("a usable seller: its overrides over the adapter's limits, the adapter's capabilities", () =>
    Effect.gen(function* () {
      const seller = yield* register({ requestsPerSecond: 7 })
      const inForce = yield* (yield* SellerViews.SellerViews).inForce(seller)
      expect(inForce._tag).toBe("Usable")
      if (inForce._tag !== "Usable") return
      expect(inForce.limits.requestsPerSecond).toBe(7)
      expect(inForce.limits.burst).toBeGreaterThan(0)
      expect(inForce.capabilities).toMatchObject({ holds: expect.any(Boolean), orderLookup: expect.any(Boolean) })
    }).pipe(Effect.provide(Services), Effect.scoped)
  )

  it.live("a seller whose stored config the adapter refuses: why, instead of limits", () =>
    Effect.gen(function* () {
      const directory = yield* SellerDirectory.SellerDirectory
      const seller = yield* register({})
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE sellers SET config = '{}'::jsonb, updated_at = now() + interval '1 second' WHERE id = ${seller.id}`.pipe(Effect.orDie)
      const inForce = yield* (yield* SellerViews.SellerViews).inForce(yield* directory.get(seller.id))
      expect(inForce).toEqual({ _tag: "Refused", detail: expect.stringMatching(/config/) })
      expect(SellerViews.limitsOf(inForce)).toBeNull()
    }).pipe(Effect.provide(Services), Effect.scoped)
  )
})
