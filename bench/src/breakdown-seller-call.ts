/**
 * Parts of one seller call's CPU, each alone in this process (`cd bench && node --import tsx
 * src/breakdown-seller-call.ts`, about a minute): 1. raw undici and then the SDK's
 * `Http.createSellerHttp` against a static JSON responder in a child process (64 calls in flight,
 * the responder's CPU not counted); 2. `SellerClient.quote` for an adapter that answers at once
 * (guard, timeout, span, validation: the SDK's Effect side, no network), tracing off; 3. the
 * engine's `Metrics.recordSellerCall` over 200 sellers in turn, on a context of 40 services. CPU
 * per call from `process.cpuUsage()`, `--rounds` rounds each after a warm-up; compare runs made
 * minutes apart on the same machine, alternating.
 */
import { defineAdapter, Http, SellerClient, type Isbn } from "@bookbroker/adapter-sdk"
import { Metrics } from "@bookbroker/engine"
import { Context, Effect, Layer, ManagedRuntime, References, Schema } from "effect"
import { spawn } from "node:child_process"
import { parseArgs } from "node:util"
import { Agent } from "undici"
import { round } from "./support.js"

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" } } })
const rounds = Number(values.rounds)

const cpuMicrosPerCall = async (calls: number, run: (calls: number) => Promise<void> | void) => {
  await run(Math.ceil(calls / 5))
  const figures: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    const before = process.cpuUsage()
    await run(calls)
    const used = process.cpuUsage(before)
    figures.push(round((used.user + used.system) / calls, 2))
  }
  return figures
}

// 1. The HTTP path against a static responder.
const responder = spawn(process.execPath, ["-e", `
const body = JSON.stringify({ book_id: "9780306406157", available: true, quote_id: "q1", price: { amount: 1299, currency: "EUR" }, shipping: { amount: 300, currency: "EUR" }, condition: "new", quantity: 3, expires_at: "2030-01-01T00:00:00Z" })
require("node:http").createServer((req, res) => { req.resume(); res.writeHead(200, { "content-type": "application/json", "x-request-id": "abc", "ratelimit-remaining": "99" }); res.end(body) }).listen(0, "127.0.0.1", function () { console.log(this.address().port) })
`], { stdio: ["ignore", "pipe", "inherit"] })
const port = await new Promise<number>((resolve) => responder.stdout!.once("data", (data) => resolve(Number(String(data).trim()))))
const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000, pipelining: 1 })
const origin = `http://127.0.0.1:${port}`
const path = "/api/v1/books/9780306406157/quote"
const api = Http.createSellerHttp({ baseUrl: origin, auth: Http.apiKeyHeader("X-Api-Key", "key"), dispatcher: agent })
const inFlight = (call: () => Promise<unknown>) => async (calls: number) => {
  let started = 0
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (started++ < calls) await call()
  }))
}
const rawUndici = await cpuMicrosPerCall(30_000, inFlight(async () => {
  const response = await agent.request({ origin, path, method: "GET", headers: { "x-api-key": "key" } })
  await response.body.json()
}))
const sdkHttp = await cpuMicrosPerCall(30_000, inFlight(() => api.request({ operation: "quote", method: "GET", path, expect: [404] })))
responder.kill()
await agent.close()

// 2. SellerClient.quote, an adapter that answers at once (nothing carried), tracing off.
const instant = defineAdapter({
  kind: "instant",
  version: "1.0.0",
  config: Schema.Struct({}),
  capabilities: { batchQuotes: null, holds: false, orderLookup: false, pricePush: false },
  create: () => ({
    quote: async () => [],
    purchase: async () => {
      throw new Error("not in this bench")
    }
  })
})
const runtime = ManagedRuntime.make(Layer.succeed(References.TracerEnabled, false))
const client = await runtime.runPromise(SellerClient.make(instant, { sellerId: "instant", config: {} }))
const isbns = ["9780306406157" as Isbn.Isbn13]
const sellerClient = await cpuMicrosPerCall(100_000, async (calls) => {
  for (let i = 0; i < calls; i++) await runtime.runPromise(client.quote(isbns))
})
await runtime.dispose()

// 3. recordSellerCall, 200 sellers in turn.
const sellers = Array.from({ length: 200 }, (_, i) => `seller-${i}`)
let services = Context.empty() as Context.Context<unknown>
for (let i = 0; i < 40; i++) services = Context.add(services, Context.Service<unknown, number>(`bench/Service${i}`), i)
const record = (calls: number) =>
  Effect.runSync(
    Effect.provide(
      Effect.gen(function* () {
        for (let i = 0; i < calls; i++) yield* Metrics.recordSellerCall(sellers[i % sellers.length]!, i % 10 === 0 ? "failed" : "answered", 12)
      }),
      services
    )
  )
const metrics = await cpuMicrosPerCall(200_000, record)

console.log(JSON.stringify({
  command: `node --import tsx src/breakdown-seller-call.ts --rounds ${rounds}`,
  cpuMicrosPerCall: {
    "raw undici (agent.request + body.json)": rawUndici,
    "Http.createSellerHttp request": sdkHttp,
    "SellerClient.quote, instant adapter, tracing off": sellerClient,
    "Metrics.recordSellerCall": metrics
  }
}, null, 2))
process.exit(0)
