/**
 * Accepting a purchase request, written once for both ways a `POST /v1/purchase-requests`
 * reaches it: the HttpApi handler (`Purchases.ts`) and the fast intake lane (`FastIntake.ts`).
 * The customer's submission budget, one acceptance per Idempotency-Key at a time in this
 * process, the engine's `submit`, and its refusals as the problems the API documents.
 */
import { Purchases, RequestBudget } from "@bookbroker/engine"
import { Context, Effect, Layer } from "effect"
import type { AcceptedPurchase, NewPurchaseRequest } from "../api/Purchases.js"
import { Settings } from "../Config.js"
import * as Problem from "../Problem.js"
import { check, type RateLimited, retryAfter } from "./RateLimit.js"

export type Refusal = Problem.Conflict | Problem.Unprocessable | RateLimited

export type Submit = (
  customerId: string,
  idempotencyKey: string,
  payload: typeof NewPurchaseRequest.Type
) => Effect.Effect<typeof AcceptedPurchase.Type, Refusal>

export class SubmitPurchase extends Context.Service<SubmitPurchase, Submit>()("@bookbroker/server/SubmitPurchase") {}

export const layer = Layer.effect(
  SubmitPurchase,
  Effect.gen(function* () {
    const purchases = yield* Purchases.Purchases
    const budget = yield* RequestBudget.RequestBudget
    const settings = yield* Settings
    /** Keys being accepted right now: a second request with one of them is told to retry. */
    const inFlight = new Set<string>()
    const submit: Submit = (customerId, key, payload) =>
      Effect.gen(function* () {
        yield* check(budget.submission, customerId, settings.customerRateLimit)
        const slot = `${customerId}\u0000${key}`
        if (inFlight.has(slot)) return yield* Effect.fail(Problem.idempotencyInFlight(`a request with Idempotency-Key "${key}" is still being accepted; retry shortly`))
        inFlight.add(slot)
        const accepted = yield* purchases
          .submit({ customerId, idempotencyKey: key, request: payload })
          .pipe(
            Effect.ensuring(Effect.sync(() => inFlight.delete(slot))),
            Effect.catchTags({
              IdempotencyKeyReused: (error) => Effect.fail(Problem.idempotencyMismatch(error.message)),
              NotifyUrlRefused: (error) => Effect.fail(Problem.validation(error.message, [{ pointer: "/notify_url", detail: error.reason }])),
              Backlogged: (error) => Effect.fail(retryAfter(error.retryAfterSeconds, error.message)),
              WaitUntilRefused: (error) => Effect.fail(Problem.validation(error.message, [{ pointer: "/wait_until", detail: error.reason }]))
            })
          )
        return {
          id: accepted.id,
          status: accepted.status,
          status_url: `/v1/purchase-requests/${accepted.id}`,
          queue: { depth: accepted.queue.depth, eta_seconds: accepted.queue.etaSeconds }
        }
      })
    return submit
  })
)
