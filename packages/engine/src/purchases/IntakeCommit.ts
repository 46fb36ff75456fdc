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
import { Cause, Effect, Exit, type Scope } from "effect"
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

/** Told once what became of a row: committed (or what its key had made), or the defect that kept it out. */
export type CommitDone = (exit: Exit.Exit<Committed>) => void

interface Pending {
  readonly row: IntakeRow & { readonly id: string; readonly created_at: string }
  readonly done: CommitDone
  answered: boolean
}

/** The arrival clock: microseconds since the epoch, strictly increasing within this process. */
let lastArrival = 0
const arrival = (): number => {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000)
  lastArrival = Math.max(now, lastArrival + 1)
  return lastArrival
}
/**
 * Microseconds since the epoch as an ISO 8601 timestamp PostgreSQL reads at full precision. The
 * millisecond's text is kept for the next arrivals in the same millisecond (most of them, under load).
 */
let lastMillis = Number.NaN
let lastMillisText = ""
export const microsToIso = (micros: number): string => {
  const millis = Math.floor(micros / 1000)
  if (millis !== lastMillis) {
    lastMillis = millis
    lastMillisText = new Date(millis).toISOString().slice(0, -1)
  }
  const sub = micros % 1000
  return `${lastMillisText}${sub < 10 ? "00" : sub < 100 ? "0" : ""}${sub}Z`
}

const keyOf = (customerId: string, idempotencyKey: string) => `${customerId}\u0000${idempotencyKey}`

export interface IntakeOptions {
  readonly maxBatch?: number
  readonly writers?: number
  /** Where the work signal goes (`workSignal.ts`); tests name one PostgreSQL refuses. */
  readonly workChannel?: string
}

export const make = (sql: SqlClient.SqlClient, options: IntakeOptions = {}) =>
  Effect.gen(function* () {
    const maxBatch = options.maxBatch ?? 256
    const channel = options.workChannel ?? workChannel
    /** Rows waiting for a writer, oldest first; writers waiting for rows. */
    const pending: Array<Pending> = []
    const idleWriters: Array<() => void> = []

    /**
     * Answers a row's caller, once. The callback runs on the writer's fiber: one that throws is a
     * defect of the caller, kept to be logged, never a reason to leave the batch's other callers waiting.
     */
    const answer = (one: Pending, exit: Exit.Exit<Committed>, thrown: Array<unknown>) => {
      if (one.answered) return
      one.answered = true
      try {
        one.done(exit)
      } catch (error) {
        thrown.push(error)
      }
    }
    const logThrown = (thrown: ReadonlyArray<unknown>) =>
      thrown.length === 0 ? Effect.void : Effect.logError("intake: a caller's answer callback threw", thrown)

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
        const thrown: Array<unknown> = []
        for (const one of batch) {
          const row = one.row
          if (createdIds.has(row.id)) {
            answer(one, Exit.succeed({ _tag: "Created", id: row.id }), thrown)
            continue
          }
          const existing = byKey.get(keyOf(row.customer_id, row.idempotency_key))
          answer(
            one,
            existing === undefined
              ? Exit.die(new Error(`purchase request for key ${row.idempotency_key} was neither created nor found`))
              : Exit.succeed(
                  existing.request_hash === row.request_hash ? { _tag: "Existing", id: existing.id, status: existing.status } : { _tag: "KeyReused", existingId: existing.id }
                ),
            thrown
          )
        }
        yield* logThrown(thrown)
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
            : Effect.suspend(() => {
                const thrown: Array<unknown> = []
                const exit = Exit.die(Cause.squash(cause))
                for (const one of batch) answer(one, exit, thrown)
                return logThrown(thrown)
              })
        )
      )

    /**
     * The rows waiting when the writer gets to run, up to `maxBatch` (empty when another writer
     * took them first); a writer with nothing to write waits to be woken by `enqueue`.
     */
    const takeBatch = Effect.sync(() => pending.splice(0, maxBatch))
    const nextBatch = Effect.callback<Array<Pending>>((resume) => {
      if (pending.length > 0) return resume(takeBatch)
      const wake = () => resume(takeBatch)
      idleWriters.push(wake)
      return Effect.sync(() => {
        const at = idleWriters.indexOf(wake)
        if (at >= 0) idleWriters.splice(at, 1)
      })
    })
    for (let writer = 0; writer < (options.writers ?? 1); writer++) {
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(nextBatch, (batch) => (batch.length === 0 ? Effect.void : flush(batch)))))
    }

    /**
     * Queues the row for the next batch (its `created_at` is now, to the microsecond); `done` hears
     * once what became of it. No fiber of the caller's: the fast intake lane answers its
     * requests from here. A row queued is written even if its caller stops waiting.
     */
    const enqueue = (row: IntakeRow, done: CommitDone): void => {
      pending.push({ row: { ...row, id: randomUUID(), created_at: microsToIso(arrival()) }, done, answered: false })
      idleWriters.pop()?.()
    }
    /** Stores the row once committed, or says what its key had made: `enqueue` as an effect. */
    const commit = (row: IntakeRow): Effect.Effect<Committed> => Effect.callback<Committed>((resume) => enqueue(row, resume))
    return { commit, enqueue }
  }) satisfies Effect.Effect<unknown, never, Scope.Scope>
