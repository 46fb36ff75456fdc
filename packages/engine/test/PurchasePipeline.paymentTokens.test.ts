/**
 * A customer's payment method token lives only as long as its request may still authorize with
 * it: the step that writes a final status clears it (the same statement, `PurchaseStore.step`),
 * and what reopens a request — a counter-offer accepted, an operator's retry — brings a new one.
 * The money paths after the end (capture before it, voids and the sweeper's repairs after it) go
 * by the provider's reference, so they still work without it.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer } from "effect"
import paymentTokens from "../src/migrations/0007_payment_tokens.js"
import * as Purchases from "../src/purchases/Purchases.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import * as Sweeper from "../src/jobs/Sweeper.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const [isbn, pricey, nobody] = generateIsbns({ size: 3, seed: 707 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]
const faults = new SandboxGateway.SandboxFaults()
const Infrastructure = Harness.infrastructure(faults)

const tokenOf = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ payment_token: string | null }>`SELECT payment_token FROM purchase_requests WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0]!.payment_token),
    Effect.orDie
  )

const sellers = Effect.flatMap(
  Harness.SimulatedSellers.startSellers([
    { name: "shop", stock: [{ isbn, price: 1500, quantity: 10 }] },
    { name: "dear-shop", stock: [{ isbn: pricey, price: 4000, quantity: 10 }] }
  ]),
  (running) => Harness.register(running)
)

describe("payment tokens", () => {
  it.live("purchased, not_available, price_not_met, failed: the token is gone once the request is final; the money is right", () =>
    Effect.gen(function* () {
      yield* sellers
      const worker = yield* Harness.worker("w1")

      const bought = yield* Harness.submit(isbn, 3000, { paymentToken: "tok_approve" })
      expect(yield* tokenOf(bought.id)).toBe("tok_approve")
      expect(yield* Harness.runUntilDone(worker, bought.id)).toMatchObject({ status: "purchased", finalPrice: { amount: 1500 } })
      expect(yield* tokenOf(bought.id)).toBeNull()
      expect(yield* Harness.ledger(bought.id)).toMatchObject([{ status: "captured", authorized: "3000", captured: "1500" }])

      const missing = yield* Harness.submit(nobody, 3000)
      expect(yield* Harness.runUntilDone(worker, missing.id)).toMatchObject({ status: "not_available" })
      expect(yield* tokenOf(missing.id)).toBeNull()
      expect(yield* Harness.ledger(missing.id)).toMatchObject([{ status: "voided", captured: "0" }])

      const tooDear = yield* Harness.submit(pricey, 3000)
      expect(yield* Harness.runUntilDone(worker, tooDear.id)).toMatchObject({ status: "price_not_met" })
      expect(yield* tokenOf(tooDear.id)).toBeNull()
      expect(yield* Harness.ledger(tooDear.id)).toMatchObject([{ status: "voided", captured: "0" }])

      const declined = yield* Harness.submit(isbn, 3000, { paymentToken: "tok_decline" })
      expect(yield* Harness.runUntilDone(worker, declined.id)).toMatchObject({ status: "failed", reason: expect.stringMatching(/^payment_declined/) })
      expect(yield* tokenOf(declined.id)).toBeNull()
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("reopening brings a new token: a counter-offer accepted, an operator's retry (refused without one, nothing changed)", () =>
    Effect.gen(function* () {
      yield* sellers
      const worker = yield* Harness.worker("w1")
      const purchases = yield* Purchases.Purchases
      const sql = yield* SqlClient.SqlClient

      const tooDear = yield* Harness.submit(pricey, 3000)
      expect((yield* Harness.runUntilDone(worker, tooDear.id)).status).toBe("price_not_met")
      yield* purchases.acceptCounterOffer(tooDear.id, "customer-1", "tok_visa")
      expect(yield* tokenOf(tooDear.id)).toBe("tok_visa")
      expect(yield* Harness.runUntilDone(worker, tooDear.id)).toMatchObject({ status: "purchased", finalPrice: { amount: 4000 } })
      expect(yield* tokenOf(tooDear.id)).toBeNull()
      expect(yield* Harness.ledger(tooDear.id)).toMatchObject([
        { status: "voided", authorized: "3000", captured: "0" },
        { status: "captured", authorized: "4000", captured: "4000" }
      ])

      const declined = yield* Harness.submit(isbn, 3000, { paymentToken: "tok_decline" })
      expect((yield* Harness.runUntilDone(worker, declined.id)).status).toBe("failed")
      const before = yield* sql`SELECT status, round, reason, updated_at FROM purchase_requests WHERE id = ${declined.id}`
      const refused = yield* Effect.flip(purchases.retry(declined.id))
      expect(refused).toMatchObject({ _tag: "PaymentTokenRequired", id: declined.id })
      expect(refused.message).toMatch(/keeps no payment method token after it ended: send a new one/)
      expect(yield* sql`SELECT status, round, reason, updated_at FROM purchase_requests WHERE id = ${declined.id}`).toEqual(before)
      // A request that is not failed is refused for that, token or not.
      const other = yield* Harness.submit(isbn, 3000)
      expect((yield* Effect.flip(purchases.retry(other.id))).message).toMatch(/only failed requests/)
      expect((yield* Harness.runUntilDone(worker, other.id)).status).toBe("purchased")

      yield* purchases.retry(declined.id, { paymentToken: "tok_approve" })
      expect(yield* tokenOf(declined.id)).toBe("tok_approve")
      expect(yield* Harness.runUntilDone(worker, declined.id)).toMatchObject({ status: "purchased", finalPrice: { amount: 1500 } })
      expect(yield* tokenOf(declined.id)).toBeNull()
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a void after the end works without the token: the sweeper voids the authorization a final request still holds", () =>
    Effect.gen(function* () {
      yield* sellers
      const sql = yield* SqlClient.SqlClient
      const worker = yield* Harness.worker("w1")
      // Nobody has the book; the provider does not answer the void, so the run parks...
      faults.inject("void", "unavailable", 3)
      const request = yield* Harness.submit(nobody, 3000)
      const [result] = yield* worker.runOnce
      expect(result).toMatchObject({ _tag: "Parked", why: expect.stringMatching(/^releasing the payment authorization/) })
      // ...and the request ends the way a crash would leave it: final, the token cleared as the final step clears it.
      yield* sql`
        UPDATE purchase_requests SET status = 'not_available', reason = 'no_offers', completed_at = now(), payment_token = NULL,
          lease_owner = NULL, lease_expires_at = NULL
        WHERE id = ${request.id}`
      expect(yield* Harness.ledger(request.id)).toMatchObject([{ status: "authorized" }])

      const context = yield* Layer.build(Sweeper.layer({}).pipe(Layer.provide(SellerPool.layer()), Layer.provideMerge(SharedState.layerMemory())))
      const report = yield* Context.get(context, Sweeper.Sweeper).runOnce
      expect(report.authorizationsVoided).toBe(1)
      expect(yield* Harness.ledger(request.id)).toMatchObject([{ status: "voided", captured: "0" }])
      expect(yield* sql`SELECT live FROM payment_operations WHERE request_id = ${request.id} AND kind = 'authorize'`).toEqual([{ live: false }])
      expect(yield* tokenOf(request.id)).toBeNull()
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("the migration clears the tokens of requests that ended before it, and keeps the others'", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sellers
      const open = yield* Harness.submit(isbn, 3000)
      const ended = yield* Harness.submit(isbn, 3000)
      // As a request that ended under the previous version was left: final, its token kept.
      yield* sql`UPDATE purchase_requests SET status = 'purchased', completed_at = now(), payment_token = 'tok_old' WHERE id = ${ended.id}`
      yield* paymentTokens
      expect(yield* tokenOf(ended.id)).toBeNull()
      expect(yield* tokenOf(open.id)).toBe("tok_approve")
    }).pipe(Effect.provide(Infrastructure))
  )
})
