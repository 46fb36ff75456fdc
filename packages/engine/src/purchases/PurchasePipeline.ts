/**
 * One purchase request, from `received` to exactly one of `purchased`, `price_not_met`,
 * `not_available`, `sellers_busy` or `failed`. Each step persists its intent (a payment operation or an attempt
 * with its idempotency key) before the external call and its outcome after it, each write one
 * fenced statement (`store.step`: the lease check and every change of the step, all or nothing,
 * in one round trip); a step re-run after any crash repeats the same call with the same key. Purchases
 * go cheapest first, and move to the next offer only when the previous attempt is *known* to
 * have failed (`purchases/AttemptResolution.ts`): an attempt that may have placed an order stays
 * open until an authoritative answer about its key comes, however long that takes, and a person
 * is asked to look once it has taken too long. Money: authorize the maximum, capture the real
 * price once an order is confirmed (never more than authorized), void in every other ending.
 *
 * | status | step (in `purchases/steps/`) | moves to |
 * | --- | --- | --- |
 * | received | `authorize.ts`: authorize the maximum | authorized · failed |
 * | authorized, quoting | `quote.ts`: quote; sellers not reached yet asked again until the answer time (or reuse an accepted counter-offer's round) | deciding |
 * | deciding | `decide.ts`: rank the offers against the maximum (`purchases/FallbackPolicy.ts`) | purchasing · price_not_met · not_available · sellers_busy |
 * | purchasing | `purchase.ts`: hold → purchase, cheapest first (every offer failed: the offer index's unconfirmed leads are confirmed and tried first, `quote.ts` `confirmLeads`); `capture.ts`: capture the confirmed order | purchased · price_not_met · not_available · sellers_busy · failed |
 *
 * Every ending goes through `finish.ts` (a live authorization is voided first). What a step
 * works with — the pipeline's parts, the request as last written, fenced writes — is `Run.ts`.
 *
 * While a run waits on a call its lease is renewed (a heartbeat); a run whose lease was taken
 * over stops, and its writes are refused by the fencing version.
 */
import type { SqlClient, SqlError } from "effect/sql"
import { Clock, Context, Effect, Layer, Option, Schedule } from "effect"
import { ExchangeRates } from "../exchange/ExchangeRates.js"
import * as CrashPoints from "./CrashPoints.js"
import { type ClaimedRow, isTerminal, LeaseLost, makeStore, type Lease, type PurchaseStore, type TerminalStatus } from "./store/PurchaseStore.js"
import { recordPurchaseOutcome } from "../Metrics.js"
import { PaymentGateway, type PaymentGatewayService, PaymentUnavailable } from "../payments/PaymentGateway.js"
import { authorize } from "./steps/authorize.js"
import { decide } from "./steps/decide.js"
import { purchasing } from "./steps/purchase.js"
import { quote } from "./steps/quote.js"
import { type LeaseClock, makeRun, next, type PipelineParts, type RunContext, type Step } from "./steps/Run.js"
import * as QuoteEngine from "../quotes/QuoteEngine.js"
import { SellerDirectory } from "../sellers/SellerDirectory.js"
import { SellerPool } from "../sellers/SellerPool.js"
import { SharedState } from "../state/SharedState.js"

export interface PipelineOptions {
  /** How long a claim lasts without a renewal. Default 30 s. */
  readonly leaseMillis?: number
  /** How often a run renews its lease while it waits on a call. Default a third of the lease. */
  readonly heartbeatMillis?: number
  /** Quick in-step retries of a call that may succeed at once (payment provider, seller unavailable). */
  readonly quickRetry?: Schedule.Schedule<unknown, unknown>
  /** Longest wait before the request is looked at again after a failed call. Default 5 min. */
  readonly maxBackoffMillis?: number
  /** Payment calls that keep failing this many times end the request as failed. Default 12. */
  readonly maxPaymentTries?: number
  /**
   * How long an attempt may stay without an authoritative answer (counted from its first
   * purchase call) before a person is asked to look. It keeps being asked after that. Default
   * 24 h; at most half of the payment authorization's lifetime (refused otherwise).
   */
  readonly unresolvedDeadlineMillis?: number
  /**
   * How long a request may wait for sellers' answers when it does not say (`answer_within`):
   * sellers whose limits had no room for it are asked again until then. Default 60 s.
   */
  readonly answerWithinMillis?: number
  /** The first fan-out's deadline (later passes wait for the rest of the answer time). Default 10 s. */
  readonly quoteDeadlineMillis?: number
  /**
   * Prices from the offer index and pushed prices are confirmed live before buying, cheapest
   * first, until this many live offers are at least as cheap as the next unconfirmed one: the one
   * to buy and the fallbacks. Default 2.
   */
  readonly confirmBest?: number
  /**
   * How long, from the start of quoting, sellers that failed (an error, a refused connection, no
   * answer in time, an open circuit) are asked again while nothing within the maximum is offered.
   * After that their failure is final: a dead seller means fewer quotes, and the request is
   * answered from the sellers that did answer. Default: the whole answer time (a slower true
   * answer beats a fast false one — the chaos suite's false-answer check found windows of 10 s and
   * 40 s giving up on sellers whose circuits stayed open under load); a deployment that prefers
   * quick answers despite a dead seller sets a window.
   */
  readonly retryFailedForMillis?: number
  /**
   * How often a watching want (a request with `wait_until`) asks the sellers live again, for
   * sellers whose feeds do not list the book; a listing within its maximum wakes it sooner.
   * Default 1 h.
   */
  readonly wantRecheckMillis?: number
  /**
   * Scarce copies go first come, first served (`purchases/ScarceCopies.ts`): a request ready to
   * buy waits while as many requests for the same book that arrived earlier are still in progress
   * as its offers have copies — at most this long after its quoting ended. Default 10 s.
   */
  readonly scarceCopyWaitMillis?: number
}

/** What happens to a request after one run of `process`. */
export type RunResult =
  | { readonly _tag: "Finished"; readonly status: TerminalStatus }
  | { readonly _tag: "Parked"; readonly delayMillis: number; readonly why: string }
  | { readonly _tag: "LeaseLost" }

export interface PurchasePipelineService {
  /** Runs a claimed request as far as it goes now. */
  readonly process: (claimed: ClaimedRow, worker: string) => Effect.Effect<RunResult>
  readonly leaseMillis: number
  readonly store: PurchaseStore
  /** How often a watching want asks the sellers live again (`PipelineOptions.wantRecheckMillis`). */
  readonly wantRecheckMillis: number
}

export class PurchasePipeline extends Context.Service<PurchasePipeline, PurchasePipelineService>()("@bookbroker/engine/PurchasePipeline") {}

const defaultDeadlineMillis = 24 * 60 * 60 * 1_000

/** The step for the request's status (the table at the top of this file). */
const step = (run: RunContext): Effect.Effect<Step, LeaseLost | SqlError.SqlError> => {
  switch (run.row.status) {
    case "received":
      return authorize(run)
    case "authorized":
    case "quoting":
      return quote(run)
    case "deciding":
      return decide(run)
    case "purchasing":
      return purchasing(run)
    default:
      return Effect.succeed(next)
  }
}

/** Runs the request's steps until it ends or parks. */
const run = (parts: PipelineParts, initial: ClaimedRow, lease: Lease, leaseClock: LeaseClock) =>
  Effect.gen(function* () {
    const context = makeRun(parts, initial, lease, leaseClock)
    // A want that starts watching parks in the same step; no step runs a watching request.
    while (!isTerminal(context.row.status) && context.row.status !== "watching") {
      const result = yield* step(context)
      if (result._tag === "Park") {
        yield* parts.store.park(lease, result.delayMillis, result.why)
        return { _tag: "Parked", delayMillis: result.delayMillis, why: result.why } as const
      }
    }
    return { _tag: "Finished", status: context.row.status as TerminalStatus } as const
  })

/**
 * Renews the lease while the run waits on a long call (a seller may take up to two minutes);
 * fails with `LeaseLost` once another worker holds the request, which stops the run.
 */
const heartbeat = (store: PurchaseStore, heartbeatMillis: number, lease: Lease, leaseClock: LeaseClock): Effect.Effect<never, LeaseLost> =>
  Effect.gen(function* () {
    while (true) {
      yield* Effect.sleep(heartbeatMillis)
      const now = yield* Clock.currentTimeMillis
      if (now - leaseClock.renewedAt < heartbeatMillis) continue
      const renewed = yield* store.renew(lease).pipe(
        // A database hiccup is not a lost lease: the next beat tries again (the run's own writes are fenced).
        Effect.catchTag("SqlError", (error) => Effect.as(Effect.logWarning("purchase lease heartbeat failed; trying again", error), true))
      )
      if (!renewed) return yield* new LeaseLost({ requestId: lease.requestId })
      leaseClock.renewedAt = now
    }
  })

export const make = (options: PipelineOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* makeStore
    const gateway: PaymentGatewayService = yield* PaymentGateway
    const quoteEngine = yield* QuoteEngine.QuoteEngine
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState
    // Tests only: where a run dies (`CrashPoints.ts`); never in production.
    const crashAt = yield* CrashPoints.CrashPoints
    const leaseMillis = options.leaseMillis ?? 30_000
    const heartbeatMillis = options.heartbeatMillis ?? Math.max(50, Math.floor(leaseMillis / 3))
    const quickRetry = options.quickRetry ?? Schedule.max([Schedule.exponential("100 millis"), Schedule.recurs(2)])
    const maxBackoff = options.maxBackoffMillis ?? 300_000
    const maxPaymentTries = options.maxPaymentTries ?? 12
    const deadlineMillis = options.unresolvedDeadlineMillis ?? defaultDeadlineMillis
    const answerWithinMillis = options.answerWithinMillis ?? 60_000
    const quoteDeadlineMillis = options.quoteDeadlineMillis ?? 10_000
    // A pass started at (or after) the answer time still gets this long: a request claimed late is asked once.
    const minQuoteMillis = 1_000
    /** Pause before asking again the sellers that did not answer (within the answer time). */
    const retryFailedMillis = 1_000
    const retryFailedForMillis = options.retryFailedForMillis ?? Number.POSITIVE_INFINITY
    const backoff = (tries: number) => Math.min(maxBackoff, 1_000 * 2 ** Math.min(tries, 16))
    if (heartbeatMillis >= leaseMillis) {
      return yield* Effect.die(new Error(`the lease heartbeat (${heartbeatMillis} ms) must be shorter than the lease (${leaseMillis} ms)`))
    }
    const lifetime = gateway.authorizationLifetimeMillis
    if (lifetime !== undefined && deadlineMillis * 2 > lifetime) {
      return yield* Effect.die(new Error(
        `unresolvedDeadlineMillis (${deadlineMillis} ms) must be at most half of ${gateway.name}'s authorization lifetime (${lifetime} ms): ` +
          "a person needs time to settle an unresolved purchase before the customer's authorization lapses"
      ))
    }

    // Optional: without the operator's rates, offers in other currencies are not compared.
    const exchangeRates = Option.getOrUndefined(yield* Effect.serviceOption(ExchangeRates))
    const parts: PipelineParts = {
      store,
      pricing: exchangeRates === undefined ? Effect.succeed(undefined) : exchangeRates.pricing,
      writes: store.writes,
      gateway,
      quoteEngine,
      directory,
      pool,
      state,
      maxBackoff,
      maxPaymentTries,
      unresolvedDeadlineMillis: deadlineMillis,
      answerWithinMillis,
      quoteDeadlineMillis,
      confirmBest: options.confirmBest ?? 2,
      minQuoteMillis,
      retryFailedMillis,
      retryFailedForMillis,
      wantRecheckMillis: options.wantRecheckMillis ?? 3_600_000,
      scarceCopyWaitMillis: options.scarceCopyWaitMillis ?? 10_000,
      backoff,
      crash: (point, requestId) => CrashPoints.reached(crashAt, point, requestId),
      withQuickRetry: (effect) => effect.pipe(Effect.retry({ schedule: quickRetry, while: (error) => error instanceof PaymentUnavailable }))
    }

    const service: PurchasePipelineService = {
      leaseMillis,
      store,
      wantRecheckMillis: parts.wantRecheckMillis,
      process: (claimed, worker) =>
        Effect.gen(function* () {
          const lease: Lease = { requestId: claimed.id, worker, fence: claimed.fence, leaseMillis }
          const leaseClock: LeaseClock = { renewedAt: yield* Clock.currentTimeMillis }
          return yield* Effect.raceFirst(run(parts, claimed, lease, leaseClock), heartbeat(store, heartbeatMillis, lease, leaseClock))
        }).pipe(
          Effect.tap((result) => (result._tag === "Finished" ? recordPurchaseOutcome(result.status, claimed.created_at) : Effect.void)),
          Effect.catchTag("LeaseLost", () => Effect.succeed({ _tag: "LeaseLost" } as const)),
          // A database failure mid-step: the lease expires and the step is re-run, by this worker or another.
          Effect.catchTag("SqlError", (error) =>
            Effect.logError("database failure while processing a purchase request; it will be retried", error).pipe(
              Effect.as({ _tag: "LeaseLost" } as const)
            )
          ),
          Effect.withSpan("PurchasePipeline.process", { attributes: { "purchase.request_id": claimed.id, "purchase.status": claimed.status } })
        )
    }
    return service
  })

export const layer = (
  options: PipelineOptions = {}
): Layer.Layer<PurchasePipeline, never, SqlClient.SqlClient | PaymentGateway | QuoteEngine.QuoteEngine | SellerDirectory | SellerPool | SharedState> =>
  Layer.effect(PurchasePipeline, make(options))
