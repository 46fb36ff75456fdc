/**
 * End-to-end benchmark: bookbroker as production runs it — one `bookbroker serve --role api`
 * process and N `serve --role worker` processes sharing a fresh PostgreSQL database and a
 * private Redis — against 200 simulated sellers over HTTP (one fleet process: 80 ms median
 * latency, a 1 % slow tail up to 3 s, 2 % server errors, some books sold out, per-seller rate
 * limits the sellers enforce and count), a catalog of 1,000,000 ISBNs asked with Zipf (s = 1)
 * popularity, and purchase requests submitted over HTTP at a fixed arrival rate (open loop) for
 * `--duration` seconds. Then it waits (bounded) until every request is terminal and reports:
 * accepted/s against the target, decision latency (accept → terminal, from the database's own
 * timestamps) p50/p99 and its phases, outcomes, seller calls per request, limit violations the
 * sellers counted (must be 0), peak RSS and CPU time per process, machine CPU use.
 *
 *   pnpm bench:e2e                                   (PostgreSQL on 127.0.0.1, redis-server on the PATH)
 *   pnpm bench:e2e --duration 10 --sellers 50        (a quick smoke run)
 *   pnpm bench:e2e --rate 8 --workers 1,2,3
 *   pnpm bench:e2e --workers 1 --feeds none,all      (the same run without and with the offer index)
 *
 * With `--feeds all`, every seller's in-stock books are in the offer index as a fresh snapshot
 * before the load (`e2e-feeds.ts`: a bulk SQL load of what each seller will answer), so a request
 * confirms the cheapest indexed sellers live instead of asking every seller; the fleet still sells
 * from its stock, so a listing can be gone by the time it is confirmed.
 *
 * Each configuration (`--workers 1,3`: one worker process, then three; × `--feeds`) gets its own database,
 * Redis, seller fleet (fresh stock) and bookbroker processes, and the same request sequence.
 *
 * The sellers: `fleet.ts --stock lazy` (what each carries is derived from a hash, see
 * `e2e-stock.ts`); most enforce 20 calls/s (burst 20), a `--strict-share` (10 %) of small shops 3/s
 * (burst 3), and every seller counts more than 16 concurrent calls. bookbroker registers each at
 * `--headroom` (80 %) of its own limits with a 3 s timeout (every call — quote, hold, order —
 * takes a permit from those limits). The fleet tells which operation hit each violation and the
 * calls that preceded it.
 *
 * Measured: decision latency from `purchase_requests.created_at` (the intake transaction) to
 * `completed_at`, phases from `state_transitions`; seller calls from the fleet's counters before
 * and after; CPU from /proc/<pid>/stat (PostgreSQL: the backends connected to the run's
 * database); peak RSS = VmHWM read just before each process is stopped. Every bookbroker process's
 * output is kept in a `bb-e2e-logs-*` folder under the temp directory (its path is in the JSON);
 * the warnings and errors they logged are counted (a Redis fallback is one). Other work on the
 * machine skews everything: the table says how much CPU it took during the load.
 */
import { Random, zipfSampler } from "@bookbroker/adapter-sdk/testing"
import { SecretBox } from "@bookbroker/engine"
import { mkdtempSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import pg from "pg"
import { Agent, request } from "undici"
import { catalogIsbns } from "./e2e-catalog.js"
import { type FeedsLoaded, loadFeeds } from "./e2e-feeds.js"
import * as Processes from "./e2e-processes.js"
import { summarize } from "./profile.js"
import * as Truth from "./e2e-truth.js"
import { basePrice } from "./e2e-stock.js"
import { type Fleet, type FleetStats, percentile, round, startFleet } from "./support.js"

const { values } = parseArgs({
  options: {
    /** Purchase requests per second, submitted on schedule whatever the answers do (open loop). */
    rate: { type: "string", default: "3" },
    duration: { type: "string", default: "60" },
    /**
     * Instead of --rate × --duration: phases of the arrival rate, `rate x seconds` comma-separated,
     * e.g. `--phases 12x60,2x60` (the overload shape: above the sellers' budget, then below it).
     */
    phases: { type: "string", default: "" },
    sellers: { type: "string", default: "200" },
    catalog: { type: "string", default: "1000000" },
    /** Worker processes per configuration, comma-separated: one run each. */
    workers: { type: "string", default: "1,3" },
    /**
     * Offer index per configuration, comma-separated: `none` (sellers asked live, as without
     * feeds) and/or `all` (every seller's in-stock books loaded as a fresh snapshot feed before
     * the load, `e2e-feeds.ts`). `--workers 1 --feeds none,all`: the same run without and with feeds.
     */
    feeds: { type: "string", default: "none" },
    seed: { type: "string", default: "1" },
    /** Mean share of the sellers carrying a book. */
    coverage: { type: "string", default: "0.1" },
    /** Share of carried books a seller has sold out of. */
    "sold-out": { type: "string", default: "0.1" },
    latency: { type: "string", default: "80" },
    "tail-probability": { type: "string", default: "0.01" },
    "tail-max": { type: "string", default: "3000" },
    "error-rate": { type: "string", default: "0.02" },
    /** What most sellers enforce (token bucket; calls over it are answered 429 and counted). */
    "seller-rps": { type: "string", default: "20" },
    "seller-burst": { type: "string", default: "20" },
    /** A share of small sellers with tight limits. */
    "strict-share": { type: "string", default: "0.1" },
    "strict-rps": { type: "string", default: "3" },
    "strict-burst": { type: "string", default: "3" },
    /** Concurrent calls a seller takes before it counts a violation. */
    "seller-concurrency": { type: "string", default: "16" },
    /** bookbroker registers each seller at this share of the seller's own limits (room for holds and orders, which are not admitted). */
    headroom: { type: "string", default: "0.8" },
    /** The per-seller timeout registered (the slow tail reaches it). */
    timeout: { type: "string", default: "3000" },
    /** Longest wait, after the load, for every request to be terminal. */
    drain: { type: "string", default: "120" },
    /** Diagnostic: CPU-profile the worker processes and say where their time went during the load (the profiler's cost skews the figures). */
    profile: { type: "boolean", default: false },
    /** Diagnostic: more node flags for the bookbroker processes, e.g. --node-args=--max-old-space-size=256 (with the "="). */
    "node-args": { type: "string", default: "" }
  }
})

const phases: ReadonlyArray<{ readonly rate: number; readonly seconds: number }> =
  values.phases.trim() === ""
    ? [{ rate: Number(values.rate), seconds: Number(values.duration) }]
    : values.phases.split(",").map((phase) => {
        const [r, d] = phase.trim().split("x").map(Number)
        if (!(r! > 0) || !(d! > 0)) throw new Error(`--phases takes rate x seconds, comma-separated (e.g. 12x60,2x60), not "${phase}"`)
        return { rate: r!, seconds: d! }
      })
const rate = Math.max(...phases.map((phase) => phase.rate))
const duration = phases.reduce((sum, phase) => sum + phase.seconds, 0)
const sellerCount = Number(values.sellers)
const catalogSize = Number(values.catalog)
const seed = Number(values.seed)
const workerCounts = values.workers.split(",").map((value) => Number(value.trim()))
const feedModes = values.feeds.split(",").map((value) => value.trim())
const headroom = Number(values.headroom)
const drainSeconds = Number(values.drain)
if (!(rate > 0) || !(duration > 0) || !(sellerCount > 0) || !(catalogSize > 0)) throw new Error("--rate, --duration, --sellers and --catalog must be positive")
if (workerCounts.some((count) => !Number.isInteger(count) || count < 1)) throw new Error("--workers takes whole numbers above 0, e.g. 1,3")
if (feedModes.some((mode) => mode !== "none" && mode !== "all")) throw new Error("--feeds takes none and/or all, comma-separated")
if (!(headroom > 0 && headroom <= 1)) throw new Error("--headroom is a share: above 0, at most 1")

const logDir = mkdtempSync(join(tmpdir(), "bb-e2e-logs-"))
const commandLine = `pnpm bench:e2e ${process.argv.slice(2).join(" ")}`.trim()
const terminal = ["purchased", "price_not_met", "not_available", "sellers_busy", "failed"]
const log = (message: string) => console.error(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}`)
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// Everything is bounded: a run that hangs past this is killed, its children and databases with it.
const configurations = workerCounts.flatMap((workers) => feedModes.map((feeds) => ({ workers, feeds: feeds as "none" | "all" })))
// Loading a million-ISBN index takes a few minutes of its own.
const budgetSeconds = configurations.reduce((sum, { feeds }) => sum + duration + drainSeconds + 240 + (feeds === "all" ? 600 : 0), 60)
const abort = Processes.bounded("e2e", budgetSeconds)

// ---------------------------------------------------------------------------------------------
// The request sequence: the same for every configuration.

/** When each request is due, in ms after the load starts: phase after phase, evenly within each. */
const dueAt: Array<number> = []
{
  let phaseStart = 0
  for (const phase of phases) {
    const count = Math.round(phase.rate * phase.seconds)
    for (let i = 0; i < count; i++) dueAt.push(phaseStart + (i * 1000) / phase.rate)
    phaseStart += phase.seconds * 1000
  }
}
const total = dueAt.length
const planned = (() => {
  const sample = zipfSampler(catalogSize, { exponent: 1, seed: seed + 3 })
  const random = Random.seeded(seed + 17)
  // The customer's maximum: the book's base price × 0.7–1.5 — the cheapest offer is usually near
  // 0.85 × the base price plus shipping, so roughly a fifth are not met.
  return Array.from({ length: total }, () => ({ index: sample(), factor: 0.7 + 0.8 * random() }))
})()
log(`catalog of ${catalogSize.toLocaleString("en")} ISBNs (seed ${seed}): generating it in a child process for the ${total} requests' ISBNs`)
const distinct = [...new Set(planned.map((request) => request.index))]
const isbnAt = new Map<number, string>()
{
  const isbns = await catalogIsbns(catalogSize, seed, distinct)
  distinct.forEach((index, i) => isbnAt.set(index, isbns[i]!))
}
const requests = planned.map(({ index, factor }) => {
  const isbn = isbnAt.get(index)!
  return { isbn, rank: index, maxMinor: Math.max(100, Math.round(basePrice(seed, isbn) * factor)) }
})
log(`${total} requests for ${distinct.length} distinct books (the most asked: rank 0, ${requests.filter((r) => r.rank === 0).length} times)`)

// ---------------------------------------------------------------------------------------------
// One configuration.

const fleetFlags = {
  sellers: sellerCount,
  stock: "lazy",
  coverage: values.coverage,
  "sold-out": values["sold-out"],
  latency: values.latency,
  "tail-probability": values["tail-probability"],
  "tail-max": values["tail-max"],
  "error-rate": values["error-rate"],
  rps: values["seller-rps"],
  burst: values["seller-burst"],
  "strict-share": values["strict-share"],
  "strict-rps": values["strict-rps"],
  "strict-burst": values["strict-burst"],
  "max-concurrency": values["seller-concurrency"],
  seed,
  "max-seconds": budgetSeconds
}

/** What bookbroker is told: the seller's own limits × headroom, and the timeout. */
const registeredLimits = (limits: NonNullable<Fleet["sellers"][number]["limits"]>) => ({
  requestsPerSecond: round(limits.requestsPerSecond * headroom, 2),
  burst: Math.max(1, Math.floor(limits.burst * headroom)),
  ...(limits.maxConcurrency === undefined ? {} : { maxConcurrency: Math.max(1, Math.floor(limits.maxConcurrency * headroom)) }),
  timeoutMillis: Number(values.timeout)
})

const json = async (method: "GET" | "POST", url: string, token: string, body?: unknown): Promise<Record<string, unknown>> => {
  const response = await request(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.body.text()
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

interface Submission {
  readonly dispatchLagMillis: number
  /** When it was due, ms into the load. */
  readonly dueMillis: number
  status?: number
  /** A refusal's problem detail (its first words), so the table can say which limit answered. */
  refusal?: string
  error?: string
  latencyMillis?: number
}

interface Sample {
  readonly cpu: Map<string, number | undefined>
  readonly machine: { busy: number; total: number }
  readonly fleet: FleetStats
  readonly at: number
  /** Transactions committed or rolled back in the run's database so far (PostgreSQL's statistics; each statement outside a transaction is one). */
  readonly transactions: number
}

const runConfiguration = async (workers: number, feeds: "none" | "all") => {
  log(`— ${workers} worker process${workers === 1 ? "" : "es"}${feeds === "all" ? ", with feeds" : ""}: starting the seller fleet, Redis, a database`)
  const fleet = await startFleet(fleetFlags)
  const redis = await Processes.startRedis()
  const database = await Processes.createDatabase("bb_bench_e2e")
  const secretKey = SecretBox.generateKey()
  const operatorToken = `bb_op_e2e_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
  const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 })
  const db = new pg.Client({ connectionString: database.url })
  const bookbroker: Array<Processes.BookbrokerProcess> = []
  try {
    await Processes.registerSellers(database.url, secretKey, fleet.sellers, (seller) =>
      seller.limits === undefined ? { timeoutMillis: Number(values.timeout) } : registeredLimits(seller.limits)
    )
    await db.connect()
    let feedsLoaded: FeedsLoaded | undefined
    if (feeds === "all") {
      const ids = new Map((await db.query<{ id: string; name: string }>("SELECT id, name FROM sellers", [])).rows.map((row) => [row.name, row.id]))
      log(`loading every seller's in-stock books into the offer index (${catalogSize.toLocaleString("en")} ISBNs × ${fleet.sellers.length} sellers)`)
      feedsLoaded = await loadFeeds(
        database.url,
        catalogSize,
        { seed, coverage: Number(values.coverage), soldOut: Number(values["sold-out"]) },
        fleet.sellers.map((seller, index) => ({ id: ids.get(seller.name)!, index }))
      )
      log(`${feedsLoaded.listings.toLocaleString("en")} listings loaded in ${feedsLoaded.seconds} s (indexes ${feedsLoaded.indexSeconds} s)`)
    }
    const nodeArgs = values["node-args"].split(" ").filter((arg) => arg !== "")
    const environment = { databaseUrl: database.url, redisUrl: redis.url, secretKey, operatorToken, processes: workers + 1, nodeArgs }
    log(`${fleet.sellers.length} sellers registered; starting bookbroker: 1 api + ${workers} worker process(es)`)
    const profileDir = values.profile ? join(logDir, `${workers}w-profiles`) : undefined
    const started = await Promise.all([
      Processes.startBookbroker("api", environment, join(logDir, `${workers}w-api.log`)),
      ...Array.from({ length: workers }, (_, i) =>
        Processes.startBookbroker("worker", { ...environment, ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }) }, join(logDir, `${workers}w-worker-${i + 1}.log`))
      )
    ])
    bookbroker.push(...started)
    const api = started[0]!
    const baseUrl = api.baseUrl!
    // Customers: each stays well under the per-customer limit (20/s).
    const customerKeys: Array<string> = []
    for (let i = 0; i < Math.max(1, Math.ceil(rate / 10)); i++) {
      const created = await json("POST", `${baseUrl}/v1/operator/customers`, operatorToken, { name: `Bench Reader ${i + 1}`, email: `reader${i + 1}@example.com` })
      customerKeys.push(String(created["api_key"]))
    }

    const processes: Array<{ name: string; pid: number | undefined }> = [
      { name: "api", pid: api.child.pid },
      ...started.slice(1).map((worker, i) => ({ name: `worker ${i + 1}`, pid: worker.child.pid })),
      { name: "fleet", pid: fleet.pid },
      { name: "redis", pid: redis.child.pid },
      { name: "driver", pid: process.pid }
    ]
    const postgresPids = async (): Promise<Array<number>> =>
      (await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", [])).rows.map((row) => row.pid)
    const sample = async (): Promise<Sample> => {
      const cpu = new Map(processes.map(({ name, pid }) => [name, Processes.cpuSeconds(pid)] as const))
      for (const pid of await postgresPids()) cpu.set(`postgres ${pid}`, Processes.cpuSeconds(pid))
      // The statistics are flushed by each backend at most once a second: read them fresh.
      await db.query("SELECT pg_stat_clear_snapshot()", [])
      const [stats] = (await db.query<{ n: string }>("SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()", [])).rows
      return { cpu, machine: Processes.machineCpu(), fleet: await fleet.stats(), at: performance.now(), transactions: Number(stats?.n ?? 0) }
    }

    // Resident memory every 5 s while the load and the drain run (does anything keep growing?), and the backlog.
    const timeline: Array<{ second: number } & Record<string, number | undefined>> = []
    const backlogTimeline: Array<{ second: number; inFlight: number }> = []
    const timelineStart = performance.now()
    const recordMemory = () => {
      const second = Math.round((performance.now() - timelineStart) / 1000)
      timeline.push({
        second,
        ...Object.fromEntries(processes.filter(({ name }) => name !== "redis").map(({ name, pid }) => [name, round(Processes.memory(pid)?.rssMiB ?? Number.NaN, 0)]))
      })
      void db
        .query<{ n: string }>("SELECT count(*) AS n FROM purchase_requests WHERE status <> ALL($1::text[])", [terminal])
        .then((result) => backlogTimeline.push({ second, inFlight: Number(result.rows[0]!.n) }))
        .catch(() => undefined)
    }
    recordMemory()
    const memoryTimer = setInterval(recordMemory, 5_000)

    // ----- the load: open loop, request i at start + i / rate, never waiting for answers
    const loadBefore = loadavg()[0]!
    const before = await sample()
    const loadFromMicros = Number(process.hrtime.bigint() / 1000n)
    log(`load: ${total} requests at ${rate}/s for ${duration} s (load average ${round(loadBefore, 2)})`)
    const submissions: Array<Submission> = []
    const inFlight: Array<Promise<void>> = []
    const prefix = `e2e-${workers}w-${process.pid}-${Date.now()}`
    const loadStart = performance.now() + 100
    for (let i = 0; i < total; i++) {
      const due = loadStart + dueAt[i]!
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      const sent = performance.now()
      const submission: Submission = { dispatchLagMillis: sent - due, dueMillis: dueAt[i]! }
      submissions.push(submission)
      const { isbn, maxMinor } = requests[i]!
      inFlight.push(
        request(`${baseUrl}/v1/purchase-requests`, {
          method: "POST",
          dispatcher: agent,
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
          headers: {
            authorization: `Bearer ${customerKeys[i % customerKeys.length]}`,
            "content-type": "application/json",
            "idempotency-key": `${prefix}-${i}`
          },
          body: JSON.stringify({
            isbn,
            max_price: { amount: maxMinor, currency: "EUR" },
            payment: { token: "tok_approve" },
            customer: { name: "Bench Reader", email: "reader@example.com", shipping_address: { line1: "1 Rue du Banc", city: "Paris", postal_code: "75001", country: "FR" } }
          })
        }).then(
          async (response) => {
            const text = await response.body.text()
            submission.status = response.statusCode
            if (response.statusCode >= 400) {
              try {
                submission.refusal = String((JSON.parse(text) as { detail?: unknown }).detail ?? "").slice(0, 60)
              } catch {
                submission.refusal = `no problem body, retry-after ${response.headers["retry-after"] ?? "-"}`
              }
            }
            submission.latencyMillis = performance.now() - sent
          },
          (error: unknown) => {
            submission.error = error instanceof Error ? error.message : String(error)
          }
        )
      )
      if (i > 0 && i % Math.max(1, Math.round(rate * 10)) === 0) log(`  ${i} submitted`)
    }
    const loadEnd = loadStart + duration * 1000
    await Promise.all(inFlight)
    const intakeDone = performance.now()
    const afterLoad = await sample()
    const loadToMicros = Number(process.hrtime.bigint() / 1000n)
    const loadAfter = loadavg()[0]!

    // ----- the drain: bounded wait until every request is terminal
    log(`load done; waiting (at most ${drainSeconds} s) for every request to be terminal`)
    const drainDeadline = Date.now() + drainSeconds * 1000
    let open = Number.POSITIVE_INFINITY
    while (Date.now() < drainDeadline) {
      const row = (await db.query<{ open: string }>("SELECT count(*) AS open FROM purchase_requests WHERE status <> ALL($1::text[])", [terminal])).rows[0]!
      open = Number(row.open)
      if (open === 0) break
      await sleep(250)
    }
    const drained = performance.now()
    const after = await sample()
    clearInterval(memoryTimer)
    recordMemory()

    // ----- what the database says
    const rows = (
      await db.query<{ status: string; reason: string | null; created: string; completed: string | null; authorized: string | null; quoting: string | null; deciding: string | null }>(
        `SELECT r.status, r.reason,
                extract(epoch FROM r.created_at) * 1000 AS created,
                extract(epoch FROM r.completed_at) * 1000 AS completed,
                extract(epoch FROM min(t.at) FILTER (WHERE t.to_status = 'authorized')) * 1000 AS authorized,
                extract(epoch FROM min(t.at) FILTER (WHERE t.to_status = 'quoting')) * 1000 AS quoting,
                extract(epoch FROM min(t.at) FILTER (WHERE t.to_status = 'deciding')) * 1000 AS deciding
           FROM purchase_requests r LEFT JOIN state_transitions t ON t.request_id = r.id
          GROUP BY r.id`,
        []
      )
    ).rows
    const quotesStored = Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM purchase_quotes", [])).rows[0]!.n)
    const attempts = (await db.query<{ status: string; n: string }>("SELECT status, count(*) AS n FROM purchase_attempts GROUP BY status", [])).rows

    // ----- were the answers true? Against the sellers' own books.
    const finished = (
      await db.query<{ id: string; isbn: string; status: string; max_amount: string; final_amount: string | null; created: string; completed: string | null }>(
        `SELECT id, isbn, status, max_amount, final_amount, extract(epoch FROM created_at) * 1000 AS created, extract(epoch FROM completed_at) * 1000 AS completed
           FROM purchase_requests WHERE completed_at IS NOT NULL`,
        []
      )
    ).rows
    const truth = Truth.check(
      finished.map((row) => ({
        id: row.id,
        isbn: row.isbn,
        status: row.status,
        maxMinor: Number(row.max_amount),
        finalMinor: row.final_amount === null ? null : Number(row.final_amount),
        createdAt: Number(row.created),
        completedAt: Number(row.completed)
      })),
      { asked: await fleet.asked(), orders: (await fleet.orders()).orders },
      { seed, coverage: Number(values.coverage), soldOut: Number(values["sold-out"]) },
      // A cached answer lives 30 s from the end of the fan-out that stored it, which is up to the
      // fan-out's 10 s deadline after the call reached the seller: 40 s back from the call.
      40_000
    )

    // What bookbroker itself knew of each false answer (and of each purchase above the cheapest
    // that did not race for its copies): its reason, how far asking got, its offers and attempts
    // (which sellers, at what) — so it can be explained after the run.
    const explain = async <E extends { readonly id: string }>(example: E) => {
      const [known] = (
        await db.query<{ reason: string | null; quote_progress: unknown; offers: unknown; attempts: unknown }>(
          `SELECT r.reason, r.quote_progress,
                  (SELECT json_agg(json_build_object('seller', q.seller_name, 'round', q.round, 'total', q.total) ORDER BY q.total) FROM purchase_quotes q WHERE q.request_id = r.id) AS offers,
                  (SELECT json_agg(json_build_object('seller', a.seller_name, 'status', a.status, 'reason', a.reason) ORDER BY a.rank) FROM purchase_attempts a WHERE a.request_id = r.id) AS attempts
             FROM purchase_requests r WHERE r.id = $1`,
          [example.id]
        )
      ).rows
      return { ...example, ...(known === undefined ? {} : { reason: known.reason, quoteProgress: known.quote_progress, offers: known.offers, attempts: known.attempts }) }
    }
    const falseAnswerExamples = await Promise.all(truth.falseAnswers.slice(0, 5).map(explain))
    const overpaidExamples = await Promise.all(truth.overpaidUnraced.slice(0, 5).map(explain))

    const logged = Object.fromEntries(started.map((each, i) => [i === 0 ? "api" : `worker ${i}`, each.problems()]))

    // ----- peak memory, read just before each process exits
    const peak: Record<string, number | undefined> = {}
    for (const { name, pid } of processes) if (name !== "driver" && name !== "redis") peak[name] = Processes.memory(pid)?.peakMiB
    peak["redis"] = Processes.memory(redis.child.pid)?.peakMiB
    for (const each of bookbroker) await Processes.stop(each.child)
    bookbroker.length = 0
    fleet.stop()
    await Processes.stop(redis.child, 2_000)
    peak["driver"] = Processes.memory(process.pid)?.peakMiB

    const profile = profileDir === undefined ? undefined : summarize(profileDir, loadFromMicros, loadToMicros)

    // ----- figures
    const num = (value: string | null) => (value === null ? undefined : Number(value))
    const between = (from: string | null, to: string | null) => {
      const [a, b] = [num(from), num(to)]
      return a === undefined || b === undefined ? undefined : b - a
    }
    const sorted = (list: Array<number | undefined>) => list.filter((value): value is number => value !== undefined).sort((a, b) => a - b)
    const p = (list: ReadonlyArray<number>) => ({ p50: round(percentile(list, 50), 0), p99: round(percentile(list, 99), 0), max: round(list.at(-1) ?? Number.NaN, 0), n: list.length })
    const done = rows.filter((row) => row.completed !== null)
    const decision = sorted(done.map((row) => between(row.created, row.completed)))
    const waiting = sorted(done.map((row) => between(row.created, row.quoting)))
    const quoting = sorted(done.map((row) => between(row.quoting, row.deciding)))
    const buying = sorted(done.filter((row) => row.status === "purchased").map((row) => between(row.deciding, row.completed)))
    const outcomes: Record<string, number> = {}
    const reasons: Record<string, number> = {}
    for (const row of rows) {
      outcomes[row.status] = (outcomes[row.status] ?? 0) + 1
      if (row.status !== "purchased") {
        const key = `${row.status}: ${(row.reason ?? "").replace(/:.*/, "")}`
        reasons[key] = (reasons[key] ?? 0) + 1
      }
    }
    const accepted = submissions.filter((s) => s.status === 202).length
    const statusCodes: Record<string, number> = {}
    for (const s of submissions) {
      const key = s.error !== undefined ? `error: ${s.error}` : s.refusal === undefined ? String(s.status) : `${s.status} (${s.refusal})`
      statusCodes[key] = (statusCodes[key] ?? 0) + 1
    }
    const intake = sorted(submissions.map((s) => s.latencyMillis))
    const lag = sorted(submissions.map((s) => s.dispatchLagMillis))
    const delta = (a: FleetStats, b: FleetStats) => ({
      quote: b.byOperation.quote - a.byOperation.quote,
      hold: b.byOperation.hold - a.byOperation.hold,
      release: b.byOperation.release - a.byOperation.release,
      purchase: b.byOperation.purchase - a.byOperation.purchase,
      rateViolations: b.rateViolations - a.rateViolations,
      concurrencyViolations: b.concurrencyViolations - a.concurrencyViolations
    })
    const calls = delta(before.fleet, after.fleet)
    const quoted = rows.filter((row) => row.deciding !== null).length
    const perRequest = (n: number) => round(n / Math.max(1, rows.length), 1)
    // Quote calls per second at the busiest normal and strict sellers (limits as the sellers enforce them).
    const loadSeconds = (afterLoad.at - before.at) / 1000
    const busiest = (strict: boolean) => {
      let max = 0
      fleet.sellers.forEach((seller, i) => {
        const isStrict = seller.limits !== undefined && seller.limits.requestsPerSecond === Number(values["strict-rps"]) && Number(values["strict-share"]) > 0
        if (isStrict !== strict) return
        max = Math.max(max, (afterLoad.fleet.quotesPerSeller[i]! - before.fleet.quotesPerSeller[i]!) / loadSeconds)
      })
      return round(max, 2)
    }
    const strictSellers = fleet.sellers.filter((seller) => seller.limits !== undefined && Number(values["strict-share"]) > 0 && seller.limits.requestsPerSecond === Number(values["strict-rps"])).length
    const cpu = (from: Sample, to: Sample) => {
      const used: Record<string, number> = {}
      let postgres = 0
      for (const [name, value] of to.cpu) {
        if (value === undefined) continue
        const spent = value - (from.cpu.get(name) ?? (name.startsWith("postgres") ? 0 : value))
        if (name.startsWith("postgres")) postgres += spent
        else used[name] = round(spent, 1)
      }
      used["postgres (this database's backends)"] = round(postgres, 1)
      const machine = (to.machine.busy - from.machine.busy) / Math.max(1, to.machine.total - from.machine.total)
      // /proc/stat counts in the same 1/100 s ticks as /proc/<pid>/stat.
      const busySeconds = (to.machine.busy - from.machine.busy) / 100
      const ours = Object.values(used).reduce((sum, value) => sum + value, 0)
      return {
        seconds: round((to.at - from.at) / 1000, 1),
        cpuSeconds: used,
        machineBusyPercent: round(100 * machine, 0),
        /** CPU the machine spent on anything else: other people's work, PostgreSQL's own background processes. */
        otherCpuSeconds: round(Math.max(0, busySeconds - ours), 1)
      }
    }
    const result = {
      workers,
      feeds,
      ...(feedsLoaded === undefined ? {} : { feedsLoaded }),
      targetRate: rate,
      phases: phases.map((phase) => `${phase.rate}/s × ${phase.seconds} s`).join(", "),
      durationSeconds: duration,
      submitted: total,
      accepted,
      acceptedPerSecond: round(accepted / ((loadEnd - loadStart) / 1000), 2),
      statusCodes,
      /** When the refused ones were due, seconds into the load (the first 20). */
      refusedAtSeconds: submissions.filter((s) => s.status !== undefined && s.status >= 400).slice(0, 20).map((s) => round(s.dueMillis / 1000, 2)),
      dispatchLagMillis: { p99: round(percentile(lag, 99), 1), max: round(lag.at(-1) ?? 0, 1) },
      intakeLatencyMillis: p(intake),
      intakeSeconds: round((intakeDone - loadStart) / 1000, 1),
      requestsStored: rows.length,
      notTerminal: rows.length - done.length,
      drainSecondsAfterLoad: round((drained - intakeDone) / 1000, 1),
      decisionLatencyMillis: p(decision),
      phasesMillis: { acceptToQuoting: p(waiting), quoting: p(quoting), decidingToPurchased: p(buying) },
      outcomes,
      reasons,
      truth: {
        falseAnswers: truth.falseAnswers.length,
        falseAnswerExamples: falseAnswerExamples,
        purchases: truth.purchases,
        purchasesAtCheapest: truth.purchasesAtCheapest,
        atCheapestPercent: truth.purchases === 0 ? null : round((100 * truth.purchasesAtCheapest) / truth.purchases, 1),
        worstOverpayMinor: truth.worstOverpayMinor,
        overpaidRaced: truth.overpaidRaced,
        overpaidExamples
      },
      backlogTimeline,
      backlogPeak: Math.max(0, ...backlogTimeline.map((point) => point.inFlight)),
      sellerCallsPerRequest: {
        total: perRequest(calls.quote + calls.hold + calls.purchase),
        quote: perRequest(calls.quote),
        hold: perRequest(calls.hold),
        purchase: perRequest(calls.purchase),
        release: perRequest(calls.release)
      },
      offersPerQuotedRequest: round(quotesStored / Math.max(1, quoted), 1),
      /** Load and drain, every process's (and this driver's few): single statements count one each. */
      databaseTransactionsPerRequest: round((after.transactions - before.transactions) / Math.max(1, rows.length), 1),
      attempts: Object.fromEntries(attempts.map((row) => [row.status, Number(row.n)])),
      violations: {
        rate: calls.rateViolations,
        concurrency: calls.concurrencyViolations,
        byOperation: Object.fromEntries(
          Object.entries(after.fleet.violationsByOperation)
            .map(([operation, counts]): [string, { rate: number; concurrency: number }] => [
              operation,
              {
                rate: counts.rate - before.fleet.violationsByOperation[operation as keyof FleetStats["byOperation"]].rate,
                concurrency: counts.concurrency - before.fleet.violationsByOperation[operation as keyof FleetStats["byOperation"]].concurrency
              }
            ])
            .filter(([, counts]) => counts.rate > 0 || counts.concurrency > 0)
        ),
        latest: after.fleet.violationEvents.slice(-10).map((event) => ({
          ...event,
          sellerLimits: fleet.sellers.find((seller) => seller.name === event.seller)?.limits,
          registered: (() => {
            const limits = fleet.sellers.find((seller) => seller.name === event.seller)?.limits
            return limits === undefined ? undefined : registeredLimits(limits)
          })()
        })),
        mostInFlightAtOneSeller: after.fleet.maxInFlight,
        /** During the load. */
        fleetEventLoopDelayMillis: afterLoad.fleet.eventLoopDelayMillis
      },
      busiestSellerQuotesPerSecond: { normal: busiest(false), strict: strictSellers > 0 ? busiest(true) : null, strictSellers },
      loadSeconds: round(loadSeconds, 1),
      cpuDuringLoad: cpu(before, afterLoad),
      cpuLoadAndDrain: cpu(before, after),
      ...(profile === undefined ? {} : { workerProfileDuringLoad: profile }),
      loggedByBookbroker: logged,
      logs: logDir,
      rssTimelineMiB: timeline,
      peakRssMiB: Object.fromEntries(Object.entries(peak).map(([name, value]) => [name, value === undefined ? null : round(value, 0)])),
      loadAverage1m: { before: round(loadBefore, 2), after: round(loadAfter, 2) }
    }
    console.error(JSON.stringify(result))
    return result
  } catch (error) {
    for (const each of bookbroker) console.error(`--- ${each.role} output:\n${each.tail()}`)
    throw error
  } finally {
    for (const each of bookbroker) await Processes.stop(each.child)
    fleet.stop()
    await Processes.stop(redis.child, 2_000)
    await db.end().catch(() => undefined)
    await agent.close()
    await Processes.dropDatabase(database.name).catch((error: unknown) => console.error(`could not drop ${database.name}: ${String(error)}`))
  }
}

// ---------------------------------------------------------------------------------------------

type Result = Awaited<ReturnType<typeof runConfiguration>>
const results: Array<Result> = []
const started = performance.now()
try {
  for (const { workers, feeds } of configurations) {
    results.push(await runConfiguration(workers, feeds))
    await sleep(2_000)
  }
} catch (error) {
  console.error(error)
  await abort("failed", 1)
} finally {
  await Processes.cleanUp()
}

const cores = availableParallelism()
const fmt = (n: number) => n.toLocaleString("en")
const ms = (millis: number) => (millis >= 10_000 ? `${round(millis / 1000, 1)} s` : `${fmt(Math.round(millis))} ms`)
const pair = (x: { p50: number; p99: number }) => `${ms(x.p50)} / ${ms(x.p99)}`
const rows: Array<[string, (r: Result) => string]> = [
  [
    "accepted/s (target)",
    (r) =>
      `${r.acceptedPerSecond} (${r.phases}): ${fmt(r.accepted)} of ${fmt(r.submitted)} accepted` +
      (r.accepted === r.submitted
        ? ""
        : ` (${Object.entries(r.statusCodes)
            .filter(([code]) => code !== "202")
            .map(([code, n]) => `${n}× ${code}`)
            .join(", ")})`)
  ],
  ["intake latency (POST → 202), p50 / p99", (r) => pair(r.intakeLatencyMillis)],
  ["decision latency (accepted → terminal), p50 / p99", (r) => pair(r.decisionLatencyMillis)],
  ["… accepted → quoting (queue, claim, authorize)", (r) => pair(r.phasesMillis.acceptToQuoting)],
  ["… quote fan-out (quoting → deciding)", (r) => pair(r.phasesMillis.quoting)],
  ["… deciding → purchased (hold, order, capture)", (r) => pair(r.phasesMillis.decidingToPurchased)],
  [
    "outcomes",
    (r) =>
      ["purchased", "price_not_met", "not_available", "sellers_busy", "failed"]
        .filter((status) => (r.outcomes[status] ?? 0) > 0)
        .map((status) => `${fmt(r.outcomes[status]!)} ${status.replaceAll("_", " ")}`)
        .join(", ") + (r.notTerminal > 0 ? `, ${r.notTerminal} not terminal after the drain` : "")
  ],
  ["false answers (not_available / price_not_met while a seller that had it was never asked)", (r) => String(r.truth.falseAnswers)],
  [
    "purchases at the cheapest in-stock seller",
    (r) =>
      r.truth.atCheapestPercent === null
        ? "—"
        : `${r.truth.atCheapestPercent} % (${r.truth.purchasesAtCheapest} of ${r.truth.purchases}; worst overpay ${r.truth.worstOverpayMinor} cents` +
          (r.truth.purchases === r.truth.purchasesAtCheapest ? ")" : `; ${r.truth.overpaidRaced} of the others lost the cheaper copies to other requests while open)`)
  ],
  ["requests in flight, peak (sampled every 5 s)", (r) => String(r.backlogPeak)],
  ["seller calls per request (quote + hold + order)", (r) => `${r.sellerCallsPerRequest.total} (${r.sellerCallsPerRequest.quote} + ${r.sellerCallsPerRequest.hold} + ${r.sellerCallsPerRequest.purchase})`],
  ["offers per quoted request", (r) => String(r.offersPerQuotedRequest)],
  ["database transactions per request (a statement outside a transaction is one; all processes, load and drain)", (r) => String(r.databaseTransactionsPerRequest)],
  [
    `quote calls/s at the busiest seller: normal · strict (they allow ${values["seller-rps"]} · ${values["strict-rps"]})`,
    (r) => `${r.busiestSellerQuotesPerSecond.normal} · ${r.busiestSellerQuotesPerSecond.strict ?? "—"}`
  ],
  [
    "rate-limit / concurrency violations counted by the sellers",
    (r) =>
      `${r.violations.rate} / ${r.violations.concurrency}` +
      (Object.keys(r.violations.byOperation).length === 0
        ? ""
        : ` (${Object.entries(r.violations.byOperation)
            .map(([operation, counts]) => `${operation}: ${counts.rate} / ${counts.concurrency}`)
            .join(", ")})`)
  ],
  ["event-loop delay of the seller fleet during the load, p99 / max", (r) => `${ms(r.violations.fleetEventLoopDelayMillis.p99)} / ${ms(r.violations.fleetEventLoopDelayMillis.max)}`],
  [
    "warnings / errors logged by bookbroker",
    (r) => {
      const all = Object.values(r.loggedByBookbroker)
      const warnings = all.reduce((sum, each) => sum + each.warnings, 0)
      const errors = all.reduce((sum, each) => sum + each.errors, 0)
      const fallback = all.some((each) => each.examples.some((example) => example.startsWith("Redis unreachable")))
      return `${warnings} / ${errors}${fallback ? " (Redis answers over 250 ms: fell back to in-process limits)" : ""}`
    }
  ],
  [
    "peak RSS, MiB: api · worker(s) · fleet · driver · redis",
    (r) => {
      const workers = Object.entries(r.peakRssMiB).filter(([name]) => name.startsWith("worker")).map(([, value]) => value)
      return `${r.peakRssMiB["api"]} · ${workers.join(" + ")} · ${r.peakRssMiB["fleet"]} · ${r.peakRssMiB["driver"]} · ${r.peakRssMiB["redis"]}`
    }
  ],
  [
    "CPU seconds during the load: api · worker(s) · fleet · PostgreSQL · redis · driver",
    (r) => {
      const c = r.cpuDuringLoad.cpuSeconds
      const workers = Object.entries(c).filter(([name]) => name.startsWith("worker")).map(([, value]) => value)
      return `${c["api"]} · ${workers.join(" + ")} · ${c["fleet"]} · ${c["postgres (this database's backends)"]} · ${c["redis"]} · ${c["driver"]} (of ${r.cpuDuringLoad.seconds} s × ${cores} cores; machine ${r.cpuDuringLoad.machineBusyPercent} % busy, ${r.cpuDuringLoad.otherCpuSeconds} CPU-s of it other work)`
    }
  ],
  ["load average (1 min) before → after the load", (r) => `${r.loadAverage1m.before} → ${r.loadAverage1m.after}`]
]
const header = `| what | ${results.map((r) => `${r.workers} worker process${r.workers === 1 ? "" : "es"}${r.feeds === "all" ? ", with feeds" : ""}`).join(" | ")} |`
const table = [header, `| --- | ${results.map(() => "---").join(" | ")} |`, ...rows.map(([label, cell]) => `| ${label} | ${results.map(cell).join(" | ")} |`)].join("\n")

console.log(JSON.stringify({ command: commandLine, node: process.version, results }, null, 2))
console.log(`\n${commandLine}   (${round((performance.now() - started) / 1000, 0)} s in all)\n`)
console.log(table)
process.exit(0)
