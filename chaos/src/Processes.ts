/**
 * Child processes the scenarios start, kill and restart: `bookbroker serve --role worker` (and
 * `--role api`, the HTTP API customers and sellers call) and a private `redis-server` (own port,
 * no persistence) — never anything the suite did not start.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "@bookbroker/engine/testing"
import { waitFor } from "../../bench/src/support.js"

const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

export interface WorkerProcess {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly exited: Promise<void>
}

/** `bookbroker serve --role api`: resolves `ready` with the API's base URL. */
export interface ApiProcess {
  readonly child: ChildProcess
  readonly ready: Promise<string>
  readonly exited: Promise<void>
}

/** The operator token every process the suite starts is given. */
export const operatorToken = "bb_op_chaos_0123456789abcdef"

export interface WorkerEnvironment {
  readonly databaseUrl: string
  readonly redisUrl?: string
  readonly secretKey: string
  readonly leaseMillis: number
  readonly maxBackoffMillis: number
  /** Signs the webhooks this worker's dispatcher sends (the same for every process). */
  readonly webhookSecret?: string
  /** Networks bookbroker may call besides public addresses (`BOOKBROKER_ALLOW_NETWORKS`); default loopback, where the chaos sellers run. */
  readonly allowNetworks?: ReadonlyArray<string>
  /** How long a process may take to say it is running; default 30 s (a loaded machine starts slower: say more). */
  readonly readyMillis?: number
  /** More environment variables (e.g. `BOOKBROKER_CUSTOMER_RPS`). */
  readonly env?: Readonly<Record<string, string>>
}

const spawnServe = (role: "api" | "worker", environment: WorkerEnvironment, flags: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [join(repoRoot, "packages/cli/bin/bookbroker.js"), "serve", "--role", role, "--data-dir", mkdtempSync(join(tmpdir(), "bb-chaos-")), ...flags], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      DATABASE_URL: environment.databaseUrl,
      ...(environment.redisUrl === undefined ? {} : { REDIS_URL: environment.redisUrl }),
      BOOKBROKER_SECRET_KEY: environment.secretKey,
      BOOKBROKER_OPERATOR_TOKEN: operatorToken,
      BOOKBROKER_LEASE_MILLIS: String(environment.leaseMillis),
      BOOKBROKER_MAX_BACKOFF_MILLIS: String(environment.maxBackoffMillis),
      ...(environment.webhookSecret === undefined ? {} : { BOOKBROKER_WEBHOOK_SECRET: environment.webhookSecret }),
      BOOKBROKER_ALLOW_NETWORKS: (environment.allowNetworks ?? ["127.0.0.0/8", "::1/128"]).join(","),
      ...environment.env
    }
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const output = waitFor(child, /bookbroker is running/, role, environment.readyMillis ?? 30_000)
  output.catch(() => undefined)
  return { child, exited, output }
}

/** `node packages/cli/bin/bookbroker.js serve --role worker` against the given database: purchase workers and the background jobs (sweeper, reconciler, webhooks, wants). */
export const startWorker = (environment: WorkerEnvironment): WorkerProcess => {
  const { child, exited, output } = spawnServe("worker", environment, [])
  const ready = output.then(() => undefined)
  ready.catch(() => undefined)
  return { child, ready, exited }
}

/** `bookbroker serve --role api` on a free port of 127.0.0.1: the HTTP API, no workers, no background jobs. */
export const startApi = (environment: WorkerEnvironment): ApiProcess => {
  const { child, exited, output } = spawnServe("api", environment, ["--port", "0", "--host", "127.0.0.1"])
  const ready = output.then((text) => {
    const baseUrl = /API\s+(http:\/\/\S+)/.exec(text)?.[1]
    if (baseUrl === undefined) throw new Error(`no API address in the banner:\n${text.slice(-2_000)}`)
    return baseUrl
  })
  ready.catch(() => undefined)
  return { child, ready, exited }
}

export interface RedisProcess {
  readonly url: string
  readonly port: number
  /** SIGKILL; resolves once the process is gone. */
  readonly kill: () => Promise<void>
  /** Starts it again on the same port (empty: no persistence). */
  readonly restart: () => Promise<void>
}

/** A private redis-server on a free port, without persistence. */
export const startRedis = async (): Promise<RedisProcess> => {
  const port = await freePort()
  let child: ChildProcess | undefined
  const launch = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    await waitFor(child, /Ready to accept connections/, "redis-server", 10_000)
  }
  await launch()
  const kill = async () => {
    const current = child
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return
    const gone = new Promise<void>((resolve) => current.once("exit", () => resolve()))
    current.kill("SIGKILL")
    await gone
  }
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: launch }
}
