/**
 * What every step of a purchase run works with: the pipeline's parts and settings, the request
 * as this run last wrote it, and the three ways a step writes (`commit`, `transition`,
 * `intent`), each one fenced statement that commits only while this run holds the lease. A step
 * answers with a `Step`: go on to the next status, or park the request for a while.
 */
import { Contract } from "@bookbroker/adapter-sdk"
import type { SqlError, Statement } from "effect/sql"
import { Clock, Effect, Schema } from "effect"
import type {
  ClaimedRow,
  Lease,
  LeaseLost,
  PaymentKind,
  PaymentOperationRow,
  PurchaseStatus,
  PurchaseStore,
  QuoteRow,
  RequestChanges,
  RequestRow,
  StepChanges
} from "../store/PurchaseStore.js"
import * as Conversion from "../../exchange/Conversion.js"
import type { PaymentGatewayService } from "../../payments/PaymentGateway.js"
import type { QuoteEngineService } from "../../quotes/QuoteEngine.js"
import type { SellerDirectoryService } from "../../sellers/SellerDirectory.js"
import type { SellerPoolService } from "../../sellers/SellerPool.js"
import type { SharedStateService } from "../../state/SharedStateService.js"

/** Where a test (or the chaos suite) may kill a worker: right after the external call, before its result is stored. */
import type { CrashPoint } from "../CrashPoints.js"

export type { CrashPoint }

export type Step = { readonly _tag: "Continue" } | { readonly _tag: "Park"; readonly delayMillis: number; readonly why: string }

export const next: Step = { _tag: "Continue" }
export const park = (delayMillis: number, why: string): Step => ({ _tag: "Park", delayMillis, why })

export const encodeOffer = Schema.encodeSync(Contract.Offer)
export const decodeOffer = Schema.decodeUnknownSync(Contract.Offer)
export const encodeHold = Schema.encodeSync(Contract.Hold)
export const decodeHold = Schema.decodeUnknownSync(Contract.Hold)

/** The pipeline's parts and settings, the same for every run. */
export interface PipelineParts {
  readonly store: PurchaseStore
  readonly writes: PurchaseStore["writes"]
  readonly gateway: PaymentGatewayService
  readonly quoteEngine: QuoteEngineService
  readonly directory: SellerDirectoryService
  readonly pool: SellerPoolService
  readonly state: SharedStateService
  /** Longest wait before a request is looked at again after a failed call. */
  readonly maxBackoff: number
  readonly maxPaymentTries: number
  /** How long an attempt may stay without an authoritative answer before a person is asked to look. */
  readonly unresolvedDeadlineMillis: number
  readonly answerWithinMillis: number
  readonly quoteDeadlineMillis: number
  /** Live offers wanted before buying when indexed or pushed prices are cheaper (`QuoteEngine.confirm`). */
  readonly confirmBest: number
  /** A fan-out gets at least this long, even when the answer time has almost run out. */
  readonly minQuoteMillis: number
  /** The pause before sellers that failed are asked again. */
  readonly retryFailedMillis: number
  readonly retryFailedForMillis: number
  /** How long a request ready to buy scarce copies waits for requests that arrived earlier (`ScarceCopies.waitsForEarlier`). */
  readonly scarceCopyWaitMillis: number
  /** How often a watching want looks at the sellers live again (`WantPolicy.nextLook`). */
  readonly wantRecheckMillis: number
  /** The wait before a failed call is tried again, by how often it was tried. */
  readonly backoff: (tries: number) => number
  /** The test hook: dies here when a test asked for it. */
  readonly crash: (point: CrashPoint, requestId: string) => Effect.Effect<void>
  /** Payment calls: a few quick retries for an unknown outcome, always with the same key. */
  readonly withQuickRetry: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** The operator's exchange rates to price offers in other currencies with now (`undefined`: none usable). */
  readonly pricing: Effect.Effect<Conversion.Pricing | undefined>
}

/** One run over one claimed request. */
export interface RunContext extends PipelineParts {
  /** The request as this run last wrote it. */
  readonly row: RequestRow
  readonly currency: string
  /**
   * Seller money in the request's currency at the rates the request was priced at (a hold, an
   * order, a capture): never at a rate its offers were not compared at.
   */
  readonly exchange: Conversion.Converter
  readonly lease: Lease
  /**
   * The run before this one stopped mid-purchase without giving the request back
   * (`ClaimedRow.interrupted`): the first attempt this run looks at may have a hold it asked for
   * open at the seller, unrecorded here (`steps/purchase.ts`, `attemptOne`, clears it).
   */
  holdMayBeUnrecorded: boolean
  /** The quotes this run saved (the decision reads them from here instead of the database). */
  saved: { readonly round: number; readonly quotes: ReadonlyArray<QuoteRow> } | undefined
  /** One step's writes, as one statement that commits only while this run holds the lease. */
  readonly commit: (changes: StepChanges) => Effect.Effect<void, LeaseLost | SqlError.SqlError>
  readonly transition: (
    to: PurchaseStatus,
    reason: string | null,
    changes?: RequestChanges,
    also?: ReadonlyArray<Statement.Fragment>
  ) => Effect.Effect<void, LeaseLost | SqlError.SqlError>
  /** A payment call's intent, recorded before the call (with the lease check). */
  readonly intent: (kind: PaymentKind, round: number, key: string, amount: number) => Effect.Effect<PaymentOperationRow, LeaseLost | SqlError.SqlError>
}

/** When the lease was last renewed (by a fenced write or the heartbeat). */
export interface LeaseClock {
  renewedAt: number
}

/** A run's context over `initial`: every write renews the lease clock and becomes the run's `row`. */
export const makeRun = (parts: PipelineParts, initial: ClaimedRow, lease: Lease, leaseClock: LeaseClock): RunContext => {
  let row: RequestRow = initial
  const currency = initial.currency
  /** Whatever a write renews, the heartbeat need not. */
  const renewing = <A, E>(write: Effect.Effect<A, E>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tap(
        write,
        Effect.sync(() => {
          leaseClock.renewedAt = now
        })
      )
    )
  const commit = (changes: StepChanges) =>
    Effect.map(renewing(parts.store.step(lease, row, changes)), (updated) => {
      row = updated
    })
  return {
    ...parts,
    get row() {
      return row
    },
    currency,
    get exchange() {
      return Conversion.make(currency, row.exchange, undefined)
    },
    lease,
    holdMayBeUnrecorded: initial.interrupted && initial.status === "purchasing",
    saved: undefined,
    commit,
    transition: (to, reason, changes, also = []) => commit({ transition: { to, reason, ...(changes === undefined ? {} : { changes }) }, writes: also }),
    intent: (kind, round, key, amount) => renewing(parts.store.paymentIntent(lease, kind, round, key, amount, currency))
  }
}
