/**
 * Quote fan-out benchmark, one run:
 * 1. seller calls/s: raw undici vs the engine, against the same 200 sellers (a static
 *    responder in another process, so the figure is the client's, not the simulator's), taking
 *    turns for `--rounds` windows of `--seconds` each, with the CPU per call of each. Raw undici
 *    twice: 256 calls in flight, each caller going on as soon as its answer is read (1a, the
 *    floor), and doing the engine's job (1a': 8 fan-outs in flight, each asking all 200 sellers at
 *    once and waiting for every answer: 1,600 calls in flight, in bursts);
 * 2. 200-seller fan-out latency (sellers answering at once, so this is bookbroker's overhead);
 * 3. seller calls per request at a Zipf workload, caching + coalescing on vs off, against the
 *    full msw simulated sellers.
 * With `--sdk`, also the SDK alone between 1a and 1b: `SellerClient.quote` for the reference
 * adapter, 256 calls in flight, no engine (no admission, queue or metrics) — the HTTP path,
 * guard and answer validation a seller call pays whatever the engine does —, and the SDK doing
 * the engine's job (1c': the fan-outs of 1a' through `SellerClient.startQuote`, the callback
 * quote the engine uses: the most the engine could reach with this SDK). `--no-zipf` skips 3.
 * The engine runs as production runs it (issue 14): this script and the workspace bundled by
 * esbuild, under the production launch flags (`runBuilt`); `--built false` runs the sources
 * through tsx, as before session 22.
 * With `--redis`, 1b runs twice more on Redis shared state (a private `redis-server` started on
 * a free port, so its counters are this run's alone): seller scripts batched per turn (the
 * default) and one command per call (`batchSellerScripts: false`, as before issue 14), each with
 * Redis round trips (server socket reads) and scripts per fan-out.
 *
 *   pnpm bench:quotes            (PostgreSQL on 127.0.0.1 needed for the seller directory)
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { SellerClient, type Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns, zipfSampler } from "@bookbroker/adapter-sdk/testing"
import { QuoteEngine, SellerDirectory, SharedState } from "@bookbroker/engine"
import { Effect, type Layer } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { createServer } from "node:net"
import { parseArgs } from "node:util"
import { Agent, request } from "undici"
import { quoteEngineRuntime } from "./quote-engine.js"
import { percentile, round, runBuilt, startFleet, type FleetSeller } from "./support.js"

const { values } = parseArgs({
  options: {
    sellers: { type: "string", default: "200" },
    catalog: { type: "string", default: "100000" },
    seconds: { type: "string", default: "5" },
    /** Windows per side in part 1, taking turns. */
    rounds: { type: "string", default: "3" },
    "zipf-requests": { type: "string", default: "400" },
    sdk: { type: "boolean", default: false },
    "no-zipf": { type: "boolean", default: false },
    redis: { type: "boolean", default: false },
    /** With --redis: the per-call run first (so an order effect can be told from the change). */
    "per-call-first": { type: "boolean", default: false },
    /** `--built false`: the engine from its TypeScript sources through tsx instead of the bundle. */
    built: { type: "string", default: "true" },
    /** `--profile FILE`: a V8 CPU profile of the engine's measured window (1b) only, for DevTools. */
    profile: { type: "string" },
    /** `--profile-side raw|rawFanOut|sdk|sdkFanOut|engine`: whose first window `--profile` records (default engine). */
    "profile-side": { type: "string", default: "engine" }
  }
})
if (values.built !== "false") await runBuilt(import.meta.url)
const sellerCount = Number(values.sellers)
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
/** Fan-outs in flight in 1b (and 1a'). */
const fanOutConcurrency = 8
const catalogSize = Number(values.catalog)

let fleet = await startFleet({ sellers: sellerCount, catalog: catalogSize, coverage: 0.5, latency: 0, seed: 1, responder: "static" })
const isbns = generateIsbns({ size: catalogSize, seed: 1 }) as ReadonlyArray<Isbn.Isbn13>
const results: Record<string, unknown> = {
  sellers: sellerCount,
  catalog: catalogSize,
  node: process.version,
  launch: values.built === "false" ? "sources through tsx" : `bundle (esbuild), node ${process.execArgv.join(" ")}`
}

/** What one side did in one measured window. */
interface Window {
  readonly calls: number
  readonly seconds: number
  readonly cpuMicros: number
}

/** Runs `work` until `seconds` from now, measuring calls (as `work` counts them), wall time and this process's CPU. */
const measure = async (work: (until: number) => Promise<number>): Promise<Window> => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const calls = await work(Date.now() + seconds * 1000)
  const elapsed = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  return { calls, seconds: elapsed, cpuMicros: used.user + used.system }
}

/** `concurrency` loops calling `call(i)` until `until`; the calls made. */
const loop = async (concurrency: number, until: number, call: (i: number) => Promise<unknown>) => {
  let calls = 0
  const worker = async (offset: number) => {
    for (let i = offset; Date.now() < until; i += concurrency) {
      await call(i)
      calls += 1
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, offset) => worker(offset)))
  return calls
}

const summary = (windows: ReadonlyArray<Window>) => {
  const calls = windows.reduce((sum, w) => sum + w.calls, 0)
  const elapsed = windows.reduce((sum, w) => sum + w.seconds, 0)
  const cpu = windows.reduce((sum, w) => sum + w.cpuMicros, 0)
  return { callsPerSecond: round(calls / elapsed, 0), cpuMicrosPerCall: round(cpu / calls, 0) }
}

// 1a. Raw undici: the floor for one process making seller calls.
const rawAgent = new Agent({ connections: 32, keepAliveTimeout: 10_000, pipelining: 1 })
const rawWindow = (until: number) =>
  loop(256, until, async (i) => {
    const seller: FleetSeller = fleet.sellers[i % fleet.sellers.length]!
    const isbn = isbns[(i * 7919) % isbns.length]!
    const response = await request(`${seller.url}/api/v1/books/${isbn}/quote`, { dispatcher: rawAgent, headers: { "x-api-key": seller.apiKey } })
    await response.body.json().catch(() => undefined)
  })

// 1a'. Raw undici doing the engine's job: `fanOutConcurrency` fan-outs in flight, each asking every
// seller for one ISBN at once and done when all have answered — the same calls in flight and
// the same bursts as 1b, without bookbroker.
const rawFanOutAgent = new Agent({ connections: 32, keepAliveTimeout: 10_000, pipelining: 1 })
let rawFanOuts = 2000
const rawFanOutWindow = async (until: number) => {
  let calls = 0
  await loop(fanOutConcurrency, until, async () => {
    const isbn = isbns[rawFanOuts++ % isbns.length]!
    await Promise.all(
      fleet.sellers.map(async (seller) => {
        const response = await request(`${seller.url}/api/v1/books/${isbn}/quote`, { dispatcher: rawFanOutAgent, headers: { "x-api-key": seller.apiKey } })
        await response.body.json().catch(() => undefined)
        calls += 1
      })
    )
  })
  return calls
}

// 1c. The SDK alone: one SellerClient per seller on one pool, as the engine's SellerPool builds it.
const sdkAgent = new Agent({ connections: 32, keepAliveTimeout: 10_000, pipelining: 1 })
const sdkClients = !values.sdk
  ? []
  : await Effect.runPromise(
      Effect.forEach(fleet.sellers, (seller) =>
        SellerClient.make(referenceAdapter, {
          sellerId: seller.name,
          config: { baseUrl: seller.url, currency: "EUR" },
          credentials: { apiKey: seller.apiKey },
          limits: { timeoutMillis: 3_000 },
          dispatcher: sdkAgent
        })
      )
    )
const sdkWindow = (until: number) => loop(256, until, (i) => Effect.runPromise(sdkClients[i % sdkClients.length]!.quote([isbns[(i * 7919) % isbns.length]!])))

// 1c'. The SDK doing the engine's job: 1a''s fan-outs through the callback quote, no engine.
let sdkFanOuts = 3000
const sdkFanOutWindow = async (until: number) => {
  let calls = 0
  await loop(fanOutConcurrency, until, async () => {
    const isbn = isbns[sdkFanOuts++ % isbns.length]!
    await Promise.all(
      sdkClients.map(
        (client) =>
          new Promise<void>((resolve) => {
            client.startQuote!(isbn, () => {
              calls += 1
              resolve()
            })
          })
      )
    )
  })
  return calls
}

// The engine, in this process, with its real directory in a throw-away database.
const engineRuntime = (options: QuoteEngine.QuoteEngineOptions, state?: Layer.Layer<SharedState.SharedState>) => quoteEngineRuntime(options, [referenceAdapter], state)

const registerFleet = Effect.gen(function* () {
  const directory = yield* SellerDirectory.SellerDirectory
  yield* Effect.forEach(
    fleet.sellers,
    (seller) =>
      directory.register({
        name: seller.name,
        kind: "reference",
        config: { baseUrl: seller.url, currency: "EUR" },
        credentials: { apiKey: seller.apiKey },
        limits: { requestsPerSecond: 1_000_000, burst: 1_000_000, maxConcurrency: 1_000, timeoutMillis: 3_000 },
        status: "active"
      }),
    { concurrency: 16, discard: true }
  )
})

/** A private Redis for `--redis`: its counters are this run's alone. */
const privateRedis = async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
  const server = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" })
  const cli = (...args: Array<string>) => execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" })
  for (let i = 0; i < 100; i++) {
    try {
      if (cli("PING").trim() === "PONG") break
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  /** Socket reads the server processed (one per round trip a client makes) and script calls, so far. */
  const counters = () => {
    const info = cli("INFO", "all")
    const field = (pattern: RegExp) => Number(pattern.exec(info)?.[1] ?? 0)
    return { reads: field(/total_reads_processed:(\d+)/), scripts: field(/cmdstat_evalsha:calls=(\d+)/) + field(/cmdstat_eval:calls=(\d+)/), commands: field(/total_commands_processed:(\d+)/) }
  }
  return { url: `redis://127.0.0.1:${port}`, counters, stop: () => server.kill() }
}

/**
 * The engine over `state`, warmed up, its 200-seller fan-out latency measured (2), and its
 * window (1b): 8 fan-outs in flight, no cache, no coalescing — every request asks every seller;
 * the calls are the fleet's count. `redis` counts Redis round trips and scripts per fan-out.
 */
const startEngine = async (label: string, state?: Layer.Layer<SharedState.SharedState>) => {
  const runtime = engineRuntime({ cache: false, coalesce: false }, state)
  await runtime.runPromise(registerFleet)
  const quotes = (isbn: Isbn.Isbn13) => runtime.runPromise(Effect.flatMap(QuoteEngine.QuoteEngine, (engine) => engine.quotes(isbn, { currency: "EUR" })))
  for (let i = 0; i < 20; i++) await quotes(isbns[i]!) // warm up connections and JIT

  const latencies: Array<number> = []
  for (let i = 0; i < 100; i++) {
    const started = performance.now()
    const book = await quotes(isbns[1000 + i]!)
    latencies.push(performance.now() - started)
    if (book.outcomes.length !== sellerCount) throw new Error(`expected ${sellerCount} outcomes, got ${book.outcomes.length}`)
  }
  latencies.sort((a, b) => a - b)
  const latencyKey = label === "engine" ? "fanOutLatencyMillis" : `${label}FanOutLatencyMillis`
  results[latencyKey] = { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1)!) }
  console.error(label, "fan-out latency", results[latencyKey])
  let fanOuts = 0
  let next = 2000
  const window = async (until: number) => {
    const before = await fleet.stats()
    await loop(fanOutConcurrency, until, () => quotes(isbns[next++ % isbns.length]!).then(() => fanOuts++))
    return (await fleet.stats()).calls - before.calls
  }
  return { window, fanOuts: () => fanOuts, dispose: () => runtime.dispose() }
}

/**
 * 1a, 1c and 1b take turns, `--rounds` windows of `--seconds` each after a warm-up: a host that
 * speeds up or slows down during the run moves every side alike (on a small shared machine the
 * CPU per call drifts by half within minutes), and the ratio is taken over the same minutes.
 */
const engine = await startEngine("engine")
const sides: Array<{ readonly name: string; readonly window: (until: number) => Promise<number>; readonly windows: Array<Window> }> = [
  { name: "raw", window: rawWindow, windows: [] },
  { name: "rawFanOut", window: rawFanOutWindow, windows: [] },
  ...(values.sdk
    ? [
        { name: "sdk", window: sdkWindow, windows: [] },
        { name: "sdkFanOut", window: sdkFanOutWindow, windows: [] }
      ]
    : []),
  { name: "engine", window: engine.window, windows: [] }
]
for (const side of sides) await side.window(Date.now() + 1000) // warm up connections and JIT
const fanOutsBeforeRounds = engine.fanOuts()
const roundRatios: Array<number> = []
const fanOutRoundRatios: Array<number> = []
for (let r = 0; r < rounds; r++) {
  for (const side of sides) {
    const profiler = side.name === values["profile-side"] && r === 0 && values.profile !== undefined ? new Session() : undefined
    if (profiler !== undefined) {
      profiler.connect()
      await profiler.post("Profiler.enable")
      await profiler.post("Profiler.start")
    }
    side.windows.push(await measure(side.window))
    if (profiler !== undefined) {
      const { profile } = await profiler.post("Profiler.stop")
      writeFileSync(values.profile!, JSON.stringify(profile))
      profiler.disconnect()
    }
  }
  const rate = (name: string) => {
    const w = sides.find((side) => side.name === name)!.windows[r]!
    return w.calls / w.seconds
  }
  roundRatios.push(round(rate("engine") / rate("raw"), 2))
  fanOutRoundRatios.push(round(rate("engine") / rate("rawFanOut"), 2))
}
for (const side of sides) {
  results[side.name] = summary(side.windows)
  console.error(side.name, results[side.name])
}
const engineWindows = sides.find((side) => side.name === "engine")!.windows
;(results["engine"] as Record<string, number>)["fanOutsPerSecond"] = round((engine.fanOuts() - fanOutsBeforeRounds) / engineWindows.reduce((sum, w) => sum + w.seconds, 0), 1)
const rawSummary = results["raw"] as { callsPerSecond: number; cpuMicrosPerCall: number }
const engineSummary = results["engine"] as { callsPerSecond: number; cpuMicrosPerCall: number }
results["ratio"] = round(engineSummary.callsPerSecond / rawSummary.callsPerSecond, 2)
results["roundRatios"] = roundRatios
/** Raw undici's CPU per call over the engine's: the ratio with the fleet's share of the two cores taken out. */
results["cpuRatio"] = round(rawSummary.cpuMicrosPerCall / engineSummary.cpuMicrosPerCall, 2)
const rawFanOutSummary = results["rawFanOut"] as { callsPerSecond: number; cpuMicrosPerCall: number }
/** The same against raw undici doing the engine's job (1a'). */
results["fanOutRatio"] = round(engineSummary.callsPerSecond / rawFanOutSummary.callsPerSecond, 2)
results["fanOutRoundRatios"] = fanOutRoundRatios
results["fanOutCpuRatio"] = round(rawFanOutSummary.cpuMicrosPerCall / engineSummary.cpuMicrosPerCall, 2)
console.error("ratio", results["ratio"], "rounds", roundRatios, "cpu ratio", results["cpuRatio"])
console.error("against raw fan-outs: ratio", results["fanOutRatio"], "rounds", fanOutRoundRatios, "cpu ratio", results["fanOutCpuRatio"])
await engine.dispose()
await rawAgent.close()
await rawFanOutAgent.close()
await sdkAgent.close()

if (values.redis) {
  const redis = await privateRedis()
  const options = { url: redis.url, keyPrefix: "bench" }
  const redisRun = async (label: string, state: Layer.Layer<SharedState.SharedState>) => {
    const run = await startEngine(label, state)
    await run.window(Date.now() + 1000)
    const fanOutsBefore = run.fanOuts()
    const redisBefore = redis.counters()
    const w = await measure(run.window)
    const redisAfter = redis.counters()
    const requests = run.fanOuts() - fanOutsBefore
    results[label] = {
      ...summary([w]),
      fanOutsPerSecond: round(requests / w.seconds, 1),
      redisRoundTripsPerFanOut: round((redisAfter.reads - redisBefore.reads) / requests, 1),
      redisScriptsPerFanOut: round((redisAfter.scripts - redisBefore.scripts) / requests, 1),
      redisCommandsPerFanOut: round((redisAfter.commands - redisBefore.commands) / requests, 1)
    }
    console.error(label, results[label])
    await run.dispose()
  }
  const batched = () => redisRun("engineRedisBatched", SharedState.layerRedis(options))
  const perCall = () => redisRun("engineRedisPerCall", SharedState.layerRedis({ ...options, batchSellerScripts: false }))
  if (values["per-call-first"]) await perCall().then(batched)
  else await batched().then(perCall)
  redis.stop()
}

if (values["no-zipf"]) {
  fleet.stop()
  console.log(JSON.stringify(results, null, 2))
  process.exit(0)
}

// 3. Zipf workload: seller calls per request with caching + coalescing on vs off.
fleet.stop()
fleet = await startFleet({ sellers: sellerCount, catalog: catalogSize, coverage: 0.5, latency: 20, seed: 1, responder: "msw" })
const zipf = async (on: boolean) => {
  const runtime = engineRuntime({ cache: on, coalesce: on })
  await runtime.runPromise(registerFleet)
  const sample = zipfSampler(catalogSize, { seed: 3 })
  const total = Number(values["zipf-requests"])
  const before = await fleet.stats()
  const started = performance.now()
  let next = 0
  const worker = async () => {
    while (next < total) {
      next += 1
      await runtime.runPromise(Effect.flatMap(QuoteEngine.QuoteEngine, (engine) => engine.quotes(isbns[sample()]!, { currency: "EUR" })))
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  const elapsed = (performance.now() - started) / 1000
  const calls = (await fleet.stats()).calls - before.calls
  await runtime.dispose()
  return { sellerCallsPerRequest: round(calls / total, 1), requestsPerSecond: round(total / elapsed, 0) }
}
results["zipfOff"] = await zipf(false)
console.error("zipf off", results["zipfOff"])
results["zipfOn"] = await zipf(true)
console.error("zipf on", results["zipfOn"])
results["rateViolations"] = (await fleet.stats()).rateViolations

fleet.stop()
console.log(JSON.stringify(results, null, 2))
process.exit(0)
