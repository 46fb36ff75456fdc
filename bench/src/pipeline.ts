/**
 * Purchase pipeline benchmark: purchases completed per second through the durable pipeline
 * (PostgreSQL state machine, sandbox payment ledger) against instant simulated sellers in
 * another process, and the database queries each purchase costs.
 *
 *   pnpm bench:pipeline            (PostgreSQL on 127.0.0.1)
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { Money, type Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { Database, Engine, OutboundAddress, Purchases, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Layer, ManagedRuntime, Option, Redacted, Tracer } from "effect"
import { Statement } from "effect/sql"
import { parseArgs } from "node:util"
import { percentile, round, startFleet } from "./support.js"

const { values } = parseArgs({
  options: {
    purchases: { type: "string", default: "2000" },
    sellers: { type: "string", default: "20" },
    workers: { type: "string", default: "64" },
    /** Also print the statements counted, by kind (their first words). */
    statements: { type: "boolean", default: false }
  }
})
const total = Number(values.purchases)

// Count every statement sent: each one passes effect/sql's statement transformer, and each
// transaction (a span of its own) adds BEGIN and COMMIT — or SAVEPOINT and RELEASE when nested.
// The sandbox payment provider keeps its ledger in the same database: its statements (made
// under a `SandboxGateway.*` span) are counted apart — with Stripe they are Stripe's calls.
let queries = 0
let providerQueries = 0
const byKind = new Map<string, number>()
const kindOf = (text: string) => text.replace(/\s+/g, " ").trim().slice(0, 90)
const underProvider = (span: Tracer.AnySpan | undefined): boolean => {
  for (let at = span; at !== undefined; at = at._tag === "Span" ? Option.getOrUndefined(at.parent) : undefined) {
    if (at._tag === "Span" && at.name.startsWith("SandboxGateway.")) return true
  }
  return false
}
const count = (statements: number, provider: boolean, kind: () => string) => {
  queries += statements
  if (provider) providerQueries += statements
  if (values.statements) {
    const key = `${provider ? "[payment provider] " : ""}${kind()}`
    byKind.set(key, (byKind.get(key) ?? 0) + statements)
  }
}
const counting = Layer.mergeAll(
  Layer.succeed(Statement.CurrentTransformer, (statement, _sql, _fiber, span) => {
    count(1, underProvider(span), () => kindOf(statement.compile()[0]))
    return Effect.succeed(statement)
  }),
  Layer.succeed(
    Tracer.Tracer,
    Tracer.make({
      span(options) {
        if (options.name === "sql.transaction") count(2, underProvider(Option.getOrUndefined(options.parent)), () => "BEGIN + COMMIT")
        return Tracer.nativeTracer.span(options)
      }
    })
  )
)

const catalogSize = 5_000
const fleet = await startFleet({ sellers: Number(values.sellers), catalog: catalogSize, coverage: 1, latency: 0, seed: 3 })
const isbns = generateIsbns({ size: catalogSize, seed: 3 }) as ReadonlyArray<Isbn.Isbn13>

const runtime = ManagedRuntime.make(
  Engine.layer({
    adapters: [referenceAdapter],
    secretKey: Redacted.make(SecretBox.generateKey()),
    quotes: { cache: false, coalesce: false },
    workers: { concurrency: Number(values.workers), pollMillis: 5 },
    // The bench's sellers run on this machine.
    outbound: OutboundAddress.loopback,
    // One customer submits everything at once: the backlog's fair share would send most of it
    // back with a 429 (that is `bench:e2e --phases`'s subject, not this one's).
    intake: { backlog: { maxBacklog: 100_000_000, minBacklog: 100_000_000 } }
  }).pipe(
    Layer.provideMerge(Layer.unwrap(Effect.map(TestDatabase.scopedDatabase("bb_bench"), ({ url }) => Database.layer({ url, maxConnections: 20 })))),
    Layer.provideMerge(counting)
  )
)

await runtime.runPromise(
  Effect.gen(function* () {
    const directory = yield* SellerDirectory.SellerDirectory
    for (const seller of fleet.sellers) {
      yield* directory.register({
        name: seller.name,
        kind: "reference",
        config: { baseUrl: seller.url, currency: "EUR" },
        credentials: { apiKey: seller.apiKey },
        limits: { requestsPerSecond: 100_000, burst: 100_000, maxConcurrency: 1_000 },
        status: "active"
      })
    }
  })
)

const submit = (i: number) =>
  runtime.runPromise(
    Effect.flatMap(Purchases.Purchases, (purchases) =>
      purchases.submit({
        customerId: "bench",
        idempotencyKey: `bench-${i}`,
        request: {
          isbn: isbns[i % isbns.length]!,
          max_price: Money.make(10_000, "EUR"),
          payment: { token: "tok_approve" },
          customer: { name: "Bench", email: "bench@example.com", shipping_address: { line1: "1 Bench St", city: "Paris", country: "FR" } }
        }
      })
    )
  )

const queriesBefore = queries
const providerBefore = providerQueries
const started = performance.now()
const submitted = new Map<string, number>()
let nextIndex = 0
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (nextIndex < total) {
      const accepted = await submit(nextIndex++)
      submitted.set(accepted.id, performance.now())
    }
  })
)
const intakeSeconds = (performance.now() - started) / 1000
const latencies: Array<number> = []
const outcomes: Record<string, number> = {}
const pending = new Set(submitted.keys())
while (pending.size > 0) {
  await new Promise((resolve) => setTimeout(resolve, 50))
  const ids = [...pending]
  // Not counted: this benchmark's own status polling.
  const views = await runtime.runPromise(
    Effect.flatMap(Purchases.Purchases, (purchases) => Effect.forEach(ids, (id) => purchases.get(id), { concurrency: 8 })).pipe(
      Effect.provideService(Statement.CurrentTransformer, undefined)
    )
  )
  for (const view of views) {
    if (!view.terminal) continue
    pending.delete(view.id)
    outcomes[view.status] = (outcomes[view.status] ?? 0) + 1
    latencies.push(view.completedAt!.getTime() - view.createdAt.getTime())
  }
  if (performance.now() - started > 300_000) throw new Error("pipeline did not finish within 5 minutes")
}
const seconds = (performance.now() - started) / 1000
latencies.sort((a, b) => a - b)
const result = {
  purchases: total,
  sellers: fleet.sellers.length,
  outcomes,
  purchasesPerSecond: round(total / seconds, 1),
  intakePerSecondWhileProcessing: round(total / intakeSeconds, 0),
  decisionLatencyMillis: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
  /** Intake + pipeline statements (BEGIN/COMMIT included), without this benchmark's status polling or the sandbox provider's ledger. */
  queriesPerPurchase: round((queries - queriesBefore - (providerQueries - providerBefore)) / total, 1),
  /** The sandbox payment provider's own ledger statements (Stripe's side of the calls, with Stripe). */
  paymentProviderQueriesPerPurchase: round((providerQueries - providerBefore) / total, 1)
}
console.log(JSON.stringify(result, null, 2))
if (values.statements) {
  const rows = [...byKind].sort((a, b) => b[1] - a[1]).map(([kind, count]) => `${round(count / total, 2).toString().padStart(7)}  ${kind}`)
  console.log(`statements per purchase, by kind (from the start, migrations and registration included):\n${rows.join("\n")}`)
}
fleet.stop()
await runtime.dispose()
process.exit(0)
