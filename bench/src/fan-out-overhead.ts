/**
 * bookbroker's own CPU per seller call, without the network (`pnpm bench:fan-out-overhead`,
 * about a minute): the quote engine in this process — its real directory in a throw-away
 * PostgreSQL database, in-process shared state, no cache, no coalescing, tracing off — fanning
 * out to `--sellers` sellers whose adapter answers every quote at once with an offer (a Promise
 * adapter returning the contract's JSON shape, so the SDK validates it as it would a real one),
 * `--concurrency` fan-outs in flight. What is left is the engine and the SDK: admission, the
 * seller's queue, the call's guard and timeout, answer validation, metrics, the fan-out's
 * bookkeeping. `bench:quotes` measures the same path over HTTP, where undici and the sockets are
 * most of the cost and the host's drift most of the noise; this is the figure to compare before
 * and after a change to that path (runs alternating, minutes apart).
 *
 * Runs as production runs bookbroker (bundled, the production launch flags); `--built false`
 * runs the sources through tsx.
 */
import { defineAdapter, type Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { QuoteEngine, SellerDirectory } from "@bookbroker/engine"
import { Effect, Schema } from "effect"
import { parseArgs } from "node:util"
import { quoteEngineRuntime } from "./quote-engine.js"
import { round, runBuilt } from "./support.js"

const { values } = parseArgs({
  options: {
    sellers: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    /** Fan-outs per round. */
    fanouts: { type: "string", default: "1000" },
    rounds: { type: "string", default: "5" },
    built: { type: "string", default: "true" }
  }
})
if (values.built !== "false") await runBuilt(import.meta.url)
const sellerCount = Number(values.sellers)
const concurrency = Number(values.concurrency)
const fanouts = Number(values.fanouts)
const rounds = Number(values.rounds)

const expiresAt = new Date(Date.now() + 3_600_000).toISOString()
/** Answers every quote at once, as the reference adapter maps a seller's offer. */
const instant = defineAdapter({
  kind: "instant",
  version: "1.0.0",
  config: Schema.Struct({ price: Schema.Number }),
  capabilities: { batchQuotes: null, holds: false, orderLookup: false, pricePush: false },
  create: ({ config }) => ({
    quote: async ({ isbns }) =>
      isbns.map((isbn, i) => ({
        available: true as const,
        isbn,
        quoteId: `q-${isbn}-${i}`,
        price: { amount: config.price, currency: "EUR" },
        shipping: { amount: 300, currency: "EUR" },
        condition: "new" as const,
        quantity: null,
        expiresAt
      })),
    purchase: async () => {
      throw new Error("not in this bench")
    }
  })
})

const runtime = quoteEngineRuntime({ cache: false, coalesce: false }, [instant])
await runtime.runPromise(
  Effect.flatMap(SellerDirectory.SellerDirectory, (directory) =>
    Effect.forEach(
      Array.from({ length: sellerCount }, (_, i) => i),
      (i) =>
        directory.register({
          name: `instant-${i}`,
          kind: "instant",
          config: { price: 1000 + i },
          limits: { requestsPerSecond: 1_000_000, burst: 1_000_000, maxConcurrency: 1_000, timeoutMillis: 3_000 },
          status: "active"
        }),
      { concurrency: 16, discard: true }
    )
  )
)

const isbns = generateIsbns({ size: 100_000, seed: 1 }) as ReadonlyArray<Isbn.Isbn13>
let next = 0
const fanOut = () =>
  runtime.runPromise(
    Effect.flatMap(QuoteEngine.QuoteEngine, (engine) => engine.quotes(isbns[next++ % isbns.length]!, { currency: "EUR" }))
  )
const run = async (count: number) => {
  let left = count
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const book = await fanOut()
        if (book.outcomes.length !== sellerCount) throw new Error(`expected ${sellerCount} outcomes, got ${book.outcomes.length}`)
      }
    })
  )
}

await run(Math.ceil(fanouts / 2)) // warm up the JIT
const perCall: Array<number> = []
for (let r = 0; r < rounds; r++) {
  const before = process.cpuUsage()
  await run(fanouts)
  const used = process.cpuUsage(before)
  perCall.push(round((used.user + used.system) / (fanouts * sellerCount), 2))
}
const sorted = [...perCall].sort((a, b) => a - b)
const results = {
  sellers: sellerCount,
  concurrency,
  fanOutsPerRound: fanouts,
  launch: values.built === "false" ? "sources through tsx" : `bundle (esbuild), node ${process.execArgv.join(" ")}`,
  cpuMicrosPerSellerCall: perCall,
  median: sorted[Math.floor(sorted.length / 2)]
}
console.log(JSON.stringify(results, null, 2))
await runtime.dispose()
process.exit(0)
