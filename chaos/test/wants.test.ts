/**
 * Wants firing while workers are killed. Everything goes through the public HTTP API of a
 * `bookbroker serve --role api` process, as customers and sellers use it: a customer places 48
 * wants (`wait_until`) whose maximum is below every price the sellers start with, so each one
 * watches after its first round (nothing within the maximum, or nobody has the book). Then
 * sellers list cheaper copies — fewer copies than wants for each book — some by pushing offers
 * (`POST /v1/sellers/me/offers`), some by uploading a delta inventory file, each one after
 * changing its own stock; the customer cancels about a third of the wants, timed to race the
 * listing of their book or the end of their wait; a group of wants waits only a minute and
 * expires (placed first, before any kill, so that however slow the machine each one watches long
 * before its wait ends). Meanwhile `bookbroker serve --role worker` processes — which run the purchase
 * workers and the background jobs, the wants job among them — are SIGKILLed every 1–2 s and
 * replaced; sellers lose some purchase answers after placing the order and answer some calls
 * with 500. Every want asks for webhooks, at a receiver that refuses some first deliveries.
 *
 * Afterwards (kills stopped, one fresh worker, then until no want is being bought and a run of
 * the wants job finds nothing to wake or expire) the checker reads the database, the sandbox
 * ledger, the sellers' books and history and the receiver: every want bought at most once, and
 * only with an order at the captured price; none bought, charged or holding money while watching,
 * expired or cancelled; a watching one only before its `wait_until` and saying why; no seller
 * selling more copies of a book than it ever had; every cancel's answer true; no want ending
 * twice; every move told by a webhook, in order. Waits are on conditions, with bounds of minutes:
 * a loaded machine is slower, not wrong.
 */
import { Notifications, SecretBox } from "@bookbroker/engine"
import { afterAll, expect, it } from "vitest"
import { call, expectStatus } from "../src/Api.js"
import { startFleet, type Fleet } from "../src/Fleet.js"
import { checkAll, describe } from "../src/Invariants.js"
import { withClient } from "../src/Pg.js"
import { type ApiProcess, operatorToken, startApi, startRedis, startWorker, type RedisProcess, type WorkerEnvironment, type WorkerProcess } from "../src/Processes.js"
import { catalog, createDatabase, engineRuntime, type EngineRuntime, outboxDrained, Redacted, runWantsOnce, seeded, sleep, sweepAndReconcile } from "../src/Setup.js"
import { startReceiver, type WebhookReceiver } from "../src/Webhooks.js"

const seed = 131
const catalogSize = 120
const leaseMillis = 2_000
/** Every want's maximum: below every price the fleet starts with (8.00 and up). */
const maxMinor = 600
const workerCount = 3
const minKills = 12
/** The short wants' wait. */
const shortWaitMillis = 60_000
/** Bounds on waiting for conditions: far above what even a loaded machine needs; only a stuck engine reaches them. */
const patience = { start: 180_000, firstRounds: 300_000, settle: 300_000, outbox: 180_000 }

type Group = "listed" | "short" | "long"
interface Want {
  readonly id: string
  readonly group: Group
  readonly isbn: string
  /** Its place among the wants for the same book, in the order they were accepted. */
  readonly rank: number
  readonly waitUntil: number
}
interface Listing {
  readonly isbn: string
  readonly seller: number
  readonly price: number
  readonly quantity: number
  readonly via: "push" | "upload"
}

let fleet: Fleet | undefined
let redis: RedisProcess | undefined
let database: { url: string; drop: () => Promise<void> } | undefined
let runtime: EngineRuntime | undefined
let receiver: WebhookReceiver | undefined
let api: ApiProcess | undefined
const workers = new Set<WorkerProcess>()

afterAll(async () => {
  const processes = [...workers, ...(api === undefined ? [] : [api])]
  for (const child of processes) child.child.kill("SIGKILL")
  await Promise.all(processes.map((child) => child.exited))
  await runtime?.dispose()
  if (process.env["CHAOS_KEEP_DATABASE"] === undefined) await database?.drop()
  else console.log(`[chaos] kept ${database?.url}`)
  await redis?.kill()
  await receiver?.close()
  fleet?.stop()
})

/** Polls `condition` until it holds or `millis` pass; whether it held. */
const eventually = async (millis: number, condition: () => Promise<boolean>): Promise<boolean> => {
  const deadline = Date.now() + millis
  for (;;) {
    if (await condition()) return true
    if (Date.now() > deadline) return false
    await sleep(500)
  }
}

it("wants woken by cheaper listings while workers are SIGKILLed: bought once, never while cancelled or expired, no copy twice", async () => {
  const started = Date.now()
  const random = seeded(seed)
  fleet = await startFleet({ sellers: 5, catalog: catalogSize, coverage: 0.5, latency: 20, "error-rate": 0.02, "lost-response-rate": 0.15, seed })
  redis = await startRedis()
  database = await createDatabase()
  const databaseUrl = database.url
  const secretKey = SecretBox.generateKey()
  const webhookSecret = Notifications.generateSecret()
  receiver = await startReceiver(webhookSecret, { failFirstRate: 0.1, random: seeded(seed + 7) })
  // In this process only for the end: one run of the wants job, a sweep and a reconciliation (limits shared through Redis).
  runtime = engineRuntime(databaseUrl, { secretKey: Redacted.make(secretKey), workers: false, sharedState: { _tag: "Redis", url: redis.url } })
  const environment: WorkerEnvironment = {
    databaseUrl,
    redisUrl: redis.url,
    secretKey,
    leaseMillis,
    maxBackoffMillis: 1_000,
    webhookSecret,
    readyMillis: patience.start,
    env: { BOOKBROKER_CUSTOMER_RPS: "100" }
  }
  const ready = new Set<WorkerProcess>()
  const spawnWorker = () => {
    const worker = startWorker(environment)
    workers.add(worker)
    void worker.ready.then(() => ready.add(worker), () => undefined)
    void worker.exited.then(() => {
      workers.delete(worker)
      ready.delete(worker)
    })
    return worker
  }
  api = startApi(environment)
  const [baseUrl] = await Promise.all([api.ready, ...Array.from({ length: workerCount }, () => spawnWorker().ready)])

  // The operator makes a customer; each seller registers itself and is activated.
  const customer = await expectStatus<{ api_key: string }>(baseUrl, { method: "POST", path: "/v1/operator/customers", bearer: operatorToken, json: { name: "Chaos Reader" } }, 201)
  const sellerKeys: Array<string> = []
  for (const seller of fleet.sellers) {
    const registered = await expectStatus<{ id: string; api_key: string }>(
      baseUrl,
      {
        method: "POST",
        path: "/v1/sellers",
        json: {
          name: seller.name,
          adapter: { kind: "reference", config: { baseUrl: seller.url, currency: "EUR" }, credentials: { apiKey: seller.apiKey } },
          limits: { requests_per_second: 1_000, burst: 1_000, timeout_ms: 1_000 }
        }
      },
      201
    )
    await expectStatus(baseUrl, { method: "POST", path: `/v1/operator/sellers/${registered.id}/activate`, bearer: operatorToken }, 200)
    sellerKeys.push(registered.api_key)
  }

  // Books: some the sellers carry (every price above the wants' maximum), some nobody carries.
  const initial = await fleet.asked()
  const carriers = new Map<string, number>()
  for (const seller of initial.sellers) {
    for (const [isbn, , total] of seller.stock ?? []) {
      expect(total).toBeGreaterThan(maxMinor)
      carriers.set(isbn, (carriers.get(isbn) ?? 0) + 1)
    }
  }
  const { carried, unknown } = catalog(catalogSize, seed)
  const dear = carried.filter((isbn) => (carriers.get(isbn) ?? 0) > 0)
  const books: Record<Group, ReadonlyArray<string>> = {
    listed: [...dear.slice(0, 3), ...unknown.slice(0, 3)],
    short: [...dear.slice(3, 5), unknown[3]!],
    long: [dear[5]!, unknown[4]!]
  }
  const perBook: Record<Group, number> = { listed: 5, short: 4, long: 3 }

  const countWhere = (where: string) =>
    withClient(databaseUrl, (client) => client.query<{ n: number }>(`SELECT count(*)::int AS n FROM purchase_requests WHERE ${where}`).then((result) => result.rows[0]!.n))
  const active = () => countWhere("status IN ('received', 'authorized', 'quoting', 'deciding', 'purchasing')")

  /** Places the groups' wants, their books interleaved (each book's wants spread over the accepted order). */
  const wants: Array<Want> = []
  const place = async (groups: ReadonlyArray<Group>) => {
    const slots = groups.flatMap((group) => books[group].flatMap((isbn) => Array.from({ length: perBook[group] }, () => ({ group, isbn }))))
    for (const { slot } of slots.map((slot) => ({ slot, key: random() })).sort((a, b) => a.key - b.key)) {
      const waitUntil = Date.now() + (slot.group === "short" ? shortWaitMillis : 30 * 60_000)
      const accepted = await expectStatus<{ id: string }>(
        baseUrl,
        {
          method: "POST",
          path: "/v1/purchase-requests",
          bearer: customer.api_key,
          headers: { "idempotency-key": `want-${wants.length}` },
          json: {
            isbn: slot.isbn,
            max_price: { amount: maxMinor, currency: "EUR" },
            payment: { token: "tok_approve" },
            customer: { name: "Chaos Reader", email: "chaos@example.com", shipping_address: { line1: "1 Chaos Lane", city: "Paris", country: "FR" } },
            notify_url: receiver!.url,
            wait_until: new Date(waitUntil).toISOString()
          }
        },
        202
      )
      wants.push({ id: accepted.id, group: slot.group, isbn: slot.isbn, rank: wants.filter((want) => want.isbn === slot.isbn).length, waitUntil })
    }
  }

  // The short wants first, before any kill: however slow the machine, each watches long before its wait ends.
  await place(["short"])
  const shortWatching = await eventually(patience.firstRounds, async () => (await active()) === 0)

  // From here workers are killed, until the market has moved and the short wants have expired.
  let killing = true
  let kills = 0
  const killer = (async () => {
    while (killing) {
      await sleep(1_000 + random() * 1_000)
      if (!killing) break
      // Only running workers: one still starting has nothing to lose yet.
      const running = [...ready]
      const victim = running[Math.floor(random() * running.length)]
      if (victim !== undefined) {
        victim.child.kill("SIGKILL")
        kills += 1
        await victim.exited
      }
      while (workers.size < workerCount) spawnWorker()
    }
  })()

  await place(["listed", "long"])
  // Every first round over (most are watching) before any copy is listed.
  const firstRoundsStarted = Date.now()
  const firstRoundsOver = await eventually(patience.firstRounds, async () => (await active()) === 0)
  const firstRoundsMillis = Date.now() - firstRoundsStarted
  const watchingBefore = await countWhere("status = 'watching'")

  // The market: sellers list fewer copies than there are wants for each book, below the maximum.
  const listings: Array<Listing> = books.listed.flatMap((isbn) => {
    const first = Math.floor(random() * fleet!.sellers.length)
    const sellers = random() < 0.5 ? [first] : [first, (first + 1 + Math.floor(random() * (fleet!.sellers.length - 1))) % fleet!.sellers.length]
    return sellers.map((seller) => ({ isbn, seller, price: 350 + Math.floor(random() * 200), quantity: 1 + Math.floor(random() * 2), via: seller % 2 === 0 ? ("push" as const) : ("upload" as const) }))
  })
  const list = async (listing: Listing) => {
    const changed = await fleet!.stock(listing.seller, listing.isbn, listing.price, listing.quantity)
    expect(changed.ok).toBe(true)
    const bearer = sellerKeys[listing.seller]!
    if (listing.via === "push") {
      const pushed = await expectStatus<{ accepted: number }>(
        baseUrl,
        {
          method: "POST",
          path: "/v1/sellers/me/offers",
          bearer,
          json: { offers: [{ isbn: listing.isbn, available: true, price: { amount: listing.price, currency: "EUR" }, quantity: listing.quantity, valid_for_seconds: 300 }] }
        },
        200
      )
      expect(pushed.accepted).toBe(1)
      return
    }
    const file = `listingid\tisbn\tprice\tquantity\tbookcondition\nchaos-${listing.isbn}\t${listing.isbn}\t${(listing.price / 100).toFixed(2)}\t${listing.quantity}\tNew\n`
    const upload = await expectStatus<{ id: string; status: string }>(
      baseUrl,
      { method: "POST", path: "/v1/sellers/me/inventory/uploads?mode=delta&currency=EUR", bearer, text: file, contentType: "text/tab-separated-values" },
      201
    )
    let status = upload.status
    const applied = await eventually(patience.start, async () => {
      status = (await expectStatus<{ status: string }>(baseUrl, { method: "GET", path: `/v1/sellers/me/inventory/uploads/${upload.id}`, bearer }, 200)).status
      return status === "applied" || status === "refused"
    })
    expect({ applied, status }).toEqual({ applied: true, status: "applied" })
  }

  // The customer cancels about a third of the wants: around the listing of their book, at the end of their wait, or any time.
  const cancels: Array<{ requestId: string; accepted: boolean; answer: string }> = []
  const cancel = async (want: Want) => {
    let answer = await call(baseUrl, { method: "POST", path: `/v1/purchase-requests/${want.id}/cancel`, bearer: customer.api_key })
    // "Being looked at right now": a well-behaved client asks again a little later (bounded).
    for (let tries = 0; answer.status === 409 && /try again/.test(JSON.stringify(answer.body)) && tries < 60; tries++) {
      await sleep(1_000)
      answer = await call(baseUrl, { method: "POST", path: `/v1/purchase-requests/${want.id}/cancel`, bearer: customer.api_key })
    }
    expect([200, 409]).toContain(answer.status)
    cancels.push({ requestId: want.id, accepted: answer.status === 200, answer: answer.status === 200 ? "cancelled" : String((answer.body as { detail?: string })?.detail) })
  }
  const marketStarted = Date.now()
  const listedAt = new Map<string, number>()
  let offset = 0
  const events: Array<Promise<void>> = []
  for (const listing of listings) {
    offset += 800 + random() * 800
    if (!listedAt.has(listing.isbn)) listedAt.set(listing.isbn, offset)
    const at = offset
    events.push(sleep(at).then(() => list(listing)))
  }
  for (const want of wants) {
    if (want.group === "listed" && random() < 0.35) {
      const at = Math.max(0, listedAt.get(want.isbn)! - 1_500 + random() * 4_000)
      events.push(sleep(at).then(() => cancel(want)))
    } else if (want.group === "short" && want.rank === 0) {
      events.push(sleep(Math.max(0, want.waitUntil - Date.now() - 1_000 + random() * 2_000)).then(() => cancel(want)))
    } else if (want.group === "long" && want.rank === 0) {
      events.push(sleep(random() * offset).then(() => cancel(want)))
    }
  }
  await Promise.all(events)
  const marketMillis = Date.now() - marketStarted
  // Kills go on until the short wants' wait is over (the wants job must expire them meanwhile) and enough have happened.
  const lastWait = Math.max(...wants.filter((want) => want.group === "short").map((want) => want.waitUntil))
  await eventually(patience.settle, async () => Date.now() > lastWait + 2_000 && kills >= minKills)
  killing = false
  await killer

  // One fresh worker beside the survivors, then until nothing is being bought and no want is left to wake or expire.
  await spawnWorker().ready
  let wantsRuns = 0
  const settleStarted = Date.now()
  const settled = await eventually(patience.settle, async () => {
    if ((await active()) > 0) return false
    const run = await runWantsOnce(runtime!)
    wantsRuns += 1
    if (run.woken > 0 || run.expired > 0) return false
    return (await active()) === 0 && (await countWhere("status = 'watching' AND wait_until <= now()")) === 0
  })
  const settleMillis = Date.now() - settleStarted
  // What a worker's background jobs would do at their next interval, now.
  const { swept } = await sweepAndReconcile(runtime)
  const undelivered = await outboxDrained(databaseUrl, patience.outbox)
  const [{ orders, violations }, history, asked] = await Promise.all([fleet.orders(), fleet.history(), fleet.asked()])
  const report = await checkAll({
    databaseUrl,
    orders,
    sellerViolations: violations,
    history,
    asked,
    webhooks: { received: receiver.delivered(), badSignatures: receiver.badSignatures() },
    moves: { cancels }
  })

  // What came of each want, by group; who got the copies of each listed book.
  const rows = await withClient(databaseUrl, (client) =>
    client.query<{ id: string; status: string; seller_id: string | null }>("SELECT id::text AS id, status, seller_id::text AS seller_id FROM purchase_requests")
  )
  const statusOf = new Map(rows.rows.map((row) => [row.id, row.status]))
  const byGroup = (group: Group) => {
    const counts: Record<string, number> = {}
    for (const want of wants.filter((w) => w.group === group)) counts[statusOf.get(want.id)!] = (counts[statusOf.get(want.id)!] ?? 0) + 1
    return counts
  }
  const copies = books.listed.map((isbn) => {
    const supplied = listings.filter((listing) => listing.isbn === isbn).reduce((sum, listing) => sum + listing.quantity, 0)
    const sold = orders.filter((order) => order.isbn === isbn).length
    const forBook = wants.filter((want) => want.isbn === isbn)
    const watching = forBook.filter((want) => statusOf.get(want.id) === "watching").length
    // Each want in the order accepted: P purchased, C cancelled, W watching.
    const ranks = forBook.map((want) => (statusOf.get(want.id) ?? "?")[0]!.toUpperCase()).join("")
    return { isbn, copies: supplied, sold, watching, ranks }
  })
  // Copies left unsold while wants for the book still watch: what those wants' attempts say (a seller tried once is not tried again for the want).
  const unsold = copies.filter((c) => c.sold < c.copies && c.watching > 0).map((c) => c.isbn)
  const unsoldAttempts =
    unsold.length === 0
      ? []
      : (
          await withClient(databaseUrl, (client) =>
            client.query<{ line: string }>(
              `SELECT r.isbn || ' ' || a.seller_name || ' ' || a.status || ': ' || coalesce(a.reason, '') AS line
               FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.request_id
               WHERE r.status = 'watching' AND r.isbn = ANY($1::text[]) ORDER BY a.id`,
              [unsold]
            )
          )
        ).rows.map((row) => row.line)
  const calls = history.sellers.flatMap((seller) => seller.purchases)
  const lost = calls.filter((entry) => entry.fault === "lost_response").length
  const accepted = cancels.filter((entry) => entry.accepted).length
  const openHolds = history.sellers.reduce((sum, seller) => sum + seller.openHolds.length, 0)
  console.log(
    `[chaos wants] ${wants.length} wants (watching after their first round ${watchingBefore}; first rounds over: short ${shortWatching}, the others ${firstRoundsOver} in ${(firstRoundsMillis / 1000).toFixed(1)} s), ` +
      `listings ${listings.length} (${listings.filter((l) => l.via === "push").length} pushed, ${listings.filter((l) => l.via === "upload").length} uploaded) over ${(marketMillis / 1000).toFixed(1)} s, ` +
      `cancels ${cancels.length} (accepted ${accepted}; refused: ${[...new Set(cancels.filter((c) => !c.accepted).map((c) => c.answer))].join(" | ")}), worker SIGKILLs ${kills}, ` +
      `purchase calls ${calls.length} (answers lost ${lost}), holds still open at sellers ${openHolds}, settled ${settled} in ${(settleMillis / 1000).toFixed(1)} s after ${wantsRuns} wants runs, sweep ${JSON.stringify(swept)}, ` +
      `webhooks delivered ${receiver.delivered().length} (first deliveries refused ${receiver.refused()}, still undelivered ${undelivered}), duration ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
      `  listed ${JSON.stringify(byGroup("listed"))}, short ${JSON.stringify(byGroup("short"))}, long ${JSON.stringify(byGroup("long"))}\n` +
      `  per listed book: copies listed cheaply / sold / wants still watching, and its wants in the order accepted (P purchased, C cancelled, W watching): ${copies.map((c) => `${c.copies}/${c.sold}/${c.watching} ${c.ranks}`).join(", ")}\n` +
      (unsold.length === 0 ? "" : `  copies left unsold while wants watch (${unsold.join(", ")}); their attempts: ${unsoldAttempts.join("; ") || "none"}\n`) +
      describe(report)
  )
  expect(settled).toBe(true)
  expect(undelivered).toBe(0)
  expect(report.requests).toBe(wants.length)
  expect(report.violations).toBe(0)
  // Each group can only have ended its own ways: a listed want has no reason to expire, an unlisted one nothing to buy.
  for (const want of wants) {
    const status = statusOf.get(want.id)!
    const allowed = { listed: ["purchased", "watching", "cancelled"], short: ["expired", "cancelled", "price_not_met", "not_available", "sellers_busy"], long: ["watching", "cancelled"] }[want.group]
    expect(allowed, `${want.group} want ${want.id} is ${status}`).toContain(status)
  }
  // The scenario did what it says: workers killed, wants woken and bought, cancelled and expired.
  expect(kills).toBeGreaterThanOrEqual(minKills)
  expect(byGroup("listed")["purchased"] ?? 0).toBeGreaterThan(0)
  expect(accepted).toBeGreaterThan(0)
  expect(byGroup("short")["expired"] ?? 0).toBeGreaterThan(0)
}, 1_200_000)
