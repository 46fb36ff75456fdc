/**
 * A seller's registration over a real, throw-away PostgreSQL database: the seller and its first
 * key together, or neither — also when the key cannot be stored after the seller was.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as Access from "../src/Access.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerRegistration from "../src/sellers/SellerRegistration.js"
import { TestDatabase } from "../src/testing/index.js"

const Services = () =>
  SellerRegistration.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 0 }), Access.layer)),
    Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]))),
    Layer.provide(OutboundAddress.layerLoopback),
    Layer.provideMerge(TestDatabase.layer)
  )

const shop = (name: string, config: unknown = { baseUrl: "http://127.0.0.1:9", currency: "EUR" }): SellerDirectory.NewSeller => ({
  name,
  kind: "reference",
  config,
  credentials: { apiKey: "k" },
  status: "pending"
})

const counts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ sellers: number; keys: number }>`SELECT (SELECT count(*)::int FROM sellers) AS sellers, (SELECT count(*)::int FROM api_keys) AS keys`
).pipe(
  Effect.map((rows) => rows[0]!),
  Effect.orDie
)

describe("SellerRegistration.register", () => {
  it.live("stores the seller and a seller key that signs in as it", () =>
    Effect.gen(function* () {
      const registration = yield* SellerRegistration.SellerRegistration
      const { seller, apiKey } = yield* registration.register(shop("shop"))
      expect(seller).toMatchObject({ name: "shop", status: "pending" })
      expect(yield* (yield* SellerDirectory.SellerDirectory).get(seller.id)).toMatchObject({ id: seller.id })
      expect(yield* (yield* Access.Access).authenticate(apiKey)).toEqual(Option.some({ kind: "seller", id: seller.id }))
    }).pipe(Effect.provide(Services()))
  )

  it.live("a refused registration stores neither seller nor key", () =>
    Effect.gen(function* () {
      const registration = yield* SellerRegistration.SellerRegistration
      yield* registration.register(shop("shop"))
      expect((yield* Effect.flip(registration.register(shop("shop"))))._tag).toBe("DuplicateSellerName")
      expect((yield* Effect.flip(registration.register(shop("other", { currency: "EUR" }))))._tag).toBe("InvalidSellerConfig")
      expect(yield* counts).toEqual({ sellers: 1, keys: 1 })
    }).pipe(Effect.provide(Services()))
  )

  it.live("a key that cannot be stored takes the seller back with it (a defect, not a business error)", () =>
    Effect.gen(function* () {
      const registration = yield* SellerRegistration.SellerRegistration
      const sql = yield* SqlClient.SqlClient
      yield* sql`ALTER TABLE api_keys ADD CONSTRAINT refuse_new_keys CHECK (false) NOT VALID`.pipe(Effect.orDie)
      const exit = yield* Effect.exit(registration.register(shop("shop")))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      expect(yield* counts).toEqual({ sellers: 0, keys: 0 })
    }).pipe(Effect.provide(Services()))
  )
})
