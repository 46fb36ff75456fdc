/**
 * `store.step`: every write of a pipeline step commits as one statement with the lease check —
 * all of it while the run holds the lease, none of it once another worker has taken over.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient, Statement } from "effect/sql"
import * as Store from "../src/purchases/store/PurchaseStore.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const isbns = generateIsbns({ size: 4, seed: 2024 }) as ReadonlyArray<Isbn.Isbn13>
const Infrastructure = Harness.infrastructure(new SandboxGateway.SandboxFaults())

/** Submits a request and claims it (alone: everything else waits), as a worker would. */
const claimed = (isbn: Isbn.Isbn13, worker: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const store = yield* Store.makeStore
    const { id } = yield* Harness.submit(isbn, 3000)
    yield* sql`UPDATE purchase_requests SET next_run_at = now() + interval '1 hour' WHERE id <> ${id} AND status IN ${sql.in(Store.activeStatuses)}`
    const [row] = yield* store.claim(worker, 60_000, 1)
    expect(row?.id).toBe(id)
    const lease: Store.Lease = { requestId: id, worker, fence: row!.fence, leaseMillis: 60_000 }
    return { store, sql, row: row!, lease }
  })

/** The statements `effect` sends. */
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    let statements = 0
    const result = yield* effect.pipe(
      Effect.provideService(Statement.CurrentTransformer, (statement) => {
        statements += 1
        return Effect.succeed(statement)
      }),
      Effect.result
    )
    return { result, statements }
  })

describe("PurchaseStore.step", () => {
  it.live("commits the request's change, its transitions, the outbox event and the other writes in one statement", () =>
    Effect.gen(function* () {
      const { store, sql, row, lease } = yield* claimed(isbns[0]!, "w-step")
      expect(row.payment_token).toBe("tok_approve")
      const { result, statements } = yield* counted(
        store.step(lease, row, {
          transition: { to: "not_available", through: ["authorized"], reason: "no_offers" },
          writes: [store.writes.finding("step_test", "written with the step", false)]
        })
      )
      expect(statements).toBe(1)
      expect(result._tag).toBe("Success")
      const after = yield* store.request(row.id)
      // The payment token goes in the same statement as the final status.
      expect(after).toMatchObject({ status: "not_available", reason: "no_offers", lease_owner: null, lease_expires_at: null, payment_token: null })
      expect(after!.completed_at).not.toBeNull()
      const moves = yield* sql<{ from_status: string | null; to_status: string; reason: string | null; actor: string }>`
        SELECT from_status, to_status, reason, actor FROM state_transitions WHERE request_id = ${row.id} AND actor = 'w-step' ORDER BY id`
      expect(moves).toEqual([
        { from_status: "received", to_status: "authorized", reason: null, actor: "w-step" },
        { from_status: "authorized", to_status: "not_available", reason: "no_offers", actor: "w-step" }
      ])
      const events = yield* sql<{ event: string; payload: unknown }>`SELECT event, payload FROM outbox WHERE request_id = ${row.id}`
      expect(events).toEqual([{ event: "purchase_request.not_available", payload: Store.eventPayload(after!) }])
      const findings = yield* sql`SELECT kind FROM reconciliation_findings WHERE request_id = ${row.id}`
      expect(findings).toEqual([{ kind: "step_test" }])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("writes nothing at all once another worker holds the lease", () =>
    Effect.gen(function* () {
      const { store, sql, row, lease } = yield* claimed(isbns[1]!, "w-late")
      yield* sql`UPDATE purchase_requests SET fence = fence + 1, lease_owner = 'w-thief' WHERE id = ${row.id}`
      const transitionsBefore = yield* sql`SELECT id FROM state_transitions WHERE request_id = ${row.id}`
      const step = yield* Effect.result(
        store.step(lease, row, {
          transition: { to: "failed", through: ["authorized"], reason: "too late" },
          attention: { kind: "dead_letter", detail: "should not be written" },
          writes: [store.writes.finding("late_finding", "should not be written", false), store.writes.endAuthorization()]
        })
      )
      expect(step._tag === "Failure" && step.failure._tag).toBe("LeaseLost")
      const intent = yield* Effect.result(store.paymentIntent(lease, "authorize", 0, `${row.id}:late`, 3000, "EUR"))
      expect(intent._tag === "Failure" && intent.failure._tag).toBe("LeaseLost")

      expect(yield* store.request(row.id)).toMatchObject({ status: "received", attention: null, lease_owner: "w-thief", completed_at: null, payment_token: "tok_approve" })
      expect(yield* sql`SELECT id FROM state_transitions WHERE request_id = ${row.id}`).toEqual(transitionsBefore)
      expect(yield* sql`SELECT id FROM outbox WHERE request_id = ${row.id}`).toEqual([])
      expect(yield* sql`SELECT id FROM reconciliation_findings WHERE request_id = ${row.id}`).toEqual([])
      expect(yield* sql`SELECT id FROM payment_operations WHERE request_id = ${row.id}`).toEqual([])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a payment intent is one statement: created once per key, one more try after that", () =>
    Effect.gen(function* () {
      const { store, row, lease } = yield* claimed(isbns[2]!, "w-intent")
      const key = `${row.id}:authorize:0`
      const first = yield* counted(store.paymentIntent(lease, "authorize", 0, key, 3000, "EUR"))
      expect(first.statements).toBe(1)
      expect(first.result._tag === "Success" && first.result.success).toMatchObject({ kind: "authorize", amount: 3000, status: "pending", tries: 1 })
      const again = yield* store.paymentIntent(lease, "authorize", 0, key, 3000, "EUR")
      expect(again).toMatchObject({ idempotency_key: key, tries: 2 })
      expect(yield* store.payments(row.id)).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )
})
