/**
 * The group commit's callback door (`IntakeCommit.enqueue`, used by `Purchases.accept` and the
 * server's fast intake lane): every caller hears once what became of its row, batches form from
 * what waits, and one caller's faulty callback leaves nobody else waiting. Against a real
 * PostgreSQL. Plus the arrival timestamps' text.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Money } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Exit, Layer } from "effect"
import * as IntakeCommit from "../src/purchases/IntakeCommit.js"
import * as PurchaseRequest from "../src/purchases/PurchaseRequest.js"
import * as Purchases from "../src/purchases/Purchases.js"
import { TestDatabase } from "../src/testing/index.js"

const [isbn] = generateIsbns({ size: 1, seed: 78 }) as [Isbn.Isbn13]

const request: PurchaseRequest.NewPurchaseRequest = {
  isbn,
  max_price: Money.make(3000, "EUR"),
  payment: { token: "tok_approve" },
  customer: { name: "Ada", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
}
const stored = PurchaseRequest.toColumns(request)
const row = (key: string, hash = `h-${key}`): IntakeCommit.IntakeRow => ({ customer_id: "c-intake", idempotency_key: key, request_hash: hash, ...stored })

/** Waits until `n` answers have come, then gives them. */
const collected = <A>(answers: Array<A>, n: number) =>
  Effect.callback<Array<A>>((resume) => {
    const poll = setInterval(() => {
      if (answers.length >= n) {
        clearInterval(poll)
        resume(Effect.succeed(answers))
      }
    }, 5)
    return Effect.sync(() => clearInterval(poll))
  })

describe("IntakeCommit.microsToIso", () => {
  it("writes the microsecond PostgreSQL reads back, in the same millisecond and across them", () => {
    const base = Date.UTC(2026, 11, 6, 22, 30, 1, 7) * 1000
    for (const micros of [base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base + 1_000_005, base - 1]) {
      const millis = Math.floor(micros / 1000)
      const expected = `${new Date(millis).toISOString().slice(0, -1)}${String(micros % 1000).padStart(3, "0")}Z`
      expect(IntakeCommit.microsToIso(micros)).toBe(expected)
    }
  })
})

describe("IntakeCommit.enqueue", () => {
  it.live("answers each row once: created, then the same key again as existing or reused", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const intake = yield* IntakeCommit.make(sql)
      const answers: Array<[string, Exit.Exit<IntakeCommit.Committed>]> = []
      // All in one turn: they wait together for the writer.
      for (let i = 0; i < 40; i++) intake.enqueue(row(`k${i}`), (exit) => answers.push([`k${i}`, exit]))
      yield* collected(answers, 40)
      expect(answers.map(([key]) => key).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `k${i}`).sort())
      expect(answers.every(([, exit]) => Exit.isSuccess(exit) && exit.value._tag === "Created")).toBe(true)

      const again: Array<Exit.Exit<IntakeCommit.Committed>> = []
      intake.enqueue(row("k1"), (exit) => again.push(exit))
      intake.enqueue(row("k2", "another request"), (exit) => again.push(exit))
      yield* collected(again, 2)
      const [first] = answers.find(([key]) => key === "k1")!.slice(1) as [Exit.Exit<IntakeCommit.Committed>]
      const firstId = Exit.isSuccess(first) && first.value._tag === "Created" ? first.value.id : "?"
      expect(again.map((exit) => (Exit.isSuccess(exit) ? exit.value._tag : "failed")).sort()).toEqual(["Existing", "KeyReused"])
      expect(again.some((exit) => Exit.isSuccess(exit) && exit.value._tag === "Existing" && exit.value.id === firstId)).toBe(true)
      // Nothing answered twice, all stored once.
      yield* Effect.sleep("50 millis")
      expect(answers.length + again.length).toBe(42)
      const [count] = yield* Effect.orDie(sql<{ n: number }>`SELECT count(*)::int AS n FROM purchase_requests WHERE customer_id = 'c-intake'`)
      expect(count!.n).toBe(40)
    }).pipe(Effect.scoped, Effect.provide(TestDatabase.layer))
  )

  it.live("a caller whose callback throws does not keep the others of its batch, or later rows, waiting", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const intake = yield* IntakeCommit.make(sql)
      const answers: Array<string> = []
      intake.enqueue(row("a"), () => answers.push("a"))
      intake.enqueue(row("thrower"), () => {
        answers.push("thrower")
        throw new Error("a caller's bug")
      })
      intake.enqueue(row("b"), () => answers.push("b"))
      yield* collected(answers, 3)
      expect([...answers].sort()).toEqual(["a", "b", "thrower"])
      const later: Array<string> = []
      intake.enqueue(row("c"), (exit) => later.push(Exit.isSuccess(exit) ? exit.value._tag : "failed"))
      expect(yield* collected(later, 1)).toEqual(["Created"])
    }).pipe(Effect.scoped, Effect.provide(TestDatabase.layer))
  )
})

describe("Purchases.accept", () => {
  it.live("answers as submit does, once, through its callback: accepted, replayed, refused", () =>
    Effect.gen(function* () {
      const purchases = yield* Purchases.Purchases
      type Answer = Exit.Exit<Purchases.Accepted, Purchases.SubmitRefusal>
      const answers: Array<[string, Answer]> = []
      const now = Date.now()
      const accept = (label: string, key: string, asked: PurchaseRequest.NewPurchaseRequest) =>
        purchases.accept({ customerId: "c-accept", idempotencyKey: key, request: asked }, now, (exit) => answers.push([label, exit]))
      accept("created", "a-1", request)
      yield* collected(answers, 1)
      accept("replayed", "a-1", request)
      accept("reused", "a-1", { ...request, max_price: Money.make(3100, "EUR") })
      // Refused before the commit: answered in line.
      accept("past", "a-2", { ...request, wait_until: new Date(now - 1000).toISOString() })
      expect(answers.map(([label]) => label)).toEqual(["created", "past"])
      yield* collected(answers, 4)
      yield* Effect.sleep("50 millis")
      expect(answers.map(([label]) => label).sort()).toEqual(["created", "past", "replayed", "reused"])
      const of = (label: string) => answers.find(([each]) => each === label)![1]
      const failure = (exit: Answer) => (Exit.isFailure(exit) ? exit.cause.reasons.map((reason) => (reason._tag === "Fail" ? reason.error._tag : reason._tag)) : [])
      const created = of("created")
      const replayed = of("replayed")
      expect(Exit.isSuccess(created) && created.value.created).toBe(true)
      expect(Exit.isSuccess(replayed) && Exit.isSuccess(created) && replayed.value.id === created.value.id && !replayed.value.created).toBe(true)
      expect(failure(of("reused"))).toEqual(["IdempotencyKeyReused"])
      expect(failure(of("past"))).toEqual(["WaitUntilRefused"])
    }).pipe(Effect.scoped, Effect.provide(Purchases.layer.pipe(Layer.provideMerge(TestDatabase.layer))))
  )
})
