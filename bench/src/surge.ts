/**
 * Surge benchmark (issue 18, "fair when copies are scarce"): a flash sale. 1,000 customers ask
 * for the same ISBN within one second while three simulated sellers (over HTTP, in this process,
 * so their own call counters can be read) hold 5 copies between them, all within every
 * customer's maximum. Copies should go first come, first served: exactly 5 purchases (more is a
 * money bug), to the 5 earliest arrivals, the rest answered quickly and honestly, the sellers
 * asked about once per copy rather than once per request.
 *
 *   pnpm bench:surge                     (PostgreSQL on 127.0.0.1; a throw-away database)
 *   pnpm bench:surge --rate-limited      (the cheapest seller allows 5 calls a second, burst 5)
 *
 * Options: --requests 1000, --window-ms 1000 (submissions spread evenly over it), --workers 64
 * (requests the worker runs at once, as in bench:pipeline), --concurrency N (submissions in
 * flight at most; default 0: every customer submits at its own moment, however slow intake is).
 * Gives up 90 s after the first submission and says so. Prints a summary, then one JSON line.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { Money, type Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns, referenceSellerHandlers, SellerSimulator, serveHandlers, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { Database, Engine, OutboundAddress, Purchases, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { parseArgs } from "node:util"
import { percentile, round } from "./support.js"

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000" },
    "window-ms": { type: "string", default: "1000" },
    workers: { type: "string", default: "64" },
    concurrency: { type: "string", default: "0" },
    "rate-limited": { type: "boolean", default: false }
  }
})
const total = Number(values.requests)
const windowMillis = Number(values["window-ms"])
const submitConcurrency = Number(values.concurrency)
const giveUpMillis = 90_000
const copies = 5
const maxPrice = 2_000

const [isbn] = generateIsbns({ size: 1, seed: 18 }) as ReadonlyArray<Isbn.Isbn13>
// 2 + 2 + 1 copies at three prices, all within the maximum. With --rate-limited the cheapest
// seller, the one every request wants to hear from, allows 5 calls a second (burst 5).
const sellerSpecs = [
  { name: "surge-a", price: 1_000, quantity: 2, rateLimit: values["rate-limited"] ? { requestsPerSecond: 5, burst: 5 } : undefined },
  { name: "surge-b", price: 1_150, quantity: 2, rateLimit: undefined },
  { name: "surge-c", price: 1_300, quantity: 1, rateLimit: undefined }
] as const
const sellers: Array<{ name: string; simulator: SellerSimulator; server: HandlerServer; limits: { requestsPerSecond: number; burst: number } }> = []
for (const [index, spec] of sellerSpecs.entries()) {
  const simulator = new SellerSimulator({
    name: spec.name,
    apiKey: `${spec.name}-key`,
    stock: [{ isbn: isbn!, price: spec.price, quantity: spec.quantity }],
    seed: 1800 + index,
    ...(spec.rateLimit === undefined ? {} : { rateLimit: spec.rateLimit })
  })
  const server = await serveHandlers(referenceSellerHandlers(simulator, { mode: "hold", batch: false }), { onClose: () => simulator.close() })
  // bookbroker is registered at 80 % of a seller's own limit (as bench:e2e does): room for the
  // jitter between a permit and the call's arrival.
  const limits = spec.rateLimit === undefined ? { requestsPerSecond: 100_000, burst: 100_000 } : { requestsPerSecond: 4, burst: 4 }
  sellers.push({ name: spec.name, simulator, server, limits })
}

// The database is this bench's own (dropped at the end even if the engine does not stop cleanly).
const databaseScope = await Effect.runPromise(Scope.make())
const database = await Effect.runPromise(Scope.provide(databaseScope)(TestDatabase.scopedDatabase("bb_surge")))
// The engine as `bookbroker serve` runs it (quote cache and coalescing on, default intake), one
// worker process in this one, running --workers requests at once.
const runtime = ManagedRuntime.make(
  Engine.layer({
    adapters: [referenceAdapter],
    secretKey: Redacted.make(SecretBox.generateKey()),
    workers: { concurrency: Number(values.workers), pollMillis: 5 },
    // The bench's sellers run on this machine.
    outbound: OutboundAddress.loopback
  }).pipe(Layer.provideMerge(Database.layer({ url: database.url, maxConnections: 20 })))
)

const cleanUp = async () => {
  for (const seller of sellers) await seller.server.close()
  await Promise.race([runtime.dispose(), new Promise((resolve) => setTimeout(resolve, 10_000))])
  await Effect.runPromise(Scope.close(databaseScope, Exit.void))
}

try {
  await runtime.runPromise(
    Effect.gen(function* () {
      const directory = yield* SellerDirectory.SellerDirectory
      for (const seller of sellers) {
        yield* directory.register({
          name: seller.name,
          kind: "reference",
          config: { baseUrl: seller.server.url, currency: "EUR" },
          credentials: { apiKey: seller.simulator.apiKey! },
          limits: { ...seller.limits, maxConcurrency: 1_000 },
          status: "active"
        })
      }
    })
  )

  // Each customer's own request; the arrival rank is its place in the schedule.
  const submit = (rank: number) =>
    runtime.runPromise(
      Effect.flatMap(Purchases.Purchases, (purchases) =>
        purchases.submit({
          customerId: `surge-customer-${rank}`,
          idempotencyKey: `surge-${rank}`,
          request: {
            isbn: isbn!,
            max_price: Money.make(maxPrice, "EUR"),
            payment: { token: "tok_approve" },
            customer: { name: "Surge Reader", email: `reader${rank}@example.com`, shipping_address: { line1: "1 Sale St", city: "Paris", country: "FR" } }
          }
        })
      ).pipe(Effect.result)
    )

  const submittedAt: Array<number> = []
  const rankOf = new Map<string, number>()
  const refused: Record<string, number> = {}
  let inFlight = 0
  const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))
  const started = Date.now()
  const submissions: Array<Promise<void>> = []
  for (let rank = 0; rank < total; rank++) {
    const wait = started + (rank * windowMillis) / total - Date.now()
    if (wait >= 1) await sleep(wait)
    while (submitConcurrency > 0 && inFlight >= submitConcurrency) await sleep(1)
    inFlight += 1
    submittedAt[rank] = Date.now()
    submissions.push(
      submit(rank).then((result) => {
        inFlight -= 1
        if (result._tag === "Success") rankOf.set(result.success.id, rank)
        else refused[result.failure._tag] = (refused[result.failure._tag] ?? 0) + 1
      })
    )
  }
  const lastSubmitMillis = Date.now() - started
  await Promise.all(submissions)
  const intakeMillis = Date.now() - started

  // This bench's own polling: one statement a round, not a `get` per request, so the bench does
  // not load the machine it measures. `completed_at` is set when a request turns terminal.
  const terminal = new Set<string>()
  let gaveUp = false
  while (terminal.size < rankOf.size) {
    if (Date.now() - started > giveUpMillis) {
      gaveUp = true
      break
    }
    await sleep(100)
    const rows = await runtime.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ id: string }>`SELECT id FROM purchase_requests WHERE completed_at IS NOT NULL`).pipe(Effect.orDie)
    )
    for (const row of rows) terminal.add(row.id)
  }
  const finishedMillis = Date.now() - started

  const views = await runtime.runPromise(
    Effect.flatMap(Purchases.Purchases, (purchases) => Effect.forEach([...rankOf.keys()], (id) => Effect.orDie(purchases.get(id)), { concurrency: 8 }))
  )
  const outcomes: Record<string, number> = {}
  for (const view of views) outcomes[view.status] = (outcomes[view.status] ?? 0) + 1
  const purchased = views.filter((view) => view.status === "purchased")
  const ranks = purchased.map((view) => rankOf.get(view.id)!).sort((a, b) => a - b)
  // The order the database accepted them in (created_at), in case intake reordered the schedule.
  const acceptOrder = [...views].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map((view) => view.id)
  const acceptRanks = purchased.map((view) => acceptOrder.indexOf(view.id)).sort((a, b) => a - b)
  // Submit (this process's clock) → terminal (the database's `completed_at`, same machine).
  const decisionMillis = (view: Purchases.PurchaseView) => view.completedAt!.getTime() - submittedAt[rankOf.get(view.id)!]!
  const latencies = views.filter((view) => view.terminal).map(decisionMillis).sort((a, b) => a - b)
  const purchasedLatencies = purchased.map(decisionMillis).sort((a, b) => a - b)
  const byOperation = (operation: "quote" | "hold" | "purchase" | "release" | "lookupOrder") => sellers.reduce((sum, seller) => sum + seller.simulator.calls[operation], 0)
  const sellerOrders = sellers.reduce((sum, seller) => sum + seller.simulator.orders.length, 0)

  const result = {
    bench: "surge",
    rateLimited: values["rate-limited"],
    requests: total,
    windowMillis,
    workers: Number(values.workers),
    copies,
    purchased: purchased.length,
    purchasedRanks: ranks,
    purchasedRanksByAcceptOrder: acceptRanks,
    earliestGotThem: ranks.length === copies && ranks.every((rank, index) => rank === index),
    outcomes,
    refusedAtIntake: refused,
    gaveUp,
    notTerminal: views.filter((view) => !view.terminal).length,
    sellerCalls: { quote: byOperation("quote"), hold: byOperation("hold"), purchase: byOperation("purchase"), release: byOperation("release"), lookupOrder: byOperation("lookupOrder") },
    // Per seller: calls by operation, holds granted (a hold takes the copy off the shelf), orders placed.
    sellerCallsBySeller: Object.fromEntries(
      sellers.map((seller) => [
        seller.name,
        { quote: seller.simulator.calls.quote, hold: seller.simulator.calls.hold, holdsGranted: seller.simulator.holds.size, purchase: seller.simulator.calls.purchase, release: seller.simulator.calls.release, orders: seller.simulator.orders.length }
      ])
    ),
    ordersInSellersBooks: sellerOrders,
    rateViolations: sellers.reduce((sum, seller) => sum + seller.simulator.violations.rate, 0),
    decisionLatencyMillis: { p50: round(percentile(latencies, 50), 0), p99: round(percentile(latencies, 99), 0), max: latencies.at(-1) ?? null },
    purchasedLatencyMillis: purchasedLatencies,
    lastSubmitAtMillis: lastSubmitMillis,
    intakeDoneAtMillis: intakeMillis,
    allTerminalAtMillis: gaveUp ? null : finishedMillis
  }

  console.log(`surge: ${total} requests for one ISBN over ${windowMillis} ms, ${copies} copies across 3 sellers${values["rate-limited"] ? " (surge-a rate-limited: 5/s, burst 5)" : ""}`)
  if (gaveUp) console.log(`GAVE UP after ${giveUpMillis / 1000} s: ${result.notTerminal} requests not terminal yet`)
  if (purchased.length > copies || sellerOrders > copies) {
    console.log(`!!! MONEY BUG: ${purchased.length} purchased and ${sellerOrders} orders in the sellers' books for ${copies} copies !!!`)
  }
  console.log(`purchased: ${purchased.length} of ${copies} copies; arrival ranks ${JSON.stringify(ranks)} (goal: [0,1,2,3,4]) — ${result.earliestGotThem ? "the earliest got them" : "NOT the earliest"}`)
  console.log(`outcomes: ${JSON.stringify(outcomes)}${Object.keys(refused).length > 0 ? `; refused at intake: ${JSON.stringify(refused)}` : ""}`)
  console.log(`seller calls: ${JSON.stringify(result.sellerCalls)}; rate violations: ${result.rateViolations}`)
  console.log(`decision latency (submit → terminal): p50 ${result.decisionLatencyMillis.p50} ms, p99 ${result.decisionLatencyMillis.p99} ms, max ${result.decisionLatencyMillis.max} ms`)
  console.log(JSON.stringify(result))
} finally {
  await cleanUp()
}
process.exit(0)
