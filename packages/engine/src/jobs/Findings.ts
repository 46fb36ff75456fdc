/**
 * What a person has to look at: the findings the reconciler and the pipeline recorded (one per
 * request and kind), for the operator API and the CLI. Reading them, and marking one settled once
 * a person has dealt with it, is all this does; finding them is the reconciler's and the
 * pipeline's job.
 */
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { orDie } from "../internal/sql.js"
import { type Finding, type FindingKind, type FindingsFilter } from "./Reconciler.js"
import { isUuid } from "../internal/ids.js"

export class FindingNotFound extends Schema.TaggedError<FindingNotFound>()("FindingNotFound", { requestId: Schema.String, kind: Schema.String }) {
  override get message(): string {
    return `no ${this.kind} finding for purchase request ${this.requestId}`
  }
}

export interface FindingsService {
  /** Stored findings, oldest first (at most 500). */
  readonly list: (filter?: FindingsFilter) => Effect.Effect<ReadonlyArray<Finding>>
  /** A person settled it: marked fixed, with their note appended to its detail. */
  readonly settle: (requestId: string, kind: FindingKind, note: string) => Effect.Effect<Finding, FindingNotFound>
}

export class Findings extends Context.Service<Findings, FindingsService>()("@bookbroker/engine/Findings") {}

interface Row {
  readonly request_id: string
  readonly kind: FindingKind
  readonly detail: string
  readonly fixed: boolean
  readonly found_at: Date
}

const toFinding = (row: Row): Finding => ({ requestId: row.request_id, kind: row.kind, detail: row.detail, fixed: row.fixed, foundAt: row.found_at })


export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return {
    list: (filter = {}) =>
      orDie(
        sql<Row>`
          SELECT request_id, kind, detail, fixed, found_at FROM reconciliation_findings
          WHERE ${filter.unfixed === true ? sql`NOT fixed` : sql`TRUE`}
            AND ${filter.requestId === undefined ? sql`TRUE` : isUuid(filter.requestId) ? sql`request_id = ${filter.requestId}` : sql`FALSE`}
          ORDER BY found_at, id
          LIMIT 500`
      ).pipe(Effect.map((rows) => rows.map(toFinding)), Effect.withSpan("Findings.list")),
    settle: (requestId, kind, note) =>
      Effect.gen(function* () {
        if (!isUuid(requestId)) return yield* new FindingNotFound({ requestId, kind })
        const [row] = yield* orDie(sql<Row>`
          UPDATE reconciliation_findings SET fixed = true, detail = detail || ${` — settled: ${note}`}
          WHERE request_id = ${requestId} AND kind = ${kind}
          RETURNING request_id, kind, detail, fixed, found_at`)
        if (row === undefined) return yield* new FindingNotFound({ requestId, kind })
        return toFinding(row)
      }).pipe(Effect.withSpan("Findings.settle"))
  } satisfies FindingsService
})

export const layer: Layer.Layer<Findings, never, SqlClient.SqlClient> = Layer.effect(Findings, make)
