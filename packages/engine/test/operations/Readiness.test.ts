/**
 * Readiness over a real, throw-away PostgreSQL database and a real Redis (127.0.0.1:6379), or
 * none at 127.0.0.1:1: the database is required, the shared state only reported.
 */
import { describe, expect, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Effect, Layer, Logger, Redacted } from "effect"
import * as Readiness from "../../src/operations/Readiness.js"
import * as SharedState from "../../src/state/SharedState.js"
import { TestDatabase } from "../../src/testing/index.js"

const check = (shared: Layer.Layer<SharedState.SharedState>) =>
  Effect.flatMap(Readiness.Readiness, (readiness) => readiness.check).pipe(
    Effect.provide(Readiness.layer.pipe(Layer.provide(shared), Layer.provideMerge(TestDatabase.layer)))
  )

const redis = (url: string) => SharedState.layerRedis({ url, keyPrefix: `bbtest-${randomUUID()}` })

describe("Readiness.check", () => {
  it.live("the database and the in-process shared state answer: ok, ok", () =>
    Effect.gen(function* () {
      expect(yield* check(SharedState.layerMemory())).toEqual({ database: "ok", sharedState: "ok" })
    })
  )

  it.live("a Redis that answers is ok", () =>
    Effect.gen(function* () {
      expect(yield* check(redis("redis://127.0.0.1:6379"))).toEqual({ database: "ok", sharedState: "ok" })
    })
  )

  it.live("Redis unreachable is degraded shared state; the database still ok", () =>
    Effect.gen(function* () {
      expect(yield* check(redis("redis://127.0.0.1:1"))).toEqual({ database: "ok", sharedState: "degraded" })
    }).pipe(Effect.provide(Logger.layer([])))
  )

  it.live("a database that is gone is unreachable, saying why", () =>
    Effect.gen(function* () {
      const readiness = yield* Readiness.Readiness
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ name: string }>`SELECT current_database() AS name`.pipe(Effect.orDie)
      yield* Effect.flatMap(SqlClient.SqlClient, (admin) => admin.unsafe(`DROP DATABASE ${row!.name} WITH (FORCE)`)).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(TestDatabase.adminUrl), maxConnections: 1 })),
        Effect.orDie
      )
      const report = yield* readiness.check
      expect(report.sharedState).toBe("ok")
      expect(report.database).toEqual({ unreachable: expect.stringMatching(/\S/) })
    }).pipe(
      Effect.provide(Readiness.layer.pipe(Layer.provide(SharedState.layerMemory()), Layer.provideMerge(TestDatabase.layer))),
      Effect.provide(Logger.layer([]))
    )
  )
})
