/**
 * Quote fan-out benchmark, one run:
 * 1. seller calls/s: raw undici vs the engine, against the same 200 sellers (a static
 *    responder in another process, so the figure is the client's, not the simulator's);
 * 2. 200-seller fan-out latency (sellers answering at once, so this is bookbroker's overhead);
 * 3. seller calls per request at a Zipf workload, caching + coalescing on vs off, against the
 *    full msw simulated sellers.
 * With `--sdk`, also the SDK alone between 1a and 1b: `SellerClient.quote` for the reference
 * adapter, 256 calls in flight, no engine (no admission, queue or metrics) — the HTTP path,
 * guard and answer validation a seller call pays whatever the engine does. `--no-zipf` skips 3.
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
import { AdapterRegistry, Database, OutboundAddress, QuoteEngine, SecretBox, SellerDirectory, SellerPool, SharedState, Tracing } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { createServer } from "node:net"
import { parseArgs } from "node:util"
import { Agent, request } from "undici"
import { percentile, round, startFleet, type FleetSeller } from "./support.js"

const { values } = parseArgs({
  options: {
    sellers: { type: "string", default: "200" },
    catalog: { type: "string", default: "100000" },
    seconds: { type: "string", default: "5" },
    "zipf-requests": { type: "string", default: "400" },
    sdk: { type: "boolean", default: false },
    "no-zipf": { type: "boolean", default: false },
    redis: { type: "boolean", default: false },
    /** With --redis: the per-call run first (so an order effect can be told from the change). */
    "per-call-first": { type: "boolean", default: false },
    /** `--profile FILE`: a V8 CPU profile of the engine's measured window (1b) only, for DevTools. */
    profile: { type: "string" }
  }
})
const sellerCount = Number(values.sellers)
const seconds = Number(values.seconds)
const catalogSize = Number(values.catalog)

let fleet = await startFleet({ sellers: sellerCount, catalog: catalogSize, coverage: 0.5, latency: 0, seed: 1, responder: "static" })
const isbns = generateIsbns({ size: catalogSize, seed: 1 }) as ReadonlyArray<Isbn.Isbn13>
const results: Record<string, unknown> = { sellers: sellerCount, catalog: catalogSize, node: process.version }

// 1a. Raw undici: the floor for one process making seller calls.
const raw = async (concurrency: number) => {
  const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000, pipelining: 1 })
  let calls = 0
  const until = Date.now() + seconds * 1000
  const cpu = process.cpuUsage()
  const started = performance.now()
  const worker = async (offset: number) => {
    let i = offset
    while (Date.now() < until) {
      const seller: FleetSeller = fleet.sellers[i % fleet.sellers.length]!
      const isbn = isbns[(i * 7919) % isbns.length]!
      const response = await request(`${seller.url}/api/v1/books/${isbn}/quote`, { dispatcher: agent, headers: { "x-api-key": seller.apiKey } })
      await response.body.json().catch(() => undefined)
      calls += 1
      i += concurrency
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, offset) => worker(offset)))
  const elapsed = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  await agent.close()
  return { callsPerSecond: round(calls / elapsed, 0), cpuMicrosPerCall: round((used.user + used.system) / calls, 0) }
}
results["raw"] = await raw(256)
console.error("raw undici", results["raw"])

// 1c. The SDK alone: one SellerClient per seller on one pool, as the engine's SellerPool builds it.
const sdkAlone = async (concurrency: number) => {
  const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000, pipelining: 1 })
  const clients = await Effect.runPromise(
    Effect.forEach(fleet.sellers, (seller) =>
      SellerClient.make(referenceAdapter, {
        sellerId: seller.name,
        config: { baseUrl: seller.url, currency: "EUR" },
        credentials: { apiKey: seller.apiKey },
        limits: { timeoutMillis: 3_000 },
        dispatcher: agent
      })
    )
  )
  const run = async (until: number) => {
    let calls = 0
    const worker = async (offset: number) => {
      let i = offset
      while (Date.now() < until) {
        await Effect.runPromise(clients[i % clients.length]!.quote([isbns[(i * 7919) % isbns.length]!]))
        calls += 1
        i += concurrency
      }
    }
    await Promise.all(Array.from({ length: concurrency }, (_, offset) => worker(offset)))
    return calls
  }
  await run(Date.now() + 1000) // warm up connections and JIT
  const cpu = process.cpuUsage()
  const started = performance.now()
  const calls = await run(Date.now() + seconds * 1000)
  const elapsed = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  await agent.close()
  return { callsPerSecond: round(calls / elapsed, 0), cpuMicrosPerCall: round((used.user + used.system) / calls, 0) }
}
if (values.sdk) {
  results["sdk"] = await sdkAlone(256)
  console.error("sdk alone", results["sdk"])
}

// The engine, in this process, with its real directory in a throw-away database.
const engineRuntime = (options: QuoteEngine.QuoteEngineOptions, state: Layer.Layer<SharedState.SharedState> = SharedState.layerMemory()) =>
  ManagedRuntime.make(
    QuoteEngine.layer(options).pipe(
      Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 600_000 }), SellerPool.layer(), state)),
      Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
      Layer.provideMerge(Layer.unwrap(Effect.map(TestDatabase.scopedDatabase("bb_bench"), ({ url }) => Database.layer({ url })))),
      // As production runs without a collector configured: spans off.
      Layer.provideMerge(Tracing.layer({ endpoint: process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] }))
    )
  )

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

// 1b + 2. Engine throughput and fan-out latency, no cache, no coalescing: every request asks every seller.
const engineRun = async (label: string, state?: Layer.Layer<SharedState.SharedState>, counters?: () => { reads: number; scripts: number; commands: number }) => {
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
  results[label === "engine" ? "fanOutLatencyMillis" : `${label}FanOutLatencyMillis`] = { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1)!) }
  console.error(label, "fan-out latency", results[label === "engine" ? "fanOutLatencyMillis" : `${label}FanOutLatencyMillis`])

  const profiler = label === "engine" && values.profile !== undefined ? new Session() : undefined
  if (profiler !== undefined) {
    profiler.connect()
    await profiler.post("Profiler.enable")
    await profiler.post("Profiler.start")
  }
  const before = await fleet.stats()
  const redisBefore = counters?.()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const until = Date.now() + seconds * 1000
  let requests = 0
  const worker = async (offset: number) => {
    let i = offset
    while (Date.now() < until) {
      await quotes(isbns[(2000 + i) % isbns.length]!)
      requests += 1
      i += 8
    }
  }
  await Promise.all(Array.from({ length: 8 }, (_, offset) => worker(offset)))
  const elapsed = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const calls = (await fleet.stats()).calls - before.calls
  const redisAfter = counters?.()
  if (profiler !== undefined) {
    const { profile } = await profiler.post("Profiler.stop")
    writeFileSync(values.profile!, JSON.stringify(profile))
    profiler.disconnect()
  }
  const engine: Record<string, number> = {
    callsPerSecond: round(calls / elapsed, 0),
    fanOutsPerSecond: round(requests / elapsed, 1),
    cpuMicrosPerCall: round((used.user + used.system) / calls, 0)
  }
  if (redisBefore !== undefined && redisAfter !== undefined) {
    engine["redisRoundTripsPerFanOut"] = round((redisAfter.reads - redisBefore.reads) / requests, 1)
    engine["redisScriptsPerFanOut"] = round((redisAfter.scripts - redisBefore.scripts) / requests, 1)
    engine["redisCommandsPerFanOut"] = round((redisAfter.commands - redisBefore.commands) / requests, 1)
  }
  results[label] = engine
  const ratioKey = label === "engine" ? "ratio" : `${label}Ratio`
  results[ratioKey] = round(engine["callsPerSecond"]! / (results["raw"] as { callsPerSecond: number }).callsPerSecond, 2)
  console.error(label, results[label], "ratio", results[ratioKey])
  await runtime.dispose()
}
await engineRun("engine")
if (values.redis) {
  const redis = await privateRedis()
  const options = { url: redis.url, keyPrefix: "bench" }
  const batched = () => engineRun("engineRedisBatched", SharedState.layerRedis(options), redis.counters)
  const perCall = () => engineRun("engineRedisPerCall", SharedState.layerRedis({ ...options, batchSellerScripts: false }), redis.counters)
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
