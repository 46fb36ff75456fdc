/**
 * SIGKILL loop: purchases flow into the database while `bookbroker serve --role worker`
 * processes are killed (SIGKILL, no cleanup) every 1–2 s and replaced, against msw sellers with
 * latency, server errors and purchases that commit and then lose their answer. Afterwards one
 * worker finishes everything, and the checker must find nothing wrong.
 */
import { SecretBox } from "@bookbroker/engine"
import { afterAll, expect, it } from "vitest"
import { startFleet, type Fleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { startRedis, startWorker, type RedisProcess, type WorkerEnvironment, type WorkerProcess } from "../src/Processes.js"
import { catalog, createDatabase, drain, engineRuntime, type EngineRuntime, Redacted, registerSellers, seeded, sleep, submit } from "../src/Setup.js"

const requests = 200
const loadMillis = 20_000
const catalogSize = 300
const seed = 11

let fleet: Fleet | undefined
let redis: RedisProcess | undefined
let database: { url: string; drop: () => Promise<void> } | undefined
let runtime: EngineRuntime | undefined
const workers = new Set<WorkerProcess>()

afterAll(async () => {
  for (const worker of workers) worker.child.kill("SIGKILL")
  await Promise.all([...workers].map((worker) => worker.exited))
  await runtime?.dispose()
  if (process.env["CHAOS_KEEP_DATABASE"] === undefined) await database?.drop()
  else console.log(`[chaos] kept ${database?.url}`)
  await redis?.kill()
  fleet?.stop()
})

it("SIGKILLed workers never buy twice, lose money or leave requests open", async () => {
  const started = Date.now()
  const random = seeded(seed)
  fleet = await startFleet({ sellers: 6, catalog: catalogSize, coverage: 0.6, latency: 20, "error-rate": 0.02, "lost-response-rate": 0.15, seed })
  redis = await startRedis()
  database = await createDatabase()
  const secretKey = SecretBox.generateKey()
  // The submitting side: an engine without workers (what `serve --role api` runs).
  runtime = engineRuntime(database.url, { secretKey: Redacted.make(secretKey), workers: false })
  await registerSellers(runtime, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 })
  const environment: WorkerEnvironment = { databaseUrl: database.url, redisUrl: redis.url, secretKey, leaseMillis: 2_000, maxBackoffMillis: 1_000 }
  const spawnWorker = () => {
    const worker = startWorker(environment)
    workers.add(worker)
    void worker.exited.then(() => workers.delete(worker))
    return worker
  }
  await Promise.all([spawnWorker().ready, spawnWorker().ready, spawnWorker().ready])

  const { carried, unknown } = catalog(catalogSize, seed)
  let kills = 0
  let submitted = 0
  const loadStarted = Date.now()
  const load = (async () => {
    for (let i = 0; i < requests; i++) {
      const roll = random()
      const isbn = roll < 0.1 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
      const maxMinor = roll > 0.9 ? 500 : 10_000 // below every price: price_not_met
      await submit(runtime!, { idempotencyKey: `sigkill-${i}`, isbn, maxMinor, ...(roll > 0.1 && roll < 0.15 ? { paymentToken: "tok_decline" } : {}) })
      submitted += 1
      await sleep(loadStarted + ((i + 1) * loadMillis) / requests - Date.now())
    }
  })()
  while (Date.now() - loadStarted < loadMillis) {
    await sleep(1_000 + random() * 1_000)
    const alive = [...workers]
    const victim = alive[Math.floor(random() * alive.length)]
    if (victim !== undefined) {
      victim.child.kill("SIGKILL")
      kills += 1
      await victim.exited
    }
    spawnWorker()
  }
  await load
  // Let the survivors and one fresh worker finish everything (leases of killed workers expire).
  await spawnWorker().ready
  const open = await drain(database.url, 60_000)
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  console.log(
    `[chaos sigkill] requests ${submitted}, worker SIGKILLs ${kills}, seller orders ${orders.length}, open after drain ${open}, ` +
      `duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(submitted).toBe(requests)
  expect(kills).toBeGreaterThanOrEqual(10)
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.violations).toBe(0)
}, 150_000)
