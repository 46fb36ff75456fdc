/**
 * Budgets for requests from outside — an API key's requests, a customer's submissions, searches
 * and offer lookups, seller registrations and failed sign-ins per client address — one method
 * each, on the shared state's GCRA (`SharedState.rateLimit`), so every process counts the same
 * budget. The rates are the caller's policy (the server's settings); the key each budget is
 * counted under is decided here, once. A method takes a token when it allows and never fails.
 */
import { Clock, Context, Effect, Exit, Layer } from "effect"
import { SharedState } from "./SharedState.js"
import type { Rate, RateDecision } from "./SharedStateService.js"

export type { Rate, RateDecision } from "./SharedStateService.js"

/** One request against a budget: who or where it comes from, at what rate. */
export type Spend = (subject: string, rate: Rate) => Effect.Effect<RateDecision>

/** The budgets, by name. */
export type Budget = keyof typeof keys

/**
 * One request against the budget named `budget`, as a callback: answered in line when the shared
 * state decides without a round trip (in process), else once its decision came (Redis). `done`
 * is called once; a failure is a defect (a decision never fails). For the fast intake lane.
 */
export type SpendNow = (budget: Budget, subject: string, rate: Rate, done: (decision: Exit.Exit<RateDecision>) => void) => void

export interface RequestBudgetService {
  /** Any request a customer's key signs in (reads included). */
  readonly customerRequest: Spend
  /** Any request a seller's key signs in (reads included). */
  readonly sellerRequest: Spend
  /** A customer's purchase submission. */
  readonly submission: Spend
  /** A customer's book search. */
  readonly search: Spend
  /** A customer asking for a book's current offers. */
  readonly offerLookup: Spend
  /** A seller registration from a client address. */
  readonly registration: Spend
  /** A credential that proved nothing, from a client address. */
  readonly failedSignIn: Spend
  /** Any of the above as a callback (`SpendNow`). */
  readonly spendNow: SpendNow
}

export class RequestBudget extends Context.Service<RequestBudget, RequestBudgetService>()("@bookbroker/engine/RequestBudget") {}

/** The key each budget is counted under (kept as they were when the server counted them). */
export const keys = {
  customerRequest: (customerId: string) => `requests:customer:${customerId}`,
  sellerRequest: (sellerId: string) => `requests:seller:${sellerId}`,
  submission: (customerId: string) => `customer:${customerId}`,
  search: (customerId: string) => `search:${customerId}`,
  offerLookup: (customerId: string) => `offers:${customerId}`,
  registration: (address: string) => `register:${address}`,
  failedSignIn: (address: string) => `sign-in-failures:${address}`
} as const satisfies Record<Exclude<keyof RequestBudgetService, "spendNow">, (subject: string) => string>

// No span per spend: one runs on every request, and `SharedState.rateLimit` has none either.
export const make = Effect.gen(function* () {
  const state = yield* SharedState
  const clock = yield* Clock.Clock
  const run = Effect.runCallbackWith(yield* Effect.context<never>())
  const inline = state.rateLimitInline
  const spendOn =
    (key: (subject: string) => string): Spend =>
    (subject, rate) =>
      state.rateLimit(key(subject), rate)
  const service: RequestBudgetService = {
    customerRequest: spendOn(keys.customerRequest),
    sellerRequest: spendOn(keys.sellerRequest),
    submission: spendOn(keys.submission),
    search: spendOn(keys.search),
    offerLookup: spendOn(keys.offerLookup),
    registration: spendOn(keys.registration),
    failedSignIn: spendOn(keys.failedSignIn),
    spendNow: (budget, subject, rate, done) => {
      const key = keys[budget](subject)
      if (inline !== undefined) return done(Exit.succeed(inline(key, rate, clock.currentTimeMillisUnsafe())))
      run(state.rateLimit(key, rate), { onExit: done })
    }
  }
  return service
})

export const layer: Layer.Layer<RequestBudget, never, SharedState> = Layer.effect(RequestBudget, make)
