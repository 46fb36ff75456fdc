/**
 * A kill after every kind of pipeline step: the pipeline's crash hook kills the worker fiber
 * right after an external call (authorize, quote, hold, purchase, capture, void), before its
 * result is stored — the request is left to its lease and taken over. Each point fires at
 * random during the load; the checker must find nothing wrong.
 */
import { SecretBox } from "@bookbroker/engine"
import type { CrashPoints } from "@bookbroker/engine/testing"
import { expect, it } from "vitest"
import { startFleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { catalog, createDatabase, drain, engineRuntime, Redacted, registerSellers, releaseAfterAll, seeded, sleep, submit } from "../src/Setup.js"

const requests = 150
const catalogSize = 300
const seed = 53


const release = releaseAfterAll()

it("a crash after any pipeline step never buys twice or leaves money held", async () => {
  const started = Date.now()
  const random = seeded(seed)
  const fleet = release.fleet(await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.6, latency: 20, "lost-response-rate": 0.05, seed }))
  const database = release.database(await createDatabase())
  const crashes: Partial<Record<CrashPoints.CrashPoint, number>> = {}
  let crashing = true
  const runtime = release.runtime(engineRuntime(
    database.url,
    {
      secretKey: Redacted.make(SecretBox.generateKey()),
      pipeline: { leaseMillis: 1_000, maxBackoffMillis: 300 },
      workers: { concurrency: 16, pollMillis: 20 }
    },
    (point) => {
      if (!crashing || random() >= 0.15) return false
      crashes[point] = (crashes[point] ?? 0) + 1
      return true
    }
  ))
  await registerSellers(runtime, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 })
  const { carried, unknown } = catalog(catalogSize, seed)
  for (let i = 0; i < requests; i++) {
    const roll = random()
    const isbn = roll < 0.1 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
    await submit(runtime, { idempotencyKey: `crash-${i}`, isbn, maxMinor: roll > 0.9 ? 700 : 10_000, ...(roll > 0.1 && roll < 0.15 ? { paymentToken: "tok_decline" } : {}) })
    await sleep(50)
  }
  await sleep(2_000)
  crashing = false
  const open = await drain(database.url, 40_000)
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  const total = Object.values(crashes).reduce((sum, n) => sum + n, 0)
  console.log(
    `[chaos crashpoints] requests ${requests}, worker crashes ${total} ${JSON.stringify(crashes)}, open after drain ${open}, ` +
      `duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  for (const point of ["authorize", "quote", "hold", "purchase", "capture", "void"] as const) expect(crashes[point] ?? 0).toBeGreaterThan(0)
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.violations).toBe(0)
}, 120_000)
