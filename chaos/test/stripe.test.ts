/**
 * The Stripe gateway under faults: the engine pays through `StripeGateway` (the real `stripe`
 * SDK) against the local fake Stripe (`FakeStripe`), whose fault switches fail about a fifth of
 * the payment calls — authorize (create + confirm), capture and cancel — the ways Stripe and a
 * network fail: a 500 or a 429 before anything happens, the connection dropped before or after
 * the operation committed, an answer slower than the gateway's timeout (the operation commits
 * while bookbroker has given up; a retry meanwhile gets 409). The load has every kind of
 * outcome (bought, above the maximum, nobody carries it, declined cards).
 *
 * Authorizations lapse: every half second, with probability 0.3, one open authorization
 * (`requires_capture`) is canceled by the fake as Stripe cancels an uncaptured PaymentIntent after
 * 7 days (`cancellation_reason: "automatic"`). One that lapsed before its capture cannot be
 * captured: the request fails (`capture_rejected`) and, when the seller's order was already
 * placed, the reconciler must leave an `order_without_capture` finding for a person — the checker
 * accepts that order without a capture only with that finding open.
 *
 * Stripe's search lags (2 s here, up to a minute at Stripe): the sweeper and the reconciler run
 * beside the load, as a worker runs them, with their waits set above that lag.
 *
 * The checker reads the payment side from the fake Stripe's own PaymentIntents (and charges),
 * not from bookbroker's database: money captured without a seller order, an order without a
 * capture, a capture other than the order total, captured above the authorization or the
 * customer's maximum, authorizations left `requires_capture`, intents not linked to exactly one
 * request (metadata.request_id against bookbroker's own payment_operations).
 */
import { Notifications, SecretBox, StripeGateway } from "@bookbroker/engine"
import { FakeStripe } from "@bookbroker/engine/testing"
import { expect, it } from "vitest"
import { startFleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { connect } from "../src/Pg.js"
import { catalog, createDatabase, drain, engineRuntime, Redacted, registerSellers, releaseAfterAll, seeded, sleep, submit } from "../src/Setup.js"

const requests = 150
const loadMillis = 15_000
const catalogSize = 300
const seed = 83
const faultRate = 0.2
const gatewayTimeoutMillis = 1_000
const stripeKey = "sk_test_chaos_0123456789abcdef"
const searchLagMillis = 2_000

let injector: NodeJS.Timeout | undefined
let lapser: NodeJS.Timeout | undefined

const release = releaseAfterAll()
release.also(() => {
  clearInterval(injector)
  clearInterval(lapser)
})

const faultKinds: ReadonlyArray<readonly [weight: number, spec: Omit<FakeStripe.FaultSpec, "path">]> = [
  [0.25, { fault: "500" }],
  [0.1, { fault: "429", retryAfterSeconds: 1 }],
  [0.2, { fault: "drop_before_commit" }],
  [0.25, { fault: "drop_after_commit" }],
  // Slower than the gateway's timeout: bookbroker gives up, Stripe commits half a second later.
  [0.2, { fault: "delay", delayMillis: gatewayTimeoutMillis + 500 }]
]

/**
 * Fails about `rate` of the POSTs to PaymentIntents with the fake's own fault switches: for every
 * new POST it sees (polling the fake's request log), with probability `rate` it arms one fault
 * for the next POST. Armed faults are consumed one per request, so in the long run that share
 * of the calls fails.
 */
const randomFaults = (server: FakeStripe.FakeStripeServer, random: () => number, rate: number) => {
  let seen = 0
  return () => {
    const log = server.requests()
    const posts = log.slice(seen).filter((entry) => entry.method === "POST").length
    seen = log.length
    for (let i = 0; i < posts; i++) {
      if (random() >= rate) continue
      let roll = random()
      const kind = faultKinds.find(([weight]) => (roll -= weight) < 0) ?? faultKinds[0]!
      server.inject({ path: /^\/v1\/payment_intents(\/[^/]+\/(capture|cancel))?$/, method: "POST", ...kind[1] })
    }
  }
}

/** The faults the fake actually applied, by operation and kind. */
const faultsTaken = (server: FakeStripe.FakeStripeServer) => {
  const taken: Record<string, number> = {}
  for (const entry of server.requests()) {
    if (entry.fault === undefined) continue
    const operation = entry.path.endsWith("/capture") ? "capture" : entry.path.endsWith("/cancel") ? "void" : "authorize"
    taken[`${operation}:${entry.fault}`] = (taken[`${operation}:${entry.fault}`] ?? 0) + 1
  }
  return taken
}

const sandboxRows = async (url: string) => {
  const client = await connect(url)
  try {
    return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM sandbox_payments")).rows[0]!.n)
  } finally {
    await client.end()
  }
}

/** What became of the requests whose authorization lapsed: their statuses and reasons. */
const lapsedRequests = async (url: string, ids: ReadonlyArray<string>) => {
  const client = await connect(url)
  try {
    const rows = await client.query<{ outcome: string; n: string }>(
      "SELECT status || coalesce(' ' || split_part(reason, ':', 1), '') AS outcome, count(*) AS n FROM purchase_requests WHERE id::text = ANY($1::text[]) GROUP BY 1 ORDER BY 1",
      [ids]
    )
    return rows.rows.map((row) => `${row.outcome} ${row.n}`).join(", ")
  } finally {
    await client.end()
  }
}

it("Stripe failures, timeouts and lost answers never capture without a book or leave an intent requires_capture", async () => {
  const started = Date.now()
  const random = seeded(seed)
  const fleet = release.fleet(await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.6, latency: 20, "lost-response-rate": 0.05, seed }))
  const database = release.database(await createDatabase())
  const fake = await FakeStripe.start({ secretKey: stripeKey, searchLagMillis })
  release.also(() => fake.close())
  const runtime = release.runtime(engineRuntime(database.url, {
    secretKey: Redacted.make(SecretBox.generateKey()),
    payments: StripeGateway.layer(fake.gatewayOptions(stripeKey, { timeoutMillis: gatewayTimeoutMillis })),
    pipeline: { leaseMillis: 3_000, maxBackoffMillis: 500 },
    workers: { concurrency: 16, pollMillis: 20 },
    // What a worker process runs beside the pipeline, with every wait above the search lag.
    background: {
      webhookSecret: Redacted.make(Notifications.generateSecret()),
      sweeper: { intervalMillis: 1_000, lookupAfterMillis: searchLagMillis + 500, lookupRepeatMillis: [searchLagMillis * 2, 10_000] },
      reconciler: { intervalMillis: 1_000, settleMillis: searchLagMillis + 1_000 }
    }
  }))
  await registerSellers(runtime, fleet.sellers, { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000 })
  // Its own generator: the request mix stays the same whatever the timing of the faults.
  const tick = randomFaults(fake, seeded(seed + 1), faultRate)
  injector = setInterval(tick, 20)
  const lapseRandom = seeded(seed + 2)
  const lapsed: Array<string> = []
  lapser = setInterval(() => {
    if (lapseRandom() >= 0.3) return
    const open = fake.intents().filter((intent) => intent.status === "requires_capture")
    const chosen = open[Math.floor(lapseRandom() * open.length)]
    if (chosen !== undefined && fake.expireAuthorization(chosen.id)) lapsed.push(chosen.metadata["request_id"] ?? chosen.id)
  }, 500)

  const { carried, unknown } = catalog(catalogSize, seed)
  const outcomes = { carried: 0, unknown: 0, belowPrice: 0, declined: 0 }
  const loadStarted = Date.now()
  for (let i = 0; i < requests; i++) {
    const roll = random()
    const isbn = roll < 0.1 ? unknown[i % unknown.length]! : carried[Math.floor(random() * carried.length)]!
    const declined = roll >= 0.1 && roll < 0.2
    const belowPrice = roll >= 0.9
    if (roll < 0.1) outcomes.unknown += 1
    else if (declined) outcomes.declined += 1
    else if (belowPrice) outcomes.belowPrice += 1
    else outcomes.carried += 1
    await submit(runtime, {
      idempotencyKey: `stripe-${i}`,
      isbn,
      maxMinor: belowPrice ? 700 : 10_000,
      paymentToken: declined ? (random() < 0.5 ? "pm_card_chargeDeclined" : "pm_card_insufficient_funds") : "pm_card_visa"
    })
    await sleep(loadStarted + ((i + 1) * loadMillis) / requests - Date.now())
  }
  // Stripe recovers after the load: everything parked must now settle.
  clearInterval(injector)
  injector = undefined
  clearInterval(lapser)
  lapser = undefined
  fake.clearFaults()
  const open = await drain(database.url, 30_000)
  // Authorizations whose answer was lost are the sweeper's: let it (and the reconciler) pass
  // over the last requests once the search has caught up.
  await sleep(searchLagMillis * 3)
  const { orders, violations } = await fleet.orders()
  const intents = fake.intents()
  const report = await checkAll({
    databaseUrl: database.url,
    orders,
    sellerViolations: violations,
    payments: { _tag: "Stripe", intents, charges: fake.charges() },
    asked: await fleet.asked()
  })
  const injected = faultsTaken(fake)
  const total = Object.values(injected).reduce((sum, n) => sum + n, 0)
  const posts = fake.requests().filter((entry) => entry.method === "POST").length
  const byStatus: Record<string, number> = {}
  for (const intent of intents) byStatus[intent.status] = (byStatus[intent.status] ?? 0) + 1
  const sandbox = await sandboxRows(database.url)
  const lapsedOutcomes = await lapsedRequests(database.url, lapsed)
  console.log(
    `[chaos stripe] requests ${requests} ${JSON.stringify(outcomes)}, Stripe faults injected ${total} of ${posts} POSTs ${JSON.stringify(injected)}, ` +
      `PaymentIntents ${intents.length} ${JSON.stringify(byStatus)}, authorizations lapsed ${lapsed.length} (${lapsedOutcomes}), open after drain ${open}, duration ${((Date.now() - started) / 1000).toFixed(1)} s\n${describe(report)}`
  )
  expect(sandbox).toBe(0) // the payment side really was the fake Stripe
  expect(total).toBeGreaterThanOrEqual(40)
  expect(lapsed.length).toBeGreaterThan(0)
  for (const fault of ["500", "drop_before_commit", "drop_after_commit", "delay"]) {
    expect(Object.keys(injected).some((key) => key.endsWith(`:${fault}`))).toBe(true)
  }
  expect(open).toBe(0)
  expect(report.requests).toBe(requests)
  expect(report.statuses["purchased"]).toBeGreaterThan(0)
  expect(report.statuses["not_available"]).toBeGreaterThan(0)
  expect(report.statuses["price_not_met"]).toBeGreaterThan(0)
  expect(report.violations, describe(report)).toBe(0)
}, 90_000)
