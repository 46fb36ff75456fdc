/**
 * Duplicate and concurrent submissions with one Idempotency-Key: two engines on one database
 * (two API processes) receive the same purchase many times at once, plus the same key with
 * another body. Exactly one request per key, the same id to every identical submission, a
 * refusal for every other body — and exactly one seller order per key.
 */
import { Purchases, SecretBox } from "@bookbroker/engine"
import { Effect } from "effect"
import { afterAll, expect, it } from "vitest"
import { startFleet, type Fleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { catalog, createDatabase, drain, engineRuntime, type EngineRuntime, Redacted, registerSellers, submit } from "../src/Setup.js"
import pg from "pg"

const keys = 30
const copies = 12
const conflicting = 3
const catalogSize = 200
const seed = 37

let fleet: Fleet | undefined
let database: { url: string; drop: () => Promise<void> } | undefined
const runtimes: Array<EngineRuntime> = []

afterAll(async () => {
  await Promise.all(runtimes.map((runtime) => runtime.dispose()))
  if (process.env["CHAOS_KEEP_DATABASE"] === undefined) await database?.drop()
  fleet?.stop()
})

it("one Idempotency-Key, many concurrent submissions: one request, one order", async () => {
  const started = Date.now()
  fleet = await startFleet({ sellers: 4, catalog: catalogSize, coverage: 0.8, latency: 20, seed })
  database = await createDatabase()
  const secretKey = Redacted.make(SecretBox.generateKey())
  const options = { secretKey, pipeline: { leaseMillis: 2_000, maxBackoffMillis: 300 }, workers: { concurrency: 16, pollMillis: 20 } }
  runtimes.push(engineRuntime(database.url, options), engineRuntime(database.url, options))
  await registerSellers(runtimes[0]!, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 })
  const { carried } = catalog(catalogSize, seed)

  let submissions = 0
  const results = await Promise.all(
    Array.from({ length: keys }, (_, k) => {
      const isbn = carried[k]!
      return Promise.all(
        Array.from({ length: copies + conflicting }, (_, c) => {
          submissions += 1
          const runtime = runtimes[c % runtimes.length]!
          // The last `conflicting` copies reuse the key with another maximum.
          const maxMinor = c < copies ? 10_000 : 9_000 + c
          return submit(runtime, { customerId: `dup-${k % 3}`, idempotencyKey: `dup-key-${k}`, isbn, maxMinor }).then(
            (accepted) => ({ ok: true as const, id: accepted.id, same: c < copies }),
            (error: unknown) => ({ ok: false as const, error: String(error), same: c < copies })
          )
        })
      )
    })
  )
  let refused = 0
  for (const group of results) {
    const identical = group.filter((result) => result.same)
    const ids = new Set(identical.map((result) => (result.ok ? result.id : `error:${result.error}`)))
    expect(ids.size).toBe(1)
    expect([...ids][0]).not.toMatch(/^error:/)
    for (const other of group.filter((result) => !result.same)) {
      // Either refused (another body under a used key) or, if it won the race, the key's only request.
      if (!other.ok) {
        expect(other.error).toContain("IdempotencyKeyReused")
        refused += 1
      }
    }
  }

  const open = await drain(database.url, 30_000)
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  const perKey = await client.query<{ n: string }>("SELECT count(*) AS n FROM purchase_requests GROUP BY customer_id, idempotency_key")
  await client.end()
  const views = await runtimes[0]!.runPromise(Effect.flatMap(Purchases.Purchases, (purchases) => purchases.list(undefined, { limit: 100 })))
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  console.log(
    `[chaos idempotency] keys ${keys}, concurrent submissions ${submissions}, refused (other body) ${refused}, requests ${report.requests}, ` +
      `seller orders ${orders.length}, duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(open).toBe(0)
  expect(perKey.rows.length).toBe(keys)
  expect(perKey.rows.every((row) => Number(row.n) === 1)).toBe(true)
  expect(views.items.length).toBe(keys)
  expect(report.requests).toBe(keys)
  expect(orders.length).toBeLessThanOrEqual(keys)
  expect(report.violations).toBe(0)
}, 90_000)
