/**
 * Accepting a purchase request, written once for both ways a `POST /v1/purchase-requests`
 * reaches it: the HttpApi handler (`Purchases.ts`, through `submit`) and the fast intake lane
 * (`FastIntake.ts`, through `submitNow`, the same steps as a callback, without a fiber). The
 * customer's submission budget, one acceptance per Idempotency-Key at a time in this process,
 * the engine's `submit` / `accept`, and its refusals as the problems the API documents. The
 * steps' rules are the functions below, used by both forms; `test/FastIntake.test.ts` sends
 * every kind of request down both.
 */
import { Purchases, RequestBudget } from "@bookbroker/engine"
import { Clock, Context, Effect, Exit, Layer } from "effect"
import type { AcceptedPurchase, NewPurchaseRequest } from "../api/Purchases.js"
import { Settings } from "../Config.js"
import * as Problem from "../Problem.js"
import { check, type RateLimited, refusal, retryAfter } from "./RateLimit.js"

export type Refusal = Problem.Conflict | Problem.Unprocessable | RateLimited

export type Submit = (
  customerId: string,
  idempotencyKey: string,
  payload: typeof NewPurchaseRequest.Type
) => Effect.Effect<typeof AcceptedPurchase.Type, Refusal>

/** `Submit` as a callback: `done` is called once. */
export type SubmitNow = (
  customerId: string,
  idempotencyKey: string,
  payload: typeof NewPurchaseRequest.Type,
  done: (exit: Exit.Exit<typeof AcceptedPurchase.Type, Refusal>) => void
) => void

export interface SubmitPurchaseService {
  /** For the HttpApi handler: under its request's span, with the engine's `Purchases.submit` span. */
  readonly submit: Submit
  /** For the fast lane (which runs only while tracing is off): no fiber, no span. */
  readonly submitNow: SubmitNow
}

export class SubmitPurchase extends Context.Service<SubmitPurchase, SubmitPurchaseService>()("@bookbroker/server/SubmitPurchase") {}

/** The engine's refusals as the API's problems. */
const toProblem = (error: Purchases.SubmitRefusal): Refusal => {
  switch (error._tag) {
    case "IdempotencyKeyReused":
      return Problem.idempotencyMismatch(error.message)
    case "NotifyUrlRefused":
      return Problem.validation(error.message, [{ pointer: "/notify_url", detail: error.reason }])
    case "Backlogged":
      return retryAfter(error.retryAfterSeconds, error.message)
    case "WaitUntilRefused":
      return Problem.validation(error.message, [{ pointer: "/wait_until", detail: error.reason }])
  }
}

/** The 202's body. */
const toWire = (accepted: Purchases.Accepted): typeof AcceptedPurchase.Type => ({
  id: accepted.id,
  status: accepted.status,
  status_url: `/v1/purchase-requests/${accepted.id}`,
  queue: { depth: accepted.queue.depth, eta_seconds: accepted.queue.etaSeconds }
})

const stillBeingAccepted = (key: string) => Problem.idempotencyInFlight(`a request with Idempotency-Key "${key}" is still being accepted; retry shortly`)

export const layer = Layer.effect(
  SubmitPurchase,
  Effect.gen(function* () {
    const purchases = yield* Purchases.Purchases
    const budget = yield* RequestBudget.RequestBudget
    const settings = yield* Settings
    const clock = yield* Clock.Clock
    /** Keys being accepted right now: a second request with one of them is told to retry. */
    const inFlight = new Set<string>()
    /** Claims the key for this acceptance: its slot, or `undefined` while another request holds it. */
    const claim = (customerId: string, key: string): string | undefined => {
      const slot = `${customerId}\u0000${key}`
      if (inFlight.has(slot)) return undefined
      inFlight.add(slot)
      return slot
    }

    const submit: Submit = (customerId, key, payload) =>
      Effect.gen(function* () {
        yield* check(budget.submission, customerId, settings.customerRateLimit)
        const slot = claim(customerId, key)
        if (slot === undefined) return yield* Effect.fail(stillBeingAccepted(key))
        const accepted = yield* purchases
          .submit({ customerId, idempotencyKey: key, request: payload })
          .pipe(
            Effect.ensuring(Effect.sync(() => inFlight.delete(slot))),
            Effect.mapError(toProblem)
          )
        return toWire(accepted)
      })

    const submitNow: SubmitNow = (customerId, key, payload, done) =>
      budget.spendNow("submission", customerId, settings.customerRateLimit, (decision) => {
        if (Exit.isFailure(decision)) return done(Exit.failCause(decision.cause))
        const refused = refusal(decision.value, settings.customerRateLimit)
        if (refused !== undefined) return done(Exit.fail(refused))
        const slot = claim(customerId, key)
        if (slot === undefined) return done(Exit.fail(stillBeingAccepted(key)))
        let answered = false
        try {
          purchases.accept({ customerId, idempotencyKey: key, request: payload }, clock.currentTimeMillisUnsafe(), (exit) => {
            answered = true
            inFlight.delete(slot)
            done(Exit.mapBoth(exit, { onSuccess: toWire, onFailure: toProblem }))
          })
        } catch (defect) {
          // What `done` threw is the caller's; a throw before an answer is a bug on the way, a
          // defect as the effect form would make it.
          if (answered) throw defect
          inFlight.delete(slot)
          done(Exit.die(defect))
        }
      })

    return { submit, submitNow } satisfies SubmitPurchaseService
  })
)
