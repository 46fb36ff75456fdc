/**
 * The purchase records are decoded once, where they leave PostgreSQL (`store/decode.ts`): every
 * read and write that returns a row gives amounts as integer minor units and currencies as codes,
 * so nothing after it converts or trims.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as Store from "../src/purchases/store/PurchaseStore.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const isbns = generateIsbns({ size: 2, seed: 4711 }) as ReadonlyArray<Isbn.Isbn13>
const Infrastructure = Harness.infrastructure(new SandboxGateway.SandboxFaults())
const sellerId = "5b0c8f52-8d1f-4b5e-9a39-0e7f0d6c2a11"

describe("PurchaseStore rows, decoded once", () => {
  it.live("a claimed request, a step's row, a payment intent, the round's quotes and attempts read as minor units and ISO codes", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const store = yield* Store.makeStore
      const { id } = yield* Harness.submit(isbns[0]!, 3000, { currency: "JPY" })
      yield* sql`UPDATE purchase_requests SET next_run_at = now() + interval '1 hour' WHERE id <> ${id} AND status IN ${sql.in(Store.activeStatuses)}`
      const [row] = yield* store.claim("w-decode", 60_000, 1)
      expect(row).toMatchObject({ id, original_max: 3000, max_amount: 3000, final_amount: null, currency: "JPY" })
      const lease: Store.Lease = { requestId: id, worker: "w-decode", fence: row!.fence, leaseMillis: 60_000 }

      const operation = yield* store.paymentIntent(lease, "authorize", 0, `decode-${id}`, 3000, "JPY")
      expect(operation).toMatchObject({ amount: 3000, currency: "JPY" })

      const offer = { isbn: isbns[0], total: { amount: 2750, currency: "JPY" } }
      const stepped = yield* store.step(lease, row!, {
        transition: { to: "deciding", through: ["authorized", "quoting"], reason: null },
        writes: [
          store.writes.saveQuotes(0, [{ seller_id: sellerId, seller_name: "Decoded Books", rank: 0, total: 2750, currency: "JPY", offer }]),
          store.writes.createAttempts(id, 0, [{ seller_id: sellerId, seller_name: "Decoded Books", rank: 0, offer }])
        ]
      })
      expect(stepped).toMatchObject({ status: "deciding", max_amount: 3000, currency: "JPY" })

      const [quote] = yield* store.quotes(id, 0)
      expect(quote).toMatchObject({ total: 2750, currency: "JPY" })
      const [attempt] = yield* store.attempts(id)
      yield* store.step(lease, stepped, {
        writes: [store.writes.updateAttempt(attempt!.id, "confirmed", { orderId: "ord-1", orderTotal: 2750, orderCurrency: "EUR" })]
      })
      const [confirmed] = yield* store.attempts(id)
      expect(confirmed).toMatchObject({ order_total: 2750, order_currency: "EUR" })
      expect(yield* store.liveAuthorization(id)).toBeUndefined()
      expect((yield* store.payments(id))[0]).toMatchObject({ amount: 3000, currency: "JPY" })
      expect(yield* store.request(id)).toMatchObject({ max_amount: 3000, original_max: 3000, currency: "JPY" })
    }).pipe(Effect.provide(Infrastructure))
  )

  it("a column PostgreSQL could not have sent is a defect, not a silently wrong amount", () => {
    const stored = { original_max: "3000", max_amount: "3000", final_amount: null, currency: "EUR" }
    expect(Store.Decode.request(stored as never)).toMatchObject({ max_amount: 3000, currency: "EUR" })
    // A padded char(3) reads as its code.
    expect(Store.Decode.request({ ...stored, currency: "EUR " } as never)).toMatchObject({ currency: "EUR" })
    expect(() => Store.Decode.request({ ...stored, max_amount: "12.5" } as never)).toThrow(/integer/)
    expect(() => Store.Decode.request({ ...stored, currency: "XXQ" } as never)).toThrow(/currency/)
    expect(() => Store.Decode.quote({ total: "-1", currency: "EUR" } as never)).toThrow()
  })
})
