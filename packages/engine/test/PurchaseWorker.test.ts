/**
 * The worker loop: an idle worker is woken by the "there is work" signal (PostgreSQL
 * LISTEN/NOTIFY) rather than only by its next poll.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import * as Purchases from "../src/Purchases.js"
import * as PurchaseWorker from "../src/PurchaseWorker.js"
import * as SandboxGateway from "../src/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [isbn] = generateIsbns({ size: 1, seed: 515 }) as [Isbn.Isbn13]
const Infrastructure = Harness.infrastructure(new SandboxGateway.SandboxFaults())

describe("PurchaseWorker", () => {
  it.scopedLive("an idle worker takes new work when it is submitted, not at its next poll", () =>
    Effect.gen(function* () {
      yield* Effect.tap(Harness.SimulatedSellers.startSellers([{ name: "cheap", stock: [{ isbn, price: 1200, quantity: 3 }] }]), (running) =>
        Harness.register(running)
      )
      // Polls once at start, then would sleep ten minutes: only the signal can wake it in time.
      const context = yield* Layer.build(PurchaseWorker.layerRunning({ workerId: "sleepy", pollMillis: 600_000 }).pipe(Layer.provide(Harness.engine())))
      void Context.get(context, PurchaseWorker.PurchaseWorker)
      // Submit once its listen connection is up (a notification before that would be missed).
      const sql = yield* SqlClient.SqlClient
      for (let round = 0; round < 200; round++) {
        const [listening] = yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`
        if (listening!.n > 0) break
        yield* Effect.sleep(50)
      }
      const { id } = yield* Harness.submit(isbn, 3000)
      const purchases = yield* Purchases.Purchases
      // Bounded by a generous wait (not a speed claim): without the signal it would sit for ten minutes.
      let view = yield* purchases.get(id)
      for (let round = 0; round < 300 && !view.terminal; round++) {
        yield* Effect.sleep(50)
        view = yield* purchases.get(id)
      }
      expect(view.status).toBe("purchased")
    }).pipe(Effect.provide(Infrastructure))
  )
})
