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
import { Database, Engine, Purchases, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Layer, ManagedRuntime, Redacted, Tracer } from "effect"
import { Statement } from "effect/sql"
import { parseArgs } from "node:util"
import { percentile, round, startFleet } from "./support.js"

const { values } = parseArgs({
  options: {
    purchases: { type: "string", default: "2000" },
    sellers: { type: "string", default: "20" },
    workers: { type: "string", default: "64" }
  }
})
const total = Number(values.purchases)

// Count every statement sent: each one passes effect/sql's statement transformer, and each
// transaction (a span of its own) adds BEGIN and COMMIT — or SAVEPOINT and RELEASE when nested.
let queries = 0
const counting = Layer.mergeAll(
  Layer.succeed(Statement.CurrentTransformer, (statement) => {
    queries += 1
    return Effect.succeed(statement)
  }),
  Layer.succeed(
    Tracer.Tracer,
    Tracer.make({
      span(options) {
        if (options.name === "sql.transaction") queries += 2
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
        isbn: isbns[i % isbns.length]!,
        maxPrice: Money.make(10_000, "EUR"),
        paymentToken: "tok_approve",
        customer: { name: "Bench", email: "bench@example.com", shippingAddress: { line1: "1 Bench St", city: "Paris", country: "FR" } }
      })
    )
  )

const queriesBefore = queries
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
let pollQueries = 0
const latencies: Array<number> = []
const outcomes: Record<string, number> = {}
const pending = new Set(submitted.keys())
while (pending.size > 0) {
  await new Promise((resolve) => setTimeout(resolve, 50))
  const ids = [...pending]
  const views = await runtime.runPromise(Effect.flatMap(Purchases.Purchases, (purchases) => Effect.forEach(ids, (id) => purchases.get(id), { concurrency: 8 })))
  // Purchases.get is two statements (the request, its attempts).
  pollQueries += 2 * ids.length
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
  /** Intake + pipeline statements (BEGIN/COMMIT included), without this benchmark's status polling. */
  queriesPerPurchase: round((queries - queriesBefore - pollQueries) / total, 1)
}
console.log(JSON.stringify(result, null, 2))
fleet.stop()
await runtime.dispose()
process.exit(0)
