/**
 * The processes of the end-to-end benchmark and what it reads about them: `bookbroker serve`
 * (api / worker) child processes, a private `redis-server` on a free port (as the chaos suite
 * starts one), throw-away PostgreSQL databases, and per-process peak memory and CPU time from
 * /proc. Every child started here is tracked, so `killAll` can end them, and only them, on any
 * way out.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { randomUUID } from "node:crypto"
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { AdapterRegistry, Database, OutboundAddress, SecretBox, SellerDirectory } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import pg from "pg"
import { freePort, waitFor } from "./support.js"

const repoRoot = fileURLToPath(new URL("../../", import.meta.url))
const children = new Set<ChildProcess>()
const databases = new Set<string>()
const directories = new Set<string>()

const track = (child: ChildProcess): ChildProcess => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

/** SIGKILLs every child this module started that is still running (a last resort, on failure). */
export const killAll = (): void => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMillis`; resolves once it is gone. */
export const stop = async (child: ChildProcess, graceMillis = 10_000): Promise<"exited" | "killed"> => {
  if (child.exitCode !== null || child.signalCode !== null) return "exited"
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.kill("SIGTERM")
  const timer = new Promise<"killed">((resolve) => setTimeout(() => resolve("killed"), graceMillis).unref())
  const how = await Promise.race([gone.then(() => "exited" as const), timer])
  if (how === "killed") {
    child.kill("SIGKILL")
    await gone
  }
  return how
}

export interface BookbrokerProcess {
  readonly role: "api" | "worker"
  readonly child: ChildProcess
  /** The API's base URL (role api). */
  readonly baseUrl: string | undefined
  /** Last lines of its output (logs), for error reports. */
  readonly tail: () => string
  /** Everything it printed goes here. */
  readonly logFile: string
  /** Warnings and errors it logged so far, and the first few distinct messages. */
  readonly problems: () => { warnings: number; errors: number; examples: ReadonlyArray<string> }
}

export interface BookbrokerEnvironment {
  readonly databaseUrl: string
  readonly redisUrl: string
  readonly secretKey: string
  readonly operatorToken: string
  /** bookbroker processes sharing the limits (`--processes`: fallback limits if Redis fails). */
  readonly processes: number
  /** Write a CPU profile (`--cpu-prof`) into this folder on exit. */
  readonly cpuProfileDir?: string
  /** More node flags (diagnostics, e.g. `--max-old-space-size=256`). */
  readonly nodeArgs?: ReadonlyArray<string>
  /** More environment (e.g. `BOOKBROKER_CUSTOMER_RPS`). */
  readonly env?: Readonly<Record<string, string>>
}

/** `node packages/cli/dist/bin.js serve --role <role>`, as production runs it (built JavaScript; `pnpm bench:e2e` builds it first); resolves once it is running. */
export const startBookbroker = async (role: "api" | "worker", environment: BookbrokerEnvironment, logFile: string): Promise<BookbrokerProcess> => {
  const dataDir = mkdtempSync(join(tmpdir(), "bb-e2e-"))
  directories.add(dataDir)
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of ["STRIPE_SECRET_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT", "BOOKBROKER_PORT", "BOOKBROKER_HOST", "BOOKBROKER_LEASE_MILLIS", "BOOKBROKER_MAX_BACKOFF_MILLIS"]) {
    delete env[name]
  }
  const child = track(
    spawn(
      process.execPath,
      [
        // The production launch (docs/operations.md): the young generation limited to 64 MB.
        "--max-semi-space-size=32",
        ...(environment.nodeArgs ?? []),
        ...(environment.cpuProfileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${environment.cpuProfileDir}`]),
        join(repoRoot, "packages/cli/dist/bin.js"),
        "serve",
        "--role",
        role,
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--data-dir",
        dataDir,
        "--processes",
        String(environment.processes),
        // The bench's sellers run on this machine: bookbroker calls loopback only when allowed.
        "--allow-network",
        "127.0.0.0/8"
      ],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...env,
          BOOKBROKER_DATA_DIR: dataDir,
          DATABASE_URL: environment.databaseUrl,
          REDIS_URL: environment.redisUrl,
          BOOKBROKER_SECRET_KEY: environment.secretKey,
          BOOKBROKER_OPERATOR_TOKEN: environment.operatorToken,
          ...environment.env
        }
      }
    )
  )
  let log = ""
  let partial = ""
  const problems = { warnings: 0, errors: 0, examples: [] as Array<string> }
  const file = createWriteStream(logFile)
  const keep = (chunk: Buffer) => {
    const text = chunk.toString()
    file.write(text)
    log = (log + text).slice(-20_000)
    const lines = (partial + text).split("\n")
    partial = lines.pop()!
    for (const line of lines) {
      const level = /level=(WARN|WARNING|ERROR|FATAL)\b/.exec(line)?.[1]
      if (level === undefined) continue
      if (level.startsWith("WARN")) problems.warnings += 1
      else problems.errors += 1
      const message = /message="?([^"]{0,160})/.exec(line)?.[1] ?? line.slice(0, 160)
      if (problems.examples.length < 5 && !problems.examples.includes(message)) problems.examples.push(message)
    }
  }
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  child.once("exit", () => file.end())
  const output = await waitFor(child, /bookbroker is running/, `bookbroker serve --role ${role}`, 90_000)
  const baseUrl = role === "api" ? /API\s+(http:\/\/\S+)/.exec(output)?.[1] : undefined
  if (role === "api" && baseUrl === undefined) throw new Error(`no API address in the banner:\n${output}`)
  return { role, child, baseUrl, tail: () => log.slice(-4_000), logFile, problems: () => ({ ...problems, examples: [...problems.examples] }) }
}

export interface RedisProcess {
  readonly url: string
  readonly child: ChildProcess
}

/** A private redis-server on a free port, without persistence (nobody else's keys, nobody else's load). */
export const startRedis = async (): Promise<RedisProcess> => {
  const port = await freePort()
  const child = track(
    spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
  )
  await waitFor(child, /Ready to accept connections/, "redis-server", 10_000)
  return { url: `redis://127.0.0.1:${port}`, child }
}

/** Creates an empty database on the test server (`BOOKBROKER_TEST_DATABASE_URL`'s); `dropDatabase` or `dropAll` removes it. */
export const createDatabase = async (prefix: string): Promise<{ name: string; url: string }> => {
  const name = `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  await admin(`CREATE DATABASE ${name}`)
  databases.add(name)
  return { name, url: TestDatabase.urlFor(name) }
}

export const dropDatabase = async (name: string): Promise<void> => {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  databases.delete(name)
}

/** Drops every database and removes every data folder this module created. */
export const cleanUp = async (): Promise<void> => {
  for (const name of [...databases]) await dropDatabase(name).catch((error: unknown) => console.error(`could not drop ${name}: ${String(error)}`))
  for (const dir of [...directories]) {
    rmSync(dir, { recursive: true, force: true })
    directories.delete(dir)
  }
}

const admin = async (statement: string): Promise<void> => {
  const client = new pg.Client({ connectionString: TestDatabase.adminUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** From /proc/<pid>/status: peak resident set (VmHWM) and current (VmRSS), in MiB; undefined once the process is gone. */
export const memory = (pid: number | undefined): { peakMiB: number; rssMiB: number } | undefined => {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
    return { peakMiB: kib("VmHWM") / 1024, rssMiB: kib("VmRSS") / 1024 }
  } catch {
    return undefined
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux everywhere it matters). */
const ticks = 100

/** CPU seconds (user + system) the process has used so far; undefined once it is gone. */
export const cpuSeconds = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticks
  } catch {
    return undefined
  }
}

/** The machine's CPU counters (/proc/stat, all cores): busy and total ticks. */
export const machineCpu = (): { busy: number; total: number } => {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!
  const values = line.trim().split(/\s+/).slice(1).map(Number)
  const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0)
  const idle = values[3]! + values[4]!
  return { busy: total - idle, total }
}

/** A fleet seller as bookbroker registers it: where it answers, its key and its flat shipping. */
export interface SellerToRegister {
  readonly name: string
  readonly url: string
  readonly apiKey: string
  readonly shipping?: number | undefined
}

/**
 * Registers the fleet's sellers (reference adapter, EUR, active) with the limits `limitsOf`
 * gives each, straight through the engine's directory — migrating the fresh database too, before
 * any bookbroker process starts.
 */
export const registerSellers = async <S extends SellerToRegister>(
  databaseUrl: string,
  secretKey: string,
  sellers: ReadonlyArray<S>,
  limitsOf: (seller: S) => SellerDirectory.NewSeller["limits"]
): Promise<void> => {
  const runtime = ManagedRuntime.make(
    SellerDirectory.layer({ refreshMillis: 600_000 }).pipe(
      Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(secretKey)), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
      Layer.provideMerge(Database.layer({ url: databaseUrl, maxConnections: 4 })),
      Layer.orDie
    )
  )
  try {
    await runtime.runPromise(
      Effect.flatMap(SellerDirectory.SellerDirectory, (directory) =>
        Effect.forEach(
          sellers,
          (seller) =>
            directory.register({
              name: seller.name,
              kind: "reference",
              config: { baseUrl: seller.url, currency: "EUR", shipping: seller.shipping ?? 0 },
              credentials: { apiKey: seller.apiKey },
              limits: limitsOf(seller) ?? {},
              status: "active"
            }),
          { concurrency: 8, discard: true }
        )
      ).pipe(Effect.orDie)
    )
  } finally {
    await runtime.dispose()
  }
}

/**
 * Bounds a bench run: past `budgetSeconds`, or on SIGINT / SIGTERM, every process this module
 * started is killed and every database it created dropped, then the bench exits. Returns that
 * same stop, for a run that failed.
 */
export const bounded = (bench: string, budgetSeconds: number): ((why: string, code: number) => Promise<void>) => {
  let finishing = false
  const abort = async (why: string, code: number) => {
    if (finishing) return
    finishing = true
    console.error(`${bench}: ${why}; stopping every process it started`)
    killAll()
    await cleanUp().catch(() => undefined)
    process.exit(code)
  }
  setTimeout(() => void abort(`over the time budget of ${budgetSeconds} s`, 2), budgetSeconds * 1000).unref()
  process.once("SIGINT", () => void abort("interrupted", 130))
  process.once("SIGTERM", () => void abort("terminated", 143))
  return abort
}
