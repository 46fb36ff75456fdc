/**
 * The worker loop: an idle worker is woken by the "there is work" signal (PostgreSQL
 * LISTEN/NOTIFY) rather than only by its next poll.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer } from "effect"
import * as Purchases from "../src/purchases/Purchases.js"
import * as PurchaseWorker from "../src/purchases/PurchaseWorker.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [isbn] = generateIsbns({ size: 1, seed: 515 }) as [Isbn.Isbn13]
const Infrastructure = Harness.infrastructure(new SandboxGateway.SandboxFaults())

describe("PurchaseWorker", () => {
  /** The backend pids of this database's listen connections. */
  const listeners = Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`,
      (rows) => rows.map((row) => row.pid)
    )
  )
  /** Waits (bounded) until `ok`; a failure of the test, never a speed claim. */
  const eventually = <A, E, R>(read: Effect.Effect<A, E, R>, ok: (value: A) => boolean) =>
    Effect.gen(function* () {
      let value = yield* read
      for (let round = 0; round < 400 && !ok(value); round++) {
        yield* Effect.sleep(50)
        value = yield* read
      }
      return value
    })
  const bought = (id: string) => Effect.flatMap(Purchases.Purchases, (purchases) => eventually(purchases.get(id), (view) => view.terminal))

  it.live("an idle worker takes new work when it is submitted, not at its next poll; also after its listen connection was killed", () =>
    Effect.gen(function* () {
      yield* Effect.tap(Harness.SimulatedSellers.startSellers([{ name: "cheap", stock: [{ isbn, price: 1200, quantity: 3 }] }]), (running) =>
        Harness.register(running)
      )
      // Polls once at start, then would sleep ten minutes: only the signal can wake it in time.
      const context = yield* Layer.build(PurchaseWorker.layerRunning({ workerId: "sleepy", pollMillis: 600_000 }).pipe(Layer.provide(Harness.engine())))
      void Context.get(context, PurchaseWorker.PurchaseWorker)
      // Submit once its listen connection is up (a notification before that would be missed).
      const [first] = yield* eventually(listeners, (pids) => pids.length > 0)
      expect(first).toBeDefined()
      expect((yield* bought((yield* Harness.submit(isbn, 3000)).id)).status).toBe("purchased")

      // The listen connection dies quietly; the worker notices its own ping is not coming back
      // and listens again on a new connection.
      const sql = yield* SqlClient.SqlClient
      yield* sql`SELECT pg_terminate_backend(${first!})`
      const renewed = yield* eventually(listeners, (pids) => pids.length > 0 && !pids.includes(first!))
      expect(renewed.length).toBeGreaterThan(0)
      expect((yield* bought((yield* Harness.submit(isbn, 3000)).id)).status).toBe("purchased")
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a quiet worker keeps its one listen connection: its own ping comes back, nothing is rebuilt", () =>
    Effect.gen(function* () {
      // Checks every 200 ms; a ping that never came back would drop the listener each time (a new backend every ~300 ms).
      const context = yield* Layer.build(
        PurchaseWorker.layerRunning({ workerId: "quiet", pollMillis: 600_000, listenCheckMillis: 200 }).pipe(Layer.provide(Harness.engine()))
      )
      void Context.get(context, PurchaseWorker.PurchaseWorker)
      const [first] = yield* eventually(listeners, (pids) => pids.length > 0)
      const seen = new Set<number>()
      for (let round = 0; round < 20; round++) {
        yield* Effect.sleep(100)
        for (const pid of yield* listeners) seen.add(pid)
      }
      expect([...seen]).toEqual([first])
    }).pipe(Effect.provide(Infrastructure))
  )
})
