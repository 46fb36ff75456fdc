/**
 * PostgreSQL connections killed mid-transaction: purchases flow in while two
 * `bookbroker serve --role worker` processes run them, and every 200–500 ms the scenario
 * terminates bookbroker's backends (`pg_terminate_backend`): up to three caught inside a
 * transaction (`active` or `idle in transaction`; it looks for up to ~100 ms), and every third
 * round — or when none was mid-transaction — an idle one too (a dead connection waiting in a
 * pool); the workers' and the submitting engine's alike. Nothing restarts anything: the pools must replace what was killed,
 * the workers keep claiming, and a submission that failed is sent again with its key (as an
 * API client would). Then a last batch arrives after the kills stop and must be taken by both
 * workers; everything drains, and the checker must find nothing wrong.
 * `CHAOS_WORKER_LOGS=<dir>` keeps each worker's output in that folder.
 */
import { SecretBox } from "@bookbroker/engine"
import { createWriteStream } from "node:fs"
import { join } from "node:path"
import type pg from "pg"
import { afterAll, expect, it } from "vitest"
import { startFleet, type Fleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { connect } from "../src/Pg.js"
import { startWorker, type WorkerProcess } from "../src/Processes.js"
import {
  catalog,
  createDatabase,
  databaseName,
  drain,
  engineRuntime,
  type EngineRuntime,
  type Purchase,
  Redacted,
  registerSellers,
  seeded,
  sleep,
  submit
} from "../src/Setup.js"

const requests = 150
/** Submitted after the kills stopped: proof that every worker still claims work. */
const afterwards = 20
const loadMillis = 16_000
const catalogSize = 300
const seed = 61

let fleet: Fleet | undefined
let database: { url: string; drop: () => Promise<void> } | undefined
let runtime: EngineRuntime | undefined
let killer: pg.Client | undefined
const workers: Array<WorkerProcess> = []

afterAll(async () => {
  for (const worker of workers) worker.child.kill("SIGKILL")
  await Promise.all(workers.map((worker) => worker.exited))
  await killer?.end().catch(() => undefined)
  await runtime?.dispose()
  if (process.env["CHAOS_KEEP_DATABASE"] === undefined) await database?.drop()
  else console.log(`[chaos] kept ${database?.url}`)
  fleet?.stop()
})

interface Killed {
  readonly pid: number
  readonly state: string | null
  readonly in_transaction: boolean
  readonly killed: boolean
}

it("PostgreSQL connections killed mid-transaction: the pools recover, nothing bought twice or lost", async () => {
  const started = Date.now()
  // Two generators: the request mix stays the same whatever the timing of the kills.
  const random = seeded(seed)
  const timing = seeded(seed + 1)
  fleet = await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.6, latency: 20, "lost-response-rate": 0.05, seed })
  database = await createDatabase()
  const name = databaseName(database.url)
  const secretKey = SecretBox.generateKey()
  // The submitting side (what `serve --role api` runs); its connections are fair game too.
  runtime = engineRuntime(database.url, { secretKey: Redacted.make(secretKey), workers: false })
  await registerSellers(runtime, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 })

  const environment = { databaseUrl: database.url, secretKey, leaseMillis: 2_000, maxBackoffMillis: 1_000 }
  workers.push(startWorker(environment), startWorker(environment))
  // What the workers log about database failures: a run given up to its lease (as a typed SqlError, or as a
  // defect — @effect/sql turns a failed COMMIT or ROLLBACK on a dead connection into one), a claim retried.
  const logged = { processFailures: 0, claimFailures: 0 }
  const logDirectory = process.env["CHAOS_WORKER_LOGS"]
  for (const [index, worker] of workers.entries()) {
    if (logDirectory !== undefined) {
      const file = createWriteStream(join(logDirectory, `postgres-worker-${index}.log`))
      worker.child.stdout?.pipe(file)
      worker.child.stderr?.pipe(file)
    }
    worker.child.stdout?.on("data", (chunk: Buffer) => {
      const text = chunk.toString()
      logged.processFailures +=
        text.split("database failure while processing a purchase request").length - 1 + (text.split("purchase request processing failed").length - 1)
      logged.claimFailures += text.split("purchase worker could not claim work").length - 1
    })
  }
  const unexpectedExits: Array<string> = []
  let stopping = false
  for (const worker of workers) {
    void worker.exited.then(() => {
      if (!stopping) unexpectedExits.push(`worker ${worker.child.pid} exited (${worker.child.exitCode ?? worker.child.signalCode})`)
    })
  }
  await Promise.all(workers.map((worker) => worker.ready))

  killer = await connect(database.url, { applicationName: "bb-chaos-killer" })
  const kills = { total: 0, inTransaction: 0, byState: {} as Record<string, number>, ticks: 0 }
  /** Kills up to three backends inside a transaction and, when asked, one idle backend (a dead connection waiting in a pool); returns how many were mid-transaction. */
  const killSome = async (includeIdle: boolean) => {
    const result = await killer!.query<Killed>(
      `WITH candidates AS (
         SELECT pid, state, xact_start IS NOT NULL AS in_transaction
         FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'bookbroker' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
       ), chosen AS (
         (SELECT * FROM candidates WHERE in_transaction ORDER BY random() LIMIT 3)
         UNION ALL
         (SELECT * FROM candidates WHERE NOT in_transaction AND $2::boolean ORDER BY random() LIMIT 1)
       )
       SELECT pid, state, in_transaction, pg_terminate_backend(pid) AS killed FROM chosen`,
      [name, includeIdle]
    )
    let inTransaction = 0
    for (const row of result.rows) {
      if (!row.killed) continue
      if (row.in_transaction) inTransaction += 1
      kills.total += 1
      if (row.in_transaction) kills.inTransaction += 1
      const state = row.state ?? "unknown"
      kills.byState[state] = (kills.byState[state] ?? 0) + 1
    }
    return inTransaction
  }

  const { carried, unknown } = catalog(catalogSize, seed)
  const purchaseFor = (i: number): Purchase => {
    const roll = random()
    const isbn = roll < 0.1 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
    return { idempotencyKey: `pg-${i}`, isbn, maxMinor: roll > 0.9 ? 700 : 10_000, ...(roll > 0.1 && roll < 0.15 ? { paymentToken: "tok_decline" } : {}) }
  }
  // A submission whose connection was killed is sent again with the same key, as an API client would.
  let resubmissions = 0
  const ids: Array<string> = []
  const submitRetrying = async (purchase: Purchase) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const accepted = await submit(runtime!, purchase)
        ids.push(accepted.id)
        return
      } catch (error) {
        if (attempt >= 10) throw error
        resubmissions += 1
        await sleep(100)
      }
    }
  }

  const loadStarted = Date.now()
  const load = (async () => {
    const during = requests - afterwards
    for (let i = 0; i < during; i++) {
      await submitRetrying(purchaseFor(i))
      await sleep(loadStarted + ((i + 1) * loadMillis) / during - Date.now())
    }
  })()
  while (Date.now() - loadStarted < loadMillis) {
    kills.ticks += 1
    // Look for backends mid-transaction for up to ~100 ms (transactions are short); every third
    // round, or when none turned up, an idle one too.
    let caught = 0
    for (let look = 0; look < 20 && caught === 0; look++) {
      caught = await killSome(false)
      if (caught === 0) await sleep(5)
    }
    if (caught === 0 || kills.ticks % 3 === 0) await killSome(true)
    await sleep(200 + timing() * 300)
  }
  await load
  const killsEnded = Date.now()

  // After the kills: a last batch that both workers must share (a worker whose claim loop died would take none).
  const lastBatch: Array<string> = []
  for (let i = requests - afterwards; i < requests; i++) {
    await submitRetrying(purchaseFor(i))
    lastBatch.push(ids[ids.length - 1]!)
    await sleep(60)
  }
  const open = await drain(database.url, 30_000)
  const claimers = await killer.query<{ actor: string }>(
    "SELECT DISTINCT actor FROM state_transitions WHERE request_id = ANY($1::uuid[]) AND from_status = 'received'",
    [lastBatch]
  )
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  stopping = true
  console.log(
    `[chaos postgres] requests ${requests} (${afterwards} after the kills), backends killed ${kills.total} (${kills.inTransaction} mid-transaction ` +
      `${JSON.stringify(kills.byState)}) in ${kills.ticks} rounds over ${((killsEnded - loadStarted) / 1000).toFixed(1)} s, resubmissions ${resubmissions}, ` +
      `worker database errors logged ${JSON.stringify(logged)}, workers claiming afterwards ${claimers.rows.length}/${workers.length}, ` +
      `worker exits ${unexpectedExits.length}, open after drain ${open}, duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(unexpectedExits).toEqual([])
  expect(kills.total).toBeGreaterThanOrEqual(30)
  expect(kills.inTransaction).toBeGreaterThanOrEqual(25)
  expect(claimers.rows.length).toBe(workers.length)
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.violations, describe(report)).toBe(0)
}, 90_000)
