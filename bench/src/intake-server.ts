/**
 * The real bookbroker server for `intake.ts`, in its own process: `Server.layer` over the engine
 * (workers off: intake only) on a throw-away PostgreSQL database, with one customer. Prints
 * `{ url, key }` as a JSON line; answers `stats` on stdin with `{ rows, cpuMicros, monotonicMicros }`
 * (purchase requests stored, CPU used, the clock `--cpu-prof` uses); stops (dropping the database) when stdin closes.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { Access, Database, Engine, OutboundAddress, SecretBox, Tracing } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Server } from "@bookbroker/server"
import { HttpServer } from "effect/http"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Redacted } from "effect"
import type { NetAddress } from "effect/net"
import { createInterface } from "node:readline"

const program = Effect.gen(function* () {
  const layer = Server.layer({
    port: 0,
    operatorToken: Redacted.make("bench-operator-token-0123456789"),
    // The per-customer limit (20/s by default) would turn a load test into a 429 test.
    settings: { customerRateLimit: { requestsPerSecond: 1_000_000, burst: 1_000_000 } }
  }).pipe(
    Layer.provideMerge(
      Engine.layer({
        adapters: [referenceAdapter],
        secretKey: Redacted.make(SecretBox.generateKey()),
        workers: false,
        directoryRefreshMillis: 0,
        outbound: OutboundAddress.loopback,
        // Nothing drains the queue here (workers off), so the backlog limit (10,000 requests in
        // flight by default) would turn the run into a 429 test after a few seconds.
        intake: { backlog: { maxBacklog: 100_000_000 } }
      })
    ),
    Layer.provideMerge(Layer.unwrap(Effect.map(TestDatabase.scopedDatabase("bb_bench_intake"), ({ url }) => Database.layer({ url })))),
    // As `bookbroker serve` runs it: spans only when an OTLP endpoint is configured.
    Layer.provide(process.env["EXP_TRACING"] === "native" ? Layer.empty : Tracing.layer({ endpoint: process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] }))
  )
  const context = yield* Layer.build(layer)
  const address = Context.get(context, HttpServer.HttpServer).address as NetAddress.InetAddress
  const sql = Context.get(context, SqlClient.SqlClient)
  const { apiKey } = yield* Context.get(context, Access.Access).createCustomer("Bench", "bench@example.com")
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}`, key: Redacted.value(apiKey) })}\n`)
  const lines = createInterface({ input: process.stdin })
  yield* Effect.callback<void>((resume) => {
    lines.on("line", (line) => {
      if (line.trim() !== "stats") return
      const cpu = process.cpuUsage()
      const now = Number(process.hrtime.bigint() / 1000n)
      // Request reads no longer cancel their queries when autocannon closes connections (see the
      // engine's `uninterruptibleSql`); the retry stays as a guard for other interrupted statements.
      Effect.runPromise(Effect.orDie(sql<{ n: string }>`SELECT count(*)::text AS n FROM purchase_requests`.pipe(Effect.retry({ times: 5 })))).then(
        (rows) => process.stdout.write(`${JSON.stringify({ rows: Number(rows[0]!.n), cpuMicros: cpu.user + cpu.system, monotonicMicros: now })}\n`),
        (error: unknown) => process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`)
      )
    })
    lines.on("close", () => resume(Effect.void))
  })
})

await Effect.runPromise(Effect.scoped(program))
process.exit(0)
