/**
 * Guessing credentials is slowed down per client address: a missing, unknown or wrong-kind API
 * key or operator token counts as a failed sign-in on the engine's `RequestBudget` (every server
 * process counts the same budget; `signInFailureLimit`, by default 100 at once, then two a
 * second). Past that the address gets a 429 problem with `Retry-After` for any credential,
 * before it is looked up, for `blockMillis` (10 s by default): a right key does not get through
 * a block either, so a block tells a guesser nothing. Sign-ins that succeed cost nothing.
 */
import { RequestBudget } from "@bookbroker/engine"
import { Context, Effect, Layer, Option } from "effect"
import { HttpServerRequest } from "effect/http"
import { Settings, type ServerSettings } from "./Config.js"
import type * as Problem from "./Problem.js"
import { retryLater } from "./http/RateLimit.js"

const addressOf = Effect.map(HttpServerRequest.HttpServerRequest, (request) => Option.getOrElse(request.remoteAddress, () => "unknown"))

const refuse = (untilMillis: number) =>
  retryLater(Math.max(1, Math.ceil((untilMillis - Date.now()) / 1000)), "too many failed sign-ins from this address: try again later")

/**
 * `signIn(attempt, unauthorized)` runs `attempt` (what the credential proves: `None` when it
 * proves nothing) unless the address is blocked; a failure is counted, and `unauthorized`
 * answered — or, once the budget is gone, a 429 problem. `isBlocked` asks the same record without
 * an effect (the fast intake lane leaves a blocked address to the router). One per server (its
 * own record of blocked addresses).
 */
export const make = (budget: RequestBudget.RequestBudgetService, limit: ServerSettings["signInFailureLimit"]) => {
  /** Addresses this server has seen refused, until when (ms): checked before any lookup. */
  const blocked = new Map<string, number>()
  /** Whether the address is refused now, before any lookup (for lanes that answer without this guard's effect). */
  const isBlocked = (address: string): boolean => {
    const until = blocked.get(address)
    return until !== undefined && until > Date.now()
  }
  const signIn = <A, R>(
    attempt: Effect.Effect<Option.Option<A>, never, R>,
    unauthorized: Problem.Unauthorized
  ): Effect.Effect<A, Problem.Unauthorized | Problem.TooManyRequests, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const address = yield* addressOf
      const until = blocked.get(address)
      if (until !== undefined) {
        if (until > Date.now()) return yield* refuse(until)
        blocked.delete(address)
      }
      const proven = yield* attempt
      if (Option.isSome(proven)) return proven.value
      const decision = yield* budget.failedSignIn(address, limit)
      if (decision._tag === "Allowed") return yield* Effect.fail(unauthorized)
      const blockedUntil = Date.now() + Math.max(decision.retryAfterMillis, limit.blockMillis)
      if (blocked.size >= 100_000) blocked.clear()
      blocked.set(address, blockedUntil)
      return yield* refuse(blockedUntil)
    })
  return { signIn, isBlocked }
}

export type Guard = ReturnType<typeof make>

/** The server's guard, shared by its three authentication middlewares. */
export class SignInGuard extends Context.Service<SignInGuard, Guard>()("@bookbroker/server/SignInGuard") {}

export const layer = Layer.effect(
  SignInGuard,
  Effect.gen(function* () {
    return make(yield* RequestBudget.RequestBudget, (yield* Settings).signInFailureLimit)
  })
)
