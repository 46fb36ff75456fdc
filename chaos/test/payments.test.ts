/**
 * Payment faults: the sandbox ledger's fault switches fail authorizations, captures and voids
 * at random — the provider unavailable (nothing recorded) or the answer lost after it was
 * recorded — under a load with every kind of outcome (bought, above the maximum, nobody carries
 * it, declined cards). The checker must find no money captured without a book, no book without
 * a capture, and no authorization left open.
 */
import { SandboxGateway, SecretBox } from "@bookbroker/engine"
import { expect, it } from "vitest"
import { startFleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { catalog, createDatabase, drain, engineRuntime, Redacted, registerSellers, releaseAfterAll, seeded, sleep, submit } from "../src/Setup.js"

/** Fails each payment call with probability `rate` while active: unavailable or a lost answer; counts what it did. */
class RandomFaults extends SandboxGateway.SandboxFaults {
  active = true
  readonly taken: Record<string, number> = {}
  constructor(
    private readonly random: () => number,
    private readonly rate: number
  ) {
    super()
  }
  override take(kind: "authorize" | "capture" | "void" | "refund"): "unavailable" | "lost_response" | undefined {
    if (!this.active || kind === "refund" || this.random() >= this.rate) return undefined
    const fault = this.random() < 0.5 ? "unavailable" : "lost_response"
    this.taken[`${kind}:${fault}`] = (this.taken[`${kind}:${fault}`] ?? 0) + 1
    return fault
  }
}

const requests = 150
const catalogSize = 300
const seed = 23


const release = releaseAfterAll()

it("payment provider failures and lost answers never capture without a book or leave money held", async () => {
  const started = Date.now()
  const random = seeded(seed)
  const fleet = release.fleet(await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.6, latency: 20, "lost-response-rate": 0.05, seed }))
  const database = release.database(await createDatabase())
  const faults = new RandomFaults(random, 0.2)
  const runtime = release.runtime(engineRuntime(database.url, {
    secretKey: Redacted.make(SecretBox.generateKey()),
    payments: SandboxGateway.layer({ faults }),
    pipeline: { leaseMillis: 2_000, maxBackoffMillis: 300 },
    workers: { concurrency: 16, pollMillis: 20 }
  }))
  await registerSellers(runtime, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 })

  const { carried, unknown } = catalog(catalogSize, seed)
  const outcomes = { carried: 0, unknown: 0, belowPrice: 0, declined: 0 }
  for (let i = 0; i < requests; i++) {
    const roll = random()
    const isbn = roll < 0.15 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
    const declined = roll >= 0.15 && roll < 0.25
    const belowPrice = roll >= 0.85
    if (roll < 0.15) outcomes.unknown += 1
    else if (declined) outcomes.declined += 1
    else if (belowPrice) outcomes.belowPrice += 1
    else outcomes.carried += 1
    await submit(runtime, {
      idempotencyKey: `payments-${i}`,
      isbn,
      maxMinor: belowPrice ? 700 : 10_000,
      paymentToken: declined ? (random() < 0.5 ? "tok_decline" : "tok_insufficient_funds") : "tok_approve"
    })
    await sleep(60)
  }
  // The provider recovers after the load: everything parked must now settle.
  faults.active = false
  const open = await drain(database.url, 40_000)
  const { orders, violations } = await fleet.orders()
  const report = await checkAll({ databaseUrl: database.url, orders, sellerViolations: violations, asked: await fleet.asked() })
  const injected = faults.taken
  const total = Object.values(injected).reduce((sum, n) => sum + n, 0)
  console.log(
    `[chaos payments] requests ${requests} ${JSON.stringify(outcomes)}, payment faults injected ${total} ${JSON.stringify(injected)}, ` +
      `open after drain ${open}, duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.statuses["purchased"]).toBeGreaterThan(0)
  expect(report.statuses["not_available"]).toBeGreaterThan(0)
  expect(report.statuses["price_not_met"]).toBeGreaterThan(0)
  expect(report.violations).toBe(0)
}, 120_000)
