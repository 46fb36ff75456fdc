/**
 * Redis restarted mid-run: two engines (two bookbroker processes) share seller limits through a
 * private redis-server, which is SIGKILLed during the load and started again empty. The engines
 * must keep buying (falling back to in-process limits divided by the process count), the
 * sellers — rate-limited token buckets that count every call over their limit — must see no
 * violation, and the checker must find nothing wrong.
 */
import { SecretBox } from "@bookbroker/engine"
import { afterAll, expect, it } from "vitest"
import { startFleet, type Fleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { startRedis, type RedisProcess } from "../src/Processes.js"
import { catalog, createDatabase, drain, engineRuntime, type EngineRuntime, Redacted, registerSellers, seeded, sleep, submit } from "../src/Setup.js"

const requests = 150
const loadMillis = 15_000
const catalogSize = 300
const seed = 41

let fleet: Fleet | undefined
let redis: RedisProcess | undefined
let database: { url: string; drop: () => Promise<void> } | undefined
const runtimes: Array<EngineRuntime> = []

afterAll(async () => {
  await Promise.all(runtimes.map((runtime) => runtime.dispose()))
  if (process.env["CHAOS_KEEP_DATABASE"] === undefined) await database?.drop()
  await redis?.kill()
  fleet?.stop()
})

it("a Redis restart mid-load loses no purchase and breaks no seller limit", async () => {
  const started = Date.now()
  const random = seeded(seed)
  // Each seller allows 40 calls/s (burst 10) and counts every call beyond that.
  fleet = await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.6, latency: 20, "lost-response-rate": 0.05, rps: 40, burst: 10, seed })
  redis = await startRedis()
  database = await createDatabase()
  const options = {
    secretKey: Redacted.make(SecretBox.generateKey()),
    sharedState: { _tag: "Redis" as const, url: redis.url, keyPrefix: "chaos", expectedProcesses: 2 },
    pipeline: { leaseMillis: 2_000, maxBackoffMillis: 500 },
    workers: { concurrency: 8, pollMillis: 20 }
  }
  runtimes.push(engineRuntime(database.url, options), engineRuntime(database.url, options))
  // Declared below what the sellers enforce: bookbroker must keep under it with or without Redis.
  await registerSellers(runtimes[0]!, fleet.sellers, { requestsPerSecond: 30, burst: 5, maxConcurrency: 8, timeoutMillis: 1_000 })

  const { carried, unknown } = catalog(catalogSize, seed)
  let restarts = 0
  const loadStarted = Date.now()
  const chaos = (async () => {
    await sleep(4_000)
    await redis!.kill()
    await sleep(4_000)
    await redis!.restart()
    restarts += 1
    await sleep(3_000)
    await redis!.kill()
    await sleep(2_000)
    await redis!.restart()
    restarts += 1
  })()
  for (let i = 0; i < requests; i++) {
    const roll = random()
    const isbn = roll < 0.1 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
    await submit(runtimes[i % 2]!, { idempotencyKey: `redis-${i}`, isbn, maxMinor: roll > 0.9 ? 700 : 10_000 })
    await sleep(loadStarted + ((i + 1) * loadMillis) / requests - Date.now())
  }
  await chaos
  const open = await drain(database.url, 40_000)
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  console.log(
    `[chaos redis] requests ${requests}, Redis SIGKILLs ${restarts} (each restarted empty), seller limit violations ${violations.rate + violations.concurrency}, ` +
      `open after drain ${open}, duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(restarts).toBe(2)
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.statuses["purchased"]).toBeGreaterThan(0)
  expect(report.violations).toBe(0)
}, 120_000)
