/**
 * Rate limits per customer, seller or client address: the engine's `RequestBudget` counts them
 * (shared by every server process); here a refusal becomes a 429 problem with `Retry-After` and
 * `RateLimit` headers. A refusal is a value (`RateLimited`: the problem and its headers) so that
 * both ways a request is answered send the same thing: HttpApi (`answer`) and the fast intake
 * lane (`FastIntake.ts`), which writes the headers itself.
 */
import { HttpEffect, HttpServerResponse } from "effect/http"
import type { RequestBudget } from "@bookbroker/engine"
import { Data, Effect } from "effect"
import * as Problem from "../Problem.js"

export type Rate = RequestBudget.Rate

/** A 429: the problem, and the headers it goes out with. */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly problem: Problem.TooManyRequests
  readonly headers: Readonly<Record<string, string>>
}> {}

/** What a budget's decision answers: nothing when allowed, the 429 when not. */
export const refusal = (decision: RequestBudget.RateDecision, rate: Rate): RateLimited | undefined => {
  if (decision._tag === "Allowed") return undefined
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMillis / 1000))
  return new RateLimited({
    problem: Problem.tooManyRequests(`slow down: try again in ${seconds} s`),
    headers: {
      "retry-after": String(seconds),
      ratelimit: `limit=${rate.burst}, remaining=0, reset=${seconds}`,
      "ratelimit-policy": `${rate.burst};w=${Math.max(1, Math.round(rate.burst / rate.requestsPerSecond))}`
    }
  })
}

/** One request of `subject` against a budget (e.g. `budget.submission`): `RateLimited` past it. */
export const check = (spend: RequestBudget.Spend, subject: string, rate: Rate): Effect.Effect<void, RateLimited> =>
  // One GCRA decision (one Redis round trip): no seller-style permits or circuit to undo.
  Effect.flatMap(spend(subject, rate), (decision) => {
    const refused = refusal(decision, rate)
    return refused === undefined ? Effect.void : Effect.fail(refused)
  })

/** A refusal answered through HttpApi: its headers on the response, its problem as the error. */
export const answer = (refused: RateLimited) =>
  Effect.andThen(
    HttpEffect.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeaders(response, refused.headers))),
    Effect.fail(refused.problem)
  )

/** `check` for HttpApi handlers and middleware: a 429 problem past the budget. */
export const limit = (spend: RequestBudget.Spend, subject: string, rate: Rate) => Effect.catchTag(check(spend, subject, rate), "RateLimited", answer)

/** A 429 with only `Retry-After` (intake is full, see the engine's `purchases/Backlog.ts`; an address blocked for failed sign-ins). */
export const retryAfter = (seconds: number, detail: string) =>
  new RateLimited({ problem: Problem.tooManyRequests(detail), headers: { "retry-after": String(seconds) } })

/** A 429 problem with `Retry-After`, through HttpApi. */
export const retryLater = (seconds: number, detail: string) => answer(retryAfter(seconds, detail))
