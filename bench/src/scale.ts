/**
 * Scale-out of the intake: 1, 2 and 4 `bookbroker serve --role api` processes (built JavaScript,
 * as production runs them) against one PostgreSQL database and one Redis, driven by autocannon
 * from this process — `POST /v1/purchase-requests`, a fresh Idempotency-Key each, the
 * connections split evenly over the processes. Per configuration: accepted/s, p99, non-2xx,
 * every 2xx a stored row (rows ≥ 2xx: the requests still in flight when a run stops are stored
 * but not counted), and CPU seconds per API process and for PostgreSQL, so a reader can
 * see the cost per request and what a bigger machine (or several) would add. No workers: this
 * measures the door, not the purchases (`bench:e2e` does those).
 *
 *   pnpm bench:scale [--processes 1,2,4] [--seconds 10] [--connections 64]
 */
import { SecretBox } from "@bookbroker/engine"
import autocannon from "autocannon"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { mkdtempSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import pg from "pg"
import { request } from "undici"
import * as Processes from "./e2e-processes.js"
import { round } from "./support.js"

const { values } = parseArgs({
  options: {
    processes: { type: "string", default: "1,2,4" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "64" }
  }
})
const counts = values.processes.split(",").map(Number)
const seconds = Number(values.seconds)
const warmup = Number(values.warmup)
const connections = Number(values.connections)
const logDir = mkdtempSync(join(tmpdir(), "bb-scale-logs-"))

const body = JSON.stringify({
  isbn: "978-0-306-40615-7",
  max_price: { amount: 2999, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Lovelace", email: "ada@example.com", shipping_address: { line1: "12 Rue de Rivoli", city: "Paris", postal_code: "75001", country: "FR" } }
})

const createCustomer = async (baseUrl: string, operatorToken: string): Promise<string> => {
  const response = await request(`${baseUrl}/v1/operator/customers`, {
    method: "POST",
    headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Scale Reader", email: "scale@example.com" })
  })
  const text = await response.body.text()
  if (response.statusCode !== 201 && response.statusCode !== 200) throw new Error(`creating a customer: ${response.statusCode} ${text}`)
  return String((JSON.parse(text) as Record<string, unknown>)["api_key"])
}

let run = 0
/** POSTs to every process at once for `duration` seconds; the sum over the processes. */
const load = async (urls: ReadonlyArray<string>, key: string, duration: number) => {
  run += 1
  const results = await Promise.all(
    urls.map((url, i) => {
      let counter = 0
      const prefix = `scale-${process.pid}-${run}-${i}-`
      return autocannon({
        url,
        connections: Math.max(1, Math.round(connections / urls.length)),
        duration,
        requests: [
          {
            method: "POST",
            path: "/v1/purchase-requests",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body,
            setupRequest: (req) => {
              counter += 1
              return { ...req, headers: { ...req.headers, "idempotency-key": `${prefix}${counter}` } }
            }
          }
        ]
      })
    })
  )
  return {
    accepted: results.reduce((sum, result) => sum + result["2xx"], 0),
    other: results.reduce((sum, result) => sum + result.non2xx + result.errors + result.timeouts, 0),
    p99Millis: Math.max(...results.map((result) => result.latency.p99))
  }
}

const rows: Array<Record<string, unknown>> = []
try {
  for (const n of counts) {
    console.error(`— ${n} API process${n === 1 ? "" : "es"}`)
    const redis = await Processes.startRedis()
    const database = await Processes.createDatabase("bb_bench_scale")
    const operatorToken = `bb_op_scale_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
    const environment = {
      databaseUrl: database.url,
      redisUrl: redis.url,
      secretKey: SecretBox.generateKey(),
      operatorToken,
      processes: n,
      // One customer sends everything; nothing drains the queue (no workers): neither limit is the subject here.
      env: { BOOKBROKER_CUSTOMER_RPS: "1000000", BOOKBROKER_MAX_BACKLOG: "100000000" }
    }
    const apis: Array<Processes.BookbrokerProcess> = []
    const db = new pg.Client({ connectionString: database.url })
    try {
      // The first runs the migrations; the others start once the schema is there.
      apis.push(await Processes.startBookbroker("api", environment, join(logDir, `${n}-api-1.log`)))
      apis.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, i) => Processes.startBookbroker("api", environment, join(logDir, `${n}-api-${i + 2}.log`))))))
      const urls = apis.map((api) => api.baseUrl!)
      const key = await createCustomer(urls[0]!, operatorToken)
      await db.connect()
      await load(urls, key, warmup)
      const postgresPids = (await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).rows.map((row) => row.pid)
      const cpu = () => ({
        apis: apis.map((api) => Processes.cpuSeconds(api.child.pid) ?? 0),
        postgres: postgresPids.reduce((sum, pid) => sum + (Processes.cpuSeconds(pid) ?? 0), 0),
        redis: Processes.cpuSeconds(redis.child.pid) ?? 0,
        machine: Processes.machineCpu()
      })
      const storedBefore = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM purchase_requests")).rows[0]!.n)
      const before = cpu()
      const result = await load(urls, key, seconds)
      const after = cpu()
      const stored = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM purchase_requests")).rows[0]!.n) - storedBefore
      const apiCpu = after.apis.map((value, i) => value - before.apis[i]!)
      const apiCpuTotal = apiCpu.reduce((sum, value) => sum + value, 0)
      rows.push({
        processes: n,
        acceptedPerSecond: round(result.accepted / seconds, 0),
        p99Millis: result.p99Millis,
        non2xx: result.other,
        storedRows: stored,
        acceptedTotal: result.accepted,
        // Rows can only be more: autocannon stops counting at the end of its run while the last requests are still answered.
        everyAcceptStored: stored >= result.accepted,
        cpuMicrosPerRequest: {
          api: round((apiCpuTotal * 1e6) / result.accepted, 0),
          postgres: round(((after.postgres - before.postgres) * 1e6) / result.accepted, 0),
          redis: round(((after.redis - before.redis) * 1e6) / result.accepted, 0)
        },
        apiCpuSecondsEach: apiCpu.map((value) => round(value, 1)),
        machineBusyPercent: round((100 * (after.machine.busy - before.machine.busy)) / (after.machine.total - before.machine.total), 0),
        peakRssMiB: apis.map((api) => round(Processes.memory(api.child.pid)?.peakMiB ?? Number.NaN, 0))
      })
      console.error(JSON.stringify(rows.at(-1)))
    } finally {
      await db.end().catch(() => undefined)
      for (const api of apis) await Processes.stop(api.child)
      await Processes.stop(redis.child)
      await Processes.dropDatabase(database.name)
    }
  }
} finally {
  Processes.killAll()
  await Processes.cleanUp()
}

const cores = availableParallelism()
console.log(JSON.stringify({ cores, loadAverage1m: round(loadavg()[0]!, 2), seconds, connections, configurations: rows }, null, 2))
console.log(`\npnpm bench:scale --processes ${values.processes} --seconds ${seconds} --connections ${connections}   (${cores} cores; one PostgreSQL, one Redis)\n`)
console.log("| API processes | accepted/s | p99 | non-2xx | every 2xx stored | CPU µs per request: API · PostgreSQL · Redis | machine busy |")
console.log("| --- | --- | --- | --- | --- | --- | --- |")
for (const row of rows) {
  const cpu = row["cpuMicrosPerRequest"] as { api: number; postgres: number; redis: number }
  console.log(
    `| ${String(row["processes"])} | ${String(row["acceptedPerSecond"])} | ${String(row["p99Millis"])} ms | ${String(row["non2xx"])} | ${row["everyAcceptStored"] === true ? "yes" : "no"} | ${cpu.api} · ${cpu.postgres} · ${cpu.redis} | ${String(row["machineBusyPercent"])} % |`
  )
}
