/**
 * Where a status read's and an intake's CPU goes, by taking parts away (`pnpm bench:breakdown`, about a minute;
 * PostgreSQL on 127.0.0.1 needed). CPU per request or call, from `process.cpuUsage()`:
 * 1. over HTTP (autocannon, 64 connections, 2 s warm-up then `--seconds`; `GET
 *    /v1/purchase-requests/{id}`, then `POST /v1/purchase-requests` with a fresh key each):
 *    Effect HttpApi alone serving the same endpoints and schemas with constant answers
 *    (`breakdown-floor.ts`), then the real server (`intake-server.ts`) reading a stored request
 *    and accepting new ones;
 * 2. in this process (64 callers at once, `--calls` each): the engine's `Purchases.get` and
 *    `Purchases.submit`, and the read's statement and `SELECT 1` through @effect/sql and through
 *    plain `pg` on a pool of the same size.
 * The rest of the real server's cost (routing, auth, edge, encoding) is 1.'s difference minus 2.'s get.
 */
import { Database, Purchases } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { type Isbn, Money } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import autocannon from "autocannon"
import { Context, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import pg from "pg"
import { round } from "./support.js"

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, calls: { type: "string", default: "20000" } } })
const seconds = Number(values.seconds)
const calls = Number(values.calls)
const cpuMicros = () => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

const purchase = (key: string): Purchases.NewPurchase => ({
  customerId: "bench",
  idempotencyKey: key,
  request: {
    isbn: "9780306406157" as Isbn.Isbn13,
    max_price: Money.make(2999, "EUR"),
    payment: { token: "tok_approve" },
    customer: { name: "Ada Lovelace", email: "ada@example.com", shipping_address: { line1: "12 Rue de Rivoli", city: "Paris", country: "FR" } }
  }
})

const wireBody = {
  isbn: "978-0-306-40615-7",
  max_price: { amount: 2999, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Lovelace", email: "ada@example.com", shipping_address: { line1: "12 Rue de Rivoli", city: "Paris", postal_code: "75001", country: "FR" } }
}

// 1. Over HTTP, each server in its own process.
const overHttp = async (script: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL(script, import.meta.url))], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: child.stdout })
  const next = () => new Promise<Record<string, unknown>>((resolve) => lines.once("line", (line) => resolve(JSON.parse(line) as Record<string, unknown>)))
  const { url, key } = (await next()) as { url: string; key: string }
  let path = "/v1/purchase-requests/0b7e0c8e-1c7a-4f4b-9d55-0f1e6f6f0a11"
  if (script.includes("intake-server")) {
    const response = await fetch(`${url}/v1/purchase-requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": "breakdown" },
      body: JSON.stringify(wireBody)
    })
    path = `/v1/purchase-requests/${((await response.json()) as { id: string }).id}`
  }
  let counter = 0
  const reads: autocannon.Request = { method: "GET", path, headers: { authorization: `Bearer ${key}` } }
  const writes: autocannon.Request = {
    method: "POST",
    path: "/v1/purchase-requests",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(wireBody),
    setupRequest: (request) => ({ ...request, headers: { ...request.headers, "idempotency-key": `breakdown-${++counter}` } })
  }
  const cpu = async () => {
    child.stdin.write("stats\n")
    return (await next())["cpuMicros"] as number
  }
  const measure = async (request: autocannon.Request) => {
    await autocannon({ url, connections: 64, duration: 2, requests: [request] })
    const before = await cpu()
    const result = await autocannon({ url, connections: 64, duration: seconds, requests: [request] })
    const used = (await cpu()) - before
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${script}: ${result.non2xx} non-2xx, ${result.errors} errors`)
    return { requestsPerSecond: round(result["2xx"] / result.duration, 0), cpuMicrosPerRequest: round(used / result["2xx"], 0), p99Millis: result.latency.p99 }
  }
  const measured = { get: await measure(reads), post: await measure(writes) }
  child.stdin.end()
  await new Promise((resolve) => child.once("exit", resolve))
  return measured
}

// 2. In this process.
const inProcess = Effect.gen(function* () {
  const { url } = yield* TestDatabase.scopedDatabase("bb_bench_breakdown")
  // Nothing drains the queue here: no backlog limit (it would refuse after 10,000 requests in flight).
  const context = yield* Layer.build(Purchases.layerWith({ backlog: { maxBacklog: 100_000_000 } }).pipe(Layer.provideMerge(Database.layer({ url, maxConnections: 20 }))))
  const purchases = Context.get(context, Purchases.Purchases)
  const sql = Context.get(context, SqlClient.SqlClient)
  const pool = new pg.Pool({ connectionString: url, max: 20 })
  // Dropping the database at the end terminates what is still connected: not an error here.
  pool.on("error", () => {})
  yield* Effect.addFinalizer(() => Effect.promise(() => pool.end()))
  const { id } = yield* purchases.submit(purchase("stored"))
  const measure = (call: () => Promise<unknown>) =>
    Effect.promise(async () => {
      for (let i = 0; i < 1_000; i++) await call()
      const before = cpuMicros()
      let started = 0
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (started++ < calls) await call()
      }))
      return round((cpuMicros() - before) / calls, 0)
    })
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
  // A statement shaped like `Purchases.get`'s (the request with its attempts as one JSON array), as text for plain pg.
  const readText = `SELECT r.id, r.status, COALESCE((SELECT json_agg(json_build_object('seller_id', a.seller_id, 'rank', a.rank, 'status', a.status) ORDER BY a.round, a.rank) FROM purchase_attempts a WHERE a.request_id = r.id), '[]'::json) AS attempts FROM purchase_requests r WHERE r.id = $1`
  let key = 0
  return {
    "Purchases.get": yield* measure(() => run(purchases.get(id, "bench"))),
    "Purchases.submit (group commit)": yield* measure(() => run(purchases.submit(purchase(`k${++key}`)))),
    "read statement, effect/sql": yield* measure(() => run(sql.unsafe(readText, [id]))),
    "read statement, plain pg": yield* measure(() => pool.query(readText, [id])),
    "SELECT 1, effect/sql": yield* measure(() => run(sql`SELECT 1`)),
    "SELECT 1, plain pg": yield* measure(() => pool.query("SELECT 1"))
  }
})

const results = {
  command: `pnpm bench:breakdown --seconds ${seconds} --calls ${calls}`,
  overHttp: { "Effect HttpApi floor (same endpoints and schemas, constant answers)": await overHttp("./breakdown-floor.ts"), "bookbroker server (PostgreSQL)": await overHttp("./intake-server.ts") },
  inProcessCpuMicrosPerCall: await Effect.runPromise(Effect.scoped(inProcess))
}
console.log(JSON.stringify(results, null, 2))
process.exit(0)
