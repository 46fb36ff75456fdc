/**
 * What the fuzz suite measures with: sending a generated request (undici, the path sent as is,
 * every answer bounded by the hang timeout), a cheap fingerprint of every table (rows and a hash
 * of their contents) to see that a rejected request changed nothing, the secrets that must never
 * show up in an answer or a log line, and the figures the summary prints.
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { Readable } from "node:stream"
import { Client, errors } from "undici"
import { authorization, byteLength, type FuzzRequest } from "./OpenApiArbitraries.js"

/** The fuzz settings: `pnpm test:fuzz --runs N --seed S` (run.mjs) sets them; plain `pnpm test` gets the defaults. */
export const settings = {
  runs: Number(process.env["FUZZ_RUNS"] ?? 2_000),
  seed: Number(process.env["FUZZ_SEED"] ?? 20261204),
  /** An answer slower than this is a hang (generous: a loaded 2-core machine must not fail the suite). */
  hangMillis: Number(process.env["FUZZ_HANG_MS"] ?? 10_000),
  /** The long run (`pnpm test:fuzz`) also waits for headers that never finish to be refused. */
  long: process.env["FUZZ_LONG"] === "1",
  summaryFile: process.env["FUZZ_SUMMARY_FILE"]
}

export interface Answer {
  /** `answered`, or the connection closed without an answer (`closed`), or nothing within the hang bound (`timeout`). */
  readonly outcome: "answered" | "closed" | "timeout" | "unsendable"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  readonly millis: number
  readonly error?: string
}

/** Bytes in pieces, for a body sent with `Transfer-Encoding: chunked`. */
async function* pieces(bytes: string | Uint8Array): AsyncGenerator<Uint8Array> {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes)
  const size = Math.max(1, Math.ceil(buffer.length / 3))
  for (let offset = 0; offset < buffer.length; offset += size) yield buffer.subarray(offset, offset + size)
}

/** One keep-alive connection to the server; requests go one at a time, the path as generated. */
export const client = (origin: string) =>
  new Client(origin, { headersTimeout: settings.hangMillis, bodyTimeout: settings.hangMillis, keepAliveTimeout: 2_000, pipelining: 1 })

export const send = async (connection: Client, request: FuzzRequest, keys: Readonly<Record<string, string>>): Promise<Answer> => {
  const headers: Array<string> = []
  for (const value of authorization(request.auth, keys)) headers.push("authorization", value)
  for (const [name, value] of request.headers) headers.push(name, value)
  let body: string | Uint8Array | Readable | null = null
  if (request.body !== undefined) {
    if (request.body.contentType !== undefined) headers.push("content-type", request.body.contentType)
    body = request.body.chunked ? Readable.from(pieces(request.body.bytes)) : request.body.bytes
    if (!request.body.chunked) headers.push("content-length", String(byteLength(request.body.bytes)))
  }
  const started = performance.now()
  try {
    const response = await connection.request({ path: request.path, method: request.method as "GET", headers, body })
    const text = await response.body.text()
    const flat: Record<string, string> = {}
    for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value
    return { outcome: "answered", status: response.statusCode, headers: flat, text, millis: performance.now() - started }
  } catch (error) {
    const millis = performance.now() - started
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) return { outcome: "timeout", status: 0, headers: {}, text: "", millis, error: message }
    // What the client itself refuses to send is not the server's doing.
    if (error instanceof errors.InvalidArgumentError) return { outcome: "unsendable", status: 0, headers: {}, text: "", millis, error: message }
    return { outcome: "closed", status: 0, headers: {}, text: "", millis, error: message }
  }
}

/** Counts and a hash of the contents of every table of the database's schema, one statement. */
export const fingerprinter = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const tables = (yield* sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`.pipe(Effect.orDie)).map(
      (row) => row.tablename
    )
    const statement = tables
      .map((table) => `SELECT '${table}' AS t, count(*)::text AS n, coalesce(sum(hashtextextended(x::text, 0)), 0)::text AS h FROM "${table}" AS x`)
      .join(" UNION ALL ")
    const take = Effect.map(sql.unsafe<{ t: string; n: string; h: string }>(statement), (rows) => Object.fromEntries(rows.map((row) => [row.t, `${row.n} rows, hash ${row.h}`]))).pipe(Effect.orDie)
    return { tables, take }
  })

export type Fingerprint = Readonly<Record<string, string>>

/** The tables whose fingerprint differs, `name: before → after`. */
export const differences = (before: Fingerprint, after: Fingerprint): ReadonlyArray<string> =>
  Object.keys({ ...before, ...after })
    .filter((table) => before[table] !== after[table])
    .map((table) => `${table}: ${before[table]} → ${after[table]}`)

/** The figures the summary prints (all tests of the file add to one). */
export class Figures {
  requests = 0
  readonly statuses = new Map<string, number>()
  readonly operations = new Map<string, Map<string, number>>()
  /** Statuses an operation answered that its OpenAPI entry does not list. */
  readonly undeclared = new Map<string, Set<number>>()
  serverErrors = 0
  hangs = 0
  closes = 0
  unsendable = 0
  stateChecks = 0
  logLines = 0
  slowest = { millis: 0, what: "" }
  rawCases = 0
  readonly rawOutcomes = new Map<string, number>()
  heap: { before: number; after: number; bodies: number; bytes: number; gc: boolean } | undefined = undefined
  stalledHeaders: { connections: number; answeredAfterMillis: number | undefined; outcome: string } | undefined = undefined
  failures: Array<string> = []
  /** A few requests that were closed without an answer or refused by the client library, for the summary. */
  readonly oddities: Array<string> = []

  record(operation: string, answer: Answer, what: () => string) {
    this.requests += 1
    const key = answer.outcome === "answered" ? String(answer.status) : answer.outcome
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1)
    const perOperation = this.operations.get(operation) ?? new Map<string, number>()
    perOperation.set(key, (perOperation.get(key) ?? 0) + 1)
    this.operations.set(operation, perOperation)
    if (answer.outcome === "answered" && answer.status >= 500) this.serverErrors += 1
    if (answer.outcome === "timeout") this.hangs += 1
    if (answer.outcome === "closed") this.closes += 1
    if (answer.outcome === "unsendable") this.unsendable += 1
    if ((answer.outcome === "closed" || answer.outcome === "unsendable") && this.oddities.length < 5) {
      this.oddities.push(`${answer.outcome} (${answer.error ?? "no error"}): ${what().split("\n")[0]?.slice(0, 200) ?? ""}`)
    }
    if (answer.millis > this.slowest.millis) this.slowest = { millis: answer.millis, what: what() }
  }

  summary(): string {
    const sorted = (map: Map<string, number>) =>
      [...map.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, n]) => `${key}×${n}`)
        .join(" ")
    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    const lines = [
      `fuzz summary (seed ${settings.seed}, runs ${settings.runs}, hang bound ${settings.hangMillis} ms)`,
      `  requests sent: ${this.requests} over ${this.operations.size} operations; statuses: ${sorted(this.statuses)}`,
      `  5xx: ${this.serverErrors}   hangs: ${this.hangs}   closed without an answer: ${this.closes}   refused by the client library: ${this.unsendable}`,
      `  rejected requests checked for state changes: ${this.stateChecks}   server log lines: ${this.logLines}`,
      `  slowest answer: ${this.slowest.millis.toFixed(1)} ms — ${this.slowest.what.split("\n")[0] ?? ""}`,
      `  raw-socket cases: ${this.rawCases}; outcomes: ${sorted(this.rawOutcomes)}`
    ]
    if (this.heap !== undefined) {
      lines.push(
        `  heap used: ${mib(this.heap.before)} before → ${mib(this.heap.after)} after ${this.heap.bodies} oversized bodies (${mib(this.heap.bytes)} sent)${this.heap.gc ? ", after a full GC" : " (no GC available)"}`
      )
    }
    if (this.stalledHeaders !== undefined) {
      lines.push(
        `  stalled headers: ${this.stalledHeaders.connections} connections, ${this.stalledHeaders.outcome}${this.stalledHeaders.answeredAfterMillis === undefined ? "" : ` after ${(this.stalledHeaders.answeredAfterMillis / 1000).toFixed(1)} s`}`
      )
    }
    lines.push("  per operation:")
    for (const [operation, statuses] of [...this.operations.entries()].sort(([a], [b]) => a.localeCompare(b))) lines.push(`    ${operation.padEnd(52)} ${sorted(statuses)}`)
    if (this.oddities.length > 0) lines.push(`  closed or unsendable (first ${this.oddities.length}):`, ...this.oddities.map((oddity) => `    ${oddity}`))
    if (this.undeclared.size > 0) {
      lines.push(`  statuses not in the OpenAPI document: ${[...this.undeclared.entries()].map(([operation, statuses]) => `${operation} → ${[...statuses].join(",")}`).join("; ")}`)
    }
    if (this.failures.length > 0) lines.push(`  failures: ${this.failures.length}`, ...this.failures.map((failure) => `    ${failure.replaceAll("\n", "\n    ")}`))
    return lines.join("\n")
  }

  json() {
    return {
      seed: settings.seed,
      runs: settings.runs,
      requests: this.requests,
      operations: this.operations.size,
      statuses: Object.fromEntries(this.statuses),
      serverErrors: this.serverErrors,
      hangs: this.hangs,
      closes: this.closes,
      slowestMillis: Math.round(this.slowest.millis),
      slowest: this.slowest.what,
      rawCases: this.rawCases,
      rawOutcomes: Object.fromEntries(this.rawOutcomes),
      heap: this.heap,
      stalledHeaders: this.stalledHeaders,
      failures: this.failures
    }
  }
}

/** A full GC, when the runtime lets us have one (`--expose-gc`, or turned on here through V8's flags). */
export const collectGarbage = async (): Promise<boolean> => {
  let gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) {
    try {
      const v8 = await import("node:v8")
      const vm = await import("node:vm")
      v8.setFlagsFromString("--expose-gc")
      gc = vm.runInNewContext("gc") as () => void
    } catch {
      return false
    }
  }
  gc()
  gc()
  return true
}
