/**
 * One purchase request, from `received` to exactly one of `purchased`, `price_not_met`,
 * `not_available` or `failed`. Each step persists its intent (a payment operation or an attempt
 * with its idempotency key) before the external call and its outcome after it, inside a fenced
 * transaction; a step re-run after any crash repeats the same call with the same key. Purchases
 * go cheapest first, and move to the next offer only when the previous attempt is *known* to
 * have failed: an unknown outcome is resolved (order lookup or a replay with the same key)
 * before anything else happens. Money: authorize the maximum, capture the real price once an
 * order is confirmed (never more than authorized), void in every other ending.
 */
import { Contract, Money, type Isbn, type SellerClient, type SellerError } from "@bookbroker/adapter-sdk"
import type { SqlClient, SqlError } from "@effect/sql"
import { Context, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import {
  isTerminal,
  type LeaseLost,
  makeStore,
  type AttemptRow,
  type CounterOffer,
  type Lease,
  type PaymentOperationRow,
  type PurchaseStatus,
  type PurchaseStore,
  type RequestRow,
  type TerminalStatus
} from "./internal/purchaseStore.js"
import { admittedCall } from "./internal/sellerCall.js"
import { recordPurchaseOutcome } from "./Metrics.js"
import { PaymentGateway, type PaymentGatewayService, PaymentUnavailable } from "./PaymentGateway.js"
import * as PushedOffers from "./PushedOffers.js"
import { QuoteEngine } from "./QuoteEngine.js"
import { SellerDirectory } from "./SellerDirectory.js"
import { SellerPool } from "./SellerPool.js"
import { SharedState } from "./SharedState.js"

/** Where a test (or the chaos suite) may kill a worker: right after the external call, before its result is stored. */
export type CrashPoint = "authorize" | "quote" | "hold" | "purchase" | "capture" | "void"

/** Thrown by the crash hook; the worker fiber dies with it, its lease left to expire. */
export class SimulatedCrash extends Schema.TaggedError<SimulatedCrash>()("SimulatedCrash", { point: Schema.String, requestId: Schema.String }) {}

export interface PipelineOptions {
  /** How long a claim lasts without a write; every write renews it. Default 30 s. */
  readonly leaseMillis?: number
  /** Quick in-step retries of a call that may succeed at once (payment provider, seller unavailable). */
  readonly quickRetry?: Schedule.Schedule<unknown, unknown>
  /** Longest wait before the request is looked at again after a failed call. Default 5 min. */
  readonly maxBackoffMillis?: number
  /** Payment calls that keep failing this many times end the request as failed. Default 12. */
  readonly maxPaymentTries?: number
  /** Test hook: return true to kill the worker at this point. */
  readonly crashAt?: (point: CrashPoint, requestId: string) => boolean
}

/** What happens to a request after one run of `process`. */
export type RunResult =
  | { readonly _tag: "Finished"; readonly status: TerminalStatus }
  | { readonly _tag: "Parked"; readonly delayMillis: number; readonly why: string }
  | { readonly _tag: "LeaseLost" }

export interface PurchasePipelineService {
  /** Runs a claimed request as far as it goes now. */
  readonly process: (claimed: RequestRow, worker: string) => Effect.Effect<RunResult>
  readonly leaseMillis: number
  readonly store: PurchaseStore
}

export class PurchasePipeline extends Context.Tag("@bookbroker/engine/PurchasePipeline")<PurchasePipeline, PurchasePipelineService>() {}

type Step = { readonly _tag: "Continue" } | { readonly _tag: "Park"; readonly delayMillis: number; readonly why: string }
const next: Step = { _tag: "Continue" }

const encodeOffer = Schema.encodeSync(Contract.Offer)
const decodeOffer = Schema.decodeUnknownSync(Contract.Offer)
const encodeHold = Schema.encodeSync(Contract.Hold)
const decodeHold = Schema.decodeUnknownSync(Contract.Hold)

const sellerReason = (error: SellerError.SellerError): string =>
  error._tag === "SellerRejected" || error._tag === "SellerUnavailable" ? `${error._tag === "SellerRejected" ? "rejected" : "unavailable"}:${error.reason}` : error._tag

export const make = (options: PipelineOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* makeStore
    const gateway: PaymentGatewayService = yield* PaymentGateway
    const quoteEngine = yield* QuoteEngine
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState
    const leaseMillis = options.leaseMillis ?? 30_000
    const quickRetry = options.quickRetry ?? Schedule.intersect(Schedule.exponential("100 millis"), Schedule.recurs(2))
    const maxBackoff = options.maxBackoffMillis ?? 300_000
    const maxPaymentTries = options.maxPaymentTries ?? 12
    const backoff = (tries: number) => Math.min(maxBackoff, 1_000 * 2 ** Math.min(tries, 16))

    const crash = (point: CrashPoint, requestId: string) =>
      options.crashAt?.(point, requestId) === true ? Effect.die(new SimulatedCrash({ point, requestId })) : Effect.void

    /** Payment calls: a few quick retries for an unknown outcome, always with the same key. */
    const withQuickRetry = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.retry({ schedule: quickRetry, while: (error) => error instanceof PaymentUnavailable }))

    const money = (amount: number | string, currency: string) => Money.make(Number(amount), currency.trim())

    const run = (initial: RequestRow, lease: Lease) =>
      Effect.gen(function* () {
        let row = initial
        const transition = (to: PurchaseStatus, reason: string | null, changes: Record<string, unknown> = {}) =>
          Effect.map(store.fenced(lease, store.transition(lease, row.status, to, reason, changes)), (updated) => {
            row = updated
          })

        /** Ends the request, voiding a live authorization first. */
        const finish = (status: TerminalStatus, reason: string, changes: Record<string, unknown> = {}): Effect.Effect<Step, LeaseLost | SqlError.SqlError> =>
          Effect.gen(function* () {
            const authorization = yield* store.liveAuthorization(row.id)
            if (authorization !== undefined) {
              const key = `${row.id}:void:${authorization.round}`
              const operation = yield* store.fenced(lease, store.ensurePayment(row.id, "void", authorization.round, key, 0, row.currency.trim()))
              const voided = yield* Effect.either(withQuickRetry(gateway.void({ idempotencyKey: key, providerRef: authorization.provider_ref! })))
              yield* crash("void", row.id)
              if (voided._tag === "Left") {
                if (voided.left._tag === "PaymentUnavailable") {
                  return { _tag: "Park", delayMillis: backoff(operation.tries), why: `void: ${voided.left.detail}` } as const
                }
                // The provider refuses to void: leave the authorization marked live for the reconciler, end the request.
                yield* store.fenced(lease, store.settlePayment(key, "rejected", null, false, voided.left.detail))
                yield* transition("failed", `void_rejected: ${voided.left.detail}`)
                return next
              }
              yield* store.fenced(
                lease,
                Effect.zipRight(store.settlePayment(key, "succeeded", authorization.provider_ref, false, null), store.endAuthorization(row.id))
              )
            }
            yield* transition(status, reason, changes)
            return next
          })

        const authorize = Effect.gen(function* () {
          const key = `${row.id}:authorize:${row.round}`
          const amount = Number(row.max_amount)
          const operation = yield* store.fenced(lease, store.ensurePayment(row.id, "authorize", row.round, key, amount, row.currency.trim()))
          const result = yield* Effect.either(
            withQuickRetry(gateway.authorize({ idempotencyKey: key, requestId: row.id, amount: money(amount, row.currency), paymentToken: row.payment_token }))
          )
          yield* crash("authorize", row.id)
          if (result._tag === "Right") {
            yield* store.fenced(lease, store.settlePayment(key, "succeeded", result.right.providerRef, true, null))
            yield* transition("authorized", null)
            return next
          }
          const error = result.left
          if (error._tag === "PaymentDeclined") {
            yield* store.fenced(lease, store.settlePayment(key, "declined", null, false, error.reason))
            yield* transition("failed", `payment_declined: ${error.reason}`)
            return next
          }
          if (error._tag === "PaymentRejected" || operation.tries >= maxPaymentTries) {
            // Give up; the sweeper voids whatever the provider may still hold for this request.
            yield* store.fenced(lease, store.settlePayment(key, "rejected", null, false, error.detail))
            yield* transition("failed", `payment_unavailable: ${error.detail}`)
            return next
          }
          return { _tag: "Park", delayMillis: error.retryAfterMillis ?? backoff(operation.tries), why: `authorize: ${error.detail}` } as const
        })

        const quote = Effect.gen(function* () {
          if (row.status === "authorized") yield* transition("quoting", null)
          if (row.round > 0 && row.counter_offer !== null) {
            // An accepted counter-offer buys from the offers already taken for the request (a
            // retried request has none: it quotes afresh, for its new round).
            yield* transition("deciding", null)
            return next
          }
          const currency = row.currency.trim()
          const book = yield* quoteEngine.quotes(row.isbn as Isbn.Isbn13, { currency })
          // Prices sellers pushed are never bought from: those sellers are asked afresh.
          const pushed = book.offers.filter((offer) => PushedOffers.isPushed(offer.offer))
          const offers =
            pushed.length === 0
              ? book.offers
              : [
                  ...book.offers.filter((offer) => !PushedOffers.isPushed(offer.offer)),
                  ...(yield* quoteEngine.quotes(row.isbn as Isbn.Isbn13, { currency, sellerIds: pushed.map((offer) => offer.sellerId), cache: false })).offers.filter(
                    (offer) => !PushedOffers.isPushed(offer.offer)
                  )
                ].sort((a, b) => a.total.amount - b.total.amount)
          yield* crash("quote", row.id)
          row = yield* store.fenced(
            lease,
            Effect.zipRight(
              store.saveQuotes(
                row.id,
                row.round,
                offers.map((offer, rank) => ({
                  seller_id: offer.sellerId,
                  seller_name: offer.sellerName,
                  rank,
                  total: offer.total.amount,
                  currency: offer.total.currency,
                  offer: encodeOffer(offer.offer)
                }))
              ),
              store.transition(lease, row.status, "deciding", `${offers.length} offers from ${book.outcomes.length} sellers`)
            )
          )
          return next
        })

        const decide = Effect.gen(function* () {
          // Round 0's offers for an accepted counter-offer, the round's own otherwise.
          const quotes = yield* store.quotes(row.id, row.counter_offer !== null ? 0 : row.round)
          const max = Number(row.max_amount)
          const within = quotes.filter((quote) => Number(quote.total) <= max)
          if (quotes.length === 0) return yield* finish("not_available", "no_offers")
          if (within.length === 0) {
            const cheapest = quotes[0]!
            const offer = decodeOffer(cheapest.offer)
            const counterOffer: CounterOffer = {
              seller_id: cheapest.seller_id,
              seller_name: cheapest.seller_name,
              total: Number(cheapest.total),
              currency: cheapest.currency.trim(),
              expires_at: offer.expiresAt.toISOString()
            }
            return yield* finish("price_not_met", "cheapest_offer_above_max", { counter_offer: counterOffer })
          }
          row = yield* store.fenced(
            lease,
            Effect.zipRight(
              store.createAttempts(row.id, row.round, within.map((quote) => ({ seller_id: quote.seller_id, seller_name: quote.seller_name, rank: quote.rank, offer: quote.offer }))),
              store.transition(lease, row.status, "purchasing", `${within.length} offers within the maximum`)
            )
          )
          return next
        })

        const clientFor = (attempt: AttemptRow) =>
          directory.get(attempt.seller_id).pipe(
            Effect.flatMap((seller) => pool.client(seller)),
            Effect.option
          )

        /** No permit within the seller's shared limits: look at the request again once one is likely. */
        const parkForSeller = (attempt: AttemptRow, retryAfterMillis: number): Step => ({
          _tag: "Park",
          delayMillis: Math.min(maxBackoff, Math.max(250, retryAfterMillis)),
          why: `waiting for a permit within ${attempt.seller_name}'s limits`
        })

        /** Places (or replays) the purchase of an attempt; the seller's answer decides the attempt. */
        const purchase = (attempt: AttemptRow, client: SellerClient.SellerClient) =>
          Effect.gen(function* () {
            const offer = decodeOffer(attempt.offer)
            const hold = attempt.hold === null ? undefined : decodeHold(attempt.hold)
            yield* store.fenced(lease, store.updateAttempt(attempt.id, attempt.status === "unknown" ? "unknown" : "purchasing", { tried: true }))
            const lookedUp =
              attempt.status === "unknown" && client.capabilities.orderLookup
                ? yield* admittedCall(state, client, client.lookupOrder({ idempotencyKey: attempt.idempotency_key, isbn: offer.isbn }))
                : undefined
            if (lookedUp?._tag === "Denied") return parkForSeller(attempt, lookedUp.retryAfterMillis)
            const result =
              lookedUp !== undefined && Either.isRight(lookedUp) && Option.isSome(lookedUp.right)
                ? Either.right(lookedUp.right.value)
                : yield* admittedCall(
                    state,
                    client,
                    client.purchase({
                      isbn: offer.isbn,
                      source: hold === undefined ? { _tag: "Offer", offer } : { _tag: "Hold", hold },
                      idempotencyKey: attempt.idempotency_key,
                      maxTotal: money(row.max_amount, row.currency),
                      buyerReference: row.id
                    })
                  )
            // No permit from the seller's limits (nothing was sent): the same step, a little later.
            if (result._tag === "Denied") return parkForSeller(attempt, result.retryAfterMillis)
            yield* crash("purchase", row.id)
            if (result._tag === "Right") {
              const order = result.right
              yield* store.fenced(lease, store.updateAttempt(attempt.id, "confirmed", { orderId: order.orderId, orderTotal: order.total.amount }))
              return next
            }
            const error = result.left
            if (error._tag === "OutcomeUnknown") {
              yield* store.fenced(lease, store.updateAttempt(attempt.id, "unknown", { reason: error.detail }))
              return { _tag: "Park", delayMillis: backoff(attempt.tries), why: `purchase outcome unknown at ${attempt.seller_name}` } as const
            }
            yield* store.fenced(lease, store.updateAttempt(attempt.id, "failed", { reason: sellerReason(error) }))
            return next
          })

        const attemptOne = (attempt: AttemptRow) =>
          Effect.gen(function* () {
            const client = yield* clientFor(attempt)
            if (Option.isNone(client)) {
              if (attempt.status !== "pending") {
                // We may have sent a purchase: never give up on it silently.
                return { _tag: "Park", delayMillis: backoff(attempt.tries), why: `seller ${attempt.seller_name} unavailable while resolving` } as const
              }
              yield* store.fenced(lease, store.updateAttempt(attempt.id, "failed", { reason: "seller_not_available" }))
              return next
            }
            if (attempt.status === "purchasing" || attempt.status === "unknown" || attempt.status === "held") {
              return yield* purchase(attempt, client.value)
            }
            // pending, or holding (we crashed while holding: a hold harms nobody, it expires; take a new one)
            if (!client.value.capabilities.holds) return yield* purchase({ ...attempt, status: "purchasing" }, client.value)
            yield* store.fenced(lease, store.updateAttempt(attempt.id, "holding"))
            const held = yield* admittedCall(state, client.value, client.value.hold(decodeOffer(attempt.offer)))
            if (held._tag === "Denied") {
              if (held.reason === "circuit_open") {
                // The seller is failing for everyone right now: the next offer rather than a wait.
                yield* store.fenced(lease, store.updateAttempt(attempt.id, "failed", { reason: "unavailable:circuit_open" }))
                return next
              }
              return parkForSeller(attempt, held.retryAfterMillis)
            }
            yield* crash("hold", row.id)
            if (held._tag === "Left") {
              yield* store.fenced(lease, store.updateAttempt(attempt.id, "failed", { reason: sellerReason(held.left) }))
              return next
            }
            if (held.right.total.amount > Number(row.max_amount)) {
              // Best effort (a hold expires anyway), and only within the seller's limits.
              yield* Effect.ignore(admittedCall(state, client.value, client.value.release(held.right), 500))
              yield* store.fenced(lease, store.updateAttempt(attempt.id, "failed", { hold: encodeHold(held.right), reason: "held_price_above_max" }))
              return next
            }
            yield* store.fenced(lease, store.updateAttempt(attempt.id, "held", { hold: encodeHold(held.right) }))
            return yield* purchase({ ...attempt, status: "held", hold: encodeHold(held.right) }, client.value)
          })

        const capture = (attempt: AttemptRow) =>
          Effect.gen(function* () {
            const orderTotal = Number(attempt.order_total)
            const key = `${row.id}:capture:${row.round}`
            const authorization: PaymentOperationRow | undefined = yield* store.liveAuthorization(row.id)
            if (authorization === undefined) {
              // Settled already (the capture ends the authorization): finish from the record. Only
              // data written before capture and `purchased` were one transaction can look like this.
              const payments = yield* store.payments(row.id)
              const settled = payments.find((payment) => payment.idempotency_key === key && payment.status === "succeeded")
              if (settled === undefined) {
                yield* transition("failed", "order_without_authorization")
                return next
              }
              const authorizedBy = payments.find((payment) => payment.kind === "authorize" && payment.provider_ref === settled.provider_ref)
              yield* transition("purchased", orderTotal > Number(authorizedBy?.amount ?? settled.amount) ? "seller_charged_above_max" : null, {
                final_amount: Number(settled.amount),
                seller_id: attempt.seller_id,
                order_id: attempt.order_id
              })
              return next
            }
            const authorized = Number(authorization.amount)
            const amount = Math.min(orderTotal, authorized)
            const operation = yield* store.fenced(lease, store.ensurePayment(row.id, "capture", row.round, key, amount, row.currency.trim()))
            const captured = yield* Effect.either(
              withQuickRetry(gateway.capture({ idempotencyKey: key, providerRef: authorization.provider_ref!, amount: money(amount, row.currency) }))
            )
            yield* crash("capture", row.id)
            if (captured._tag === "Left") {
              if (captured.left._tag === "PaymentUnavailable") {
                return { _tag: "Park", delayMillis: backoff(operation.tries), why: `capture: ${captured.left.detail}` } as const
              }
              yield* store.fenced(lease, store.settlePayment(key, "rejected", null, false, captured.left.detail))
              yield* transition("failed", `capture_rejected: ${captured.left.detail}`)
              return next
            }
            // The capture's outcome and `purchased` commit together: a worker that stops in between
            // must not leave a charged, ordered request for the next one to find without authorization.
            row = yield* store.fenced(
              lease,
              Effect.zipRight(
                Effect.zipRight(store.settlePayment(key, "succeeded", authorization.provider_ref, false, null), store.endAuthorization(row.id)),
                store.transition(lease, row.status, "purchased", orderTotal > authorized ? "seller_charged_above_max" : null, {
                  final_amount: amount,
                  seller_id: attempt.seller_id,
                  order_id: attempt.order_id
                })
              )
            )
            return next
          })

        const purchasing = Effect.gen(function* () {
          const attempts = (yield* store.attempts(row.id)).filter((attempt) => attempt.round === row.round || attempt.status === "confirmed")
          const confirmed = attempts.find((attempt) => attempt.status === "confirmed")
          if (confirmed !== undefined) return yield* capture(confirmed)
          const open = attempts.find((attempt) => attempt.status !== "pending" && attempt.status !== "failed")
          const pending = attempts.find((attempt) => attempt.status === "pending")
          const current = open ?? pending
          if (current === undefined) return yield* finish("not_available", "all_offers_failed")
          return yield* attemptOne(current)
        })

        const step = (): Effect.Effect<Step, LeaseLost | SqlError.SqlError> => {
          switch (row.status) {
            case "received":
              return authorize
            case "authorized":
            case "quoting":
              return quote
            case "deciding":
              return decide
            case "purchasing":
              return purchasing
            default:
              return Effect.succeed(next)
          }
        }

        while (!isTerminal(row.status)) {
          const result = yield* step()
          if (result._tag === "Park") {
            yield* store.park(lease, result.delayMillis)
            return { _tag: "Parked", delayMillis: result.delayMillis, why: result.why } as const
          }
        }
        return { _tag: "Finished", status: row.status as TerminalStatus } as const
      })

    const service: PurchasePipelineService = {
      leaseMillis,
      store,
      process: (claimed, worker) =>
        run(claimed, { requestId: claimed.id, worker, fence: claimed.fence, leaseMillis }).pipe(
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
): Layer.Layer<PurchasePipeline, never, SqlClient.SqlClient | PaymentGateway | QuoteEngine | SellerDirectory | SellerPool | SharedState> =>
  Layer.effect(PurchasePipeline, make(options))
