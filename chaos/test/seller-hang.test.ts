/**
 * Sellers that time out after committing an order: a fifth of all purchase calls (first calls
 * and replays alike) place the order in the seller's book and then never answer (the fleet's
 * `--commit-then-hang-rate`, SellerSimulator's `commit_then_hang`). bookbroker's per-seller
 * timeout (1 s) fires and the outcome is unknown; the pipeline must resolve it — the reference
 * sellers have no order lookup, so by replaying the purchase with the same idempotency key —
 * before it tries anyone else: never a second order, a capture of exactly the order's total
 * when there is one, the authorization voided when there isn't, and bookbroker's outcome equal
 * to the seller's book (the checker's `outcomeMismatch`: the order id bookbroker recorded must
 * be the one the seller holds).
 *
 * Lost answers are left out here (the other scenarios have them), so every purchase call
 * without an answer is a hang: their number is the attempts' extra tries.
 */
import { SecretBox } from "@bookbroker/engine"
import { expect, it } from "vitest"
import { startFleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { connect } from "../src/Pg.js"
import { catalog, createDatabase, drain, engineRuntime, Redacted, registerSellers, releaseAfterAll, seeded, sleep, submit } from "../src/Setup.js"

const requests = 150
const loadMillis = 15_000
const catalogSize = 300
const seed = 71
const hangRate = 0.2
const sellerTimeoutMillis = 1_000


const release = releaseAfterAll()

/** What the attempts say about purchase calls that got no answer (each extra try is one more call after a timeout). */
const hangsSeen = async (url: string) => {
  const client = await connect(url)
  try {
    const result = await client.query<{ unanswered: string; resolved_orders: string; resolved_failed: string; max_tries: number }>(
      `SELECT coalesce(sum(tries - 1) FILTER (WHERE tries > 1), 0) AS unanswered,
              count(*) FILTER (WHERE tries > 1 AND status = 'confirmed') AS resolved_orders,
              count(*) FILTER (WHERE tries > 1 AND status = 'failed') AS resolved_failed,
              coalesce(max(tries), 0) AS max_tries
       FROM purchase_attempts`
    )
    const row = result.rows[0]!
    return { unanswered: Number(row.unanswered), resolvedOrders: Number(row.resolved_orders), resolvedFailed: Number(row.resolved_failed), maxTries: row.max_tries }
  } finally {
    await client.end()
  }
}

it("sellers that commit and then hang: each unknown outcome resolved by replay, never a second order", async () => {
  const started = Date.now()
  const random = seeded(seed)
  const fleet = release.fleet(await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.6, latency: 20, "commit-then-hang-rate": hangRate, seed }))
  const database = release.database(await createDatabase())
  const runtime = release.runtime(engineRuntime(database.url, {
    secretKey: Redacted.make(SecretBox.generateKey()),
    // The lease outlives a seller timeout: the worker that sent the purchase is the one that sees it time out.
    pipeline: { leaseMillis: 3_000, maxBackoffMillis: 500 },
    workers: { concurrency: 16, pollMillis: 20 }
  }))
  await registerSellers(runtime, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: sellerTimeoutMillis })

  const { carried, unknown } = catalog(catalogSize, seed)
  const loadStarted = Date.now()
  for (let i = 0; i < requests; i++) {
    const roll = random()
    const isbn = roll < 0.1 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
    await submit(runtime, { idempotencyKey: `hang-${i}`, isbn, maxMinor: roll > 0.9 ? 700 : 10_000, ...(roll > 0.1 && roll < 0.15 ? { paymentToken: "tok_decline" } : {}) })
    await sleep(loadStarted + ((i + 1) * loadMillis) / requests - Date.now())
  }
  const open = await drain(database.url, 30_000)
  const hangs = await hangsSeen(database.url)
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  console.log(
    `[chaos seller-hang] requests ${requests}, purchase calls unanswered (seller committed then hung, timed out at ${sellerTimeoutMillis} ms) ${hangs.unanswered}, ` +
      `resolved by replay: ${hangs.resolvedOrders} orders, ${hangs.resolvedFailed} refusals (most tries on one attempt ${hangs.maxTries}), ` +
      `open after drain ${open}, duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(hangs.unanswered).toBeGreaterThanOrEqual(10)
  expect(hangs.resolvedOrders).toBeGreaterThanOrEqual(5)
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.statuses["purchased"]).toBeGreaterThan(0)
  expect(report.violations, describe(report)).toBe(0)
}, 90_000)
