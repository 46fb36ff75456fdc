import { Command, Option } from "commander"
import { Effect, Exit, Scope } from "effect"
import { fail } from "../CliError.js"
import { dataDir, pick, readConfigFile } from "../Config.js"
import { examples } from "../Help.js"
import * as ProcessMemory from "../ProcessMemory.js"
import { action, run } from "../Run.js"
// Types only here: the engine, the server and the adapters load when `serve` runs, not for every command.
import type * as Serve from "../services/Serve.js"

interface Flags {
  port?: number
  host?: string
  role: Serve.Role
  demo: boolean
  dataDir?: string
  processes?: number
  config?: string
  allowNetwork: Array<string>
  exchangeRates?: string
}

/** A margin in percent (0–50, at most two decimals) as basis points. */
export const marginBasisPoints = (name: string, raw: string | number | undefined): number | undefined => {
  if (raw === undefined || raw === "") return undefined
  const text = String(raw).trim()
  const match = /^(\d{1,2})(?:\.(\d{1,2}))?$/.exec(text)
  const basisPoints = match === null ? Number.NaN : Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"))
  if (!Number.isInteger(basisPoints) || basisPoints > 5_000) throw fail(`${name} must be a percentage from 0 to 50 with at most two decimals (e.g. 2 or 1.5), not "${text}"`)
  return basisPoints
}

/** An optional positive whole number from the environment (durations, counts: tuning for operators, tests and chaos runs). */
const positiveInteger = (name: string): number | undefined => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return undefined
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw fail(`${name} must be a whole number above 0`)
  return value
}

export const command = new Command("serve")
  .description("Run the API and purchase workers (embedded PostgreSQL, in-process state and sandbox payments unless configured).")
  .option("--port <port>", "port to listen on, 0 for any free one (BOOKBROKER_PORT; default 8080)", (value) => Number(value))
  .option("--host <host>", "address to listen on (BOOKBROKER_HOST; default 127.0.0.1)")
  .addOption(new Option("--role <role>", "api, worker or all").choices(["api", "worker", "all"]).default("all"))
  .option("--demo", "also start simulated sellers and a demo customer (writes <data-dir>/demo.json)", false)
  .option("--data-dir <dir>", "where the embedded database, keys and demo file live (BOOKBROKER_DATA_DIR; default .bookbroker)")
  .option("--processes <n>", "expected bookbroker processes (fallback limits if Redis is unreachable)", (value) => Number(value))
  .option("--config <file>", "config file (default .bookbroker/config.json)")
  .option(
    "--exchange-rates <file-or-url>",
    "exchange rates to compare offers in other currencies with: the ECB's eurofxref XML or JSON {base, date, rates}, a file or an http(s) URL read hourly (BOOKBROKER_EXCHANGE_RATES; margin BOOKBROKER_EXCHANGE_MARGIN_PERCENT, default 2)"
  )
  .option(
    "--allow-network <cidr>",
    "a private network bookbroker may call: sellers' base URLs and customers' notify_urls, e.g. 10.0.0.0/8 (repeatable; BOOKBROKER_ALLOW_NETWORKS, comma-separated). Public addresses only otherwise; --demo allows loopback",
    (value: string, previous: Array<string>) => [...previous, value],
    [] as Array<string>
  )
  .addHelpText(
    "after",
    examples(
      "bookbroker serve --demo",
      "bookbroker serve --demo --port 0 --data-dir /tmp/bb",
      "DATABASE_URL=postgres://… REDIS_URL=redis://… bookbroker serve --role worker",
      "bookbroker serve --exchange-rates https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
    ) + "\nEnvironment: DATABASE_URL, REDIS_URL, STRIPE_SECRET_KEY, BOOKBROKER_SECRET_KEY, BOOKBROKER_OPERATOR_TOKEN,\n  BOOKBROKER_WEBHOOK_SECRET, BOOKBROKER_ALLOW_NETWORKS, BOOKBROKER_MAX_BACKLOG, BOOKBROKER_CUSTOMER_RPS, BOOKBROKER_PRINCIPAL_RPS,\n  BOOKBROKER_EXCHANGE_RATES, BOOKBROKER_EXCHANGE_MARGIN_PERCENT,\n  BOOKBROKER_ANSWER_WITHIN_SECONDS, BOOKBROKER_LEASE_MILLIS, BOOKBROKER_MAX_BACKOFF_MILLIS, BOOKBROKER_WORKER_SLOTS (pipeline tuning).\n"
  )
  .action(
    action(async (flags: Flags) => {
      // A long-running process: its heap kept near what it uses (`ProcessMemory.ts`).
      ProcessMemory.tuneHeap()
      const file = readConfigFile(flags.config)
      const envPort = process.env["BOOKBROKER_PORT"] === undefined ? undefined : Number(process.env["BOOKBROKER_PORT"])
      const port = pick(flags.port, envPort, file.port, 8080)!
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw fail("--port must be a whole number from 0 to 65535")
      if (flags.processes !== undefined && (!Number.isInteger(flags.processes) || flags.processes < 1)) throw fail("--processes must be a whole number above 0")
      const options: Serve.ServeOptions = {
        port,
        host: pick(flags.host, process.env["BOOKBROKER_HOST"], file.host, "127.0.0.1")!,
        role: flags.role,
        demo: flags.demo,
        dataDir: dataDir(flags.dataDir),
        databaseUrl: pick(process.env["DATABASE_URL"], file.database_url),
        redisUrl: pick(process.env["REDIS_URL"], file.redis_url),
        stripeSecretKey: pick(process.env["STRIPE_SECRET_KEY"]),
        secretKey: pick(process.env["BOOKBROKER_SECRET_KEY"]),
        operatorToken: pick(process.env["BOOKBROKER_OPERATOR_TOKEN"], file.operator_token),
        webhookSecret: pick(process.env["BOOKBROKER_WEBHOOK_SECRET"]),
        processes: flags.processes,
        otlpEndpoint: pick(process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]),
        leaseMillis: positiveInteger("BOOKBROKER_LEASE_MILLIS"),
        maxBackoffMillis: positiveInteger("BOOKBROKER_MAX_BACKOFF_MILLIS"),
        maxBacklog: positiveInteger("BOOKBROKER_MAX_BACKLOG"),
        workerSlots: positiveInteger("BOOKBROKER_WORKER_SLOTS"),
        customerRequestsPerSecond: positiveInteger("BOOKBROKER_CUSTOMER_RPS"),
        principalRequestsPerSecond: positiveInteger("BOOKBROKER_PRINCIPAL_RPS"),
        answerWithinMillis: (() => {
          const seconds = positiveInteger("BOOKBROKER_ANSWER_WITHIN_SECONDS")
          return seconds === undefined ? undefined : seconds * 1_000
        })(),
        exchangeRates: pick(flags.exchangeRates, process.env["BOOKBROKER_EXCHANGE_RATES"], file.exchange_rates),
        exchangeMarginBasisPoints: marginBasisPoints(
          "BOOKBROKER_EXCHANGE_MARGIN_PERCENT (or the config's exchange_margin_percent)",
          pick(process.env["BOOKBROKER_EXCHANGE_MARGIN_PERCENT"], file.exchange_margin_percent === undefined ? undefined : String(file.exchange_margin_percent))
        ),
        allowNetworks: [
          ...flags.allowNetwork,
          ...(process.env["BOOKBROKER_ALLOW_NETWORKS"] ?? "").split(",").map((network) => network.trim()).filter((network) => network !== "")
        ]
      }
      const scope = Effect.runSync(Scope.make())
      const stop = () => {
        void Effect.runPromise(Scope.close(scope, Exit.void)).finally(() => process.exit(0))
      }
      process.once("SIGINT", stop)
      process.once("SIGTERM", stop)
      const { banner, start } = await import("../services/Serve.js")
      const running = await run(Effect.provideService(start(options), Scope.Scope, scope).pipe(Effect.tapError(() => Scope.close(scope, Exit.void))))
      process.stdout.write(`${banner(running, options.role)}\n`)
    })
  )
