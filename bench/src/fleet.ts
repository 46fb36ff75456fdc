/**
 * A fleet of simulated reference sellers in its own process, so the sellers' CPU is not
 * counted against the code under test. Prints one JSON line `{ sellers: [{ name, url, apiKey }] }`
 * on stdout, answers `stats` on stdin with a JSON line of per-seller counters, exits when stdin
 * closes or after `--max-seconds`.
 *
 *   tsx bench/src/fleet.ts --sellers 200 --catalog 100000 --latency 0 --seed 1
 *
 * `orders` on stdin answers one JSON line `{ orders: [...], violations: { rate, concurrency } }`:
 * every order in every seller's own order book (seller, order id, idempotency key, buyer
 * reference = purchase request id, total) — what the chaos suite's invariant checker reads.
 * `stock <seller index> <isbn> <price> <quantity>` on stdin sets what that seller has of an ISBN
 * from now on (a seller listing a book, or lowering its price), answering `{ ok }`; `asked`
 * answers, with eager stock, the copies each seller ever had of each ISBN (`supplied`: its
 * stock at the start plus every copy added since), so no order book can be said to hold more.
 * `--lost-response-rate` makes that share of purchases commit the order and drop the answer;
 * `--commit-then-hang-rate` makes that share commit the order and never answer.
 *
 * `--responder msw` (default) serves the SDK's simulated reference sellers (msw handlers over
 * SellerSimulator): faults, latency, rate limits, order books. `--responder static` answers
 * quotes only, from the same stock, with plain node:http — about ten times cheaper per call,
 * for throughput runs that measure bookbroker's side of a call rather than the simulator's.
 *
 * `--stock lazy` (default `eager`) lists nothing up front: each seller looks an ISBN up on first
 * use in a hash-derived catalog (`e2e-stock.ts`: `--coverage` is then the mean share of sellers
 * carrying a book, `--sold-out` the share of carried books a seller has none of, `--catalog` is
 * not used), so 200 sellers can carry shares of a million ISBNs. Each seller's flat `shipping`
 * is then part of the first line. `--strict-share` makes that share of the sellers enforce
 * `--strict-rps` / `--strict-burst` instead of `--rps` / `--burst`; `--max-concurrency` makes
 * every seller count calls beyond it as violations. Sellers with a rate limit list it
 * (`limits`) in the first line. `stats` also answers calls by operation, violations by operation
 * (and the latest 100, with seller, time and the calls that preceded them), quote calls per
 * seller, the most calls any seller had in flight at once, and how late the fleet's event loop
 * ran (p99, max) since the previous `stats`.
 */
import { http } from "msw"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { parseArgs } from "node:util"
import {
  generateIsbns,
  referenceSellerHandlers,
  SellerSimulator,
  serveHandlers,
  type HandlerServer,
  type SellerSimulatorOptions,
  type SimulatedOperation
} from "@bookbroker/adapter-sdk/testing"
import { Random } from "@bookbroker/adapter-sdk/testing"
import { sellerShipping, stockFor, unit } from "./e2e-stock.js"

const { values } = parseArgs({
  options: {
    sellers: { type: "string", default: "200" },
    catalog: { type: "string", default: "10000" },
    /** Share of the catalog each seller carries. */
    coverage: { type: "string", default: "0.5" },
    latency: { type: "string", default: "0" },
    "tail-probability": { type: "string", default: "0" },
    "tail-max": { type: "string", default: "0" },
    "error-rate": { type: "string", default: "0" },
    "lost-response-rate": { type: "string", default: "0" },
    "commit-then-hang-rate": { type: "string", default: "0" },
    // Share of purchases confirmed above the agreed price (5.00 extra).
    "overcharge-rate": { type: "string", default: "0" },
    // After a lost purchase answer, refuse the key's next replays: rate_limited (429),
    // in_progress (409) or mixed (by seller); `replay-refusals` is how many.
    "replay-refusal": { type: "string", default: "none" },
    "replay-refusals": { type: "string", default: "2" },
    rps: { type: "string", default: "0" },
    burst: { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    responder: { type: "string", default: "msw" },
    stock: { type: "string", default: "eager" },
    "sold-out": { type: "string", default: "0" },
    "strict-share": { type: "string", default: "0" },
    "strict-rps": { type: "string", default: "0" },
    "strict-burst": { type: "string", default: "0" },
    "max-concurrency": { type: "string", default: "0" },
    "max-seconds": { type: "string", default: "900" }
  }
})

const operations = ["quote", "hold", "release", "purchase", "lookupOrder"] as const satisfies ReadonlyArray<SimulatedOperation>

/** The latest limit violations, across the fleet (at most 100 kept). */
const violationEvents: Array<{
  seller: string
  operation: SimulatedOperation
  kind: "rate" | "concurrency"
  at: string
  inFlight: number
  /** The seller's previous calls: how many milliseconds before this one each arrived, and what it was. */
  previous: Array<[number, SimulatedOperation]>
}> = []

/**
 * A simulated seller that also tells which operation each limit violation hit: the SDK's
 * `simulate` counts the call (`calls[operation] += 1`), then enters, then admits, all in one
 * synchronous stretch, so the last operation counted is the one being admitted.
 */
class AttributedSimulator extends SellerSimulator {
  readonly violationsBy = Object.fromEntries(operations.map((operation) => [operation, { rate: 0, concurrency: 0 }])) as Record<
    SimulatedOperation,
    { rate: number; concurrency: number }
  >
  private last: SimulatedOperation = "quote"
  /** Every ISBN this seller was asked to quote, with when (epoch ms), whatever it answered: its own record of being asked. */
  readonly asked: Array<[string, number]> = []
  /** Every ISBN it answered cleanly (no injected fault), with when. */
  readonly answered: Array<[string, number]> = []
  /**
   * Every purchase call this seller processed (refused replays are never processed), with when
   * and the fault injected: `lost_response` / `commit_then_hang` placed an order whose answer
   * never reached bookbroker. The history the checker reads.
   */
  readonly purchases: Array<{ readonly buyer: string; readonly key: string; readonly at: number; readonly fault: string | null; placed: boolean }> = []
  /** When the latest calls arrived (a ring of 8), to show what a violation followed. */
  private readonly arrivals: Array<[number, SimulatedOperation]> = []

  constructor(options: SellerSimulatorOptions) {
    super(options)
    const counts = this.calls
    ;(this as { calls: Record<SimulatedOperation, number> }).calls = new Proxy(counts, {
      set: (target, key, value: number) => {
        target[key as SimulatedOperation] = value
        this.last = key as SimulatedOperation
        return true
      }
    })
  }

  private note(kind: "rate" | "concurrency") {
    this.violationsBy[this.last][kind] += 1
    const now = performance.now()
    violationEvents.push({
      seller: this.name,
      operation: this.last,
      kind,
      at: new Date().toISOString(),
      inFlight: this.inFlight,
      // A rate violation is noted after its own arrival was recorded; a concurrency one before.
      previous: (kind === "rate" ? this.arrivals.slice(0, -1) : this.arrivals).map(([at, operation]) => [Math.round(now - at), operation])
    })
    if (violationEvents.length > 100) violationEvents.shift()
  }

  override purchase(request: Parameters<SellerSimulator["purchase"]>[0], fault?: Parameters<SellerSimulator["purchase"]>[1]) {
    // `placed`: this call placed a new order (a replay answers with the key's first outcome).
    const call = { buyer: request.buyerReference, key: request.idempotencyKey, at: Date.now(), fault: fault ?? null, placed: false }
    this.purchases.push(call)
    const before = this.orders.length
    try {
      return super.purchase(request, fault)
    } finally {
      call.placed = this.orders.length > before
    }
  }

  override quote(isbn: string) {
    this.answered.push([isbn, Date.now()])
    return super.quote(isbn)
  }

  override admit(): number | undefined {
    this.arrivals.push([performance.now(), this.last])
    if (this.arrivals.length > 8) this.arrivals.shift()
    const wait = super.admit()
    if (wait !== undefined) this.note("rate")
    return wait
  }

  override enter(): () => void {
    const before = this.violations.concurrency
    const done = super.enter()
    if (this.violations.concurrency > before) this.note("concurrency")
    return done
  }
}

// How late the fleet's own event loop runs: a starved fleet reads calls late and in bunches, so
// its sellers' clocks (rate limits, latency) see them closer together than they were sent.
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()

const sellerCount = Number(values.sellers)
const lazy = values.stock === "lazy"
if (!lazy && values.stock !== "eager") throw new Error(`--stock must be eager or lazy, not ${values.stock}`)
if (!lazy && Number(values["sold-out"]) > 0) throw new Error("--sold-out needs --stock lazy")
const seed = Number(values.seed)
const isbns = lazy ? [] : generateIsbns({ size: Number(values.catalog), seed })
const random = Random.seeded(seed + 1)
const coverage = Number(values.coverage)
const latency = Number(values.latency)
const servers: Array<HandlerServer> = []
const simulators: Array<AttributedSimulator> = []
const extras: Array<{ shipping?: number; limits?: { requestsPerSecond: number; burst: number; maxConcurrency?: number } }> = []
const maxConcurrency = Number(values["max-concurrency"])
/** Each seller's stock at the start (eager stock): ISBN, quantity, total in minor units. */
const initialStock: Array<ReadonlyArray<readonly [string, number, number]>> = []
/** The copies each seller ever had of each ISBN (eager stock): at the start, plus every copy a `stock` command added. */
const supplied: Array<Map<string, number>> = []

for (let index = 0; index < sellerCount; index++) {
  const name = `seller-${String(index).padStart(5, "0")}`
  const stock = []
  for (const isbn of isbns) {
    if (random() < coverage) stock.push({ isbn, price: 800 + Math.floor(random() * 3000), shipping: 0, quantity: 1 + Math.floor(random() * 5) })
  }
  const strict = Number(values["strict-share"]) > 0 && unit(seed, index, "", 9) < Number(values["strict-share"])
  const rps = strict ? Number(values["strict-rps"]) : Number(values.rps)
  const burst = strict ? Number(values["strict-burst"]) : Number(values.burst)
  extras.push({
    ...(lazy ? { shipping: sellerShipping(seed, index) } : {}),
    ...(rps > 0 ? { limits: { requestsPerSecond: rps, burst, ...(maxConcurrency > 0 ? { maxConcurrency } : {}) } } : {})
  })
  initialStock.push(stock.map((item) => [item.isbn, item.quantity, item.price + item.shipping] as const))
  supplied.push(new Map(stock.map((item) => [item.isbn, item.quantity])))
  const simulator = new AttributedSimulator({
    name,
    apiKey: `${name}-key`,
    stock,
    ...(lazy ? { stockFor: stockFor({ seed, coverage, soldOut: Number(values["sold-out"]) }, index) } : {}),
    seed: seed * 1000 + index,
    ...(latency > 0
      ? { latency: { medianMillis: latency, tailProbability: Number(values["tail-probability"]), tailMaxMillis: Number(values["tail-max"]) } }
      : {}),
    errorRate: Number(values["error-rate"]),
    ...(Number(values["lost-response-rate"]) > 0 ? { lostResponseRate: Number(values["lost-response-rate"]) } : {}),
    ...(Number(values["commit-then-hang-rate"]) > 0 ? { commitThenHangRate: Number(values["commit-then-hang-rate"]) } : {}),
    ...(Number(values["overcharge-rate"]) > 0 ? { overchargeRate: Number(values["overcharge-rate"]) } : {}),
    ...(values["replay-refusal"] === "none"
      ? {}
      : {
          replayRefusal: {
            kind: values["replay-refusal"] === "mixed" ? (index % 2 === 0 ? ("rate_limited" as const) : ("in_progress" as const)) : (values["replay-refusal"] as "rate_limited" | "in_progress"),
            times: Number(values["replay-refusals"])
          }
        }),
    ...(rps > 0 ? { rateLimit: { requestsPerSecond: rps, burst } } : {}),
    ...(maxConcurrency > 0 ? { maxConcurrency } : {})
  })
  simulators.push(simulator)
  servers.push(
    values.responder === "static"
      ? await serveStatic(simulator)
      : await serveHandlers([askedRecorder(simulator), ...referenceSellerHandlers(simulator, { mode: "hold", batch: false })], { onClose: () => simulator.close() })
  )
}

/** Notes every quote call's ISBN as it arrives (before faults are applied), then lets the seller's own route answer. */
function askedRecorder(simulator: AttributedSimulator) {
  return http.get("*/api/v1/books/:isbn/quote", ({ params }) => {
    simulator.asked.push([String(params["isbn"]), Date.now()])
    return undefined
  })
}

/** Quotes only, from the simulator's stock, without msw or the simulator's per-call work. */
async function serveStatic(simulator: AttributedSimulator): Promise<HandlerServer> {
  const route = /^\/api\/v1\/books\/(\d{13})\/quote$/
  const server = createServer((req, res) => {
    const match = route.exec(req.url ?? "")
    const item = match === null ? undefined : simulator.stockItem(match[1]!)
    simulator.calls.quote += 1
    if (match === null || item === undefined || req.headers["x-api-key"] !== simulator.apiKey) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end('{"error":"unknown_book"}')
      return
    }
    const body = JSON.stringify({
      book_id: match[1],
      available: item.quantity > 0,
      price: item.quantity > 0 ? item.price / 100 : null,
      quote_id: item.quantity > 0 ? `q-${match[1]}` : null,
      expires_at: item.quantity > 0 ? new Date(Date.now() + 60_000).toISOString() : null
    })
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.address() as AddressInfo).port
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    use: () => undefined,
    refuseConnections: stop,
    acceptConnections: () =>
      server.listening ? Promise.resolve() : new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve())),
    close: stop
  }
}

process.stdout.write(
  `${JSON.stringify({ sellers: servers.map((server, i) => ({ name: simulators[i]!.name, url: server.url, apiKey: simulators[i]!.apiKey, ...extras[i] })) })}\n`
)

const shutdown = async () => {
  await Promise.all(servers.map((server) => server.close()))
  process.exit(0)
}
const lines = createInterface({ input: process.stdin })
lines.on("line", (line) => {
  if (line.trim() === "stats") {
    setImmediate(() => loopDelay.reset())
    process.stdout.write(
      `${JSON.stringify({
        calls: simulators.reduce((sum, s) => sum + s.calls.quote + s.calls.hold + s.calls.purchase, 0),
        rateViolations: simulators.reduce((sum, s) => sum + s.violations.rate, 0),
        concurrencyViolations: simulators.reduce((sum, s) => sum + s.violations.concurrency, 0),
        byOperation: Object.fromEntries(operations.map((operation) => [operation, simulators.reduce((sum, s) => sum + s.calls[operation], 0)])),
        violationsByOperation: Object.fromEntries(
          operations.map((operation) => [
            operation,
            {
              rate: simulators.reduce((sum, s) => sum + s.violationsBy[operation].rate, 0),
              concurrency: simulators.reduce((sum, s) => sum + s.violationsBy[operation].concurrency, 0)
            }
          ])
        ),
        violationEvents,
        maxInFlight: simulators.reduce((max, s) => Math.max(max, s.maxInFlight), 0),
        eventLoopDelayMillis: { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) },
        quotesPerSeller: simulators.map((s) => s.calls.quote)
      })}\n`
    )
  }
  if (line.trim() === "orders") {
    process.stdout.write(
      `${JSON.stringify({
        orders: simulators.flatMap((s) =>
          s.orders.map((order) => ({
            seller: s.name,
            orderId: order.orderId,
            idempotencyKey: order.idempotencyKey,
            buyerReference: order.buyerReference,
            total: order.price * order.quantity + order.shipping,
            isbn: order.isbn,
            quantity: order.quantity,
            placedAt: order.placedAt
          }))
        ),
        violations: {
          rate: simulators.reduce((sum, s) => sum + s.violations.rate, 0),
          concurrency: simulators.reduce((sum, s) => sum + s.violations.concurrency, 0)
        }
      })}\n`
    )
  }
})
/** Sellers in an outage right now (`offline`). */
const offline = new Set<number>()
lines.on("line", (line) => {
  const [command, ...args] = line.trim().split(/\s+/)
  if (command === "history") {
    // Every processed purchase call, and the holds still open (neither used, released nor expired).
    const now = Date.now()
    process.stdout.write(
      `${JSON.stringify({
        sellers: simulators.map((s) => ({
          name: s.name,
          purchases: s.purchases,
          openHolds: [...s.holds.values()].filter((hold) => !hold.used && !hold.released && hold.expiresAt > now).map((hold) => hold.holdId)
        }))
      })}\n`
    )
  }
  if (command === "offline") {
    // `offline <seller index> <millis>`: the seller refuses connections for a while. One outage
    // at a time per seller: overlapping close / listen calls would race on the port.
    const index = Number(args[0])
    const server = servers[index]
    const millis = Number(args[1])
    const ok = server !== undefined && !offline.has(index)
    if (ok) {
      offline.add(index)
      void server
        .refuseConnections()
        .then(() => new Promise((resolve) => setTimeout(resolve, millis)))
        .then(() => server.acceptConnections())
        .finally(() => offline.delete(index))
    }
    process.stdout.write(`${JSON.stringify({ ok })}\n`)
  }
  if (command === "stock") {
    // `stock <seller index> <isbn> <price> <quantity>`: what the seller has of the ISBN from now
    // on. Copies beyond what it still has (held ones are not had) count as supplied.
    const index = Number(args[0])
    const simulator = simulators[index]
    const [isbn, price, quantity] = [args[1] ?? "", Number(args[2]), Number(args[3])]
    const ok = simulator !== undefined && !lazy && /^\d{13}$/.test(isbn) && Number.isInteger(price) && price > 0 && Number.isInteger(quantity) && quantity >= 0
    if (ok) {
      const had = Math.max(0, simulator.stockItem(isbn)?.quantity ?? 0)
      simulator.setStock({ isbn, price, shipping: 0, quantity })
      supplied[index]!.set(isbn, (supplied[index]!.get(isbn) ?? 0) + Math.max(0, quantity - had))
    }
    process.stdout.write(`${JSON.stringify({ ok })}\n`)
  }
  if (line.trim() === "asked") {
    // Who was asked to quote which ISBN, when: for checking answers against what was never asked.
    process.stdout.write(
      `${JSON.stringify({
        sellers: simulators.map((s, i) => ({
          name: s.name,
          asked: s.asked,
          answered: s.answered,
          ...(lazy ? {} : { stock: initialStock[i], supplied: [...supplied[i]!] })
        }))
      })}\n`
    )
  }
})
lines.on("close", () => void shutdown())
setTimeout(() => void shutdown(), Number(values["max-seconds"]) * 1000).unref()
