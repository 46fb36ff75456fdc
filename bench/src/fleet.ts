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
 * `--lost-response-rate` makes that share of purchases commit the order and drop the answer.
 *
 * `--responder msw` (default) serves the SDK's simulated reference sellers (msw handlers over
 * SellerSimulator): faults, latency, rate limits, order books. `--responder static` answers
 * quotes only, from the same stock, with plain node:http — about ten times cheaper per call,
 * for throughput runs that measure bookbroker's side of a call rather than the simulator's.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { parseArgs } from "node:util"
import { generateIsbns, referenceSellerHandlers, SellerSimulator, serveHandlers, type HandlerServer } from "@bookbroker/adapter-sdk/testing"
import { Random } from "@bookbroker/adapter-sdk/testing"

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
    rps: { type: "string", default: "0" },
    burst: { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    responder: { type: "string", default: "msw" },
    "max-seconds": { type: "string", default: "900" }
  }
})

const sellerCount = Number(values.sellers)
const isbns = generateIsbns({ size: Number(values.catalog), seed: Number(values.seed) })
const random = Random.seeded(Number(values.seed) + 1)
const coverage = Number(values.coverage)
const latency = Number(values.latency)
const servers: Array<HandlerServer> = []
const simulators: Array<SellerSimulator> = []

for (let index = 0; index < sellerCount; index++) {
  const name = `seller-${String(index).padStart(5, "0")}`
  const stock = []
  for (const isbn of isbns) {
    if (random() < coverage) stock.push({ isbn, price: 800 + Math.floor(random() * 3000), shipping: 0, quantity: 1 + Math.floor(random() * 5) })
  }
  const simulator = new SellerSimulator({
    name,
    apiKey: `${name}-key`,
    stock,
    seed: Number(values.seed) * 1000 + index,
    ...(latency > 0
      ? { latency: { medianMillis: latency, tailProbability: Number(values["tail-probability"]), tailMaxMillis: Number(values["tail-max"]) } }
      : {}),
    errorRate: Number(values["error-rate"]),
    ...(Number(values["lost-response-rate"]) > 0 ? { lostResponseRate: Number(values["lost-response-rate"]) } : {}),
    ...(Number(values.rps) > 0 ? { rateLimit: { requestsPerSecond: Number(values.rps), burst: Number(values.burst) } } : {})
  })
  simulators.push(simulator)
  servers.push(
    values.responder === "static"
      ? await serveStatic(simulator)
      : await serveHandlers(referenceSellerHandlers(simulator, { mode: "hold", batch: false }), { onClose: () => simulator.close() })
  )
}

/** Quotes only, from the simulator's stock, without msw or the simulator's per-call work. */
async function serveStatic(simulator: SellerSimulator): Promise<HandlerServer> {
  const route = /^\/api\/v1\/books\/(\d{13})\/quote$/
  const server = createServer((req, res) => {
    const match = route.exec(req.url ?? "")
    const item = match === null ? undefined : simulator.stock.get(match[1]!)
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
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    use: () => undefined,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

process.stdout.write(`${JSON.stringify({ sellers: servers.map((server, i) => ({ name: simulators[i]!.name, url: server.url, apiKey: simulators[i]!.apiKey })) })}\n`)

const shutdown = async () => {
  await Promise.all(servers.map((server) => server.close()))
  process.exit(0)
}
const lines = createInterface({ input: process.stdin })
lines.on("line", (line) => {
  if (line.trim() === "stats") {
    process.stdout.write(
      `${JSON.stringify({
        calls: simulators.reduce((sum, s) => sum + s.calls.quote + s.calls.hold + s.calls.purchase, 0),
        rateViolations: simulators.reduce((sum, s) => sum + s.violations.rate, 0),
        concurrencyViolations: simulators.reduce((sum, s) => sum + s.violations.concurrency, 0)
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
            total: order.price * order.quantity + order.shipping
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
lines.on("close", () => void shutdown())
setTimeout(() => void shutdown(), Number(values["max-seconds"]) * 1000).unref()
