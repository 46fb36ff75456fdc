/**
 * Inventory feed benchmark (the offer index, issue 16), one run:
 * 1. Ingest over HTTP: one `bookbroker serve --role api` process (the built bundle, as production
 *    runs it; a fresh PostgreSQL database, a private Redis) and one registered seller, which
 *    uploads a generated AbeBooks-style TSV of `--rows` listings (1,000,000 by default; streamed
 *    as it is generated, never held whole; ISBN-13s with valid check digits, prices like `12.34`,
 *    columns bookbroker ignores such as `description`) to
 *    `POST /v1/sellers/me/inventory/uploads?mode=snapshot`: rows/s from the first byte to the 201,
 *    the server's RSS (every 200 ms) against its idle baseline, and the CPU the server and this
 *    database's PostgreSQL backends used. Where the time went: the upload's `rows_read`, polled
 *    every 200 ms, says when the last row was staged (the `applying` status is written inside the
 *    apply transaction, so no poll sees it), and `pg_stat_activity`, sampled as often, which
 *    statement the server's backends were running. Then the same file again (an unchanged
 *    snapshot) and a `--delta-rows` delta (new prices, every tenth listing retired).
 * 2. Seller calls per request with feeds and without, in this process: `--sellers` simulated
 *    reference sellers (`SimulatedSellers`, `--latency` ms median) each carrying a hash-chosen half
 *    of a `--catalog`-ISBN catalog, and `--requests` requests at Zipf (s = 1) popularity through
 *    `QuoteEngine.quotes` + `QuoteEngine.confirm` (best 2), four at a time, with the engine's
 *    default quote cache — first with no feeds (today's path: every seller is asked unless its
 *    answer is cached), then after every seller uploaded its stock as a snapshot
 *    (`InventoryUploads.upload`, the engine service directly). Quote calls as the sellers counted
 *    them; decision latency = quotes + confirm.
 *
 *   pnpm bench:feeds                                    (PostgreSQL on 127.0.0.1, redis-server on the PATH; about 3 minutes)
 *   pnpm bench:feeds --rows 100000 --requests 100       (a quick run)
 *   pnpm bench:feeds --part ingest                      (or `calls`: one part only)
 *   pnpm bench:feeds --part ingest --server-node-args=--max-old-space-size=128
 *                                                       (is the server's RSS growth garbage or live?)
 *
 * Every database it creates is dropped at the end; the server's output is kept in a
 * `bb-feeds-logs-*` folder under the temp directory (its path is printed).
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns, type StockItem, zipfSampler } from "@bookbroker/adapter-sdk/testing"
import {
  AdapterRegistry,
  Database,
  InventoryFile,
  InventoryUploads,
  OfferIndex,
  OutboundAddress,
  QuoteEngine,
  SecretBox,
  SellerDirectory,
  SellerPool,
  SharedState,
  Tracing
} from "@bookbroker/engine"
import { SimulatedSellers } from "@bookbroker/engine/testing"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Scope, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Readable } from "node:stream"
import { parseArgs } from "node:util"
import pg from "pg"
import { Agent, request } from "undici"
import * as Processes from "./e2e-processes.js"
import { unit } from "./e2e-stock.js"
import { percentile, round } from "./support.js"

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    "delta-rows": { type: "string", default: "10000" },
    sellers: { type: "string", default: "200" },
    catalog: { type: "string", default: "20000" },
    requests: { type: "string", default: "300" },
    /** Median latency of the simulated sellers (ms). */
    latency: { type: "string", default: "20" },
    /** `all`, `ingest` (part 1) or `calls` (part 2). */
    part: { type: "string", default: "all" },
    /** Node flags for the server (e.g. `--max-old-space-size=256`: is the growth garbage or kept?). */
    "server-node-args": { type: "string", default: "" }
  }
})
const rowCount = Number(values.rows)
const deltaRows = Math.min(Number(values["delta-rows"]), rowCount)
const sellerCount = Number(values.sellers)
const catalogSize = Number(values.catalog)
const requestCount = Number(values.requests)
if (!(rowCount > 0) || !(sellerCount > 0) || !(catalogSize > 0) || !(requestCount > 0)) throw new Error("--rows, --sellers, --catalog and --requests must be positive")
if (!["all", "ingest", "calls"].includes(values.part)) throw new Error(`--part must be all, ingest or calls, not ${values.part}`)
const commandLine = `pnpm bench:feeds ${process.argv.slice(2).join(" ")}`.trim()
const log = (message: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`)
const fmt = (n: number) => n.toLocaleString("en")
const seconds = (millis: number) => round(millis / 1000, 1)
const started = performance.now()

// ---------------------------------------------------------------- the generated inventory file

/** An ISBN-13 per row, all distinct (a bijection of 0..10^8 onto the 978-0 group, which isbn3 knows whole). */
const isbnOf = (row: number): string => {
  const body = `9780${String((row * 48_271 + 1_234_567) % 100_000_000).padStart(8, "0")}`
  let sum = 0
  for (let k = 0; k < 12; k++) sum += (body.charCodeAt(k) - 48) * (k % 2 === 0 ? 1 : 3)
  return body + String((10 - (sum % 10)) % 10)
}
const words = ["The", "Silent", "River", "Garden", "Night", "History", "Letters", "Winter", "House", "Memory", "Atlas", "Stone", "Light", "Empire", "Secret", "Harbour"]
const surnames = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Brennan", "Costa", "Weber", "Haddad", "Kowalski", "Ferreira", "Ivanova"]
const givenNames = ["Ada", "Jonas", "Marie", "Kenji", "Lucia", "Tomas", "Ines", "Farid", "Nora", "Pavel"]
const publishers = ["Penguin", "Faber & Faber", "Gallimard", "Suhrkamp", "Vintage", "Picador", "Einaudi", "Anagrama", "Hanser", "Folio"]
const conditionTexts = ["New", "Fine", "Very Good", "Good", "Fair"]
const bindings = ["Hardcover", "Softcover", "Paperback"]
const fileHeader = ["listingid", "isbn", "title", "author", "price", "quantity", "bookcondition", "bindingtext", "publishername", "yearpublished", "description", "keywords", "jacketcondition"].join("\t")
const descriptions = conditionTexts.flatMap((condition) =>
  bindings.map((binding) => `${condition} ${binding.toLowerCase()} copy. Light shelf wear to the edges, pages clean and unmarked, no inscriptions. Ships within two working days, well packed.`)
)
const decimal = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`

/** One listing line; `revision` 1 changes the price and retires every tenth listing (quantity 0). */
const line = (row: number, revision: 0 | 1): string => {
  const title = `${words[row % 16]} ${words[(row >> 4) % 16]} of the ${words[(row >> 8) % 16]} ${words[(row >> 12) % 16]}`
  const condition = conditionTexts[row % 5]!
  const binding = bindings[row % 3]!
  const cents = 300 + ((row * 7_919 + revision * 150) % 20_000)
  const quantity = revision === 1 && row % 10 === 0 ? 0 : 1 + (row % 3)
  return [
    `BB-${row}`,
    isbnOf(row),
    title,
    `${surnames[row % 12]}, ${givenNames[(row >> 3) % 10]}`,
    decimal(cents),
    String(quantity),
    condition,
    binding,
    publishers[row % 10],
    String(1950 + (row % 75)),
    `${descriptions[(row % 5) * 3 + (row % 3)]} Stock ${row}.`,
    "fiction; literature; first edition",
    row % 2 === 0 ? "Very Good" : ""
  ].join("\t")
}

/** The file, generated as it is read: chunks of 500 lines (about 100 KB). */
function* tsvChunks(rows: number, revision: 0 | 1, onEnd?: () => void): Generator<Buffer> {
  let lines: Array<string> = [fileHeader]
  for (let row = 0; row < rows; row++) {
    lines.push(line(row, revision))
    if (lines.length === 500) {
      yield Buffer.from(`${lines.join("\n")}\n`)
      lines = []
    }
  }
  if (lines.length > 0) yield Buffer.from(`${lines.join("\n")}\n`)
  onEnd?.()
}

// ---------------------------------------------------------------- 1. ingest over HTTP

/**
 * The parser alone, in this process, over the same file: how much of the upload's time is
 * reading rows. Generating the file is timed apart and taken out.
 */
const parseOnly = () => {
  let generateMillis = 0
  let parseMillis = 0
  let rows = 0
  let rejected = 0
  const file = InventoryFile.parser("tsv", { defaultCurrency: "EUR" })
  const chunks = tsvChunks(rowCount, 0)
  for (;;) {
    const at = performance.now()
    const next = chunks.next()
    generateMillis += performance.now() - at
    if (next.done === true) break
    const parsedAt = performance.now()
    const parsed = file.push(next.value)
    parseMillis += performance.now() - parsedAt
    rows += parsed.rows.length
    rejected += parsed.errors.length
  }
  const endAt = performance.now()
  const last = file.end()
  parseMillis += performance.now() - endAt
  rows += last.rows.length
  rejected += last.errors.length
  const result = { rows, rejected, parseSeconds: seconds(parseMillis), rowsPerSecond: round(rows / (parseMillis / 1000), 0), generateSeconds: seconds(generateMillis) }
  log(`parser alone: ${JSON.stringify(result)}`)
  return result
}

interface UploadWire {
  readonly id: string
  readonly status: string
  readonly rows_read: number
  readonly rows_rejected: number
  readonly rows_applied: number | null
  readonly listings_retired: number | null
  readonly errors: ReadonlyArray<unknown>
}

interface UploadRun {
  readonly name: string
  readonly mode: "snapshot" | "delta"
  readonly rows: number
  readonly megabytes: number
  readonly status: number
  readonly upload: UploadWire | undefined
  readonly totalMillis: number
  readonly rowsPerSecond: number
  /** The client had handed the last byte to the socket. */
  readonly bodySentMillis: number
  /** The first poll that saw every row read (staged): up to 200 ms late. */
  readonly stagedMillis: number | undefined
  /** From that poll to the 201: the apply transaction, and the answer. */
  readonly applyMillis: number | undefined
  /** Until its books were written too (its staged rows gone, polled every 100 ms): after the 201 for a big file. */
  readonly booksMillis: number
  /** Statuses the polls saw, in order, with when (ms from the start). */
  readonly statusesSeen: ReadonlyArray<readonly [string, number]>
  readonly rssMiB: {
    readonly baseline: number
    readonly peak: number
    readonly growth: number
    /** The highest sample before every row was staged, the sample then, and the highest after. */
    readonly peakReceiving: number
    readonly atStaged: number
    readonly peakApplying: number
    readonly after: number
  }
  /**
   * Where PostgreSQL time went: what this database's server backends were running at each
   * 200 ms sample (the polls' own statements left out), in seconds, before and after every row
   * was staged.
   */
  readonly statementSeconds: { readonly receiving: Record<string, number>; readonly applying: Record<string, number> }
  readonly cpuSeconds: { readonly server: number; readonly postgres: number; readonly driver: number }
  readonly listingsAfter: number
}

const call = async (agent: Agent, method: "GET" | "POST", url: string, token: string | undefined, body?: unknown): Promise<Record<string, unknown>> => {
  const response = await request(url, {
    method,
    dispatcher: agent,
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.body.text()
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** A short name for a statement the upload runs (`undefined`: the bench's own polling). Matched on content: the statements may be wrapped in a counting `WITH`. */
const statementOf = (query: string, state: string): string | undefined => {
  const text = query.replace(/\s+/g, " ").trim()
  if (state.startsWith("idle in transaction")) return "idle in transaction"
  if (text.includes("INSERT INTO inventory_staging")) return "stage: INSERT staging"
  if (text.startsWith("UPDATE inventory_uploads SET rows_read")) return "stage: UPDATE progress"
  if (text.startsWith("UPDATE inventory_uploads SET status = 'applying'")) return "apply: UPDATE status"
  if (text.includes("DELETE FROM listings l USING")) return "apply: DELETE quantity 0"
  if (text.includes("INSERT INTO listings")) return "apply: write listings"
  if (text.startsWith("CREATE TEMP TABLE upload_latest")) return "apply: latest row per listing"
  if (text.startsWith("CREATE TEMP TABLE upload_books")) return "apply: books of the file (beside the listings)"
  if (text.includes("DELETE FROM listings l WHERE")) return "apply: DELETE missing (snapshot)"
  if (text.includes("INSERT INTO books")) return "apply: insert books (beside the listings)"
  if (text.startsWith("DELETE FROM inventory_staging")) return "apply: DELETE staging"
  if (text.startsWith("UPDATE inventory_uploads SET status = 'applied'")) return "apply: UPDATE applied"
  if (/inventory_uploads WHERE seller_id|FROM api_keys|FROM sellers|count\(\*\) AS count FROM listings/.test(text)) return undefined
  if (text === "COMMIT") return "COMMIT"
  return `other: ${text.slice(0, 30)}`
}

const ingest = async (logDir: string) => {
  log(`ingest: a database, Redis and bookbroker serve --role api`)
  const database = await Processes.createDatabase("bb_bench_feeds")
  const redis = await Processes.startRedis()
  const operatorToken = `bb_op_feeds_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
  // No timeouts: the 201 comes only once a million rows are applied.
  const agent = new Agent({ connections: 8, headersTimeout: 0, bodyTimeout: 0 })
  const db = new pg.Client({ connectionString: database.url })
  try {
    const api = await Processes.startBookbroker(
      "api",
      {
        databaseUrl: database.url,
        redisUrl: redis.url,
        secretKey: SecretBox.generateKey(),
        operatorToken,
        processes: 1,
        nodeArgs: values["server-node-args"].split(" ").filter((arg) => arg !== "")
      },
      join(logDir, "api.log")
    )
    const baseUrl = api.baseUrl!
    const pid = api.child.pid
    await db.connect()
    const registered = await call(agent, "POST", `${baseUrl}/v1/sellers`, undefined, {
      name: "Feed Bench Books",
      adapter: { kind: "reference", config: { baseUrl: "http://127.0.0.1:9", currency: "EUR" }, credentials: { apiKey: "feed-bench-seller-key" } }
    })
    const sellerKey = String(registered["api_key"])
    const uploadsUrl = `${baseUrl}/v1/sellers/me/inventory/uploads`

    /**
     * This database's PostgreSQL backends: CPU seconds by pid (a backend started later starts
     * from 0), and the statements running now.
     */
    const activity = async (): Promise<{ cpu: Map<number, number>; running: Array<string> }> => {
      const rows = (
        await db.query<{ pid: number; state: string | null; query: string | null }>(
          "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
      ).rows
      const cpu = new Map<number, number>()
      const running: Array<string> = []
      for (const row of rows) {
        const used = Processes.cpuSeconds(row.pid)
        if (used !== undefined) cpu.set(row.pid, used)
        if (row.state === null || row.state === "idle") continue
        const statement = statementOf(row.query ?? "", row.state)
        if (statement !== undefined) running.push(statement)
      }
      return { cpu, running }
    }

    const idleBaseline = async () => {
      const samples: Array<number> = []
      for (let i = 0; i < 10; i++) {
        samples.push(Processes.memory(pid)?.rssMiB ?? Number.NaN)
        await sleep(200)
      }
      return samples.sort((a, b) => a - b)[5]!
    }

    const upload = async (name: string, mode: "snapshot" | "delta", rows: number, revision: 0 | 1): Promise<UploadRun> => {
      // Let the previous run's garbage settle; the baseline is what the server holds idle.
      await sleep(2_000)
      const baseline = await idleBaseline()
      const known = new Set(((await call(agent, "GET", uploadsUrl, sellerKey))["uploads"] as Array<UploadWire>).map((each) => each.id))
      const cpuBefore = { server: Processes.cpuSeconds(pid) ?? 0, postgres: (await activity()).cpu, driver: process.cpuUsage() }
      const postgresLatest = new Map(cpuBefore.postgres)
      let bytes = 0
      let bodySentAt = Number.NaN
      let peakReceiving = baseline
      let peakApplying = 0
      let atStaged = Number.NaN
      let stagedAt: number | undefined
      const statusesSeen: Array<[string, number]> = []
      const statementSeconds = { receiving: {} as Record<string, number>, applying: {} as Record<string, number> }
      let polling = false
      const t0 = performance.now()
      let sampledAt = t0
      const tick = () => {
        const rss = Processes.memory(pid)?.rssMiB ?? 0
        if (stagedAt === undefined) peakReceiving = Math.max(peakReceiving, rss)
        else peakApplying = Math.max(peakApplying, rss)
        if (polling) return
        polling = true
        void (async () => {
          try {
            const now = await activity()
            for (const [backend, used] of now.cpu) postgresLatest.set(backend, used)
            const at = performance.now()
            const bucket = stagedAt === undefined ? statementSeconds.receiving : statementSeconds.applying
            for (const statement of now.running.length === 0 ? ["no statement running"] : now.running) bucket[statement] = (bucket[statement] ?? 0) + (at - sampledAt) / 1000
            sampledAt = at
            const list = (await call(agent, "GET", uploadsUrl, sellerKey))["uploads"] as Array<UploadWire>
            const mine = list.find((each) => !known.has(each.id))
            if (mine === undefined) return
            const since = performance.now() - t0
            if (statusesSeen.at(-1)?.[0] !== mine.status) statusesSeen.push([mine.status, round(since, 0)])
            if (stagedAt === undefined && mine.rows_read + mine.rows_rejected >= rows) {
              stagedAt = since
              atStaged = Processes.memory(pid)?.rssMiB ?? Number.NaN
              log(`${name}: every row staged after ${seconds(since)} s (server RSS ${round(atStaged, 0)} MiB); applying`)
            }
          } catch (error) {
            log(`poll failed: ${String(error)}`)
          } finally {
            polling = false
          }
        })()
      }
      const timer = setInterval(tick, 200)
      const body = Readable.from(
        (function* () {
          for (const chunk of tsvChunks(rows, revision, () => (bodySentAt = performance.now() - t0))) {
            bytes += chunk.length
            yield chunk
          }
        })()
      )
      const response = await request(`${uploadsUrl}?mode=${mode}&currency=EUR`, {
        method: "POST",
        dispatcher: agent,
        headers: { authorization: `Bearer ${sellerKey}`, "content-type": "text/tab-separated-values" },
        body
      })
      const text = await response.body.text()
      const totalMillis = performance.now() - t0
      clearInterval(timer)
      while (polling) await sleep(10)
      const rssAtAnswer = Processes.memory(pid)?.rssMiB ?? 0
      if (stagedAt === undefined) peakReceiving = Math.max(peakReceiving, rssAtAnswer)
      else peakApplying = Math.max(peakApplying, rssAtAnswer)
      const peak = Math.max(peakReceiving, peakApplying)
      for (const [backend, used] of (await activity()).cpu) postgresLatest.set(backend, used)
      const driverCpu = process.cpuUsage(cpuBefore.driver)
      let postgres = 0
      for (const [backend, used] of postgresLatest) postgres += used - (cpuBefore.postgres.get(backend) ?? 0)
      const result = response.statusCode === 201 ? (JSON.parse(text) as UploadWire) : undefined
      if (result === undefined) log(`${name}: ${response.statusCode} ${text.slice(0, 500)}`)
      else statusesSeen.push([`${result.status} (the 201)`, round(totalMillis, 0)])
      // A big file's books are written after the 201; its staged rows go once they are.
      let booksMillis = totalMillis
      if (result !== undefined) {
        while ((await db.query<{ any: boolean }>("SELECT EXISTS (SELECT 1 FROM inventory_staging WHERE upload_id = $1) AS any", [result.id])).rows[0]?.any === true) await sleep(100)
        booksMillis = performance.now() - t0
      }
      await sleep(1_000)
      const inventory = await call(agent, "GET", `${baseUrl}/v1/sellers/me/inventory`, sellerKey)
      const run: UploadRun = {
        name,
        mode,
        rows,
        megabytes: round(bytes / 1e6, 1),
        status: response.statusCode,
        upload: result === undefined ? undefined : { ...result, errors: result.errors.slice(0, 3) },
        totalMillis: round(totalMillis, 0),
        rowsPerSecond: round(rows / (totalMillis / 1000), 0),
        bodySentMillis: round(bodySentAt, 0),
        stagedMillis: stagedAt === undefined ? undefined : round(stagedAt, 0),
        applyMillis: stagedAt === undefined ? undefined : round(totalMillis - stagedAt, 0),
        booksMillis: round(booksMillis, 0),
        statusesSeen,
        rssMiB: {
          baseline: round(baseline, 0),
          peak: round(peak, 0),
          growth: round(peak - baseline, 0),
          peakReceiving: round(peakReceiving, 0),
          atStaged: round(atStaged, 0),
          peakApplying: round(peakApplying, 0),
          after: round(Processes.memory(pid)?.rssMiB ?? Number.NaN, 0)
        },
        statementSeconds: {
          receiving: Object.fromEntries(Object.entries(statementSeconds.receiving).map(([statement, total]) => [statement, round(total, 1)])),
          applying: Object.fromEntries(Object.entries(statementSeconds.applying).map(([statement, total]) => [statement, round(total, 1)]))
        },
        cpuSeconds: {
          server: round((Processes.cpuSeconds(pid) ?? Number.NaN) - cpuBefore.server, 1),
          postgres: round(postgres, 1),
          driver: round((driverCpu.user + driverCpu.system) / 1e6, 1)
        },
        listingsAfter: Number(inventory["listings"])
      }
      log(`${name}: ${JSON.stringify(run)}`)
      return run
    }

    const parser = parseOnly()
    log(`seller registered; uploading ${fmt(rowCount)} rows (load average ${round(loadavg()[0]!, 2)})`)
    const loadBefore = loadavg()[0]!
    const first = await upload("snapshot", "snapshot", rowCount, 0)
    const again = await upload("same snapshot again", "snapshot", rowCount, 0)
    const delta = await upload(`delta of ${fmt(deltaRows)}`, "delta", deltaRows, 1)
    const tableSizes = (
      await db.query<{ name: string; size: string }>(
        "SELECT relname AS name, pg_size_pretty(pg_total_relation_size(oid)) AS size FROM pg_class WHERE relname IN ('listings', 'books', 'inventory_staging') ORDER BY relname"
      )
    ).rows
    const peakHwm = round(Processes.memory(pid)?.peakMiB ?? Number.NaN, 0)
    const problems = api.problems()
    await Processes.stop(api.child)
    return { parser, runs: [first, again, delta], tableSizes, serverPeakHwmMiB: peakHwm, loggedByServer: problems, loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) } }
  } finally {
    await db.end().catch(() => undefined)
    await agent.close()
    Processes.killAll()
    await Processes.cleanUp()
  }
}

// ---------------------------------------------------------------- 2. seller calls with feeds and without

const conditions: ReadonlyArray<[NonNullable<StockItem["condition"]>, string]> = [
  ["new", "New"],
  ["like_new", "Like New"],
  ["very_good", "Very Good"],
  ["good", "Good"],
  ["acceptable", "Acceptable"]
]

/** What seller `seller` carries of a book (half the catalog, by hash), the same for the simulator and its feed. */
const carried = (seller: number, isbn: string): { item: StockItem; conditionText: string } | undefined => {
  if (unit(16, seller, isbn, 1) >= 0.5) return undefined
  const [condition, conditionText] = conditions[Math.floor(unit(16, seller, isbn, 4) * conditions.length)]!
  return { item: { isbn, price: 500 + Math.floor(unit(16, seller, isbn, 2) * 3_000), quantity: 1 + Math.floor(unit(16, seller, isbn, 3) * 3), condition }, conditionText }
}

/** A seller's whole stock as a TSV snapshot, in chunks of 1,000 lines. */
function* stockFile(seller: number, isbns: ReadonlyArray<string>): Generator<Uint8Array> {
  let lines: Array<string> = ["listingid\tisbn\tprice\tquantity\tbookcondition"]
  for (const isbn of isbns) {
    const stock = carried(seller, isbn)
    if (stock === undefined) continue
    lines.push(`S${seller}-${isbn}\t${isbn}\t${decimal(stock.item.price)}\t${stock.item.quantity}\t${stock.conditionText}`)
    if (lines.length === 1_000) {
      yield Buffer.from(`${lines.join("\n")}\n`)
      lines = []
    }
  }
  if (lines.length > 0) yield Buffer.from(`${lines.join("\n")}\n`)
}

const calls = async () => {
  const database = await Processes.createDatabase("bb_bench_feeds_calls")
  const scope = await Effect.runPromise(Scope.make())
  const runtimes: Array<{ readonly dispose: () => Promise<void> }> = []
  try {
    const isbns = generateIsbns({ size: catalogSize, seed: 16 }) as ReadonlyArray<Isbn.Isbn13>
    const sellerIndex = new Map<string, number>()
    const sellers = await Effect.runPromise(
      Scope.provide(scope)(
        SimulatedSellers.startSellers(
          Array.from({ length: sellerCount }, (_, seller) => {
            const name = `feeds-seller-${seller + 1}`
            sellerIndex.set(name, seller)
            return { name, seed: seller + 1, latency: { medianMillis: Number(values.latency) }, stockFor: (isbn: string) => carried(seller, isbn)?.item }
          })
        )
      )
    )
    const secretKey = SecretBox.generateKey()
    /** The engine as the server runs it (the offer index included), with its own in-process cache. */
    const engine = () => {
      const runtime = ManagedRuntime.make(
        QuoteEngine.layer().pipe(
          Layer.provideMerge(
            Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 600_000 }), SellerPool.layer(), SharedState.layerMemory(), OfferIndex.layer(), InventoryUploads.layer())
          ),
          Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(secretKey)), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
          Layer.provideMerge(Database.layer({ url: database.url, maxConnections: 10 })),
          Layer.provideMerge(Tracing.layer({ endpoint: process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] })),
          Layer.orDie
        )
      )
      runtimes.push(runtime)
      return runtime
    }

    const registering = engine()
    const sellerIds = await registering.runPromise(
      Effect.flatMap(SellerDirectory.SellerDirectory, (directory) =>
        Effect.forEach(
          sellers,
          (seller) =>
            Effect.map(
              directory.register({
                name: seller.name,
                kind: "reference",
                config: seller.config,
                credentials: { apiKey: seller.apiKey },
                limits: { requestsPerSecond: 1_000_000, burst: 1_000_000, maxConcurrency: 1_000, timeoutMillis: 3_000 },
                status: "active"
              }),
              (registered) => [seller.name, registered.id] as const
            ),
          { concurrency: 8 }
        )
      ).pipe(Effect.orDie)
    )
    await registering.dispose()

    const quoteCalls = () => sellers.reduce((sum, seller) => sum + seller.simulator.calls.quote, 0)
    const run = async (name: string) => {
      const runtime = engine()
      const sample = zipfSampler(catalogSize, { seed: 3 })
      const books = Array.from({ length: requestCount }, () => isbns[sample()]!)
      const decide = (isbn: Isbn.Isbn13) =>
        runtime.runPromise(
          Effect.gen(function* () {
            const quoteEngine = yield* QuoteEngine.QuoteEngine
            const book = yield* quoteEngine.quotes(isbn, { currency: "EUR" })
            const confirmed = yield* quoteEngine.confirm(isbn, book.offers, { currency: "EUR", deadlineMillis: 10_000, best: 2 })
            return { offers: book.offers.length, live: confirmed.offers.length }
          })
        )
      await decide(isbns[catalogSize - 1]!) // connections and JIT
      const before = quoteCalls()
      const latencies: Array<number> = []
      let offers = 0
      let live = 0
      let next = 0
      const t0 = performance.now()
      const worker = async () => {
        while (next < books.length) {
          const isbn = books[next++]!
          const at = performance.now()
          const decided = await decide(isbn)
          latencies.push(performance.now() - at)
          offers += decided.offers
          live += decided.live
        }
      }
      await Promise.all(Array.from({ length: 4 }, worker))
      const elapsed = performance.now() - t0
      await runtime.dispose()
      latencies.sort((a, b) => a - b)
      const result = {
        quoteCallsPerRequest: round((quoteCalls() - before) / requestCount, 1),
        decisionMillis: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
        requestsPerSecond: round(requestCount / (elapsed / 1000), 1),
        offersPerRequest: round(offers / requestCount, 1),
        liveOffersAfterConfirm: round(live / requestCount, 1)
      }
      log(`${name}: ${JSON.stringify(result)}`)
      return result
    }

    log(`calls: ${sellerCount} sellers registered, ${fmt(catalogSize)} ISBNs, ${requestCount} requests without feeds`)
    const withoutFeeds = await run("without feeds")

    const uploader = engine()
    let listingRows = 0
    const t0 = performance.now()
    await uploader.runPromise(
      Effect.flatMap(InventoryUploads.InventoryUploads, (uploads) =>
        Effect.forEach(
          sellers,
          (seller) =>
            Effect.map(
              uploads.upload(
                new Map(sellerIds).get(seller.name)!,
                { mode: "snapshot", format: "tsv", currency: "EUR" },
                Stream.fromIterable(stockFile(sellerIndex.get(seller.name)!, isbns))
              ),
              (status) => (listingRows += status.rowsApplied ?? 0)
            ),
          { concurrency: 2, discard: true }
        )
      ).pipe(Effect.orDie)
    )
    const uploadMillis = performance.now() - t0
    await uploader.dispose()
    log(`${sellerCount} snapshots, ${fmt(listingRows)} listings in ${seconds(uploadMillis)} s; ${requestCount} requests with feeds`)
    const withFeeds = await run("with feeds")
    return {
      withoutFeeds,
      withFeeds,
      snapshots: { sellers: sellerCount, listings: listingRows, seconds: seconds(uploadMillis), rowsPerSecond: round(listingRows / (uploadMillis / 1000), 0) }
    }
  } finally {
    for (const runtime of runtimes) await runtime.dispose().catch(() => undefined)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await Processes.cleanUp()
  }
}

// ---------------------------------------------------------------- run and report

const logDir = mkdtempSync(join(tmpdir(), "bb-feeds-logs-"))
let ingested: Awaited<ReturnType<typeof ingest>> | undefined
let called: Awaited<ReturnType<typeof calls>> | undefined
const stopAll = async (signal: string) => {
  log(`${signal}: stopping`)
  Processes.killAll()
  await Processes.cleanUp()
  process.exit(1)
}
process.once("SIGINT", () => void stopAll("SIGINT"))
process.once("SIGTERM", () => void stopAll("SIGTERM"))
try {
  if (values.part !== "calls") ingested = await ingest(logDir)
  if (values.part !== "ingest") called = await calls()
} catch (error) {
  console.error(error)
  Processes.killAll()
  await Processes.cleanUp()
  process.exit(1)
}

console.log(JSON.stringify({ command: commandLine, node: process.version, cpus: availableParallelism(), logDir, ingest: ingested, calls: called }, null, 2))
console.log(`\n${commandLine}   (${round((performance.now() - started) / 1000, 0)} s in all; ${availableParallelism()} cores)\n`)
if (ingested !== undefined) {
  const ms = (millis: number | undefined) => (millis === undefined ? "—" : `${seconds(millis)} s`)
  const statements = (spent: Record<string, number>) =>
    Object.entries(spent)
      .filter(([, total]) => total >= 0.2)
      .sort(([, a], [, b]) => b - a)
      .map(([statement, total]) => `${statement} ${total}`)
      .join("; ")
  const cells: Array<[string, (r: UploadRun) => string]> = [
    ["rows · file size", (r) => `${fmt(r.rows)} · ${r.megabytes} MB`],
    ["answer", (r) => (r.upload === undefined ? `${r.status}` : `${r.status}: ${fmt(r.upload.rows_read)} read, ${fmt(r.upload.rows_applied ?? 0)} applied, ${fmt(r.upload.rows_rejected)} rejected, ${fmt(r.upload.listings_retired ?? 0)} retired`)],
    ["rows/s, first byte → 201", (r) => `**${fmt(r.rowsPerSecond)}**`],
    ["time to the 201", (r) => ms(r.totalMillis)],
    ["… body sent (client) · every row staged (poll, ±0.2 s)", (r) => `${ms(r.bodySentMillis)} · ${ms(r.stagedMillis)}`],
    ["… apply (last row staged → 201)", (r) => ms(r.applyMillis)],
    ["books written too (staged rows gone), from the first byte", (r) => ms(r.booksMillis)],
    ["statuses the polls saw", (r) => r.statusesSeen.map(([status, at]) => `${status} @ ${seconds(at)} s`).join(" → ")],
    ["server RSS, MiB: idle baseline → peak (growth)", (r) => `${r.rssMiB.baseline} → ${r.rssMiB.peak} (**+${r.rssMiB.growth}**)`],
    ["… peak while receiving · when every row was staged · peak while applying", (r) => `${r.rssMiB.peakReceiving} · ${r.rssMiB.atStaged} · ${r.rssMiB.peakApplying}`],
    ["server RSS 1 s after the 201, MiB", (r) => String(r.rssMiB.after)],
    ["CPU seconds: server · PostgreSQL (this database) · driver (generating the file)", (r) => `${r.cpuSeconds.server} · ${r.cpuSeconds.postgres} · ${r.cpuSeconds.driver}`],
    ["listings in the index afterwards", (r) => fmt(r.listingsAfter)],
    ["PostgreSQL statements running while receiving, s (sampled every 0.2 s)", (r) => statements(r.statementSeconds.receiving)],
    ["… while applying, s", (r) => statements(r.statementSeconds.applying)]
  ]
  console.log(`| ingest over HTTP | ${ingested.runs.map((r) => r.name).join(" | ")} |`)
  console.log(`| --- | ${ingested.runs.map(() => "---").join(" | ")} |`)
  for (const [label, cell] of cells) console.log(`| ${label} | ${ingested.runs.map(cell).join(" | ")} |`)
  const { parser } = ingested
  console.log(
    `\nthe parser alone (InventoryFile in the driver, the same file): ${fmt(parser.rows)} rows, ${parser.rejected} rejected, in ${parser.parseSeconds} s: **${fmt(parser.rowsPerSecond)} rows/s** (generating the file: ${parser.generateSeconds} s more)`
  )
  console.log(
    `server peak RSS over its life (VmHWM): ${ingested.serverPeakHwmMiB} MiB; tables: ${ingested.tableSizes.map((t) => `${t.name} ${t.size}`).join(", ")}; load average ${ingested.loadAverage1m.before} → ${ingested.loadAverage1m.after}; server warnings/errors logged: ${ingested.loggedByServer.warnings}/${ingested.loggedByServer.errors}\n`
  )
}
if (called !== undefined) {
  const { withoutFeeds: off, withFeeds: on } = called
  console.log(`| ${sellerCount} sellers, ${fmt(catalogSize)} ISBNs, ${requestCount} Zipf requests | without feeds | with feeds (every seller a snapshot) |`)
  console.log("| --- | --- | --- |")
  console.log(`| seller quote calls per request (quotes + confirm) | **${off.quoteCallsPerRequest}** | **${on.quoteCallsPerRequest}** |`)
  console.log(`| decision latency (quotes + confirm) p50 / p99 | ${off.decisionMillis.p50} ms / ${off.decisionMillis.p99} ms | ${on.decisionMillis.p50} ms / ${on.decisionMillis.p99} ms |`)
  console.log(`| requests/s (4 at a time) | ${off.requestsPerSecond} | ${on.requestsPerSecond} |`)
  console.log(`| offers shown per request · live offers after confirm | ${off.offersPerRequest} · ${off.liveOffersAfterConfirm} | ${on.offersPerRequest} · ${on.liveOffersAfterConfirm} |`)
  console.log(
    `\nsnapshots uploaded in process (InventoryUploads.upload, 2 at a time): ${fmt(called.snapshots.listings)} listings from ${called.snapshots.sellers} sellers in ${called.snapshots.seconds} s (${fmt(called.snapshots.rowsPerSecond)} rows/s)`
  )
}
process.exit(0)
