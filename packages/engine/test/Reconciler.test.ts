/**
 * The reconciler against real PostgreSQL, simulated sellers and the sandbox ledger: real
 * purchases, then each kind of disagreement made by corrupting the state in SQL (or by a real
 * crash and a provider-side change), and what the reconciler flags, fixes, and leaves alone.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Exit, Layer } from "effect"
import * as Purchases from "../src/purchases/Purchases.js"
import * as Reconciler from "../src/jobs/Reconciler.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [cheap, pricey, nowhere] = generateIsbns({ size: 3, seed: 2024 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]
const faults = new SandboxGateway.SandboxFaults()
const Infrastructure = Harness.infrastructure(faults)

const shop = Effect.tap(
  Harness.SimulatedSellers.startSellers([
    { name: "shop", stock: [{ isbn: cheap, price: 1000, quantity: 5 }, { isbn: pricey, price: 3500, quantity: 5 }] },
    { name: "other", stock: [{ isbn: cheap, price: 1200, quantity: 5 }] }
  ]),
  (running) => Harness.register(running)
)

/** A real purchase of `cheap` (1000 captured of 3000 authorized). */
const purchased = Effect.gen(function* () {
  const worker = yield* Harness.worker(`w-${Math.random().toString(36).slice(2, 8)}`)
  const { id } = yield* Harness.submit(cheap, 3000)
  expect((yield* Harness.runUntilDone(worker, id)).status).toBe("purchased")
  return id
})

/** A reconciler as one process runs it (its own seller pool and shared state), comparing at once (no settle delay). */
const reconciler = (options: Reconciler.ReconcilerOptions = {}) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(Layer.mergeAll(SellerPool.layer(), SharedState.layerMemory()))
    return yield* Reconciler.make({ settleMillis: 0, ...options }).pipe(Effect.provide(context))
  })

const summary = (findings: ReadonlyArray<Reconciler.Finding>) =>
  findings.map((finding) => ({ requestId: finding.requestId, kind: finding.kind, fixed: finding.fixed })).sort((a, b) => a.kind.localeCompare(b.kind))

describe("Reconciler", () => {
  it.live("finds nothing when everything went by the book", () =>
    Effect.gen(function* () {
      yield* shop
      const worker = yield* Harness.worker("w1")
      yield* purchased
      const above = yield* Harness.submit(pricey, 3000)
      expect((yield* Harness.runUntilDone(worker, above.id)).status).toBe("price_not_met")
      const purchases = yield* Purchases.Purchases
      yield* purchases.acceptCounterOffer(above.id, "customer-1", "tok_approve")
      expect((yield* Harness.runUntilDone(worker, above.id)).status).toBe("purchased")
      const missing = yield* Harness.submit(nowhere, 3000)
      expect((yield* Harness.runUntilDone(worker, missing.id)).status).toBe("not_available")
      const declined = yield* Harness.submit(cheap, 3000, { paymentToken: "tok_decline" })
      expect((yield* Harness.runUntilDone(worker, declined.id)).status).toBe("failed")

      const reconcile = yield* reconciler()
      expect(yield* reconcile.runOnce).toEqual([])
      expect(yield* reconcile.findings()).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("capture_without_order: money captured, the confirmed order gone", () =>
    Effect.gen(function* () {
      yield* shop
      const id = yield* purchased
      const sql = yield* SqlClient.SqlClient
      yield* sql`DELETE FROM purchase_attempts WHERE request_id = ${id} AND status = 'confirmed'`
      const reconcile = yield* reconciler()
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "capture_without_order", fixed: false }])
      expect(findings[0]!.detail).toMatch(/1000 captured .* without a confirmed seller order/)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "captured", captured: "1000" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("authorization_left_open on a purchased request is flagged, never voided", () =>
    Effect.gen(function* () {
      yield* shop
      const id = yield* purchased
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE payment_operations SET live = true WHERE request_id = ${id} AND kind = 'authorize'`
      const reconcile = yield* reconciler()
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([
        // Not voided; then the same run recorded the provider's capture, which ended it: closed, saying so.
        { requestId: id, kind: "authorization_left_open", fixed: true },
        // The provider shows it captured: that much is recorded.
        { requestId: id, kind: "provider_mismatch", fixed: true }
      ])
      expect(findings.find((finding) => finding.kind === "authorization_left_open")!.detail).toMatch(/not voided.*; resolved since: the authorization is no longer live$/)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "captured", captured: "1000" }])
      const operations = yield* sql<{ kind: string; live: boolean }>`SELECT kind, live FROM payment_operations WHERE request_id = ${id} ORDER BY id`
      expect(operations).toEqual([
        { kind: "authorize", live: false },
        { kind: "capture", live: false }
      ])
      expect(yield* reconcile.runOnce).toEqual([])
      expect(summary(yield* reconcile.findings())).toHaveLength(2)
      expect(summary(yield* reconcile.findings({ unfixed: true }))).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("an open finding whose condition is gone is closed with a note; one whose condition holds stays open", () =>
    Effect.gen(function* () {
      yield* shop
      const settled = yield* purchased
      const waiting = yield* purchased
      const sql = yield* SqlClient.SqlClient
      // What the pipeline writes past an attempt's deadline; then one of the two gets its answer.
      for (const id of [settled, waiting]) {
        yield* sql`INSERT INTO reconciliation_findings (request_id, kind, detail, fixed) VALUES (${id}, 'attempt_unresolved', 'ask shop whether the order exists', false)`
      }
      yield* sql`UPDATE purchase_attempts SET status = 'unknown' WHERE request_id = ${waiting} AND status = 'confirmed'`
      const reconcile = yield* reconciler()
      const closed = (yield* reconcile.runOnce).filter((finding) => finding.kind === "attempt_unresolved")
      expect(closed).toEqual([
        expect.objectContaining({ requestId: settled, fixed: true, detail: "ask shop whether the order exists; resolved since: no purchase of this request is waiting for an answer any more" })
      ])
      expect((yield* reconcile.findings({ unfixed: true })).filter((finding) => finding.kind === "attempt_unresolved").map((finding) => finding.requestId)).toEqual([waiting])
      yield* sql`UPDATE purchase_attempts SET status = 'confirmed' WHERE request_id = ${waiting} AND status = 'unknown'`
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("authorization_left_open on a request that bought nothing is voided with the pipeline's key — unless it is leased", () =>
    Effect.gen(function* () {
      yield* shop
      faults.inject("void", "unavailable", 3)
      const worker = yield* Harness.worker("w1")
      const { id } = yield* Harness.submit(pricey, 3000)
      const [parked] = yield* worker.runOnce
      expect(parked).toMatchObject({ _tag: "Parked" })
      const sql = yield* SqlClient.SqlClient
      yield* sql`
        UPDATE purchase_requests SET status = 'price_not_met', completed_at = now(), lease_owner = 'w1', lease_expires_at = now() + interval '1 hour'
        WHERE id = ${id}`
      const reconcile = yield* reconciler()
      expect(yield* reconcile.runOnce).toEqual([])
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "authorized" }])

      yield* sql`UPDATE purchase_requests SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ${id}`
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "authorization_left_open", fixed: true }])
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "voided" }])
      const voids = yield* sql<{ idempotency_key: string; status: string }>`
        SELECT idempotency_key, status FROM payment_operations WHERE request_id = ${id} AND kind = 'void'`
      expect(voids).toEqual([{ idempotency_key: `${id}:void:0`, status: "succeeded" }])
      expect(yield* reconcile.runOnce).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("order_without_capture: the authorization lapsed at the provider before the capture (a real crash and restart)", () =>
    Effect.gen(function* () {
      const fleet = yield* shop
      let crashed = false
      const doomed = yield* Harness.worker("doomed", {
        pipeline: { leaseMillis: 300 },
        crashAt: (point) => {
          if (point !== "quote" || crashed) return false
          crashed = true
          return true
        }
      })
      const survivor = yield* Harness.worker("survivor", { pipeline: { leaseMillis: 300 } })
      const { id } = yield* Harness.submit(cheap, 3000)
      expect(Exit.isFailure(yield* Effect.exit(doomed.runOnce))).toBe(true)
      // Meanwhile the provider lets the authorization go.
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE sandbox_payments SET status = 'voided' WHERE request_id = ${id}`
      yield* Effect.sleep(350)
      const view = yield* Harness.runUntilDone(survivor, id)
      // The refused capture says the authorization is gone (the provider's own record): the
      // request ends failed with the authorization recorded as ended, nothing left to void.
      expect(view).toMatchObject({ status: "failed", reason: expect.stringMatching(/^capture_rejected: the authorization ended at the payment provider before the capture/) })
      expect(fleet[0]!.simulator.orders.filter((order) => order.buyerReference === id)).toHaveLength(1)
      const operations = yield* sql<{ kind: string; status: string; live: boolean }>`SELECT kind, status, live FROM payment_operations WHERE request_id = ${id} ORDER BY id`
      expect(operations).toEqual([
        { kind: "authorize", status: "succeeded", live: false },
        { kind: "capture", status: "rejected", live: false }
      ])

      // What is left is for a person: the seller's order, unpaid. No authorization is reported
      // open, and the provider agrees with what is recorded.
      const reconcile = yield* reconciler()
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "order_without_capture", fixed: false }])
      expect(findings[0]!.detail).toMatch(/order .* at shop .* confirmed, but the request is failed \(capture_rejected/)
      // Nothing was voided or captured by the reconciler; the order is still there next time.
      expect(yield* sql`SELECT kind, status, live FROM payment_operations WHERE request_id = ${id} ORDER BY id`).toEqual(operations)
      expect(summary(yield* reconcile.runOnce)).toEqual([{ requestId: id, kind: "order_without_capture", fixed: false }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("provider_mismatch: the provider captured while we recorded the capture as pending — recorded", () =>
    Effect.gen(function* () {
      yield* shop
      const id = yield* purchased
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE payment_operations SET status = 'pending', provider_ref = NULL WHERE request_id = ${id} AND kind = 'capture'`
      const reconcile = yield* reconciler()
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "provider_mismatch", fixed: true }])
      expect(findings[0]!.detail).toMatch(/captured 1000 EUR .* while our capture was pending: recorded as succeeded/)
      const [capture] = yield* sql<{ status: string; provider_ref: string | null }>`
        SELECT status, provider_ref FROM payment_operations WHERE request_id = ${id} AND kind = 'capture'`
      const [ledger] = yield* Harness.ledger(id)
      expect(capture).toEqual({ status: "succeeded", provider_ref: ledger!.id })
      expect(yield* reconcile.runOnce).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("provider_mismatch: a capture the provider does not show is flagged, and its authorization never voided", () =>
    Effect.gen(function* () {
      yield* shop
      const id = yield* purchased
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE sandbox_payments SET status = 'authorized', captured = 0 WHERE request_id = ${id}`
      const findings = yield* (yield* reconciler()).runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "provider_mismatch", fixed: false }])
      expect(findings[0]!.detail).toMatch(/we recorded a capture of 1000 on .* only authorized — nothing was collected/)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "authorized" }])
      const voids = yield* sql`SELECT 1 FROM payment_operations WHERE request_id = ${id} AND kind = 'void'`
      expect(voids).toHaveLength(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("provider_mismatch: an authorization only the provider knows about is voided", () =>
    Effect.gen(function* () {
      yield* shop
      faults.inject("authorize", "lost_response", 3)
      const worker = yield* Harness.worker("w1", { pipeline: { maxPaymentTries: 1 } })
      const { id } = yield* Harness.submit(cheap, 3000)
      expect((yield* Harness.runUntilDone(worker, id)).reason).toMatch(/^payment_unavailable/)
      const reconcile = yield* reconciler()
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "provider_mismatch", fixed: true }])
      expect(findings[0]!.detail).toMatch(/open authorization .* we recorded nothing with that reference \(our authorizations without one: round 0 authorize rejected of 3000\): voided/)
      expect(yield* Harness.ledger(id)).toMatchObject([{ status: "voided" }])
      expect(yield* reconcile.runOnce).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("captured_above_authorized, and duplicate_orders (with the unique index out of the way)", () =>
    Effect.gen(function* () {
      yield* shop
      const over = yield* purchased
      const twice = yield* purchased
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE payment_operations SET amount = 4000 WHERE request_id = ${over} AND kind = 'capture'`
      yield* sql`DROP INDEX purchase_attempts_one_order`
      yield* sql`UPDATE purchase_attempts SET status = 'confirmed', order_id = 'ORD-ghost' WHERE request_id = ${twice} AND status = 'pending'`
      const findings = yield* (yield* reconciler()).runOnce
      expect(summary(findings)).toEqual([
        { requestId: over, kind: "captured_above_authorized", fixed: false },
        { requestId: twice, kind: "duplicate_orders", fixed: false },
        // Our 4000 is not what the provider captured either.
        { requestId: over, kind: "provider_mismatch", fixed: false }
      ])
      expect(findings.find((finding) => finding.kind === "captured_above_authorized")!.detail).toBe("round 0: captured 4000, authorized only 3000")
      expect(findings.find((finding) => finding.kind === "duplicate_orders")!.detail).toMatch(/ORD-ghost/)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("seller_order_unknown: a seller holds an order under a key bookbroker closed as failed — found once, with the repair", () =>
    Effect.gen(function* () {
      const fleet = yield* Harness.SimulatedSellers.startSellers([
        { name: "keeper", stock: [{ isbn: cheap, price: 900, quantity: 5 }], orderLookup: true },
        { name: "shop", stock: [{ isbn: cheap, price: 1000, quantity: 5 }] }
      ])
      const [keeper] = yield* Harness.register(fleet)
      const worker = yield* Harness.worker("w1")
      const sql = yield* SqlClient.SqlClient
      // keeper sold out at hold time: the request bought from shop.
      fleet[0]!.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      const { id } = yield* Harness.submit(cheap, 3000)
      expect((yield* Harness.runUntilDone(worker, id)).status).toBe("purchased")
      // What a lost answer closed by a wrong guess leaves behind: keeper has an order under our key after all.
      const key = `${id}:${keeper!.id}`
      const quote = fleet[0]!.simulator.quote(cheap)
      if ("unavailable" in quote) throw new Error("keeper should quote")
      fleet[0]!.simulator.purchase({ quoteId: quote.quoteId, idempotencyKey: key, buyerReference: id })
      yield* sql`UPDATE purchase_attempts SET tries = 1, last_sent_at = now() WHERE idempotency_key = ${key}`

      const reconcile = yield* reconciler()
      const findings = yield* reconcile.runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "seller_order_unknown", fixed: false }])
      expect(findings[0]!.detail).toMatch(new RegExp(`keeper holds order .* under key ${key}, but the request bought from another seller: a second order — cancel it at keeper`))
      // Each attempt is asked about once.
      const lookups = fleet[0]!.simulator.calls.lookupOrder
      yield* reconcile.runOnce
      expect(fleet[0]!.simulator.calls.lookupOrder).toBe(lookups)
      expect(lookups).toBe(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("seller_order_unknown on a request that bought nothing says: cancel at the seller, nothing was charged", () =>
    Effect.gen(function* () {
      const fleet = yield* Harness.SimulatedSellers.startSellers([{ name: "keeper", stock: [{ isbn: cheap, price: 900, quantity: 5 }], orderLookup: true }])
      const [keeper] = yield* Harness.register(fleet)
      const worker = yield* Harness.worker("w1")
      const sql = yield* SqlClient.SqlClient
      fleet[0]!.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      const { id } = yield* Harness.submit(cheap, 3000)
      expect((yield* Harness.runUntilDone(worker, id)).status).toBe("not_available")
      const key = `${id}:${keeper!.id}`
      const quote = fleet[0]!.simulator.quote(cheap)
      if ("unavailable" in quote) throw new Error("keeper should quote")
      fleet[0]!.simulator.purchase({ quoteId: quote.quoteId, idempotencyKey: key, buyerReference: id })
      yield* sql`UPDATE purchase_attempts SET tries = 1, last_sent_at = now() WHERE idempotency_key = ${key}`
      const findings = yield* (yield* reconciler()).runOnce
      expect(summary(findings)).toEqual([{ requestId: id, kind: "seller_order_unknown", fixed: false }])
      expect(findings[0]!.detail).toMatch(/the request ended not_available and nothing was charged: cancel the order at keeper/)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("the provider comparison walks every finished request once, oldest first, from a stored cursor", () =>
    Effect.gen(function* () {
      yield* shop
      const first = yield* purchased
      const second = yield* purchased
      const third = yield* purchased
      // The oldest one disagrees with the provider: an authorization only the provider knows about.
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE payment_operations SET provider_ref = 'sbx_elsewhere' WHERE request_id = ${first} AND kind = 'authorize'`
      const reconcile = yield* reconciler({ providerLimit: 1 })
      const kinds = (findings: ReadonlyArray<Reconciler.Finding>) => summary(findings.filter((finding) => finding.kind === "provider_mismatch"))
      // One request per pass: the oldest first (the newest-first window of old never reached it with a limit of 1).
      expect(kinds(yield* reconcile.runOnce).map((finding) => finding.requestId)).toEqual([first])
      const [cursor] = yield* sql<{ request_id: string }>`SELECT request_id FROM reconciler_cursors WHERE name = 'provider'`
      expect(cursor?.request_id).toBe(first)
      yield* reconcile.runOnce
      yield* reconcile.runOnce
      const [after] = yield* sql<{ request_id: string }>`SELECT request_id FROM reconciler_cursors WHERE name = 'provider'`
      expect(after?.request_id).toBe(third)
      expect([second, third]).not.toContain(first)
    }).pipe(Effect.provide(Infrastructure))
  )
})
