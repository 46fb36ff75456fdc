/**
 * The engine assembled: every service over its infrastructure, chosen by configuration — Redis
 * or in-process shared state, Stripe or the sandbox payment ledger, a database URL. Entry points
 * (the CLI's `serve`, tests) call `layer` once; everything else depends on services only.
 */
import type { Adapter } from "@bookbroker/adapter-sdk"
import type { SqlClient } from "effect/sql"
import { Layer, type Redacted } from "effect"
import * as Access from "./Access.js"
import * as AdapterRegistry from "./sellers/AdapterRegistry.js"
import * as Findings from "./jobs/Findings.js"
import * as FeedPull from "./inventory/FeedPull.js"
import * as Gauges from "./operations/Gauges.js"
import * as InventoryUploads from "./inventory/InventoryUploads.js"
import * as BookSearch from "./search/BookSearch.js"
import * as OfferIndex from "./inventory/OfferIndex.js"
import * as Notifications from "./jobs/Notifications.js"
import * as OutboundAddress from "./outbound/OutboundAddress.js"
import type * as PaymentGateway from "./payments/PaymentGateway.js"
import * as PurchasePipeline from "./purchases/PurchasePipeline.js"
import * as Purchases from "./purchases/Purchases.js"
import * as PurchaseWorker from "./purchases/PurchaseWorker.js"
import * as QuoteEngine from "./quotes/QuoteEngine.js"
import * as Readiness from "./operations/Readiness.js"
import * as RequestBudget from "./state/RequestBudget.js"
import * as Reconciler from "./jobs/Reconciler.js"
import * as SandboxGateway from "./payments/SandboxGateway.js"
import * as SecretBox from "./sellers/SecretBox.js"
import * as SellerDirectory from "./sellers/SellerDirectory.js"
import * as SellerHealth from "./operations/SellerHealth.js"
import * as SellerPool from "./sellers/SellerPool.js"
import * as SellerRegistration from "./sellers/SellerRegistration.js"
import * as SellerViews from "./sellers/SellerViews.js"
import * as SharedState from "./state/SharedState.js"
import * as Sweeper from "./jobs/Sweeper.js"
import * as Wants from "./jobs/Wants.js"
import * as ExchangeRates from "./exchange/ExchangeRates.js"
import * as PushedOffers from "./quotes/PushedOffers.js"

export interface EngineOptions {
  readonly adapters: ReadonlyArray<Adapter.AnyAdapter>
  /** Key sealing seller credentials (base64, 32 bytes). */
  readonly secretKey: Redacted.Redacted<string>
  /**
   * `{ _tag: "Redis", url }` for several processes (key prefix "bookbroker" unless given; every
   * other `SharedState.RedisStateOptions` setting, e.g. `commandTimeoutMillis`, passes through);
   * in-process otherwise.
   */
  readonly sharedState?:
    | { readonly _tag: "Memory" }
    | ({ readonly _tag: "Redis"; readonly keyPrefix?: string } & Omit<SharedState.RedisStateOptions, "keyPrefix">)
  /** A payment gateway layer (e.g. Stripe); the sandbox ledger by default. */
  readonly payments?: Layer.Layer<PaymentGateway.PaymentGateway, never, SqlClient.SqlClient>
  readonly quotes?: QuoteEngine.QuoteEngineOptions
  /**
   * The operator's exchange rates (a file or URL: the ECB's daily reference rates, or JSON):
   * offers in other currencies are then priced in the request's, plus the margin. None by
   * default: such offers are named, not compared. A file that cannot be read fails the start.
   */
  readonly exchangeRates?: ExchangeRates.ExchangeRatesOptions
  readonly pipeline?: PurchasePipeline.PipelineOptions
  /** Run purchase workers in this process (role worker/all). Default true. */
  readonly workers?: false | PurchaseWorker.WorkerOptions
  readonly directoryRefreshMillis?: number
  /**
   * Networks besides the public internet that bookbroker may call on someone else's say-so
   * (customers' `notify_url`): e.g. `OutboundAddress.loopback` for the demo. Default none.
   */
  readonly outbound?: OutboundAddress.OutboundPolicyService
  /** Intake: backpressure when requests arrive faster than the sellers can answer them. */
  readonly intake?: Purchases.PurchasesOptions
  /**
   * The jobs that keep the promises after the pipeline: the sweeper (authorizations and holds
   * left behind), the reconciler (our records against the provider's) and the webhook
   * dispatcher (the outbox, signed with `webhookSecret`). Off unless given; `bookbroker serve`
   * runs them beside the workers. Any number of processes may run them: they claim their rows.
   */
  readonly background?: {
    readonly webhookSecret: Redacted.Redacted<string>
    readonly sweeper?: Sweeper.RunningSweeperOptions
    readonly reconciler?: Reconciler.RunningReconcilerOptions
    readonly notifications?: Omit<Notifications.NotificationsOptions, "secret">
    /** Inventory feeds bookbroker fetches itself (URLs, adapters' inventory pages). */
    readonly feeds?: FeedPull.RunningFeedPullOptions
    /** Watching wants: woken when a copy is listed or found live, expired at their `wait_until`. */
    readonly wants?: Wants.RunningWantsOptions
  }
}

export type EngineServices =
  | Access.Access
  | BookSearch.BookSearch
  | AdapterRegistry.AdapterRegistry
  | ExchangeRates.ExchangeRates
  | PushedOffers.PushedOffers
  | Findings.Findings
  | Gauges.Gauges
  | InventoryUploads.InventoryUploads
  | OfferIndex.OfferIndex
  | PaymentGateway.PaymentGateway
  | Purchases.Purchases
  | PurchasePipeline.PurchasePipeline
  | QuoteEngine.QuoteEngine
  | Readiness.Readiness
  | RequestBudget.RequestBudget
  | SecretBox.SecretBox
  | SellerDirectory.SellerDirectory
  | SellerHealth.SellerHealth
  | SellerPool.SellerPool
  | SellerRegistration.SellerRegistration
  | SellerViews.SellerViews
  | SharedState.SharedState

/** Every engine service over a database (provide `SqlClient`, e.g. `Database.layer`). */
export const layer = (options: EngineOptions): Layer.Layer<EngineServices, never, SqlClient.SqlClient> => {
  const shared =
    options.sharedState?._tag === "Redis"
      ? SharedState.layerRedis({ ...options.sharedState, keyPrefix: options.sharedState.keyPrefix ?? "bookbroker" })
      : SharedState.layerMemory()
  const base = Layer.mergeAll(
    AdapterRegistry.layer(options.adapters),
    SecretBox.layer(options.secretKey),
    RequestBudget.layer.pipe(Layer.provideMerge(shared)),
    options.payments ?? SandboxGateway.layer(),
    Access.layer,
    Findings.layer,
    InventoryUploads.layer().pipe(Layer.provideMerge(OfferIndex.layer())),
    // Search compares offers in other currencies with the operator's rates (when there are some).
    BookSearch.layer().pipe(
      Layer.provideMerge(options.exchangeRates === undefined ? ExchangeRates.none : ExchangeRates.layer(options.exchangeRates).pipe(Layer.orDie))
    ),
    options.intake === undefined && options.pipeline?.answerWithinMillis === undefined
      ? Purchases.layer
      : Purchases.layerWith({
          ...options.intake,
          ...(options.pipeline?.answerWithinMillis === undefined ? {} : { answerWithinMillis: options.pipeline.answerWithinMillis })
        })
  )
  const directory = SellerDirectory.layer({ refreshMillis: options.directoryRefreshMillis ?? 5_000 }).pipe(
    Layer.provideMerge(PushedOffers.layer.pipe(Layer.provideMerge(base)))
  )
  const quoting = QuoteEngine.layer(options.quotes ?? {}).pipe(Layer.provideMerge(SellerPool.layer()), Layer.provideMerge(directory))
  const operations = Layer.mergeAll(Readiness.layer, Gauges.layer, SellerRegistration.layer, SellerHealth.layer).pipe(
    Layer.provideMerge(SellerViews.layer),
    Layer.provideMerge(quoting)
  )
  const pipeline = PurchasePipeline.layer(options.pipeline ?? {}).pipe(Layer.provideMerge(operations))
  const workers =
    options.workers === false ? Layer.empty : PurchaseWorker.layerRunning(options.workers ?? {}).pipe(Layer.provide(pipeline))
  const background =
    options.background === undefined
      ? Layer.empty
      : Layer.mergeAll(
          Sweeper.layerRunning(options.background.sweeper ?? {}),
          Reconciler.layerRunning(options.background.reconciler ?? {}),
          FeedPull.layerRunning(options.background.feeds ?? {}),
          Wants.layerRunning(options.background.wants ?? {}),
          // A secret Standard Webhooks refuses is a configuration error found at start, not a request later.
          Notifications.layerRunning({ ...options.background.notifications, secret: options.background.webhookSecret }).pipe(Layer.orDie)
        ).pipe(Layer.provide(pipeline))
  const all = Layer.mergeAll(pipeline, workers, background)
  return options.outbound === undefined ? all : all.pipe(Layer.provide(Layer.succeed(OutboundAddress.OutboundPolicy, options.outbound)))
}

