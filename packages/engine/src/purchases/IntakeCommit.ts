/**
 * The durable door: a new purchase request is answered only once its row and its `received`
 * transition are committed. Group commit: rows that arrive while an insert is in flight go into
 * the next one, as one multi-row statement (at most `maxBatch` rows, `writers` statements in
 * flight at once); each caller still waits for its own row. One writer by default: the rows that
 * arrive during one commit make the next batch, and bigger batches cost less per row on both
 * sides (`bench:intake`, session 16: 4 writers averaged 18 rows a batch, 102–105 µs of server
 * and 52–54 µs of PostgreSQL CPU per request; 1 writer 94 µs and 43 µs, p99 unchanged). A row whose customer already used
 * its idempotency key is not inserted: the caller hears which request the key made, and whether
 * it asked for the same thing (`request_hash`). The same statement wakes an idle worker (NOTIFY).
 */
import type { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Cause, Deferred, Effect, Queue, type Scope } from "effect"
import type { PurchaseStatus } from "./store/PurchaseStore.js"
import * as PurchaseRequest from "./PurchaseRequest.js"
import { signalWork, workChannel, workPayload } from "./workSignal.js"

/** A new request as stored (`id` and `created_at` are given here): who asked, with which key, and what (`PurchaseRequest.columns`). */
export interface IntakeRow extends PurchaseRequest.Columns {
  readonly customer_id: string
  readonly idempotency_key: string
  /** What was asked, hashed: the same key with another request is refused. */
  readonly request_hash: string
}

/** The request's own columns, as the statement names them (built once: the statement's text never changes). */
const requestColumns = Object.keys(PurchaseRequest.columns).join(", ")
const recordColumns = Object.entries(PurchaseRequest.columns)
  .map(([column, type]) => `${column} ${type}`)
  .join(", ")

export type Committed =
  | { readonly _tag: "Created"; readonly id: string }
  /** The key had made this request already, asking the same. */
  | { readonly _tag: "Existing"; readonly id: string; readonly status: PurchaseStatus }
  /** The key had made another request, asking something else. */
  | { readonly _tag: "KeyReused"; readonly existingId: string }

interface Pending {
  readonly row: IntakeRow & { readonly id: string; readonly created_at: string }
  readonly done: Deferred.Deferred<Committed>
}

/** The arrival clock: microseconds since the epoch, strictly increasing within this process. */
let lastArrival = 0
const arrival = (): number => {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000)
  lastArrival = Math.max(now, lastArrival + 1)
  return lastArrival
}
/** Microseconds since the epoch as an ISO 8601 timestamp PostgreSQL reads at full precision. */
const microsToIso = (micros: number): string =>
  `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, -1)}${String(micros % 1000).padStart(3, "0")}Z`

const keyOf = (customerId: string, idempotencyKey: string) => `${customerId}\u0000${idempotencyKey}`

export interface IntakeOptions {
  readonly maxBatch?: number
  readonly writers?: number
  /** Where the work signal goes (`workSignal.ts`); tests name one PostgreSQL refuses. */
  readonly workChannel?: string
}

export const make = (sql: SqlClient.SqlClient, options: IntakeOptions = {}) =>
  Effect.gen(function* () {
    const intake = yield* Queue.unbounded<Pending>()
    const channel = options.workChannel ?? workChannel

    /** The batch as one statement; with `signal`, the same statement wakes an idle worker. */
    const flushTogether = (batch: ReadonlyArray<Pending>, signal: boolean) =>
      Effect.gen(function* () {
        const rows = batch.map(({ row }) => row)
        const created = yield* sql<{ id: string }>`
          WITH input AS (
            SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
              id uuid, customer_id text, idempotency_key text, request_hash text, ${sql.literal(recordColumns)}, created_at timestamptz)
          ), created AS (
            -- created_at is the moment of arrival, taken when the submission came in (scarce copies go
            -- first come, first served): not the group commit's, which would give a batch one moment.
            -- original_max keeps the maximum asked; max_amount is the current round's (a counter-offer's).
            INSERT INTO purchase_requests (id, customer_id, idempotency_key, request_hash, ${sql.literal(requestColumns)}, original_max, status, created_at)
            SELECT id, customer_id, idempotency_key, request_hash, ${sql.literal(requestColumns)}, max_amount, 'received', created_at
            FROM input
            ON CONFLICT (customer_id, idempotency_key) DO NOTHING
            RETURNING id
          ), transition AS (
            INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
            SELECT id, NULL, 'received', 'intake', NULL FROM created
          ), signal AS (
            -- "There is work" for an idle worker (workSignal.ts), delivered when this
            -- statement commits: no statement of its own. Only when a row was created.
            SELECT pg_notify(${channel}, ${workPayload}) WHERE ${signal} AND EXISTS (SELECT 1 FROM created)
          )
          SELECT created.id FROM created LEFT JOIN signal ON true`
        const createdIds = new Set(created.map((row) => row.id))
        const byKey = new Map<string, { id: string; status: PurchaseStatus; request_hash: string }>()
        const others = rows.filter((row) => !createdIds.has(row.id))
        if (others.length > 0) {
          const keys = others.map((row) => ({ customer_id: row.customer_id, idempotency_key: row.idempotency_key }))
          const existing = yield* sql<{ id: string; status: PurchaseStatus; request_hash: string; customer_id: string; idempotency_key: string }>`
            SELECT r.id, r.status, r.request_hash, r.customer_id, r.idempotency_key
            FROM purchase_requests r
            JOIN jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) AS k(customer_id text, idempotency_key text)
              ON r.customer_id = k.customer_id AND r.idempotency_key = k.idempotency_key`
          for (const row of existing) byKey.set(keyOf(row.customer_id, row.idempotency_key), row)
        }
        yield* Effect.forEach(batch, ({ row, done }) => {
          if (createdIds.has(row.id)) return Deferred.succeed(done, { _tag: "Created", id: row.id })
          const existing = byKey.get(keyOf(row.customer_id, row.idempotency_key))
          if (existing === undefined) return Deferred.die(done, new Error(`purchase request for key ${row.idempotency_key} was neither created nor found`))
          return Deferred.succeed(
            done,
            existing.request_hash === row.request_hash ? { _tag: "Existing", id: existing.id, status: existing.status } : { _tag: "KeyReused", existingId: existing.id }
          )
        }, { discard: true })
      }).pipe(Effect.withSpan("Purchases.intakeBatch", { attributes: { rows: batch.length } }, { captureStackTrace: false }))

    /**
     * One submission must never fail another's: when the batch's statement fails (a row the
     * database refuses, whatever got past validation), each row is tried on its own, so only the
     * one at fault is answered with the error. (An already answered caller is not answered again.)
     * Those tries leave the work signal out — it is a hint, and a NOTIFY PostgreSQL refuses must
     * not refuse the rows — and it is sent on its own after them, its failure ignored.
     */
    const flush = (batch: ReadonlyArray<Pending>, signal = true): Effect.Effect<void> =>
      flushTogether(batch, signal).pipe(
        Effect.catchCause((cause) =>
          !Cause.hasInterrupts(cause) && (signal || batch.length > 1)
            ? Effect.andThen(Effect.forEach(batch, (one) => flush([one], false), { discard: true }), signalWork(sql, workPayload, channel))
            : Effect.forEach(batch, ({ done }) => Deferred.failCause(done, Cause.die(Cause.squash(cause))), { discard: true })
        )
      )
    for (let writer = 0; writer < (options.writers ?? 1); writer++) {
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.takeBetween(intake, 1, options.maxBatch ?? 256), flush)))
    }

    /** Stores the row (its `created_at` is now, to the microsecond) once committed, or says what its key had made. */
    const commit = (row: IntakeRow): Effect.Effect<Committed> =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<Committed>()
        yield* Queue.offer(intake, { row: { ...row, id: randomUUID(), created_at: microsToIso(arrival()) }, done })
        return yield* Deferred.await(done)
      })
    return { commit }
  }) satisfies Effect.Effect<unknown, never, Scope.Scope>
