/**
 * Rate limits per customer, seller or client address: the engine's `RequestBudget` counts them
 * (shared by every server process); here a refusal becomes a 429 problem with `Retry-After` and
 * `RateLimit` headers.
 */
import { HttpEffect, HttpServerResponse } from "effect/http"
import type { RequestBudget } from "@bookbroker/engine"
import { Effect } from "effect"
import * as Problem from "../Problem.js"

export type Rate = RequestBudget.Rate

/** One request of `subject` against a budget (e.g. `budget.submission`): a 429 problem past it. */
export const limit = (spend: RequestBudget.Spend, subject: string, rate: Rate) =>
  Effect.gen(function* () {
    // One GCRA decision (one Redis round trip): no seller-style permits or circuit to undo.
    const decision = yield* spend(subject, rate)
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
