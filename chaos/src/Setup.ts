/**
 * What every scenario shares: a throw-away migrated database, an engine over it (with or
 * without workers), the fleet's sellers registered, purchases submitted like the API does, and
 * a bounded wait until every request is terminal.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { Money, type Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns, Random } from "@bookbroker/adapter-sdk/testing"
import { Database, Engine, OutboundAddress, Purchases, Reconciler, SellerDirectory, Sweeper, Wants } from "@bookbroker/engine"
import { CrashPoints, TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Schedule, Scope } from "effect"
import { afterAll } from "vitest"
import type { Fleet, FleetSeller } from "./Fleet.js"
import { connect } from "./Pg.js"

/** A migrated throw-away database, dropped by `drop`. */
export const createDatabase = async (): Promise<{ url: string; drop: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const { url } = await Effect.runPromise(Scope.provide(TestDatabase.scopedDatabase("bb_chaos"), scope))
  // Migrate once, here, before any worker process starts.
  await Effect.runPromise(Effect.scoped(Layer.build(Database.layer({ url, maxConnections: 1 }))).pipe(Effect.orDie))
  return { url, drop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export type EngineRuntime = ManagedRuntime.ManagedRuntime<Engine.EngineServices, never>

/**
 * Releases what an in-process scenario starts, after its tests, whatever happened: the engine
 * runtime first, then any `also` cleanups in order, then the database (kept, and its URL printed,
 * with CHAOS_KEEP_DATABASE set), then the seller fleet. Each registering call returns what it got.
 */
export const releaseAfterAll = () => {
  let fleet: Fleet | undefined
  let database: { url: string; drop: () => Promise<void> } | undefined
  let runtime: EngineRuntime | undefined
  const cleanups: Array<() => unknown> = []
  afterAll(async () => {
    await runtime?.dispose()
    for (const cleanup of cleanups) await cleanup()
    if (process.env["CHAOS_KEEP_DATABASE"] === undefined) await database?.drop()
    else console.log(`[chaos] kept ${database?.url}`)
    fleet?.stop()
  })
  return {
    fleet: (started: Fleet) => (fleet = started),
    database: (created: { url: string; drop: () => Promise<void> }) => (database = created),
    runtime: (made: EngineRuntime) => (runtime = made),
    also: (cleanup: () => unknown) => void cleanups.push(cleanup)
  }
}

/** An engine over the database (`Engine.layer`), as one bookbroker process would run it; `crashAt`: where its purchase runs die. */
export const engineRuntime = (databaseUrl: string, options: Omit<Engine.EngineOptions, "adapters">, crashAt?: CrashPoints.CrashAt): EngineRuntime =>
  ManagedRuntime.make(
    // The chaos sellers run on this machine.
    Engine.layer({ adapters: [referenceAdapter], outbound: OutboundAddress.loopback, ...options }).pipe(
      Layer.provide(crashAt === undefined ? Layer.empty : CrashPoints.layer(crashAt)),
      Layer.provideMerge(Database.layer({ url: databaseUrl, maxConnections: 10 })),
      Layer.orDie
    )
  )

export const registerSellers = (
  runtime: EngineRuntime,
  sellers: ReadonlyArray<FleetSeller>,
  limits: { requestsPerSecond: number; burst: number; maxConcurrency?: number; timeoutMillis?: number }
) =>
  runtime.runPromise(
    Effect.flatMap(SellerDirectory.SellerDirectory, (directory) =>
      Effect.forEach(sellers, (seller) =>
        directory.register({
          name: seller.name,
          kind: "reference",
          config: { baseUrl: seller.url, currency: "EUR" },
          credentials: { apiKey: seller.apiKey },
          limits,
          status: "active"
        })
      )
    ).pipe(Effect.orDie)
  )

/** The fleet's catalog (same size and seed as its flags) and ISBNs nobody carries. */
export const catalog = (size: number, seed: number) => {
  const carried = generateIsbns({ size, seed }) as ReadonlyArray<Isbn.Isbn13>
  const known = new Set<string>(carried)
  const unknown = (generateIsbns({ size: 50, seed: seed + 1_000 }) as ReadonlyArray<Isbn.Isbn13>).filter((isbn) => !known.has(isbn))
  return { carried, unknown }
}

export interface Purchase {
  readonly customerId?: string
  readonly idempotencyKey: string
  readonly isbn: Isbn.Isbn13
  readonly maxMinor: number
  readonly paymentToken?: string
  readonly notifyUrl?: string
}

/**
 * Submits like a well-behaved client: when intake is full (`Backlogged`, a 429 at the door) it
 * waits as told and submits again under the same key, for up to two minutes. A machine slowed
 * by other work fills the backlog sooner; that is backpressure, not a failure.
 */
export const submit = (runtime: EngineRuntime, purchase: Purchase) =>
  runtime.runPromise(
    Effect.flatMap(Purchases.Purchases, (purchases) =>
      purchases
        .submit({
          customerId: purchase.customerId ?? "chaos",
          idempotencyKey: purchase.idempotencyKey,
          request: {
            isbn: purchase.isbn,
            max_price: Money.make(purchase.maxMinor, "EUR"),
            payment: { token: purchase.paymentToken ?? "tok_approve" },
            ...(purchase.notifyUrl === undefined ? {} : { notify_url: purchase.notifyUrl }),
            customer: { name: "Chaos Reader", email: "chaos@example.com", shipping_address: { line1: "1 Chaos Lane", city: "Paris", country: "FR" } }
          }
        })
        .pipe(
          Effect.retry({
            while: (error) => error._tag === "Backlogged",
            schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ duration: "2 minutes" }))
          })
        )
    )
  )

const terminal = ["purchased", "price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"]

/** Requests not yet terminal. */
export const openRequests = async (databaseUrl: string): Promise<number> => {
  const client = await connect(databaseUrl)
  try {
    const result = await client.query<{ open: string }>("SELECT count(*) AS open FROM purchase_requests WHERE status <> ALL($1::text[])", [terminal])
    return Number(result.rows[0]!.open)
  } finally {
    await client.end()
  }
}

/**
 * Waits (bounded) until every request is terminal; returns how many are still open. A failed
 * look (the server out of connections while worker processes hold theirs, a connection killed)
 * is tried again until the deadline, then thrown.
 */
export const drain = async (databaseUrl: string, timeoutMillis: number): Promise<number> => {
  const deadline = Date.now() + timeoutMillis
  const look = () => openRequests(databaseUrl).then((open) => ({ open }), (error: unknown) => ({ open: Number.NaN, error }))
  let last = await look()
  while (last.open !== 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    last = await look()
  }
  if ("error" in last) throw last.error
  return last.open
}

/** The database name in a PostgreSQL URL. */
/**
 * One sweep and one reconciliation pass now, from this runtime (as a worker's background jobs
 * would at their next interval): holds left at sellers released, leftover authorizations voided,
 * finished requests compared with the provider and the sellers' books.
 */
export const sweepAndReconcile = (runtime: EngineRuntime) =>
  (runtime as unknown as ManagedRuntime.ManagedRuntime<never, never>).runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const sweeper = yield* Sweeper.make({ lookupAfterMillis: 0 })
        const reconciler = yield* Reconciler.make({ settleMillis: 0 })
        const swept = yield* sweeper.runOnce
        const findings = yield* reconciler.runOnce
        return { swept, findings }
      })
    ) as Effect.Effect<{ swept: Sweeper.SweepReport; findings: ReadonlyArray<Reconciler.Finding> }>
  )

/**
 * One run of the wants job now, from this runtime (as a worker's would at its next interval):
 * watching wants past their `wait_until` expired, those a listing matches woken. No live looks
 * (they are the workers' own, hourly). What it did says whether anything was left to do.
 */
export const runWantsOnce = (runtime: EngineRuntime) =>
  (runtime as unknown as ManagedRuntime.ManagedRuntime<never, never>).runPromise(
    Effect.flatMap(Wants.make({ liveLooksPerRun: 0 }), (wants) => wants.runOnce) as Effect.Effect<Wants.WantsRun>
  )

/** Waits (bounded) until the outbox has nothing left to deliver; returns how many rows are still undelivered. */
export const outboxDrained = async (databaseUrl: string, timeoutMillis: number): Promise<number> => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const client = await connect(databaseUrl)
    const pending = await client
      .query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE notify_url IS NOT NULL AND delivered_at IS NULL")
      .then((result) => Number(result.rows[0]!.n))
      .finally(() => client.end())
    if (pending === 0 || Date.now() > deadline) return pending
    await sleep(250)
  }
}

export const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1))

/** A seeded random number generator, so a run can be repeated (the SDK's simulations' own). */
export const seeded = Random.seeded

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

export { Redacted }
