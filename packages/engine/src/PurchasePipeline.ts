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
 * | status | step | moves to |
 * | --- | --- | --- |
 * | received | authorize the maximum | authorized · failed |
 * | authorized, quoting | quote; sellers not reached yet asked again until the answer time (or reuse an accepted counter-offer's round) | deciding |
 * | deciding | rank the offers against the maximum | purchasing · price_not_met · not_available · sellers_busy |
 * | purchasing | hold → purchase, cheapest first; capture the confirmed order | purchased · not_available · failed |
 *
 * While a run waits on a call its lease is renewed (a heartbeat); a run whose lease was taken
 * over stops, and its writes are refused by the fencing version.
 */
import { Contract, Money, type Isbn, type SellerClient } from "@bookbroker/adapter-sdk"
import type { SqlClient, SqlError, Statement } from "effect/sql"
import { Clock, Context, Effect, Layer, Option, Result, Schedule, Schema } from "effect"
import {
  holdNotGivenBack,
  isTerminal,
  LeaseLost,
  makeStore,
  type AttemptRow,
  type Lease,
  type PaymentKind,
  type PaymentOperationRow,
  type PurchaseStatus,
  type PurchaseStore,
  type QuoteRow,
  type RequestChanges,
  type RequestRow,
  type StepChanges,
  type TerminalStatus
} from "./internal/purchaseStore.js"
import { admittedCall } from "./internal/sellerCall.js"
import { recordPurchaseOutcome } from "./Metrics.js"
import { PaymentGateway, type PaymentGatewayService, PaymentUnavailable } from "./PaymentGateway.js"
import * as AttemptResolution from "./purchases/AttemptResolution.js"
import * as FallbackPolicy from "./purchases/FallbackPolicy.js"
import * as PurchaseKeys from "./purchases/PurchaseKeys.js"
import * as PushedOffers from "./PushedOffers.js"
import * as QuoteEngine from "./QuoteEngine.js"
import * as QuoteProgress from "./quotes/QuoteProgress.js"
import { SellerDirectory } from "./SellerDirectory.js"
import { SellerPool } from "./SellerPool.js"
import { SharedState } from "./SharedState.js"

/** Where a test (or the chaos suite) may kill a worker: right after the external call, before its result is stored. */
export type CrashPoint = "authorize" | "quote" | "hold" | "purchase" | "capture" | "void"

/** Thrown by the crash hook; the worker fiber dies with it, its lease left to expire. */
export class SimulatedCrash extends Schema.TaggedError<SimulatedCrash>()("SimulatedCrash", { point: Schema.String, requestId: Schema.String }) {}

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
   * How long, from the start of quoting, sellers that failed (an error, a refused connection, no
   * answer in time, an open circuit) are asked again while nothing within the maximum is offered.
   * After that their failure is final: a dead seller means fewer quotes, and the request is
   * answered from the sellers that did answer. Default: the whole answer time (a slower true
   * answer beats a fast false one — the chaos suite's false-answer check found windows of 10 s and
   * 40 s giving up on sellers whose circuits stayed open under load); a deployment that prefers
   * quick answers despite a dead seller sets a window.
   */
  readonly retryFailedForMillis?: number
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

export class PurchasePipeline extends Context.Service<PurchasePipeline, PurchasePipelineService>()("@bookbroker/engine/PurchasePipeline") {}

type Step = { readonly _tag: "Continue" } | { readonly _tag: "Park"; readonly delayMillis: number; readonly why: string }
const next: Step = { _tag: "Continue" }
const park = (delayMillis: number, why: string): Step => ({ _tag: "Park", delayMillis, why })

const encodeOffer = Schema.encodeSync(Contract.Offer)
const decodeOffer = Schema.decodeUnknownSync(Contract.Offer)
const encodeHold = Schema.encodeSync(Contract.Hold)
const decodeHold = Schema.decodeUnknownSync(Contract.Hold)

const defaultDeadlineMillis = 24 * 60 * 60 * 1_000

export const make = (options: PipelineOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* makeStore
    const writes = store.writes
    const gateway: PaymentGatewayService = yield* PaymentGateway
    const quoteEngine = yield* QuoteEngine.QuoteEngine
    const directory = yield* SellerDirectory
    const pool = yield* SellerPool
    const state = yield* SharedState
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

    const crash = (point: CrashPoint, requestId: string) =>
      options.crashAt?.(point, requestId) === true ? Effect.die(new SimulatedCrash({ point, requestId })) : Effect.void

    /** Payment calls: a few quick retries for an unknown outcome, always with the same key. */
    const withQuickRetry = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.retry({ schedule: quickRetry, while: (error) => error instanceof PaymentUnavailable }))

    const money = (amount: number | string, currency: string) => Money.make(Number(amount), currency.trim())

    /** Every run's lease clock: when the lease was last renewed (by a fenced write or the heartbeat). */
    interface LeaseClock {
      renewedAt: number
    }

    const run = (initial: RequestRow, lease: Lease, leaseClock: LeaseClock) =>
      Effect.gen(function* () {
        let row = initial
        const currency = row.currency.trim()
        /** The quotes this run saved (the decision reads them from here instead of the database). */
        let saved: { readonly round: number; readonly quotes: ReadonlyArray<QuoteRow> } | undefined
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
        /** One step's writes, as one statement that commits only while this run holds the lease. */
        const commit = (changes: StepChanges) =>
          Effect.map(renewing(store.step(lease, row, changes)), (updated) => {
            row = updated
          })
        const transition = (to: PurchaseStatus, reason: string | null, changes?: RequestChanges, also: ReadonlyArray<Statement.Fragment> = []) =>
          commit({ transition: { to, reason, ...(changes === undefined ? {} : { changes }) }, writes: also })
        /** A payment call's intent, recorded before the call (with the lease check). */
        const intent = (kind: PaymentKind, round: number, key: string, amount: number) =>
          renewing(store.paymentIntent(lease, kind, round, key, amount, currency))

        /** Ends the request, voiding a live authorization first. */
        const finish = (status: TerminalStatus, reason: string, changes?: RequestChanges): Effect.Effect<Step, LeaseLost | SqlError.SqlError> =>
          Effect.gen(function* () {
            const authorization = yield* store.liveAuthorization(row.id)
            if (authorization !== undefined) {
              const key = PurchaseKeys.payment(row.id, "void", authorization.round)
              const operation = yield* intent("void", authorization.round, key, 0)
              const voided = yield* Effect.result(withQuickRetry(gateway.void({ idempotencyKey: key, providerRef: authorization.provider_ref! })))
              yield* crash("void", row.id)
              if (voided._tag === "Failure") {
                if (voided.failure._tag === "PaymentUnavailable") {
                  return park(backoff(operation.tries), "releasing the payment authorization: the payment provider did not answer; trying again")
                }
                // The provider refuses to void: leave the authorization marked live for the reconciler, end the request.
                yield* transition("failed", `void_rejected: ${voided.failure.detail}`, undefined, [writes.settlePayment(key, "rejected", null, false, voided.failure.detail)])
                return next
              }
              yield* transition(status, reason, changes, [writes.settlePayment(key, "succeeded", authorization.provider_ref, false, null), writes.endAuthorization()])
              return next
            }
            yield* transition(status, reason, changes)
            return next
          })

        const authorize = Effect.gen(function* () {
          const key = PurchaseKeys.payment(row.id, "authorize", row.round)
          const amount = Number(row.max_amount)
          const operation = yield* intent("authorize", row.round, key, amount)
          const result = yield* Effect.result(
            withQuickRetry(gateway.authorize({ idempotencyKey: key, requestId: row.id, amount: money(amount, currency), paymentToken: row.payment_token }))
          )
          yield* crash("authorize", row.id)
          if (result._tag === "Success") {
            // Authorized, and quoting starts at once: one write for both.
            yield* commit({
              transition: { to: "quoting", through: ["authorized"], reason: null },
              writes: [writes.settlePayment(key, "succeeded", result.success.providerRef, true, null)]
            })
            return next
          }
          const error = result.failure
          if (error._tag === "PaymentDeclined") {
            yield* transition("failed", `payment_declined: ${error.reason}`, undefined, [writes.settlePayment(key, "declined", null, false, error.reason)])
            return next
          }
          if (error._tag === "PaymentRejected" || operation.tries >= maxPaymentTries) {
            // Give up; the sweeper voids whatever the provider may still hold for this request.
            yield* transition("failed", `payment_unavailable: ${error.detail}`, undefined, [writes.settlePayment(key, "rejected", null, false, error.detail)])
            return next
          }
          return park(error.retryAfterMillis ?? backoff(operation.tries), "authorizing the payment: the payment provider did not answer; trying again")
        })

        /** Offers as bought from: prices sellers pushed are never bought from, those sellers are asked afresh. */
        const confirmedOffers = (isbn: Isbn.Isbn13, book: QuoteEngine.OfferBook, deadlineMillis: number) =>
          Effect.gen(function* () {
            const pushed = book.offers.filter((offer) => PushedOffers.isPushed(offer.offer))
            if (pushed.length === 0) return { offers: book.offers, outcomes: book.outcomes }
            const asked = yield* quoteEngine.quotes(isbn, { currency, tenant: row.customer_id, sellerIds: pushed.map((offer) => offer.sellerId), cache: false, deadlineMillis })
            const offers = [...book.offers, ...asked.offers].filter((offer) => !PushedOffers.isPushed(offer.offer))
            const again = new Map(asked.outcomes.map((outcome) => [outcome.sellerId, outcome]))
            return { offers, outcomes: book.outcomes.map((outcome) => again.get(outcome.sellerId) ?? outcome) }
          })

        /**
         * Asks every seller, then — until the request's answer time — again the ones whose limits
         * had no room for it yet (`not_asked`) and the ones that did not answer (an error, a
         * refused connection, no answer by the fan-out's deadline): a seller that never answered is
         * never read as "no offer". Progress (asked, answered, not asked and why) is kept on the
         * request.
         */
        const quote = Effect.gen(function* () {
          if (row.status === "authorized") yield* transition("quoting", null)
          if (row.round > 0 && row.counter_offer !== null) {
            // An accepted counter-offer buys from the offers of the round it came from (a
            // retried request has none: it quotes afresh, for its new round).
            yield* transition("deciding", null)
            return next
          }
          const isbn = row.isbn as Isbn.Isbn13
          const answerBy = row.created_at.getTime() + (row.answer_within_millis ?? answerWithinMillis)
          const offers = new Map<string, QuoteEngine.RankedOffer>()
          const outcomes = new Map<string, QuoteEngine.SellerOutcome>()
          let sellerIds: ReadonlyArray<string> | undefined
          const retryFailedUntil = (yield* Clock.currentTimeMillis) + retryFailedForMillis
          for (let pass = 0; ; pass++) {
            const now = yield* Clock.currentTimeMillis
            const left = Math.max(minQuoteMillis, answerBy - now)
            // The first pass as any fan-out; later ones wait in the sellers' queues for the rest of the answer time.
            const book = yield* quoteEngine.quotes(isbn, {
              currency,
              tenant: row.customer_id,
              deadlineMillis: pass === 0 ? Math.min(left, quoteDeadlineMillis) : left,
              ...(sellerIds === undefined ? {} : { sellerIds })
            })
            const confirmed = yield* confirmedOffers(isbn, book, Math.min(left, quoteDeadlineMillis))
            for (const offer of confirmed.offers) offers.set(offer.sellerId, offer)
            for (const outcome of confirmed.outcomes) outcomes.set(outcome.sellerId, outcome)
            const progress = QuoteProgress.summarize(outcomes.values(), offers.size, new Date(yield* Clock.currentTimeMillis))
            // With an offer within the maximum the request can buy: sellers that failed are not
            // waited for (as stragglers are not); without one, they are asked again for a while
            // (a refused connection is often a blip), then their failure is final.
            const canBuy = [...offers.values()].some((offer) => offer.total.amount <= Number(row.max_amount))
            const retryFailed = !canBuy && (yield* Clock.currentTimeMillis) < retryFailedUntil
            const unanswered = retryFailed ? QuoteProgress.unanswered(outcomes.values()) : progress.notAsked.map((seller) => seller.sellerId)
            if (unanswered.length === 0 || (yield* Clock.currentTimeMillis) >= answerBy) break
            // Say how far it got (the status shows it), then ask the rest.
            yield* commit({ progress: { progress, waiting: `${QuoteProgress.describe(progress)}; answer by ${new Date(answerBy).toISOString()} at the latest` } })
            // Sellers waiting for room in their limits wait in their queues; sellers that failed
            // are asked again after a pause, not in a tight loop.
            if (progress.notAsked.length === 0) {
              const now = yield* Clock.currentTimeMillis
              yield* Effect.sleep(Math.max(0, Math.min(retryFailedMillis, answerBy - now, retryFailedUntil - now)))
            }
            sellerIds = unanswered
          }
          yield* crash("quote", row.id)
          const ranked = [...offers.values()].sort((a, b) => a.total.amount - b.total.amount || b.reliability - a.reliability)
          const quotedAt = yield* Clock.currentTimeMillis
          const progress = { ...QuoteProgress.summarize(outcomes.values(), ranked.length, new Date(quotedAt)), ...(quotedAt >= retryFailedUntil ? { failedFinal: true } : {}) }
          const quotes = ranked.map((offer, rank) => ({
            seller_id: offer.sellerId,
            seller_name: offer.sellerName,
            rank,
            total: offer.total.amount,
            currency: offer.total.currency,
            offer: encodeOffer(offer.offer)
          }))
          const round = row.round
          yield* transition("deciding", `${ranked.length} offers from ${outcomes.size} sellers`, { quote_progress: progress }, [writes.saveQuotes(round, quotes)])
          saved = { round, quotes: quotes.map((quote) => ({ ...quote, total: String(quote.total) })) }
          return next
        })

        /** Ends the request as the fallback policy says (a counter-offer with `price_not_met`). */
        const end = (ending: FallbackPolicy.Ending) => {
          switch (ending._tag) {
            case "SellersBusy":
              return finish("sellers_busy", ending.reason)
            case "NotAvailable":
              return finish("not_available", ending.reason)
            case "PriceNotMet":
              return finish("price_not_met", ending.reason, {
                counter_offer: FallbackPolicy.counterOffer(row.round, ending.cheapest, decodeOffer(ending.cheapest.offer).expiresAt)
              })
          }
        }

        const decide = Effect.gen(function* () {
          const round = FallbackPolicy.offersRound(row)
          const quotes = saved?.round === round ? saved.quotes : yield* store.quotes(row.id, round)
          const decision = FallbackPolicy.decide(row, quotes)
          if (decision._tag !== "Purchase") return yield* end(decision)
          yield* transition("purchasing", decision.reason, undefined, [
            writes.createAttempts(row.id, row.round, decision.within.map((quote) => ({ seller_id: quote.seller_id, seller_name: quote.seller_name, rank: quote.rank, offer: quote.offer })))
          ])
          return next
        })

        const clientFor = (attempt: AttemptRow) =>
          directory.get(attempt.seller_id).pipe(
            Effect.flatMap((seller) => pool.client(seller)),
            Effect.option
          )

        /** No permit within the seller's shared limits: look at the request again once one is likely. */
        const parkForSeller = (attempt: AttemptRow, retryAfterMillis: number): Step =>
          park(Math.min(maxBackoff, Math.max(250, retryAfterMillis)), `waiting for a turn within ${attempt.seller_name}'s request limits`)

        /**
         * The attempt stays open: an order may exist. Asked again later; past its deadline a
         * person is asked to look (once), and the customer is told so.
         */
        /** `sellerSaid`: the seller's own words about the last try, for operators (logs, the finding), never the customer. */
        const unresolved = (attempt: AttemptRow, reason: string, retryAfterMillis: number | undefined, sellerSaid?: string) =>
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const since = attempt.first_sent_at?.getTime() ?? now
            const overdue = now - since >= deadlineMillis
            if (sellerSaid !== undefined) {
              yield* Effect.logWarning("purchase outcome unknown").pipe(
                Effect.annotateLogs({ "seller.id": attempt.seller_id, "attempt.id": attempt.id, reason, seller_said: sellerSaid.slice(0, 500) })
              )
            }
            // Past the deadline a person is asked to look, once: the request's flag and a finding saying what is known.
            const detail =
              `the purchase at ${attempt.seller_name} (idempotency key ${attempt.idempotency_key}) has had no authoritative answer since ${new Date(since).toISOString()} ` +
              `(${attempt.tries + 1} tries, last: ${reason}${sellerSaid === undefined ? "" : `; the seller said: ${sellerSaid.slice(0, 500)}`}); ` +
              `nothing else is bought for this request until it is settled — ask the seller whether that order exists`
            const flag = overdue && row.attention !== "unresolved_attempt"
            yield* commit({
              writes: [writes.updateAttempt(attempt.id, "unknown", { reason }), ...(flag ? [writes.finding("attempt_unresolved", detail, true)] : [])],
              ...(flag ? { attention: { kind: "unresolved_attempt", detail } } : {})
            })
            const why = `waiting for ${attempt.seller_name} to confirm whether the order was placed${overdue ? "; an operator is checking with the seller" : ""}`
            return park(Math.min(maxBackoff, Math.max(retryAfterMillis ?? 0, backoff(attempt.tries))), why)
          })

        /** A confirmed order: recorded, checked against what was agreed, then captured. */
        const confirmed = (attempt: AttemptRow, order: Contract.Order, agreed: Money.Money) =>
          Effect.gen(function* () {
            const sameCurrency = order.total.currency === currency
            const reason = sameCurrency ? null : `order_currency_mismatch: ${order.total.currency}`
            const mismatch = `${attempt.seller_name} confirmed order ${order.orderId} in ${order.total.currency} (${order.total.amount}), the request is in ${currency}: not captured — settle the order with the seller`
            yield* commit({
              writes: [
                writes.updateAttempt(attempt.id, "confirmed", { orderId: order.orderId, orderTotal: order.total.amount, ...(reason === null ? {} : { reason }) }),
                ...(!sameCurrency
                  ? [writes.finding("order_currency_mismatch", mismatch, true)]
                  : order.total.amount > agreed.amount
                    ? [writes.finding(
                        "order_above_agreed_price",
                        `${attempt.seller_name} confirmed order ${order.orderId} at ${order.total.amount} ${currency}, above the ${agreed.amount} it held or quoted` +
                          (order.total.amount > Number(row.max_amount) ? ` and above the customer's maximum ${row.max_amount}: the customer is charged the maximum` : ""),
                        false
                      )]
                    : [])
              ],
              ...(sameCurrency ? {} : { attention: { kind: "order_mismatch", detail: mismatch } })
            })
            return yield* capture({ ...attempt, status: "confirmed", order_id: order.orderId, order_total: String(order.total.amount), reason })
          })

        /** Gives a hold back within the seller's limits (waiting half a second at most): true when the seller took it. */
        const releaseHold = (client: SellerClient.SellerClient, hold: Contract.Hold) =>
          Effect.map(admittedCall(state, client, client.release(hold), 500), (outcome) => outcome._tag !== "Denied" && Result.isSuccess(outcome))

        /** Places (or replays) the purchase of an attempt; only an authoritative answer closes it. */
        const purchase = (attempt: AttemptRow, client: SellerClient.SellerClient, freshHold?: Contract.Hold) =>
          Effect.gen(function* () {
            const offer = decodeOffer(attempt.offer)
            const hold = freshHold ?? (attempt.hold === null ? undefined : decodeHold(attempt.hold))
            const agreed = hold?.total ?? offer.total
            // When the last try was sent, by whichever worker: adapters for platforms without idempotency keys wait for it to settle.
            const previouslySent = attempt.last_sent_at === null ? {} : { previouslySentAt: attempt.last_sent_at }
            // An earlier try may have reached the seller (it was left unknown, or its worker stopped mid-call).
            let maybeSent = attempt.status === "unknown" || attempt.tries > 0
            if (maybeSent && client.capabilities.orderLookup) {
              const looked = yield* admittedCall(state, client, client.lookupOrder({ idempotencyKey: attempt.idempotency_key, isbn: offer.isbn, ...previouslySent }))
              if (looked._tag === "Denied") return parkForSeller(attempt, looked.retryAfterMillis)
              const lookup = AttemptResolution.afterLookup(looked)
              if (lookup._tag === "Found") return yield* confirmed(attempt, lookup.order, agreed)
              if (lookup._tag === "NotFound") maybeSent = false
            }
            const carried = attempt.reason === null ? {} : { reason: attempt.reason }
            // A run that lost its lease cannot record a hold it just took, and nobody else knows of
            // it (holds carry no key; the new owner takes its own): it gives it back.
            const recording = (write: Effect.Effect<void, LeaseLost | SqlError.SqlError>) =>
              write.pipe(Effect.tapError((error) => (error._tag === "LeaseLost" && freshHold !== undefined ? Effect.asVoid(releaseHold(client, freshHold)) : Effect.void)))
            // The purchase's intent (with the hold just taken, if any), written once the seller's
            // permit is held, right before the call: a denied permit sent nothing and stamps nothing.
            const intentToSend = recording(
              commit({
                writes: [writes.updateAttempt(attempt.id, maybeSent ? "unknown" : "purchasing", {
                  sending: true,
                  ...(freshHold === undefined ? {} : { hold: encodeHold(freshHold) }),
                  ...carried
                })]
              })
            )
            const answer = yield* admittedCall(
              state,
              client,
              client.purchase({
                isbn: offer.isbn,
                source: hold === undefined ? { _tag: "Offer", offer } : { _tag: "Hold", hold },
                idempotencyKey: attempt.idempotency_key,
                maxTotal: money(row.max_amount, currency),
                buyerReference: row.id,
                ...previouslySent
              }),
              undefined,
              intentToSend
            )
            // No permit from the seller's limits (nothing was sent now): the same step, a little
            // later — from the hold just taken, which is recorded for it.
            if (answer._tag === "Denied") {
              if (freshHold !== undefined) yield* recording(commit({ writes: [writes.updateAttempt(attempt.id, "held", { hold: encodeHold(freshHold), ...carried })] }))
              return parkForSeller(attempt, answer.retryAfterMillis)
            }
            yield* crash("purchase", row.id)
            const resolution = AttemptResolution.afterPurchase(answer, maybeSent)
            switch (resolution._tag) {
              case "Confirmed":
                return yield* confirmed(attempt, resolution.order, agreed)
              case "Failed": {
                // The seller refused the order (an authoritative answer): the hold it came from is
                // given back, not left to block the copy until it expires — now if the seller's
                // limits allow, else by the sweeper (`holdNotGivenBack`).
                const released = hold === undefined ? true : yield* releaseHold(client, hold)
                yield* commit({ writes: [writes.updateAttempt(attempt.id, "failed", { reason: released ? resolution.reason : `${resolution.reason}${holdNotGivenBack}` })] })
                return next
              }
              case "Unresolved":
                return yield* unresolved(attempt, resolution.reason, resolution.retryAfterMillis, resolution.detail)
            }
          })

        /**
         * Holds the offer (sellers with holds), re-checks the held price against the maximum and
         * against the next offer in line, then purchases.
         */
        const holdThenPurchase = (attempt: AttemptRow, client: SellerClient.SellerClient, nextInLine: AttemptRow | undefined) =>
          Effect.gen(function* () {
            if (!client.capabilities.holds) return yield* purchase({ ...attempt, status: "purchasing" }, client)
            const offer = decodeOffer(attempt.offer)
            const held = yield* admittedCall(state, client, client.hold(offer))
            if (held._tag === "Denied") {
              if (held.reason === "circuit_open") {
                // The seller is failing for everyone right now: the next offer rather than a wait.
                yield* commit({ writes: [writes.updateAttempt(attempt.id, "failed", { reason: "unavailable:circuit_open" })] })
                return next
              }
              return parkForSeller(attempt, held.retryAfterMillis)
            }
            yield* crash("hold", row.id)
            if (held._tag === "Failure") {
              yield* commit({ writes: [writes.updateAttempt(attempt.id, "failed", { reason: AttemptResolution.describe(held.failure) })] })
              return next
            }
            const refusal = FallbackPolicy.heldPriceRefusal({
              total: held.success.total,
              currency,
              maxAmount: Number(row.max_amount),
              quotedTotal: offer.total.amount,
              nextInLine: nextInLine === undefined ? undefined : { sellerName: nextInLine.seller_name, total: decodeOffer(nextInLine.offer).total.amount }
            })
            if (refusal !== undefined) {
              // Given back (best effort within the seller's limits; a hold expires anyway).
              const released = yield* releaseHold(client, held.success)
              yield* commit({ writes: [writes.updateAttempt(attempt.id, "failed", { hold: encodeHold(held.success), reason: released ? refusal : `${refusal}${holdNotGivenBack}` })] })
              return next
            }
            return yield* purchase(attempt, client, held.success)
          })

        const attemptOne = (attempt: AttemptRow, nextInLine: AttemptRow | undefined) =>
          Effect.gen(function* () {
            const client = yield* clientFor(attempt)
            // A purchase may have been sent: it stays open whatever else happens.
            const mayHaveOrdered = FallbackPolicy.mayHaveOrdered(attempt)
            if (Option.isNone(client)) {
              if (mayHaveOrdered) return yield* unresolved(attempt, "seller_not_available: its client could not be built", undefined)
              yield* commit({ writes: [writes.updateAttempt(attempt.id, "failed", { reason: "seller_not_available" })] })
              return next
            }
            if (mayHaveOrdered || attempt.status === "held") return yield* purchase(attempt, client.value)
            // pending (a run that stopped while a hold was on its way left it so: a hold harms nobody, it
            // expires; take a new one), or `holding`, which older versions wrote before the hold call
            return yield* holdThenPurchase(attempt, client.value, nextInLine)
          })

        const capture = (attempt: AttemptRow) =>
          Effect.gen(function* () {
            if (attempt.reason?.startsWith("order_currency_mismatch") === true) {
              // Nothing sensible to capture: a person settles it (the finding says how).
              return park(maxBackoff, `the order at ${attempt.seller_name} needs an operator's check before payment`)
            }
            const orderTotal = Number(attempt.order_total)
            const key = PurchaseKeys.payment(row.id, "capture", row.round)
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
            // Never more than the customer authorized; an order above it is a finding (see `confirmed`).
            const amount = Math.min(orderTotal, authorized)
            const operation = yield* intent("capture", row.round, key, amount)
            const captured = yield* Effect.result(
              withQuickRetry(gateway.capture({ idempotencyKey: key, providerRef: authorization.provider_ref!, amount: money(amount, currency) }))
            )
            yield* crash("capture", row.id)
            if (captured._tag === "Failure") {
              if (captured.failure._tag === "PaymentUnavailable") return park(backoff(operation.tries), "taking the payment: the payment provider did not answer; trying again")
              if (captured.failure.authorizationEnded === true) {
                // The provider's own record says the authorization is gone (it lapsed, or was
                // voided): recorded as ended with the refusal, so nobody tries to void or count it
                // as held. The seller's order stays unpaid: the reconciler's order_without_capture.
                yield* transition("failed", `capture_rejected: the authorization ended at the payment provider before the capture (${captured.failure.detail})`, undefined, [
                  writes.settlePayment(key, "rejected", null, false, captured.failure.detail),
                  writes.endAuthorization()
                ])
                return next
              }
              yield* transition("failed", `capture_rejected: ${captured.failure.detail}`, undefined, [writes.settlePayment(key, "rejected", null, false, captured.failure.detail)])
              return next
            }
            // The capture's outcome and `purchased` commit together: a worker that stops in between
            // must not leave a charged, ordered request for the next one to find without authorization.
            yield* transition(
              "purchased",
              orderTotal > authorized ? "seller_charged_above_max" : null,
              { final_amount: amount, seller_id: attempt.seller_id, order_id: attempt.order_id },
              [writes.settlePayment(key, "succeeded", authorization.provider_ref, false, null), writes.endAuthorization()]
            )
            return next
          })

        const purchasing = Effect.gen(function* () {
          const next = FallbackPolicy.nextAttempt(yield* store.attempts(row.id), row.round)
          switch (next._tag) {
            case "Capture":
              return yield* capture(next.attempt)
            case "Try":
              return yield* attemptOne(next.attempt, next.nextInLine)
            case "EveryOfferFailed":
              return yield* end(FallbackPolicy.afterEveryOfferFailed(row, yield* store.quotes(row.id, FallbackPolicy.offersRound(row))))
          }
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
            yield* store.park(lease, result.delayMillis, result.why)
            return { _tag: "Parked", delayMillis: result.delayMillis, why: result.why } as const
          }
        }
        return { _tag: "Finished", status: row.status as TerminalStatus } as const
      })

    /**
     * Renews the lease while the run waits on a long call (a seller may take up to two minutes);
     * fails with `LeaseLost` once another worker holds the request, which stops the run.
     */
    const heartbeat = (lease: Lease, leaseClock: LeaseClock): Effect.Effect<never, LeaseLost> =>
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

    const service: PurchasePipelineService = {
      leaseMillis,
      store,
      process: (claimed, worker) =>
        Effect.gen(function* () {
          const lease: Lease = { requestId: claimed.id, worker, fence: claimed.fence, leaseMillis }
          const leaseClock: LeaseClock = { renewedAt: yield* Clock.currentTimeMillis }
          return yield* Effect.raceFirst(run(claimed, lease, leaseClock), heartbeat(lease, leaseClock))
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
