/**
 * How a request ends: voiding a live payment authorization first (the customer is charged only
 * for a confirmed order), then the terminal status — and the endings the fallback policy names.
 * A want (`wait_until` ahead) whose round bought nothing watches instead (`purchases/WantPolicy.ts`):
 * the same void first, then `watching`, parked until its next live look.
 */
import { Money } from "@bookbroker/adapter-sdk"
import type { SqlError } from "effect/sql"
import { Clock, Effect } from "effect"
import { type LeaseLost, type RequestChanges, type TerminalStatus, watchingStatus } from "../store/PurchaseStore.js"
import * as FallbackPolicy from "../FallbackPolicy.js"
import * as PurchaseKeys from "../PurchaseKeys.js"
import * as WantPolicy from "../WantPolicy.js"
import { decodeOffer, next, park, type RunContext, type Step } from "./Run.js"

/** Ends the request (or, for a want, sets it watching), voiding a live authorization first. */
export const finish = (
  ctx: RunContext,
  status: TerminalStatus | typeof watchingStatus,
  reason: string,
  changes?: RequestChanges
): Effect.Effect<Step, LeaseLost | SqlError.SqlError> =>
  Effect.gen(function* () {
    // A watching want says why it waits in the statement that sets it watching (never `watching` without it).
    const waitUntil = ctx.row.wait_until
    const moved: RequestChanges | undefined =
      status === watchingStatus && waitUntil !== null ? { ...changes, waiting: WantPolicy.watchingText(waitUntil, reason) } : changes
    const authorization = yield* ctx.store.liveAuthorization(ctx.row.id)
    if (authorization !== undefined) {
      const key = PurchaseKeys.payment(ctx.row.id, "void", authorization.round)
      const operation = yield* ctx.intent("void", authorization.round, key, 0)
      const voided = yield* Effect.result(ctx.withQuickRetry(ctx.gateway.void({ idempotencyKey: key, providerRef: authorization.provider_ref! })))
      yield* ctx.crash("void", ctx.row.id)
      if (voided._tag === "Failure") {
        if (voided.failure._tag === "PaymentUnavailable") {
          return park(ctx.backoff(operation.tries), "releasing the payment authorization: the payment provider did not answer; trying again")
        }
        // The provider refuses to void: leave the authorization marked live for the reconciler, end the request.
        yield* ctx.transition("failed", `void_rejected: ${voided.failure.detail}`, undefined, [ctx.writes.settlePayment(key, "rejected", null, false, voided.failure.detail)])
        return next
      }
      yield* ctx.transition(status, reason, moved, [ctx.writes.settlePayment(key, "succeeded", authorization.provider_ref, false, null), ctx.writes.endAuthorization()])
      return yield* afterwards(ctx, status, reason)
    }
    yield* ctx.transition(status, reason, moved)
    return yield* afterwards(ctx, status, reason)
  })

/** A watching want is parked until its next live look (`jobs/Wants.ts` wakes it sooner when a copy is listed). */
const afterwards = (ctx: RunContext, status: TerminalStatus | typeof watchingStatus, reason: string) =>
  Effect.gen(function* () {
    const waitUntil = ctx.row.wait_until
    if (status !== watchingStatus || waitUntil === null) return next
    const now = yield* Clock.currentTimeMillis
    return park(WantPolicy.nextLook(now, waitUntil, ctx.wantRecheckMillis).getTime() - now, WantPolicy.watchingText(waitUntil, reason))
  })

/** The ending's status, or `watching` for a want that may still wait. */
const orWatch = (ctx: RunContext, status: TerminalStatus, nowMillis: number) =>
  WantPolicy.watches(status, ctx.row.wait_until, nowMillis) ? watchingStatus : status

/** Ends the request as the fallback policy says (a counter-offer with `price_not_met`). */
export const end = (ctx: RunContext, ending: FallbackPolicy.Ending) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    switch (ending._tag) {
      case "SellersBusy":
        return finish(ctx, orWatch(ctx, "sellers_busy", now), ending.reason)
      case "NotAvailable":
        return finish(ctx, orWatch(ctx, "not_available", now), ending.reason)
      case "PriceNotMet": {
        const status = orWatch(ctx, "price_not_met", now)
        if (status === watchingStatus) {
          // Watching, the cheapest offer above the maximum is said in words (a counter-offer is for a request that ended).
          const cheapest = ending.cheapest
          const price = `${Money.toDecimal(Money.make(cheapest.total, cheapest.currency))} ${cheapest.currency}`
          return finish(ctx, status, `${ending.reason}: the cheapest offer now is ${price} from ${cheapest.seller_name}`)
        }
        return finish(ctx, status, ending.reason, {
          counter_offer: FallbackPolicy.counterOffer(ctx.row.round, ending.cheapest, decodeOffer(ending.cheapest.offer).expiresAt)
        })
      }
    }
  })
