/**
 * The sweeper against real PostgreSQL, simulated sellers and the sandbox ledger. Each test runs a
 * real request part of the way through the pipeline, then leaves it the way a crash (or a lost
 * provider answer) would, and checks what the sweeper does about it — and what it leaves alone.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Adapter, Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer } from "effect"
import { holdNotGivenBack } from "../src/purchases/store/PurchaseStore.js"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import * as Sweeper from "../src/jobs/Sweeper.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [pricey, cheap, held] = generateIsbns({ size: 3, seed: 811 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]
const faults = new SandboxGateway.SandboxFaults()
const Infrastructure = Harness.infrastructure(faults)

const sellers = (specs: ReadonlyArray<Harness.SimulatedSellers.SimulatedSellerSpec>) =>
  Effect.tap(Harness.SimulatedSellers.startSellers(specs), (running) => Harness.register(running))

/** A sweeper with its own seller pool and shared state, as a separate process would have. */
const sweeper = (options: Sweeper.SweeperOptions = {}, pool: Layer.Layer<SellerPool.SellerPool, never, AdapterRegistry.AdapterRegistry> = SellerPool.layer()) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(Sweeper.layer(options).pipe(Layer.provide(pool), Layer.provideMerge(SharedState.layerMemory())))
    return Object.assign(Context.get(context, Sweeper.Sweeper), { state: Context.get(context, SharedState.SharedState) })
  })

/**
 * A finished request with a seller hold left behind: the hold succeeds, the purchase is refused
 * (the request ends not_available with the hold stored), then the attempt is put back to `held`
 * as if the worker had died between the hold and the purchase and the request had been ended.
 */
const holdLeftBehind = (name: string, as: "held" | "failed, not given back" = "held") =>
  Effect.gen(function* () {
    const fleet = yield* sellers([{ name, stock: [{ isbn: held, price: 1000, quantity: 2 }] }])
    fleet[0]!.simulator.inject({ operation: "purchase", kind: "out_of_stock" })
    const worker = yield* Harness.worker("w1")
    const { id } = yield* Harness.submit(held, 3000)
    expect((yield* Harness.runUntilDone(worker, id)).status).toBe("not_available")
    // The pipeline gave the hold back after the refusal; undo that at the seller and in the
    // attempt, as a worker that died between taking the hold and recording its end would leave it.
    const seller = fleet[0]!.simulator
    for (const hold of seller.holds.values()) {
      if (!hold.released) continue
      hold.released = false
      seller.stock.get(hold.isbn)!.quantity -= hold.quantity
    }
    const sql = yield* SqlClient.SqlClient
    if (as === "held") yield* sql`UPDATE purchase_attempts SET status = 'held', reason = NULL WHERE request_id = ${id}`
    else yield* sql`UPDATE purchase_attempts SET status = 'failed', reason = ${`out_of_stock${holdNotGivenBack}`} WHERE request_id = ${id}`
    return { fleet, id }
  })

/** The reference adapter, noting every release it makes (and releasing at the simulated seller directly). */
const releasingReference = (fleet: ReadonlyArray<Harness.SimulatedSellers.RunningSeller>, releases: Array<string>): Adapter.AnyAdapter => ({
  ...referenceAdapter,
  definition: {
    _tag: "Promise",
    create: async (context) => {
      if (referenceAdapter.definition._tag !== "Promise") throw new Error("the reference adapter is expected to be a promise adapter")
      const operations = await referenceAdapter.definition.create(context)
      const seller = fleet.find((running) => running.config.baseUrl === context.config.baseUrl)!
      return {
        ...operations,
        release: async ({ hold }) => {
          releases.push(hold.holdId)
          seller.simulator.release(hold.holdId)
        }
      }
    }
  }
})

const nothing: Sweeper.SweepReport = {
  authorizationsVoided: 0,
  providerLookups: 0,
  providerAuthorizationsVoided: 0,
  holdsReleased: 0,
  holdsAbandoned: 0,
  voidsRejected: 0,
  failures: 0,
  busy: 0
}

const payments = (requestId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ kind: string; idempotency_key: string; status: string; live: boolean; tries: number }>`
      SELECT kind, idempotency_key, status, live, tries FROM payment_operations WHERE request_id = ${requestId} ORDER BY id`
  ).pipe(Effect.orDie)

/** Void calls that reached the sandbox ledger (faulted calls record nothing). */
const voidCalls = (requestId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`
      SELECT count(*)::int AS n FROM sandbox_operations
      WHERE kind = 'void' AND fingerprint IN (SELECT id FROM sandbox_payments WHERE request_id = ${requestId})`
  ).pipe(
    Effect.map((rows) => rows[0]!.n),
    Effect.orDie
  )

describe("Sweeper", () => {
  it.live("voids the live authorization a crash left on a finished request, once, as the pipeline's own void", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "shop", stock: [{ isbn: pricey, price: 3500, quantity: 3 }, { isbn: cheap, price: 1000, quantity: 3 }] }])
      const sql = yield* SqlClient.SqlClient
      const worker = yield* Harness.worker("w1")

      // A purchase that completes normally, then gets its (captured) authorization marked live again.
      const bought = yield* Harness.submit(cheap, 3000)
      expect((yield* Harness.runUntilDone(worker, bought.id)).status).toBe("purchased")
      yield* sql`UPDATE payment_operations SET live = true WHERE request_id = ${bought.id} AND kind = 'authorize'`

      // A request above its maximum whose void finds the provider down: the pipeline parks it...
      faults.inject("void", "unavailable", 3)
      const { id } = yield* Harness.submit(pricey, 3000)
      const [result] = yield* worker.runOnce
      expect(result).toMatchObject({ _tag: "Parked", why: expect.stringMatching(/^releasing the payment authorization/) })
      expect(yield* payments(id)).toMatchObject([
        { kind: "authorize", status: "succeeded", live: true },
        { kind: "void", idempotency_key: `${id}:void:0`, status: "pending", tries: 1 }
      ])
      // ...and then it is forced terminal, as a crash-left state would be.
      yield* sql`
        UPDATE purchase_requests SET status = 'price_not_met', reason = 'cheapest_offer_above_max', completed_at = now(),
          lease_owner = NULL, lease_expires_at = NULL
        WHERE id = ${id}`
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "authorized" }])

      // A worker (or anyone) holding the request: the sweeper stays away.
      yield* sql`UPDATE purchase_requests SET lease_owner = 'someone-else', lease_expires_at = now() + interval '1 hour' WHERE id = ${id}`
      const sweep = yield* sweeper()
      expect(yield* sweep.runOnce).toEqual(nothing)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "authorized" }])
      expect(yield* voidCalls(id)).toBe(0)

      // An expired lease is nobody's.
      yield* sql`UPDATE purchase_requests SET lease_expires_at = now() - interval '1 second' WHERE id = ${id}`
      expect(yield* sweep.runOnce).toEqual({ ...nothing, authorizationsVoided: 1 })
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "voided", captured: "0" }])
      expect(yield* payments(id)).toMatchObject([
        { kind: "authorize", status: "succeeded", live: false },
        { kind: "void", idempotency_key: `${id}:void:0`, status: "succeeded", tries: 2 }
      ])
      expect(yield* voidCalls(id)).toBe(1)
      const [request] = yield* sql<{ lease_owner: string | null; status: string }>`SELECT lease_owner, status FROM purchase_requests WHERE id = ${id}`
      expect(request).toEqual({ lease_owner: null, status: "price_not_met" })

      // Nothing left to do; the purchased request's capture was never touched.
      expect(yield* sweep.runOnce).toEqual(nothing)
      expect(yield* voidCalls(id)).toBe(1)
      expect(yield* Harness.ledger(bought.id)).toMatchObject([{ status: "captured", authorized: "3000", captured: "1000" }])
      expect(yield* voidCalls(bought.id)).toBe(0)
      expect((yield* payments(bought.id)).map((op) => op.kind)).toEqual(["authorize", "capture"])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("leaves a live authorization alone when a seller order exists, or when the provider refused the void", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "shop", stock: [{ isbn: cheap, price: 1000, quantity: 3 }, { isbn: pricey, price: 3500, quantity: 3 }] }])
      const sql = yield* SqlClient.SqlClient
      const worker = yield* Harness.worker("w1")

      // An order was confirmed but the request ended failed (as after a refused capture): voiding would forfeit the money.
      const ordered = yield* Harness.submit(cheap, 3000)
      expect((yield* Harness.runUntilDone(worker, ordered.id)).status).toBe("purchased")
      yield* sql`UPDATE sandbox_payments SET status = 'authorized', captured = 0 WHERE request_id = ${ordered.id}`
      yield* sql`DELETE FROM payment_operations WHERE request_id = ${ordered.id} AND kind = 'capture'`
      yield* sql`UPDATE payment_operations SET live = true WHERE request_id = ${ordered.id} AND kind = 'authorize'`
      yield* sql`UPDATE purchase_requests SET status = 'failed', reason = 'capture_rejected: test' WHERE id = ${ordered.id}`

      // The provider refused the pipeline's void before.
      faults.inject("void", "unavailable", 3)
      const refused = yield* Harness.submit(pricey, 3000)
      yield* worker.runOnce
      yield* sql`UPDATE payment_operations SET status = 'rejected', detail = 'refused' WHERE idempotency_key = ${`${refused.id}:void:0`}`
      yield* sql`UPDATE purchase_requests SET status = 'failed', reason = 'void_rejected: refused', completed_at = now() WHERE id = ${refused.id}`

      const sweep = yield* sweeper()
      expect(yield* sweep.runOnce).toEqual(nothing)
      expect(yield* Harness.ledger(ordered.id)).toMatchObject([{ status: "authorized" }])
      expect(yield* Harness.ledger(refused.id)).toMatchObject([{ status: "authorized" }])
      expect(yield* voidCalls(ordered.id)).toBe(0)
      expect(yield* voidCalls(refused.id)).toBe(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("asks the provider about an authorization whose answer was lost, and voids what it holds", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "shop", stock: [{ isbn: cheap, price: 1000, quantity: 3 }] }])
      faults.inject("authorize", "lost_response", 3)
      const worker = yield* Harness.worker("w1", { pipeline: { maxPaymentTries: 1 } })
      const { id } = yield* Harness.submit(cheap, 3000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("failed")
      expect(view.reason).toMatch(/^payment_unavailable/)
      // We never learned it, but the provider did authorize.
      expect(yield* payments(id)).toMatchObject([{ kind: "authorize", status: "rejected", live: false }])
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "authorized", authorized: "3000" }])

      // Too soon: the provider's search may not show it yet.
      expect(yield* (yield* sweeper()).runOnce).toEqual(nothing)

      const sweep = yield* sweeper({ lookupAfterMillis: 0 })
      expect(yield* sweep.runOnce).toEqual({ ...nothing, providerLookups: 1, providerAuthorizationsVoided: 1 })
      const [ledger] = yield* Harness.ledger(id)
      expect(ledger).toMatchObject({ status: "voided", captured: "0" })
      expect(yield* payments(id)).toMatchObject([
        { kind: "authorize", status: "rejected", live: false },
        { kind: "void", idempotency_key: `${id}:void:${ledger!.id}`, status: "succeeded" }
      ])
      // Asked once only.
      expect(yield* sweep.runOnce).toEqual(nothing)
      expect(yield* voidCalls(id)).toBe(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("asks the provider again later when its search did not show the authorization yet (search lag)", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "shop", stock: [{ isbn: cheap, price: 1000, quantity: 3 }] }])
      faults.inject("authorize", "lost_response", 3)
      const worker = yield* Harness.worker("w1", { pipeline: { maxPaymentTries: 1 } })
      const { id } = yield* Harness.submit(cheap, 3000)
      expect((yield* Harness.runUntilDone(worker, id)).reason).toMatch(/^payment_unavailable/)
      // The provider's search does not show the authorization yet.
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE sandbox_payments SET request_id = 'not-indexed-yet' WHERE request_id = ${id}`
      const sweep = yield* sweeper({ lookupAfterMillis: 0, lookupRepeatMillis: [0, 0] })
      expect(yield* sweep.runOnce).toEqual({ ...nothing, providerLookups: 1 })
      yield* sql`UPDATE sandbox_payments SET request_id = ${id} WHERE request_id = 'not-indexed-yet'`
      // Asked again, found, voided; then a last time, with nothing left; then never again.
      expect(yield* sweep.runOnce).toEqual({ ...nothing, providerLookups: 1, providerAuthorizationsVoided: 1 })
      expect(yield* sweep.runOnce).toEqual({ ...nothing, providerLookups: 1 })
      expect(yield* sweep.runOnce).toEqual(nothing)
      expect((yield* Harness.ledger(id))[0]).toMatchObject({ status: "voided", captured: "0" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a release waits for the seller's shared limits: a seller backing off is not called, its hold waits for a later run", () =>
    Effect.gen(function* () {
      const { fleet, id } = yield* holdLeftBehind("busy")
      const sql = yield* SqlClient.SqlClient
      const [attempt] = yield* sql<{ seller_id: string }>`SELECT seller_id FROM purchase_attempts WHERE request_id = ${id}`
      const releases: Array<string> = []
      const sweep = yield* sweeper({}, SellerPool.layer().pipe(Layer.provide(AdapterRegistry.layer([releasingReference(fleet, releases)]))))
      // The seller answered 429 "retry in 3 s": nobody calls it until then.
      yield* sweep.state.backoff(attempt!.seller_id, 3_000)
      expect(yield* sweep.runOnce).toEqual({ ...nothing, failures: 1 })
      expect(releases).toEqual([])
      expect(yield* sql<{ status: string }>`SELECT status FROM purchase_attempts WHERE request_id = ${id}`).toEqual([{ status: "held" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("releases a seller hold left on a finished request and closes the attempt", () =>
    Effect.gen(function* () {
      const { fleet, id } = yield* holdLeftBehind("holdy")
      const seller = fleet[0]!.simulator
      const [hold] = [...seller.holds.values()]
      expect(hold).toMatchObject({ released: false, used: false })
      expect(seller.stock.get(held)?.quantity).toBe(1)
      const sql = yield* SqlClient.SqlClient

      const releases: Array<string> = []
      const sweep = yield* sweeper({}, SellerPool.layer().pipe(Layer.provide(AdapterRegistry.layer([releasingReference(fleet, releases)]))))
      expect(yield* sweep.runOnce).toEqual({ ...nothing, holdsReleased: 1 })
      expect(seller.holds.get(hold!.holdId)).toMatchObject({ released: true, used: false })
      expect(releases).toEqual([hold!.holdId])
      expect(seller.stock.get(held)?.quantity).toBe(2)
      const attempts = yield* sql<{ status: string; reason: string | null }>`SELECT status, reason FROM purchase_attempts WHERE request_id = ${id}`
      expect(attempts).toEqual([{ status: "failed", reason: "hold_released" }])
      expect(seller.orders).toHaveLength(0)

      expect(yield* sweep.runOnce).toEqual(nothing)
      expect(releases).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("gives back the hold of a failed attempt the pipeline could not give back at once, and says so on the attempt", () =>
    Effect.gen(function* () {
      const { fleet, id } = yield* holdLeftBehind("refusing", "failed, not given back")
      const seller = fleet[0]!.simulator
      const [hold] = [...seller.holds.values()]
      expect(hold).toMatchObject({ released: false, used: false })
      const releases: Array<string> = []
      const sweep = yield* sweeper({}, SellerPool.layer().pipe(Layer.provide(AdapterRegistry.layer([releasingReference(fleet, releases)]))))
      expect(yield* sweep.runOnce).toEqual({ ...nothing, holdsReleased: 1 })
      expect(releases).toEqual([hold!.holdId])
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT status, reason FROM purchase_attempts WHERE request_id = ${id}`).toEqual([{ status: "failed", reason: "out_of_stock; hold_released" }])
      expect(yield* sweep.runOnce).toEqual(nothing)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("layerRunning sweeps in the background", () =>
    Effect.gen(function* () {
      yield* sellers([{ name: "shop", stock: [{ isbn: pricey, price: 3500, quantity: 3 }] }])
      faults.inject("void", "unavailable", 3)
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(pricey, 3000)
      yield* worker.runOnce
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE purchase_requests SET status = 'price_not_met', completed_at = now(), lease_owner = NULL, lease_expires_at = NULL WHERE id = ${id}`
      yield* Layer.build(Sweeper.layerRunning({ intervalMillis: 20 }).pipe(Layer.provide([SellerPool.layer(), SharedState.layerMemory()])))
      for (let round = 0; round < 100 && (yield* Harness.ledger(id))[0]?.status !== "voided"; round++) yield* Effect.sleep(20)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "voided" }])
    }).pipe(Effect.provide(Infrastructure))
  )
})
