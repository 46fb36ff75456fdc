/**
 * `purchasing`: hold → purchase, cheapest first, one attempt at a time, each with its own
 * idempotency key; only an authoritative answer about that key closes an attempt
 * (`AttemptResolution`), and which attempt comes next is the fallback policy's call.
 */
import { Money, type Contract, type SellerClient } from "@bookbroker/adapter-sdk"
import type { SqlError } from "effect/sql"
import { Clock, Effect, Option, Result } from "effect"
import { type AttemptRow, holdNotGivenBack, type LeaseLost } from "../store/PurchaseStore.js"
import { admittedCall } from "../../sellers/SellerCall.js"
import * as AttemptResolution from "../AttemptResolution.js"
import * as FallbackPolicy from "../FallbackPolicy.js"
import * as PurchaseKeys from "../PurchaseKeys.js"
import * as ScarceCopies from "../ScarceCopies.js"
import { capture } from "./capture.js"
import { end } from "./finish.js"
import { confirmLeads } from "./quote.js"
import { decodeHold, decodeOffer, encodeHold, next, park, type RunContext, type Step } from "./Run.js"

export const clientFor = (ctx: RunContext, attempt: AttemptRow) =>
  ctx.directory.get(attempt.seller_id).pipe(
    Effect.flatMap((seller) => ctx.pool.client(seller)),
    Effect.option
  )

/** No permit within the seller's shared limits: look at the request again once one is likely. */
export const parkForSeller = (ctx: RunContext, attempt: AttemptRow, retryAfterMillis: number): Step =>
  park(Math.min(ctx.maxBackoff, Math.max(250, retryAfterMillis)), `waiting for a turn within ${attempt.seller_name}'s request limits`)

/**
 * The attempt stays open: an order may exist. Asked again later; past its deadline a
 * person is asked to look (once), and the customer is told so.
 */
/** `sellerSaid`: the seller's own words about the last try, for operators (logs, the finding), never the customer. */
export const unresolved = (ctx: RunContext, attempt: AttemptRow, reason: string, retryAfterMillis: number | undefined, sellerSaid?: string) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const since = attempt.first_sent_at?.getTime() ?? now
    const overdue = now - since >= ctx.unresolvedDeadlineMillis
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
    const flag = overdue && ctx.row.attention !== "unresolved_attempt"
    yield* ctx.commit({
      writes: [ctx.writes.updateAttempt(attempt.id, "unknown", { reason }), ...(flag ? [ctx.writes.finding("attempt_unresolved", detail, true)] : [])],
      ...(flag ? { attention: { kind: "unresolved_attempt", detail } } : {})
    })
    const why = `waiting for ${attempt.seller_name} to confirm whether the order was placed${overdue ? "; an operator is checking with the seller" : ""}`
    return park(Math.min(ctx.maxBackoff, Math.max(retryAfterMillis ?? 0, ctx.backoff(attempt.tries))), why)
  })

/** Seller answers that say its quote for the book no longer holds. */
const staleQuoteAnswers: ReadonlySet<string> = new Set([ScarceCopies.outOfStockAnswer, "rejected:price_changed", "rejected:quote_expired"])

/**
 * The seller's cached quote for the book is stale once a copy was sold there (`reason`
 * undefined) or the seller said it no longer holds (`staleQuoteAnswers`): dropped, so the next
 * request for the book asks the seller instead of trying a copy that is gone or a price that
 * changed — a surge's later requests hear "none left" from the seller at once.
 */
const forgetCachedQuote = (ctx: RunContext, attempt: AttemptRow, reason?: string) =>
  reason === undefined || staleQuoteAnswers.has(reason) ? ctx.state.forgetQuotes(ctx.row.isbn, [attempt.seller_id]) : Effect.void

/**
 * A confirmed order: recorded, checked against what was agreed, then captured. An order in the
 * currency the seller agreed in is compared in it; when that is not the request's, it is charged
 * at the rate the request's offers were priced at (`ctx.exchange`). An order in any other
 * currency is not captured: a person settles it.
 */
export const confirmed = (ctx: RunContext, attempt: AttemptRow, order: Contract.Order, agreed: Money.Money) =>
  Effect.gen(function* () {
    const charged = order.total.currency === agreed.currency ? ctx.exchange.convert(order.total) : undefined
    const reason = charged !== undefined ? null : `order_currency_mismatch: ${order.total.currency}`
    const mismatch = `${attempt.seller_name} confirmed order ${order.orderId} in ${order.total.currency} (${order.total.amount}); it agreed in ${agreed.currency}, the request is in ${ctx.currency}: not captured — settle the order with the seller`
    const converted = order.total.currency === ctx.currency ? "" : ` (${charged?.amount ?? "?"} ${ctx.currency} at the request's exchange rate)`
    const orderCurrency = order.total.currency === ctx.currency ? {} : { orderCurrency: order.total.currency }
    yield* ctx.commit({
      writes: [
        ctx.writes.updateAttempt(attempt.id, "confirmed", { orderId: order.orderId, orderTotal: order.total.amount, ...orderCurrency, ...(reason === null ? {} : { reason }) }),
        ...(charged === undefined
          ? [ctx.writes.finding("order_currency_mismatch", mismatch, true)]
          : order.total.amount > agreed.amount
            ? [ctx.writes.finding(
                "order_above_agreed_price",
                `${attempt.seller_name} confirmed order ${order.orderId} at ${order.total.amount} ${order.total.currency}${converted}, above the ${agreed.amount} it held or quoted` +
                  (charged.amount > ctx.row.max_amount ? ` and above the customer's maximum ${ctx.row.max_amount}: the customer is charged the maximum` : ""),
                false
              )]
            : [])
      ],
      ...(charged !== undefined ? {} : { attention: { kind: "order_mismatch", detail: mismatch } })
    })
    yield* forgetCachedQuote(ctx, attempt)
    return yield* capture(ctx, {
      ...attempt,
      status: "confirmed",
      order_id: order.orderId,
      order_total: order.total.amount,
      order_currency: order.total.currency === ctx.currency ? null : order.total.currency,
      reason
    })
  })

/** Said of an attempt closed while a hold a stopped run asked for may be open at the seller, unrecorded. */
const holdMayBeLeft = "; a hold asked for before a worker stopped may be left at the seller until it expires"

const holdKey = (attempt: AttemptRow) => PurchaseKeys.hold(attempt.idempotency_key, attempt.round)

/** The seller keeps this hold under the attempt's hold key: a replay of the key answers it. */
const keptUnderKey = (hold: Contract.Hold, attempt: AttemptRow) => hold.idempotencyKey !== undefined && hold.idempotencyKey === holdKey(attempt)

/** Gives a hold back within the seller's limits (waiting half a second at most): true when the seller took it. */
export const releaseHold = (ctx: RunContext, client: SellerClient.SellerClient, hold: Contract.Hold) =>
  Effect.map(admittedCall(ctx.state, client, client.release(hold), 500), (outcome) => outcome._tag !== "Denied" && Result.isSuccess(outcome))

/** Places (or replays) the purchase of an attempt; only an authoritative answer closes it. */
export const purchase = (ctx: RunContext, attempt: AttemptRow, client: SellerClient.SellerClient, freshHold?: Contract.Hold) =>
  Effect.gen(function* () {
    const offer = decodeOffer(attempt.offer)
    const hold = freshHold ?? (attempt.hold === null ? undefined : decodeHold(attempt.hold))
    const agreed = hold?.total ?? offer.total
    // When the last try was sent, by whichever worker: adapters for platforms without idempotency keys wait for it to settle.
    const previouslySent = attempt.last_sent_at === null ? {} : { previouslySentAt: attempt.last_sent_at }
    // An earlier try may have reached the seller (it was left unknown, or its worker stopped mid-call).
    let maybeSent = attempt.status === "unknown" || attempt.tries > 0
    if (maybeSent && client.capabilities.orderLookup) {
      const looked = yield* admittedCall(ctx.state, client, client.lookupOrder({ idempotencyKey: attempt.idempotency_key, isbn: offer.isbn, ...previouslySent }))
      if (looked._tag === "Denied") return parkForSeller(ctx, attempt, looked.retryAfterMillis)
      const lookup = AttemptResolution.afterLookup(looked)
      if (lookup._tag === "Found") return yield* confirmed(ctx, attempt, lookup.order, agreed)
      if (lookup._tag === "NotFound") maybeSent = false
    }
    const carried = attempt.reason === null ? {} : { reason: attempt.reason }
    // A run that lost its lease cannot record a hold it just took. A hold the seller keeps under
    // the attempt's hold key is the new owner's too (its replay of the key answers this hold): it
    // stays. Any other hold nobody else knows of (the new owner takes its own): it is given back.
    const recording = (write: Effect.Effect<void, LeaseLost | SqlError.SqlError>) =>
      write.pipe(
        Effect.tapError((error) =>
          error._tag === "LeaseLost" && freshHold !== undefined && !keptUnderKey(freshHold, attempt) ? Effect.asVoid(releaseHold(ctx, client, freshHold)) : Effect.void
        )
      )
    // The purchase's intent (with the hold just taken, if any), written once the seller's
    // permit is held, right before the call: a denied permit sent nothing and stamps nothing.
    const intentToSend = recording(
      ctx.commit({
        writes: [ctx.writes.updateAttempt(attempt.id, maybeSent ? "unknown" : "purchasing", {
          sending: true,
          ...(freshHold === undefined ? {} : { hold: encodeHold(freshHold) }),
          ...carried
        })]
      })
    )
    const answer = yield* admittedCall(
      ctx.state,
      client,
      client.purchase({
        isbn: offer.isbn,
        source: hold === undefined ? { _tag: "Offer", offer } : { _tag: "Hold", hold },
        idempotencyKey: attempt.idempotency_key,
        maxTotal: Money.make(ctx.row.max_amount, ctx.currency),
        buyerReference: ctx.row.id,
        ...previouslySent
      }),
      undefined,
      intentToSend
    )
    // No permit from the seller's limits (nothing was sent now): the same step, a little
    // later — from the hold just taken, which is recorded for it.
    if (answer._tag === "Denied") {
      if (freshHold !== undefined) yield* recording(ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "held", { hold: encodeHold(freshHold), ...carried })] }))
      return parkForSeller(ctx, attempt, answer.retryAfterMillis)
    }
    yield* ctx.crash("purchase", ctx.row.id)
    const resolution = AttemptResolution.afterPurchase(answer, maybeSent)
    switch (resolution._tag) {
      case "Confirmed":
        return yield* confirmed(ctx, attempt, resolution.order, agreed)
      case "Failed": {
        // The seller refused the order (an authoritative answer): the hold it came from is
        // given back, not left to block the copy until it expires — now if the seller's
        // limits allow, else by the sweeper (`holdNotGivenBack`).
        const released = hold === undefined ? true : yield* releaseHold(ctx, client, hold)
        yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "failed", { reason: released ? resolution.reason : `${resolution.reason}${holdNotGivenBack}` })] })
        yield* forgetCachedQuote(ctx, attempt, resolution.reason)
        return next
      }
      case "Unresolved":
        return yield* unresolved(ctx, attempt, resolution.reason, resolution.retryAfterMillis, resolution.detail)
    }
  })

/**
 * Holds the offer (sellers with holds), re-checks the held price against the maximum and
 * against the next offer in line, then purchases.
 */
export const holdThenPurchase = (ctx: RunContext, attempt: AttemptRow, client: SellerClient.SellerClient, nextInLine: AttemptRow | undefined) =>
  Effect.gen(function* () {
    const offer = decodeOffer(attempt.offer)
    // Nothing was sent for this attempt yet: a copy other buyers were told is gone is not asked
    // for. A `holding` attempt may hold that very copy (a stopped run's hold, unrecorded): its key
    // is asked for again whatever others were told.
    const quotedAt = Date.parse(ctx.row.quote_progress?.updatedAt ?? "")
    if (attempt.status !== "holding" && Number.isFinite(quotedAt)) {
      const gone = yield* ctx.store.copiesGone({
        requestId: ctx.row.id,
        isbn: ctx.row.isbn,
        sellerIds: [attempt.seller_id],
        windowStart: new Date(quotedAt),
        quotedAt: new Date(quotedAt),
        outOfStockAnswer: ScarceCopies.outOfStockAnswer
      })
      const since = gone.since.get(attempt.seller_id) ?? ScarceCopies.nothingLearnt
      if (ScarceCopies.knownSoldOut(offer.quantity, since)) {
        yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "failed", { reason: ScarceCopies.soldOutReason(since) })] })
        return next
      }
    }
    if (!client.capabilities.holds) return yield* purchase(ctx, { ...attempt, status: "purchasing" }, client)
    // Under the attempt's hold key: a try whose answer was lost (this run's, or a stopped
    // worker's) is answered with the hold it took, by sellers that keep holds per key.
    const holdCall = admittedCall(ctx.state, client, client.hold(offer, 1, holdKey(attempt)))
    const first = yield* holdCall
    // An answer lost on the way: asked once more under the same key (`holdMayExist`).
    const held = first._tag === "Failure" && AttemptResolution.holdMayExist(first.failure) ? yield* holdCall : first
    if (held._tag === "Denied") {
      if (held.reason === "circuit_open") {
        // The seller is failing for everyone right now: the next offer rather than a wait (a
        // stopped run's hold there, if it took one, is said to be left to expire).
        const reason = attempt.status === "holding" ? `unavailable:circuit_open${holdMayBeLeft}` : "unavailable:circuit_open"
        yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "failed", { reason })] })
        return next
      }
      return parkForSeller(ctx, attempt, held.retryAfterMillis)
    }
    yield* ctx.crash("hold", ctx.row.id)
    if (held._tag === "Failure") {
      const reason = AttemptResolution.describe(held.failure)
      yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "failed", { reason })] })
      yield* forgetCachedQuote(ctx, attempt, reason)
      return next
    }
    // Compared in the request's currency, at the rates its offers were priced at (a hold in a currency it was not priced in is refused).
    const inRequest = (money: Money.Money) => ctx.exchange.convert(money) ?? money
    const refusal = FallbackPolicy.heldPriceRefusal({
      total: inRequest(held.success.total),
      currency: ctx.currency,
      maxAmount: ctx.row.max_amount,
      quotedTotal: inRequest(offer.total).amount,
      nextInLine: nextInLine === undefined ? undefined : { sellerName: nextInLine.seller_name, total: inRequest(decodeOffer(nextInLine.offer).total).amount }
    })
    if (refusal !== undefined) {
      // Given back (best effort within the seller's limits; a hold expires anyway).
      const released = yield* releaseHold(ctx, client, held.success)
      yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "failed", { hold: encodeHold(held.success), reason: released ? refusal : `${refusal}${holdNotGivenBack}` })] })
      return next
    }
    return yield* purchase(ctx, attempt, client, held.success)
  })

export const attemptOne = (ctx: RunContext, attempt: AttemptRow, nextInLine: AttemptRow | undefined) =>
  Effect.gen(function* () {
    const client = yield* clientFor(ctx, attempt)
    // A purchase may have been sent: it stays open whatever else happens.
    const mayHaveOrdered = FallbackPolicy.mayHaveOrdered(attempt)
    if (Option.isNone(client)) {
      if (mayHaveOrdered) return yield* unresolved(ctx, attempt, "seller_not_available: its client could not be built", undefined)
      yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "failed", { reason: "seller_not_available" })] })
      return next
    }
    if (mayHaveOrdered || attempt.status === "held") return yield* purchase(ctx, attempt, client.value)
    // A run that stopped while a hold was on its way left the attempt `pending`: the hold is asked
    // for again under the same key, which a seller keeping holds per key answers with the one it
    // took (any other seller takes a second, and the first expires). Marked `holding` first, so
    // the runs after this one know it too, whatever happens to this one.
    const unrecorded = ctx.holdMayBeUnrecorded
    ctx.holdMayBeUnrecorded = false
    if (unrecorded && attempt.status === "pending" && client.value.capabilities.holds) {
      yield* ctx.commit({ writes: [ctx.writes.updateAttempt(attempt.id, "holding")] })
      return yield* holdThenPurchase(ctx, { ...attempt, status: "holding" }, client.value, nextInLine)
    }
    return yield* holdThenPurchase(ctx, attempt, client.value, nextInLine)
  })

export const purchasing = (ctx: RunContext) =>
  Effect.gen(function* () {
    const attempts = yield* ctx.store.attempts(ctx.row.id)
    const upNext = FallbackPolicy.nextAttempt(attempts, ctx.row.round)
    switch (upNext._tag) {
      case "Capture":
        return yield* capture(ctx, upNext.attempt)
      case "Try":
        return yield* attemptOne(ctx, upNext.attempt, upNext.nextInLine)
      case "EveryOfferFailed":
        // Offers the index knows of and nobody confirmed yet are asked before any ending.
        if (yield* confirmLeads(ctx, new Set(attempts.map((attempt) => attempt.seller_id)))) return next
        return yield* end(ctx, FallbackPolicy.afterEveryOfferFailed(ctx.row, yield* ctx.store.quotes(ctx.row.id, FallbackPolicy.offersRound(ctx.row))))
    }
  })
