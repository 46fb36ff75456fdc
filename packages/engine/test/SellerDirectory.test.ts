import { referenceAdapter } from "@bookbroker/adapter-reference"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Layer, Redacted } from "effect"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import { SellerDirectory, layer as directoryLayer } from "../src/sellers/SellerDirectory.js"
import { TestDatabase } from "../src/testing/index.js"

const Infrastructure = Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter])).pipe(
  Layer.provideMerge(TestDatabase.layer)
)

// These sellers are "on this machine": the operator allowed loopback.
const TestLayer = directoryLayer({ refreshMillis: 60_000 }).pipe(Layer.provide(OutboundAddress.layerLoopback), Layer.provideMerge(Infrastructure))

// bookbroker's default: sellers on public addresses only.
const PublicOnly = directoryLayer({ refreshMillis: 60_000 }).pipe(Layer.provideMerge(Infrastructure))

const config = { baseUrl: "http://127.0.0.1:9", currency: "EUR" }

describe("SellerDirectory", () => {
  it.layer(TestLayer, { timeout: 60_000 })((it) => {
    it.effect("registers a seller with sealed credentials and reads it back", () =>
      Effect.gen(function* () {
        const directory = yield* SellerDirectory
        const seller = yield* directory.register({
          name: "Paper Moon",
          kind: "reference",
          config,
          credentials: { apiKey: "pm-secret-key" },
          limits: { requestsPerSecond: 5 }
        })
        expect(seller.status).toBe("pending")
        expect(seller.adapterVersion).toBe(referenceAdapter.version)
        expect(Redacted.value(seller.credentials["apiKey"]!)).toBe("pm-secret-key")
        expect(String(seller.credentials["apiKey"])).not.toContain("pm-secret-key")
        const sql = yield* SqlClient.SqlClient
        const [raw] = yield* sql<{ credentials: Buffer; config: unknown }>`SELECT credentials, config FROM sellers WHERE id = ${seller.id}`
        expect(raw!.credentials.toString("latin1")).not.toContain("pm-secret-key")
        expect(raw!.config).toEqual(config)
        const again = yield* directory.get(seller.id)
        expect(again.limits).toEqual({ requestsPerSecond: 5 })
      })
    )

    it.effect("refuses unknown kinds, invalid configs, missing credentials and duplicate names, storing nothing", () =>
      Effect.gen(function* () {
        const directory = yield* SellerDirectory
        const sql = yield* SqlClient.SqlClient
        const before = (yield* sql<{ n: string }>`SELECT count(*)::text AS n FROM sellers`)[0]!.n
        const unknownKind = yield* Effect.flip(directory.register({ name: "X", kind: "carrier-pigeon", config }))
        expect(unknownKind._tag).toBe("UnknownAdapterKind")
        expect(unknownKind.message).toMatch(/installed: reference/)
        const badConfig = yield* Effect.flip(
          directory.register({ name: "Y", kind: "reference", config: { baseUrl: "nope", currency: "EUR" }, credentials: { apiKey: "k" } })
        )
        expect(badConfig._tag).toBe("InvalidSellerConfig")
        expect(badConfig.message).toMatch(/baseUrl/)
        const noCredentials = yield* Effect.flip(directory.register({ name: "Z", kind: "reference", config }))
        expect(noCredentials.message).toMatch(/missing credentials: apiKey/)
        expect((yield* sql<{ n: string }>`SELECT count(*)::text AS n FROM sellers`)[0]!.n).toBe(before)
        yield* directory.register({ name: "Twin", kind: "reference", config, credentials: { apiKey: "k" } })
        const duplicate = yield* Effect.flip(directory.register({ name: "twin", kind: "reference", config, credentials: { apiKey: "k" } }))
        expect(duplicate._tag).toBe("DuplicateSellerName")
      })
    )

    it.effect("activates, disables and updates; the active snapshot follows local writes", () =>
      Effect.gen(function* () {
        const directory = yield* SellerDirectory
        const seller = yield* directory.register({ name: "Book Barn", kind: "reference", config, credentials: { apiKey: "k1" } })
        expect((yield* directory.active).map((s) => s.id)).not.toContain(seller.id)
        yield* directory.setStatus(seller.id, "active")
        expect((yield* directory.active).map((s) => s.id)).toContain(seller.id)
        const updated = yield* directory.update(seller.id, { limits: { burst: 3 }, credentials: { apiKey: "k2" } })
        expect(updated.limits).toEqual({ burst: 3 })
        expect(Redacted.value(updated.credentials["apiKey"]!)).toBe("k2")
        const invalid = yield* Effect.flip(directory.update(seller.id, { limits: { requestsPerSecond: -1 } }))
        expect(invalid._tag).toBe("InvalidSellerConfig")
        yield* directory.setStatus(seller.id, "disabled")
        expect((yield* directory.active).map((s) => s.id)).not.toContain(seller.id)
        expect((yield* directory.list({ status: "disabled" })).map((s) => s.id)).toContain(seller.id)
      })
    )

    it.effect("answers SellerNotFound for unknown and malformed ids", () =>
      Effect.gen(function* () {
        const directory = yield* SellerDirectory
        expect((yield* Effect.flip(directory.get("00000000-0000-0000-0000-000000000000")))._tag).toBe("SellerNotFound")
        expect((yield* Effect.flip(directory.get("robert'); drop table sellers;--")))._tag).toBe("SellerNotFound")
      })
    )
  })

  it.layer(PublicOnly, { timeout: 60_000 })((it) => {
    it.effect("refuses a config that points anywhere but a public address (registration and update), storing nothing", () =>
      Effect.gen(function* () {
        const directory = yield* SellerDirectory
        const sql = yield* SqlClient.SqlClient
        const count = Effect.map(sql<{ n: string }>`SELECT count(*)::text AS n FROM sellers`, (rows) => rows[0]!.n)
        const before = yield* count
        for (const baseUrl of ["http://127.0.0.1:6379", "http://[::1]:5432", "http://0x7f.1:8080", "http://169.254.169.254/latest/meta-data", "http://10.0.0.7", "http://localhost:4010"]) {
          const refused = yield* Effect.flip(directory.register({ name: `Probe ${baseUrl}`, kind: "reference", config: { baseUrl, currency: "EUR" }, credentials: { apiKey: "k" } }))
          expect(refused._tag).toBe("InvalidSellerConfig")
          expect(refused.message).toMatch(/config \/baseUrl ".*" points at .*, which is not a public address: sellers are called on public addresses only/)
        }
        const withCredentials = yield* Effect.flip(
          directory.register({ name: "Userinfo", kind: "reference", config: { baseUrl: "https://user:pw@api.seller.example", currency: "EUR" }, credentials: { apiKey: "k" } })
        )
        expect(withCredentials.message).toMatch(/carries credentials/)
        expect(yield* count).toBe(before)

        const seller = yield* directory.register({ name: "Public Books", kind: "reference", config: { baseUrl: "https://api.publicbooks.example", currency: "EUR" }, credentials: { apiKey: "k" } })
        const moved = yield* Effect.flip(directory.update(seller.id, { config: { baseUrl: "http://127.0.0.1:5432", currency: "EUR" } }))
        expect(moved._tag).toBe("InvalidSellerConfig")
        expect(((yield* directory.get(seller.id)).config as { baseUrl: string }).baseUrl).toBe("https://api.publicbooks.example")
      })
    )
  })
})
