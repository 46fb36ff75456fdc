/** Shared bits for benchmarks: the seller fleet child process, one-shot helper processes and percentile maths. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join } from "node:path"
import { createInterface, type Interface } from "node:readline"
import { fileURLToPath } from "node:url"

/**
 * `entry` (a TypeScript file) with everything it imports as one JavaScript file at `outfile`, as
 * `pnpm build` makes the CLI's: esbuild as tsx (which runs every bench) brings it, the same
 * bundler as tsup's, no second copy to lock.
 */
export const bundle = async (entry: string, outfile: string): Promise<string> => {
  const { build } = createRequire(fileURLToPath(import.meta.resolve("tsx")))("esbuild") as {
    readonly build: (options: Record<string, unknown>) => Promise<unknown>
  }
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    outfile,
    // Optional drivers no code path here loads.
    external: ["pg-native", "cloudflare:sockets"],
    // CommonJS dependencies inside an ES module bundle still call `require`.
    banner: { js: 'import { createRequire as bbCreateRequire } from "node:module"; const require = bbCreateRequire(import.meta.url);' },
    logLevel: "error"
  })
  return outfile
}

/** The flags bookbroker's production launch gives node (docs/operations.md). */
export const productionNodeArgs: ReadonlyArray<string> = ["--max-semi-space-size=32"]

/**
 * Makes the bench script at `scriptUrl` (its `import.meta.url`) run as production runs
 * bookbroker — built JavaScript under the production launch flags — instead of its sources
 * through tsx (whose transform wraps functions: a cost per call production does not pay). Run
 * from the sources, it bundles the script beside itself (so that its relative paths still
 * resolve), runs the bundle with the same arguments, removes it and exits with its code; run as
 * the bundle, it returns at once.
 */
export const runBuilt = async (scriptUrl: string): Promise<void> => {
  if (process.env["BOOKBROKER_BENCH_BUILT"] === "1") return
  const script = fileURLToPath(scriptUrl)
  const outfile = join(dirname(script), `.${basename(script, ".ts")}.built.mjs`)
  await bundle(script, outfile)
  try {
    const run = spawnSync(process.execPath, [...productionNodeArgs, outfile, ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, BOOKBROKER_BENCH_BUILT: "1" }
    })
    process.exitCode = run.status ?? 1
  } finally {
    rmSync(outfile, { force: true })
  }
  process.exit()
}

/**
 * Runs a bench script (`script`: its file URL, run through tsx) in a short-lived process of its
 * own with `args`, sends it `input` as JSON on stdin, and answers what it prints on stdout as JSON
 * (its stderr goes to ours): for work whose memory should not count as the driver's.
 */
export const runHelper = <A>(script: string, args: ReadonlyArray<string>, input: unknown): Promise<A> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(script), ...args], { stdio: ["pipe", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`${fileURLToPath(script)} exited with ${code}`))
      try {
        resolve(JSON.parse(output) as A)
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
    child.stdin.end(JSON.stringify(input))
  })

export interface FleetSeller {
  readonly name: string
  readonly url: string
  readonly apiKey: string
  /** Flat shipping in minor units (`--stock lazy`): what to register as the seller's config. */
  readonly shipping?: number
  /** The limits the seller enforces (with `--rps`, `--strict-*`, `--max-concurrency`). */
  readonly limits?: { readonly requestsPerSecond: number; readonly burst: number; readonly maxConcurrency?: number }
}

/** The fleet's counters (every seller summed). */
export interface FleetStats {
  /** Quote, hold and purchase calls received. */
  readonly calls: number
  readonly rateViolations: number
  readonly concurrencyViolations: number
  readonly byOperation: { readonly quote: number; readonly hold: number; readonly release: number; readonly purchase: number; readonly lookupOrder: number }
  /** Violations by the operation they hit. */
  readonly violationsByOperation: Record<keyof FleetStats["byOperation"], { readonly rate: number; readonly concurrency: number }>
  /** The latest violations (at most 100). */
  readonly violationEvents: ReadonlyArray<{
    seller: string
    operation: string
    kind: "rate" | "concurrency"
    at: string
    inFlight: number
    /** The seller's previous calls: milliseconds before this one, and the operation. */
    previous: ReadonlyArray<[number, string]>
  }>
  /** The most calls one seller had in flight at once. */
  readonly maxInFlight: number
  /** How late the fleet's event loop ran since the previous `stats` (a starved fleet sees calls bunched). */
  readonly eventLoopDelayMillis: { readonly p99: number; readonly max: number }
  /** Quote calls each seller received, in fleet order. */
  readonly quotesPerSeller: ReadonlyArray<number>
}

/** An order from a simulated seller's own book (what the seller, not bookbroker, recorded). */
export interface FleetOrder {
  readonly seller: string
  readonly orderId: string
  readonly idempotencyKey?: string
  /** The purchase request id bookbroker sent. */
  readonly buyerReference: string
  readonly total: number
  readonly isbn?: string
  readonly quantity?: number
  /** When the seller placed it (epoch ms). */
  readonly placedAt?: number
}

/** Every ISBN each seller was asked to quote, and answered without a fault, with when (epoch ms), in fleet order. */
export interface FleetAsked {
  readonly sellers: ReadonlyArray<{
    readonly name: string
    readonly asked: ReadonlyArray<readonly [string, number]>
    readonly answered: ReadonlyArray<readonly [string, number]>
    /** With eager stock: what the seller had at the start — ISBN, quantity, total in minor units. */
    readonly stock?: ReadonlyArray<readonly [string, number, number]>
    /** With eager stock: the copies it ever had of each ISBN — at the start plus every copy `stock` added. */
    readonly supplied?: ReadonlyArray<readonly [string, number]>
  }>
}

export interface Fleet {
  readonly sellers: ReadonlyArray<FleetSeller>
  /** The fleet process (e.g. to read its memory from /proc). */
  readonly pid: number | undefined
  readonly stats: () => Promise<FleetStats>
  /** Every order in every seller's own book, and the limit violations the sellers counted. */
  readonly orders: () => Promise<{ orders: ReadonlyArray<FleetOrder>; violations: { rate: number; concurrency: number } }>
  readonly asked: () => Promise<FleetAsked>
  /** Every purchase call each seller processed (with the fault injected) and the holds still open. */
  readonly history: () => Promise<FleetHistory>
  /** Takes a seller offline (connections refused) for a while. */
  readonly offline: (index: number, millis: number) => Promise<{ ok: boolean }>
  /** Sets what a seller has of an ISBN from now on (eager stock): price in minor units, no shipping. */
  readonly stock: (index: number, isbn: string, price: number, quantity: number) => Promise<{ ok: boolean }>
  readonly stop: () => void
}

/** One purchase call a seller processed: for which request (`buyer`), under which key, when, and the fault injected. */
export interface FleetPurchaseCall {
  readonly buyer: string
  readonly key: string
  readonly at: number
  /** `lost_response` / `commit_then_hang`: an order was placed and its answer never reached the caller. */
  readonly fault: string | null
  /** This call placed a new order (a replay answers with the key's first outcome instead). */
  readonly placed: boolean
}

export interface FleetHistory {
  readonly sellers: ReadonlyArray<{ readonly name: string; readonly purchases: ReadonlyArray<FleetPurchaseCall>; readonly openHolds: ReadonlyArray<string> }>
}

/** Starts `bench/src/fleet.ts` in a child process with the given flags; commands are answered one at a time. */
export const startFleet = async (flags: Record<string, string | number>): Promise<Fleet> => {
  const script = fileURLToPath(new URL("./fleet.ts", import.meta.url))
  const args = ["--import", "tsx", script, ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)])]
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
  const lines: Interface = createInterface({ input: child.stdout })
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const onExit = () => reject(new Error("the seller fleet exited"))
      child.once("exit", onExit)
      lines.once("line", (line) => {
        child.off("exit", onExit)
        resolve(line)
      })
    })
  const first = JSON.parse(await next()) as { sellers: Array<FleetSeller> }
  let queue: Promise<unknown> = Promise.resolve()
  const ask = <A>(command: string): Promise<A> => {
    const answer = queue.then(async () => {
      const line = next()
      child.stdin.write(`${command}\n`)
      return JSON.parse(await line) as A
    })
    queue = answer.catch(() => undefined)
    return answer
  }
  return {
    sellers: first.sellers,
    pid: child.pid,
    stats: () => ask("stats"),
    orders: () => ask("orders"),
    asked: () => ask("asked"),
    history: () => ask("history"),
    offline: (index: number, millis: number) => ask(`offline ${index} ${millis}`),
    stock: (index: number, isbn: string, price: number, quantity: number) => ask(`stock ${index} ${isbn} ${price} ${quantity}`),
    stop: () => {
      child.stdin.end()
      setTimeout(() => child.kill("SIGKILL"), 2_000).unref()
    }
  }
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits

/** A port free on 127.0.0.1 right now (for a child process that takes a fixed port). */
export { freePort } from "@bookbroker/engine/testing"

/** Resolves with the output so far once `pattern` shows up on stdout or stderr. */
export const waitFor = (child: ChildProcess, pattern: RegExp, what: string, timeoutMillis: number): Promise<string> =>
  new Promise((resolve, reject) => {
    let output = ""
    const timer = setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMillis} ms:\n${output.slice(-2000)}`)), timeoutMillis)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.length > 200_000) output = output.slice(-100_000)
      if (pattern.test(output)) {
        clearTimeout(timer)
        resolve(output)
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      if (!pattern.test(output)) reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`))
    })
  })
