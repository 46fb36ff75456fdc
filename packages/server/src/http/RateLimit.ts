/**
 * Rate limits per customer, seller or client address on the shared state's GCRA, so every
 * server process counts the same budget. A refusal is a 429 problem with `Retry-After` and
 * `RateLimit` headers.
 */
import { HttpEffect, HttpServerResponse } from "effect/http"
import { SharedState } from "@bookbroker/engine"
import { Effect } from "effect"
import * as Problem from "../Problem.js"

export interface Rate {
  readonly requestsPerSecond: number
  readonly burst: number
}

/** One request against the budget `key` (the shared state from the context). */
export const limit = (key: string, rate: Rate) => Effect.flatMap(SharedState.SharedState, (state) => limitOn(state, key, rate))

/** One request against the budget `key` on `state` (for middlewares, which get their services when built). */
export const limitOn = (state: SharedState.SharedStateService, key: string, rate: Rate) =>
  Effect.gen(function* () {
    // One GCRA decision (one Redis round trip): no seller-style permits or circuit to undo.
    const decision = yield* state.rateLimit(key, rate)
    if (decision._tag === "Allowed") return
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMillis / 1000))
    yield* HttpEffect.appendPreResponseHandler((_request, response) =>
      Effect.succeed(
        HttpServerResponse.setHeaders(response, {
          "retry-after": String(seconds),
          ratelimit: `limit=${rate.burst}, remaining=0, reset=${seconds}`,
          "ratelimit-policy": `${rate.burst};w=${Math.max(1, Math.round(rate.burst / rate.requestsPerSecond))}`
        })
      )
    )
    return yield* Effect.fail(Problem.tooManyRequests(`slow down: try again in ${seconds} s`))
  })

/** A 429 problem with `Retry-After`: intake is full (see the engine's `purchases/Backlog.ts`). */
export const retryLater = (seconds: number, detail: string) =>
  Effect.andThen(
    HttpEffect.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(seconds)))),
    Effect.fail(Problem.tooManyRequests(detail))
  )
