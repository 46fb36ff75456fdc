/**
 * Intake and status-read benchmark, one run: the real bookbroker server (PostgreSQL, durable,
 * workers off) and a minimal fastify + pg peer doing the same job, each in its own process,
 * driven by autocannon from this one on 127.0.0.1:
 * 1. `POST /v1/purchase-requests` (a fresh Idempotency-Key per request): accepted/s, p50/p99,
 *    server CPU per request, non-2xx, and every 2xx a stored row (durability);
 * 2. `GET /v1/purchase-requests/{id}` for ids created in 1;
 * both servers taking turns (`--rounds` × `--seconds` each), medians of the rounds' percentiles;
 * 3. one more POST run of bookbroker under `--cpu-prof`: self time grouped by package.
 * bookbroker runs as production runs it (issue 14): built JavaScript — `intake-server.ts` and the
 * workspace bundled by esbuild, then plain `node --max-semi-space-size=32`, the launch
 * docs/operations.md gives — while the profiled run (3) uses the sources through tsx, so that
 * its functions keep their files. `--built false` measures the sources too (as before session 16).
 * The peer is one small file of its own over libraries that are JavaScript already: run as is.
 *
 *   pnpm bench:intake            (PostgreSQL on 127.0.0.1 needed; `--profile false` skips 3.)
 */
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { groupOf, type Profile } from "./profile.js"
import { bundle, productionNodeArgs, round } from "./support.js"

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
    /** `--profile false` skips the profiled run (Node 20 has no `--no-` flags). */
    profile: { type: "string", default: "true" },
    /** `--built false`: bookbroker from its TypeScript sources through tsx instead of the bundle. */
    built: { type: "string", default: "true" },
    /** `--keep-profile FILE`: keep the profiled run's .cpuprofile (for a top-down look in DevTools). */
    "keep-profile": { type: "string" }
  }
})
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const warmup = Number(values.warmup)
const connections = Number(values.connections)

interface Stats {
  readonly rows: number
  readonly cpuMicros: number
  readonly monotonicMicros?: number
}
interface Target {
  readonly url: string
  readonly key: string
  readonly stats: () => Promise<Stats>
  readonly stop: () => Promise<void>
}

/** A script of this folder through tsx (`nodeArgs` before it). */
const fromSource = (script: string, nodeArgs: ReadonlyArray<string> = []) => ["--import", "tsx", ...nodeArgs, fileURLToPath(new URL(script, import.meta.url))]

/** `intake-server.ts` with everything it imports as one JavaScript file, as `pnpm build` makes the CLI's. */
const bundleServer = (): Promise<string> =>
  bundle(fileURLToPath(new URL("./intake-server.ts", import.meta.url)), join(mkdtempSync(join(tmpdir(), "bb-intake-server-")), "intake-server.mjs"))

/** Starts a server process: `argv` is what follows `node`. */
const start = async (argv: ReadonlyArray<string>): Promise<Target> => {
  const script = argv.at(-1)!
  const child = spawn(process.execPath, argv, {
    stdio: ["pipe", "pipe", "inherit"]
  })
  let failed: ((error: Error) => void) | undefined
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      failed?.(new Error(`${script} exited (${code})`))
      resolve()
    })
  )
  const lines = createInterface({ input: child.stdout })
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      failed = reject
      lines.once("line", (line) => resolve(JSON.parse(line) as Record<string, unknown>))
    })
  const first = (await next()) as { url: string; key: string }
  return {
    url: first.url,
    key: first.key,
    stats: async () => {
      child.stdin.write("stats\n")
      const answer = await next()
      if (typeof answer["rows"] !== "number") throw new Error(`stats: ${JSON.stringify(answer)}`)
      return answer as unknown as Stats
    },
    stop: async () => {
      child.stdin.end()
      await exited
    }
  }
}

const body = JSON.stringify({
  isbn: "978-0-306-40615-7",
  max_price: { amount: 2999, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Lovelace", email: "ada@example.com", shipping_address: { line1: "12 Rue de Rivoli", city: "Paris", postal_code: "75001", country: "FR" } }
})

let run = 0
const post = (target: Target, duration: number, ids?: Array<string>) => {
  run += 1
  const prefix = `bench-${process.pid}-${run}-`
  let counter = 0
  return autocannon({
    url: target.url,
    connections,
    duration,
    requests: [
      {
        method: "POST",
        path: "/v1/purchase-requests",
        headers: { authorization: `Bearer ${target.key}`, "content-type": "application/json" },
        body,
        setupRequest: (request) => {
          counter += 1
          return { ...request, headers: { ...request.headers, "idempotency-key": `${prefix}${counter}` } }
        },
        onResponse: (status, responseBody) => {
          if (ids !== undefined && status === 202 && ids.length < 50_000) ids.push((JSON.parse(responseBody) as { id: string }).id)
        }
      }
    ]
  })
}

const get = (target: Target, ids: ReadonlyArray<string>) => {
  let counter = 0
  return autocannon({
    url: target.url,
    connections,
    duration: seconds,
    requests: [
      {
        method: "GET",
        headers: { authorization: `Bearer ${target.key}` },
        setupRequest: (request) => {
          counter += 1
          return { ...request, path: `/v1/purchase-requests/${ids[counter % ids.length]}` }
        }
      }
    ]
  })
}

interface Phase {
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  seconds: number
  cpuMicros: number
  p50s: Array<number>
  p99s: Array<number>
  statusCodes: Record<string, number>
}
const phase = (): Phase => ({ ok: 0, non2xx: 0, errors: 0, timeouts: 0, seconds: 0, cpuMicros: 0, p50s: [], p99s: [], statusCodes: {} })
const add = (into: Phase, result: autocannon.Result, before: Stats, after: Stats) => {
  into.ok += result["2xx"]
  into.non2xx += result.non2xx
  into.errors += result.errors
  into.timeouts += result.timeouts
  into.seconds += result.duration
  into.cpuMicros += after.cpuMicros - before.cpuMicros
  into.p50s.push(result.latency.p50)
  into.p99s.push(result.latency.p99)
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) into.statusCodes[code] = (into.statusCodes[code] ?? 0) + (count ?? 0)
}
const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const summary = (p: Phase) => ({
  requestsPerSecond: round(p.ok / p.seconds, 0),
  p50Millis: median(p.p50s),
  p99Millis: median(p.p99s),
  p99MillisPerRound: p.p99s,
  serverCpuMicrosPerRequest: round(p.cpuMicros / p.ok, 0),
  serverCpuCores: round(p.cpuMicros / 1e6 / p.seconds, 2),
  ok: p.ok,
  non2xx: p.non2xx,
  errors: p.errors,
  timeouts: p.timeouts,
  statusCodes: p.statusCodes
})

/**
 * Both servers run side by side (the idle one costs nothing) and take turns, round by round, so
 * that whatever else the machine is doing falls on both alike.
 */
interface Side {
  readonly name: string
  readonly target: Target
  readonly posts: Phase
  readonly gets: Phase
  readonly ids: Array<string>
  accepted: number
  sent: number
}
const sides: Array<Side> = []
const bundled = values.built === "false" ? undefined : await bundleServer()
const bookbroker = bundled === undefined ? fromSource("./intake-server.ts") : [...productionNodeArgs, bundled]
for (const [name, argv] of [
  ["bookbroker", bookbroker],
  ["fastify", fromSource("./intake-fastify.ts")]
] as const) {
  sides.push({ name, target: await start(argv), posts: phase(), gets: phase(), ids: [], accepted: 0, sent: 0 })
}
const loadBefore = loadavg()[0]!
for (const side of sides) {
  const warm = await post(side.target, warmup)
  side.accepted += warm["2xx"]
  side.sent += warm.requests.sent
}
for (let r = 0; r < rounds; r++) {
  for (const side of sides) {
    const before = await side.target.stats()
    const result = await post(side.target, seconds, side.ids)
    add(side.posts, result, before, await side.target.stats())
    side.accepted += result["2xx"]
    side.sent += result.requests.sent
    console.error(`round ${r + 1} POST ${side.name}: ${round(result["2xx"] / result.duration, 0)}/s p99 ${result.latency.p99} ms`)
  }
}
for (let r = 0; r < rounds; r++) {
  for (const side of sides) {
    const before = await side.target.stats()
    const result = await get(side.target, side.ids)
    add(side.gets, result, before, await side.target.stats())
    console.error(`round ${r + 1} GET ${side.name}: ${round(result["2xx"] / result.duration, 0)}/s p99 ${result.latency.p99} ms`)
  }
}
const results: Record<string, unknown> = {
  node: process.version,
  bookbrokerLaunch: values.built === "false" ? "sources through tsx" : "bundle (esbuild), node --max-semi-space-size=32",
  cpus: availableParallelism(),
  connections,
  secondsPerRound: seconds,
  rounds,
  warmupSeconds: warmup,
  // Other work on the machine skews absolute figures (2 cores shared with PostgreSQL and autocannon).
  loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) }
}
const summaries: Record<string, { intake: ReturnType<typeof summary>; statusReads: ReturnType<typeof summary> }> = {}
for (const side of sides) {
  const { rows } = await side.target.stats()
  await side.target.stop()
  // autocannon stops at its deadline without waiting for requests in flight, which the server
  // still commits: every 2xx must be a stored row, and no row may exist that was never sent.
  summaries[side.name] = { intake: summary(side.posts), statusReads: summary(side.gets) }
  results[side.name] = {
    ...summaries[side.name],
    durability: { accepted: side.accepted, rowsStored: rows, sent: side.sent, ok: side.accepted <= rows && rows <= side.sent }
  }
}
const [b, f] = [summaries["bookbroker"]!, summaries["fastify"]!]
results["ratio"] = {
  intakeRequestsPerSecond: round(b.intake.requestsPerSecond / f.intake.requestsPerSecond, 2),
  intakeP99: round(b.intake.p99Millis / f.intake.p99Millis, 2),
  intakeCpuPerRequest: round(b.intake.serverCpuMicrosPerRequest / f.intake.serverCpuMicrosPerRequest, 1),
  statusReadsPerSecond: round(b.statusReads.requestsPerSecond / f.statusReads.requestsPerSecond, 2),
  statusReadsP99: round(b.statusReads.p99Millis / f.statusReads.p99Millis, 2),
  statusReadsCpuPerRequest: round(b.statusReads.serverCpuMicrosPerRequest / f.statusReads.serverCpuMicrosPerRequest, 1)
}
console.error(JSON.stringify(results["ratio"]))

// Where bookbroker's time goes on intake: a profiled run (not the measured one).
const profile = async () => {
  const dir = mkdtempSync(join(tmpdir(), "bb-intake-prof-"))
  try {
    const target = await start(fromSource("./intake-server.ts", ["--cpu-prof", `--cpu-prof-dir=${dir}`]))
    await post(target, warmup)
    const from = (await target.stats()).monotonicMicros ?? 0
    const profiled = await post(target, seconds)
    const to = (await target.stats()).monotonicMicros ?? Number.POSITIVE_INFINITY
    await target.stop()
    const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"))
    if (file === undefined) throw new Error("no .cpuprofile written")
    if (values["keep-profile"] !== undefined) copyFileSync(join(dir, file), values["keep-profile"])
    const data = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile
    const byId = new Map(data.nodes.map((node) => [node.id, node]))
    const self = new Map<number, number>()
    // Only the samples of the profiled POST run (not startup, module loading or the warm-up).
    let at = data.startTime
    data.samples.forEach((sample, index) => {
      const delta = data.timeDeltas[index] ?? 0
      at += delta
      if (at >= from && at <= to) self.set(sample, (self.get(sample) ?? 0) + delta)
    })
    let busy = 0
    const groups = new Map<string, number>()
    const functions = new Map<string, { group: string; micros: number }>()
    const files = new Map<string, number>()
    for (const [id, micros] of self) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame
      const group = groupOf(url, functionName)
      if (group === "idle") continue
      busy += micros
      groups.set(group, (groups.get(group) ?? 0) + micros)
      const label = `${functionName || "(anonymous)"} ${url.replace(/.*\/node_modules\//, "").replace(/.*\/(packages|bench)\//, "$1/")}:${lineNumber + 1}`
      if (group.startsWith("effect") || group.startsWith("@effect")) {
        const file = url.replace(/.*\/node_modules\//, "").replace(/\/dist\/esm\//, "/")
        files.set(file, (files.get(file) ?? 0) + micros)
      }
      const entry = functions.get(label) ?? { group, micros: 0 }
      entry.micros += micros
      functions.set(label, entry)
    }
    const share = (micros: number) => round((100 * micros) / busy, 1)
    return {
      note: "self time while busy (idle excluded), POST run under --cpu-prof, from the sources through tsx; a separate run from the measured one",
      requestsPerSecondUnderProfiler: round(profiled["2xx"] / profiled.duration, 0),
      busyMillis: round(busy / 1000, 0),
      cpuMicrosPerRequest: round(busy / profiled["2xx"], 0),
      byGroupPercent: Object.fromEntries(
        [...groups]
          .sort((a, b) => b[1] - a[1])
          .filter(([, micros]) => share(micros) >= 0.1)
          .map(([group, micros]) => [group, share(micros)])
      ),
      topEffectFilesPercent: Object.fromEntries(
        [...files]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12)
          .map(([file, micros]) => [file, share(micros)])
      ),
      topFunctions: [...functions]
        .sort((a, b) => b[1].micros - a[1].micros)
        .slice(0, 20)
        .map(([label, { group, micros }]) => ({ percent: share(micros), group, function: label }))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
if (values.profile !== "false") {
  results["bookbrokerProfile"] = await profile()
  console.error("profile", JSON.stringify(results["bookbrokerProfile"]))
}

console.log(JSON.stringify(results, null, 2))
if (bundled !== undefined) rmSync(dirname(bundled), { recursive: true, force: true })
process.exit(0)
