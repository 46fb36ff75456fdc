/**
 * Everything a purchase needs, real and local: a throw-away PostgreSQL database, simulated
 * sellers over HTTP, the in-process shared state, the sandbox payment ledger (with fault
 * switches), the quote engine, the pipeline and workers — for engine, server and CLI tests.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Adapter, Isbn } from "@bookbroker/adapter-sdk"
import { Money } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import * as ExchangeRates from "../exchange/ExchangeRates.js"
import * as AdapterRegistry from "../sellers/AdapterRegistry.js"
import type * as PaymentGateway from "../payments/PaymentGateway.js"
import * as PurchasePipeline from "../purchases/PurchasePipeline.js"
import * as Purchases from "../purchases/Purchases.js"
import * as PurchaseWorker from "../purchases/PurchaseWorker.js"
import * as QuoteEngine from "../quotes/QuoteEngine.js"
import * as OutboundAddress from "../outbound/OutboundAddress.js"
import * as SandboxGateway from "../payments/SandboxGateway.js"
import * as CrashPoints from "../purchases/CrashPoints.js"
import * as SecretBox from "../sellers/SecretBox.js"
import * as OfferIndex from "../inventory/OfferIndex.js"
import * as SellerDirectory from "../sellers/SellerDirectory.js"
import * as SellerPool from "../sellers/SellerPool.js"
import * as SharedState from "../state/SharedState.js"
import * as SimulatedSellers from "./SimulatedSellers.js"
import * as TestDatabase from "./TestDatabase.js"

export interface HarnessOptions {
  readonly pipeline?: PurchasePipeline.PipelineOptions
  readonly quotes?: QuoteEngine.QuoteEngineOptions
  readonly worker?: PurchaseWorker.WorkerOptions
  /** Quotes read the offer index (as the server's do); default off. */
  readonly offerIndex?: boolean
  /** The operator's exchange rates (`ExchangeRates.layer`); default none. */
  readonly exchangeRates?: ExchangeRates.ExchangeRatesOptions
  /** Where this engine's runs die (`CrashPoints.ts`); default nowhere. */
  readonly crashAt?: CrashPoints.CrashAt
  /**
   * This "process"'s shared state; default its own in-process state. Workers that stand for
   * processes sharing a seller's limits each take `SharedState.layerRedis` with one key prefix.
   */
  readonly sharedState?: Layer.Layer<SharedState.SharedState>
}

/** The shared infrastructure (database, registry, secrets, payment ledger, directory); the reference adapter plus `adapters`. */
export const infrastructure = (faults: SandboxGateway.SandboxFaults, adapters: ReadonlyArray<Adapter.AnyAdapter> = []) =>
  Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 60_000 }), SandboxGateway.layer({ faults }), Purchases.layer).pipe(
    // The tests' webhook receivers and sellers run on this machine (the policy stays in the context, for the pools built on it).
    Layer.provideMerge(OutboundAddress.layerLoopback),
    Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter, ...adapters]))),
    Layer.provideMerge(TestDatabase.layer)
  )

/** One "process" worth of engine: pool, shared state, quote engine, pipeline. */
export const engine = (options: HarnessOptions = {}) =>
  PurchasePipeline.layer({ leaseMillis: 2_000, maxBackoffMillis: 50, ...options.pipeline }).pipe(
    Layer.provideMerge(QuoteEngine.layer({ cache: false, coalesce: false, deadlineMillis: 3_000, ...options.quotes })),
    Layer.provideMerge(
      Layer.mergeAll(
        SellerPool.layer(),
        options.sharedState ?? SharedState.layerMemory(),
        options.offerIndex === true ? OfferIndex.layer() : Layer.empty,
        options.exchangeRates === undefined ? Layer.empty : ExchangeRates.layer(options.exchangeRates).pipe(Layer.orDie),
        options.crashAt === undefined ? Layer.empty : CrashPoints.layer(options.crashAt)
      )
    )
  )

/** A worker over a pipeline built with its own options (e.g. one that crashes). */
export const worker = (
  workerId: string,
  options: HarnessOptions = {}
): Effect.Effect<PurchaseWorker.PurchaseWorkerService, never, Scope.Scope | SqlClient.SqlClient | SellerDirectory.SellerDirectory | PaymentGateway.PaymentGateway | AdapterRegistry.AdapterRegistry> =>
  Effect.gen(function* () {
    const context = yield* Layer.build(PurchaseWorker.layer({ workerId, concurrency: 8, ...options.worker }).pipe(Layer.provide(engine(options))))
    return Context.get(context, PurchaseWorker.PurchaseWorker)
  })

/** Registers running simulated sellers as active reference sellers (or of another kind that takes the same config). */
export const register = (sellers: ReadonlyArray<SimulatedSellers.RunningSeller>, limits: Record<string, number> = {}, kind = "reference") =>
  Effect.gen(function* () {
    const directory = yield* SellerDirectory.SellerDirectory
    return yield* Effect.forEach(sellers, (seller) =>
      directory.register({
        name: seller.name,
        kind,
        config: seller.config,
        credentials: { apiKey: seller.apiKey },
        limits: { requestsPerSecond: 1_000, burst: 1_000, timeoutMillis: 1_000, ...limits },
        status: "active"
      })
    )
  })

export interface Submitted {
  readonly id: string
}

let sequence = 0
/** Submits a purchase for a test customer. */
export const submit = (
  isbn: Isbn.Isbn13,
  maxMinor: number,
  options: { paymentToken?: string; customerId?: string; currency?: string; answerWithinMillis?: number; waitUntil?: Date; notifyUrl?: string } = {}
) =>
  Effect.gen(function* () {
    const purchases = yield* Purchases.Purchases
    sequence += 1
    return yield* purchases.submit({
      customerId: options.customerId ?? "customer-1",
      idempotencyKey: `key-${Date.now()}-${sequence}`,
      request: {
        isbn,
        max_price: Money.make(maxMinor, options.currency ?? "EUR"),
        payment: { token: options.paymentToken ?? "tok_approve" },
        customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } },
        ...(options.answerWithinMillis === undefined ? {} : { answer_within_seconds: options.answerWithinMillis / 1_000 }),
        ...(options.waitUntil === undefined ? {} : { wait_until: options.waitUntil.toISOString() }),
        ...(options.notifyUrl === undefined ? {} : { notify_url: options.notifyUrl })
      }
    })
  })

/** Runs a worker until the request is terminal (or, with `orWatching`, watching), or `maxRounds` claims passed. */
export const runUntilDone = (worker: PurchaseWorker.PurchaseWorkerService, id: string, maxRounds = 200, orWatching = false) =>
  Effect.gen(function* () {
    const purchases = yield* Purchases.Purchases
    for (let round = 0; round < maxRounds; round++) {
      const view = yield* purchases.get(id)
      if (view.terminal || (orWatching && view.status === "watching")) return view
      const results = yield* worker.runOnce
      if (results.length === 0) yield* Effect.sleep(20)
    }
    return yield* Effect.die(new Error(`request ${id} not ${orWatching ? "terminal or watching" : "terminal"} after ${maxRounds} rounds`))
  })

/** What the payment ledger holds for a request. */
export const ledger = (requestId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string; status: string; authorized: string; captured: string }>`
      SELECT id, status, authorized, captured FROM sandbox_payments WHERE request_id = ${requestId} ORDER BY created_at`
  ).pipe(Effect.orDie)

export { SimulatedSellers }
