/**
 * Memory with many requests in flight (issue 14: "RSS ≤ 300 MiB per process at 5,000 requests in
 * flight"). bookbroker as production runs it — one `serve --role api` process and one
 * `serve --role worker` process, built JavaScript, the production launch flags — over a fresh
 * PostgreSQL database and a private Redis, against a fleet of simulated sellers that answer
 * slowly (`--latency`, 10 s by default) and take few calls at once (`--seller-concurrency`, as
 * registered), so requests pile up waiting for their turns at the sellers, as they do when the
 * sellers' capacity sets the pace.
 *
 * `--requests` (5,000) purchase requests are submitted over HTTP as fast as the API takes them;
 * then, for `--hold` seconds, every second: the resident memory (VmRSS) of each bookbroker
 * process, the requests in flight in the system (accepted, not finished) and those the worker
 * holds (claimed under its lease). The answer time is raised (`BOOKBROKER_ANSWER_WITHIN_SECONDS`)
 * so that nothing ends while it is measured. Then every process is stopped and the database
 * dropped: the requests are never finished (the figure is memory, not throughput).
 *
 * One run per `--slots` value (`BOOKBROKER_WORKER_SLOTS`: requests one worker runs at once):
 * 5,000 makes the one worker hold every request itself; 128 is the default, where the rest wait
 * in the database queue.
 *
 *   pnpm bench:inflight                                 (PostgreSQL on 127.0.0.1, redis-server on the PATH)
 *   pnpm bench:inflight --requests 1000 --hold 20       (a quick run)
 *   pnpm bench:inflight --slots 5000 --sellers 200
 */
import { SecretBox } from "@bookbroker/engine"
import { mkdtempSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import pg from "pg"
import { Agent, request } from "undici"
import { catalogIsbns } from "./e2e-catalog.js"
import * as Processes from "./e2e-processes.js"
import { round, startFleet } from "./support.js"

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "5000" },
    /** Worker slots, comma-separated: one run each. */
    slots: { type: "string", default: "5000,128" },
    sellers: { type: "string", default: "100" },
    /** The sellers' median answer time, ms. */
    latency: { type: "string", default: "10000" },
    /** Calls each seller takes at once (registered as its limit, so bookbroker queues the rest). */
    "seller-concurrency": { type: "string", default: "8" },
    /** Seconds of sampling once every request is submitted. */
    hold: { type: "string", default: "45" },
    seed: { type: "string", default: "1" },
    "node-args": { type: "string", default: "" }
  }
})

const requestCount = Number(values.requests)
const slotRuns = values.slots.split(",").map((value) => Number(value.trim()))
const sellerCount = Number(values.sellers)
const holdSeconds = Number(values.hold)
const sellerConcurrency = Number(values["seller-concurrency"])
const seed = Number(values.seed)
if (!(requestCount > 0) || !(sellerCount > 0) || !(holdSeconds > 0) || !(sellerConcurrency > 0)) throw new Error("--requests, --sellers, --hold and --seller-concurrency must be positive")
if (slotRuns.some((slots) => !Number.isInteger(slots) || slots < 1)) throw new Error("--slots takes whole numbers above 0, e.g. 5000,128")

const commandLine = `pnpm bench:inflight ${process.argv.slice(2).join(" ")}`.trim()
const active = ["received", "authorized", "quoting", "deciding", "purchasing"]
const log = (message: string) => console.error(`[inflight ${new Date().toISOString().slice(11, 19)}] ${message}`)
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))
const logDir = mkdtempSync(join(tmpdir(), "bb-inflight-logs-"))

// Bounded: a run that hangs past this is killed, its children and databases with it.
const budgetSeconds = slotRuns.length * (holdSeconds + 300) + 60
const abort = Processes.bounded("inflight", budgetSeconds)

// Distinct books, so no answer is shared between requests (the worst case for memory).
const isbns = await catalogIsbns(requestCount, seed, Array.from({ length: requestCount }, (_, i) => i))

interface Point {
  readonly second: number
  readonly apiMiB: number
  readonly workerMiB: number
  readonly inFlight: number
  readonly held: number
}

const runOnce = async (slots: number) => {
  log(`— worker slots ${slots}: starting ${sellerCount} sellers (${values.latency} ms, ${sellerConcurrency} at once), Redis, a database`)
  const fleet = await startFleet({
    sellers: sellerCount,
    stock: "lazy",
    coverage: "0.3",
    latency: values.latency,
    // The sellers count every call beyond what they take at once (bookbroker registers them at it).
    "max-concurrency": sellerConcurrency,
    seed,
    "max-seconds": budgetSeconds
  })
  const redis = await Processes.startRedis()
  const database = await Processes.createDatabase("bb_bench_inflight")
  const secretKey = SecretBox.generateKey()
  const operatorToken = `bb_op_inflight_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 })
  const db = new pg.Client({ connectionString: database.url })
  try {
    await Processes.registerSellers(database.url, secretKey, fleet.sellers, () => ({
      requestsPerSecond: 1_000,
      burst: 1_000,
      maxConcurrency: sellerConcurrency,
      timeoutMillis: Number(values.latency) * 3
    }))
    await db.connect()
    const nodeArgs = values["node-args"].split(" ").filter((arg) => arg !== "")
    const env = {
      BOOKBROKER_WORKER_SLOTS: String(slots),
      BOOKBROKER_ANSWER_WITHIN_SECONDS: String(holdSeconds + 600),
      BOOKBROKER_CUSTOMER_RPS: "100000",
      BOOKBROKER_PRINCIPAL_RPS: "100000"
    }
    const environment = { databaseUrl: database.url, redisUrl: redis.url, secretKey, operatorToken, processes: 2, nodeArgs, env }
    const [api, worker] = await Promise.all([
      Processes.startBookbroker("api", environment, join(logDir, `${slots}-api.log`)),
      Processes.startBookbroker("worker", environment, join(logDir, `${slots}-worker.log`))
    ])
    const baseUrl = api!.baseUrl!
    const customer = await request(`${baseUrl}/v1/operator/customers`, {
      method: "POST",
      headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Bench Reader", email: "reader@example.com" })
    })
    const customerKey = String(((await customer.body.json()) as Record<string, unknown>)["api_key"])
    const idle = { api: Processes.memory(api!.child.pid)?.rssMiB ?? Number.NaN, worker: Processes.memory(worker!.child.pid)?.rssMiB ?? Number.NaN }

    const timeline: Array<Point> = []
    const start = performance.now()
    const sample = async () => {
      const counts = (
        await db.query<{ in_flight: string; held: string }>(
          `SELECT count(*) AS in_flight, count(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires_at > now()) AS held
             FROM purchase_requests WHERE status = ANY($1::text[])`,
          [active]
        )
      ).rows[0]!
      timeline.push({
        second: Math.round((performance.now() - start) / 1000),
        apiMiB: Processes.memory(api!.child.pid)?.rssMiB ?? Number.NaN,
        workerMiB: Processes.memory(worker!.child.pid)?.rssMiB ?? Number.NaN,
        inFlight: Number(counts.in_flight),
        held: Number(counts.held)
      })
    }
    let sampling = Promise.resolve()
    const timer = setInterval(() => {
      sampling = sampling.then(sample).catch(() => undefined)
    }, 1_000)

    // ----- submit everything, 64 at a time
    log(`submitting ${requestCount} requests (load average ${round(loadavg()[0]!, 2)})`)
    const statuses = new Map<number, number>()
    let next = 0
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < requestCount) {
          const i = next++
          const response = await request(`${baseUrl}/v1/purchase-requests`, {
            method: "POST",
            dispatcher: agent,
            headers: { authorization: `Bearer ${customerKey}`, "content-type": "application/json", "idempotency-key": `inflight-${slots}-${i}` },
            body: JSON.stringify({
              isbn: isbns[i],
              max_price: { amount: 5_000, currency: "EUR" },
              payment: { token: "tok_approve" },
              customer: { name: "Bench Reader", email: "reader@example.com", shipping_address: { line1: "1 Rue du Banc", city: "Paris", postal_code: "75001", country: "FR" } }
            })
          })
          await response.body.text()
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        }
      })
    )
    const submittedAt = Math.round((performance.now() - start) / 1000)
    log(`submitted in ${submittedAt} s: ${[...statuses].map(([status, n]) => `${n} × ${status}`).join(", ")}; sampling for ${holdSeconds} s`)
    await sleep(holdSeconds * 1000)
    clearInterval(timer)
    await sampling
    const peak = {
      api: Processes.memory(api!.child.pid)?.peakMiB ?? Number.NaN,
      worker: Processes.memory(worker!.child.pid)?.peakMiB ?? Number.NaN
    }
    const fleetStats = await fleet.stats()
    const problems = { api: api!.problems(), worker: worker!.problems() }
    for (const process of [api!, worker!]) await Processes.stop(process.child)
    const held = timeline.map((point) => point.held)
    const atMostHeld = timeline.reduce((best, point) => (point.held > best.held || (point.held === best.held && point.workerMiB > best.workerMiB) ? point : best), timeline[0]!)
    return {
      slots,
      submittedSeconds: submittedAt,
      statuses: Object.fromEntries(statuses),
      idleRssMiB: { api: round(idle.api, 0), worker: round(idle.worker, 0) },
      peakRssMiB: { api: round(peak.api, 0), worker: round(peak.worker, 0) },
      mostInFlight: Math.max(...timeline.map((point) => point.inFlight)),
      mostHeldByWorker: Math.max(...held),
      workerRssAtMostHeldMiB: round(atMostHeld.workerMiB, 0),
      mostCallsAtOneSeller: fleetStats.maxInFlight,
      concurrencyViolations: fleetStats.concurrencyViolations,
      problems,
      timeline: timeline.filter((_, i) => i % 5 === 0).map((point) => ({ ...point, apiMiB: round(point.apiMiB, 0), workerMiB: round(point.workerMiB, 0) }))
    }
  } finally {
    await db.end().catch(() => undefined)
    fleet.stop()
    await Processes.stop(redis.child).catch(() => undefined)
    await Processes.dropDatabase(database.name).catch(() => undefined)
    agent.destroy().catch(() => undefined)
  }
}

const results = []
try {
  for (const slots of slotRuns) results.push(await runOnce(slots))
} catch (error) {
  console.error(error)
  await abort("failed", 1)
}
await Processes.cleanUp().catch(() => undefined)

console.log(JSON.stringify({ command: commandLine, logs: logDir, results }, null, 2))
console.log(`\n${commandLine}\n`)
console.log(`| worker slots | requests in flight (most) | held by the worker (most) | peak RSS, MiB: api · worker (idle → peak) | worker RSS at the most held | most calls at one seller (takes ${sellerConcurrency}) · over its limit |`)
console.log("| --- | --- | --- | --- | --- | --- |")
for (const r of results) {
  console.log(
    `| ${r.slots} | ${r.mostInFlight} | ${r.mostHeldByWorker} | ${r.idleRssMiB.api} → ${r.peakRssMiB.api} · ${r.idleRssMiB.worker} → ${r.peakRssMiB.worker} | ${r.workerRssAtMostHeldMiB} | ${r.mostCallsAtOneSeller} · ${r.concurrencyViolations} |`
  )
}
process.exit(0)
