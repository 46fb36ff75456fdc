/**
 * The purchase request's one schema (`purchases/PurchaseRequest.ts`): what is stored is every
 * column it names, the intake's statement stores exactly that, the hash keeps the value it had
 * before the schema was the engine's (an Idempotency-Key replayed across an upgrade is still the
 * same request), and the status shows what was asked.
 */
import { type Isbn, Money } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import * as PurchaseRequest from "../src/purchases/PurchaseRequest.js"
import * as Purchases from "../src/purchases/Purchases.js"
import { TestDatabase } from "../src/testing/index.js"

const [isbn] = generateIsbns({ size: 1, seed: 515 }) as [Isbn.Isbn13]
const TestLayer = Purchases.layer.pipe(Layer.provideMerge(TestDatabase.layer))

const plain: PurchaseRequest.NewPurchaseRequest = {
  isbn,
  max_price: Money.make(2999, "EUR"),
  payment: { token: "tok_approve" },
  customer: { name: "Ada", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
}
const everything: PurchaseRequest.NewPurchaseRequest = {
  isbn,
  max_price: Money.make(4500, "JPY"),
  payment: { token: "tok_visa" },
  customer: {
    name: "Grace",
    email: "grace@example.com",
    shipping_address: { line1: "2 Shelf Road", line2: "Flat 3", city: "Lyon", postal_code: "69001", country: "FR" }
  },
  notify_url: "https://hooks.example.com/bb",
  answer_within_seconds: 120,
  wait_until: "2026-12-20T12:00:00+01:00"
}

/** The hash as `Purchases.submit` computed it before the schema moved into the engine (session 18, verbatim but for the names). */
const hashBefore = (request: PurchaseRequest.NewPurchaseRequest) =>
  createHash("sha256")
    .update(
      JSON.stringify([
        request.isbn,
        request.max_price.amount,
        request.max_price.currency,
        request.payment.token,
        request.customer.name,
        request.customer.email,
        request.customer.shipping_address,
        request.notify_url ?? null,
        request.answer_within_seconds === undefined ? null : request.answer_within_seconds * 1_000,
        request.wait_until === undefined ? null : new Date(request.wait_until).toISOString()
      ])
    )
    .digest("hex")

describe("PurchaseRequest", () => {
  it("stores every column it names, and names every column it stores", () => {
    for (const request of [plain, everything]) {
      expect(Object.keys(PurchaseRequest.toColumns(request)).sort()).toEqual(Object.keys(PurchaseRequest.columns).sort())
    }
    expect(PurchaseRequest.toColumns(everything)).toMatchObject({ max_amount: 4500, currency: "JPY", answer_within_millis: 120_000, wait_until: "2026-12-20T11:00:00.000Z" })
    expect(PurchaseRequest.toColumns(plain)).toMatchObject({ notify_url: null, answer_within_millis: null, wait_until: null })
  })

  it("hashes a request as it was hashed before, so a key replayed across the upgrade is the same request", () => {
    for (const request of [plain, everything]) expect(PurchaseRequest.hash(PurchaseRequest.toColumns(request))).toBe(hashBefore(request))
  })

  it("hashes every field: a change to any of them is another request", () => {
    const variants: Array<PurchaseRequest.NewPurchaseRequest> = [
      { ...everything, max_price: Money.make(4501, "JPY") },
      { ...everything, max_price: Money.make(4500, "EUR") },
      { ...everything, payment: { token: "tok_other" } },
      { ...everything, customer: { ...everything.customer, email: "other@example.com" } },
      { ...everything, customer: { ...everything.customer, shipping_address: { ...everything.customer.shipping_address, line2: "Flat 4" } } },
      { ...everything, notify_url: "https://hooks.example.com/other" },
      { ...everything, answer_within_seconds: 121 },
      { ...everything, wait_until: "2026-12-20T12:00:01+01:00" }
    ]
    const hashes = new Set([everything, ...variants].map((request) => PurchaseRequest.hash(PurchaseRequest.toColumns(request))))
    expect(hashes.size).toBe(variants.length + 1)
    // The same moment written another way is the same request.
    expect(PurchaseRequest.hash(PurchaseRequest.toColumns({ ...everything, wait_until: "2026-12-20T11:00:00Z" }))).toBe(
      PurchaseRequest.hash(PurchaseRequest.toColumns(everything))
    )
  })

  it("decodes the wire's body into what the engine takes, reporting every bad field", () => {
    const decoded = Schema.decodeUnknownSync(PurchaseRequest.NewPurchaseRequest)({
      ...everything,
      isbn: `${isbn.slice(0, 3)}-${isbn.slice(3)}`,
      max_price: { amount: 4500, currency: "JPY" }
    })
    expect(decoded.isbn).toBe(isbn)
    expect(decoded.max_price).toEqual({ amount: 4500, currency: "JPY" })
    const refused = Schema.decodeUnknownExit(PurchaseRequest.NewPurchaseRequest)({ ...plain, max_price: { amount: 0, currency: "EURO" } }, { errors: "all" })
    expect(refused._tag).toBe("Failure")
    expect(String(refused)).toMatch(/positive whole number/)
    expect(String(refused)).toMatch(/ISO 4217/)
  })

  it("takes only real dates and times for wait_until: no February 30th rolled over into March", () => {
    const decode = Schema.decodeUnknownExit(PurchaseRequest.NewPurchaseRequest)
    for (const real of ["2028-02-29T12:00:00+01:00", "2026-12-31T23:59:59.999Z", "2026-12-10T08:00Z"]) {
      expect(decode({ ...plain, wait_until: real })._tag).toBe("Success")
    }
    for (const unreal of ["2026-02-30T00:00:00Z", "2027-02-29T00:00:00Z", "2026-11-31T12:00:00Z", "2026-12-10T24:00:00Z", "2026-12-10T12:60:00Z", "2026-12-10T12:00:60Z", "2026-13-01T00:00:00Z", "2026-12-00T00:00:00Z", "2026-12-10T12:00:00+24:00"]) {
      const refused = decode({ ...plain, wait_until: unreal })
      expect(refused._tag, unreal).toBe("Failure")
      expect(String(refused)).toMatch(/is not a real date and time/)
    }
  })

  it.live("the intake stores exactly the columns, and the status shows what was asked", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      const sql = yield* SqlClient.SqlClient
      const request = { ...everything, wait_until: new Date(Date.now() + 86_400_000).toISOString() }
      const accepted = yield* purchases.submit({ customerId: "c-columns", idempotencyKey: "columns", request })
      const columns = Object.keys(PurchaseRequest.columns)
      const [stored] = yield* sql<Record<string, unknown>>`
        SELECT ${sql.literal(columns.map((column) => `to_jsonb(${column}) AS ${column}`).join(", "))}, request_hash, to_jsonb(original_max) AS original_max
        FROM purchase_requests WHERE id = ${accepted.id}`
      const expected = PurchaseRequest.toColumns(request)
      for (const column of columns) {
        const value = stored![column]
        // jsonb gives an int8 as a number, a timestamptz as text PostgreSQL chose.
        if (column === "wait_until") expect(Date.parse(value as string)).toBe(Date.parse(expected.wait_until!))
        else expect(value).toEqual(expected[column as keyof PurchaseRequest.Columns])
      }
      expect(stored).toMatchObject({ request_hash: PurchaseRequest.hash(expected), original_max: 4500 })

      const view = yield* purchases.get(accepted.id)
      expect(view.request).toMatchObject({ isbn, max_price: { amount: 4500, currency: "JPY" }, wait_until: expected.wait_until })
    }).pipe(Effect.provide(TestLayer))
  )
})
