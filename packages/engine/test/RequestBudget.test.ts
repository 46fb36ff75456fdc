/**
 * Request budgets over both shared states: in-process and a real Redis at 127.0.0.1:6379. Each
 * budget is its own, per subject, and is counted under the key the server used before the
 * budgets moved into the engine (a rolling upgrade keeps counting the same budget).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import type { RateDecision } from "../src/state/SharedStateService.js"
import { Redis } from "ioredis"
import * as RequestBudget from "../src/state/RequestBudget.js"
import * as SharedState from "../src/state/SharedState.js"

const redisUrl = "redis://127.0.0.1:6379"
const redisPrefix = `bbtest-${randomUUID()}`
/** A burst of two, then one every 100 s: no token comes back during a test. */
const rate = { requestsPerSecond: 0.01, burst: 2 }

const spendAll = (spend: RequestBudget.Spend, subject: string) => Effect.forEach([1, 2, 3], () => spend(subject, rate))

const budgets = (name: string, makeLayer: () => Layer.Layer<SharedState.SharedState>, inLine: boolean) =>
  describe(name, () => {
    const withBudget = <A>(body: (budget: RequestBudget.RequestBudgetService, state: SharedState.SharedStateService) => Effect.Effect<A>) =>
      Effect.all([RequestBudget.RequestBudget, SharedState.SharedState]).pipe(
        Effect.flatMap(([budget, state]) => body(budget, state)),
        Effect.provide(RequestBudget.layer.pipe(Layer.provideMerge(makeLayer())))
      )

    it.live("a burst, then a 429-worthy decision with when to come back", () =>
      withBudget((budget) =>
        Effect.gen(function* () {
          const [first, second, third] = yield* spendAll(budget.submission, `customer-${randomUUID()}`)
          expect([first, second]).toEqual([{ _tag: "Allowed" }, { _tag: "Allowed" }])
          expect(third?._tag).toBe("Limited")
          expect(third?._tag === "Limited" && third.retryAfterMillis).toBeGreaterThan(50_000)
        })
      )
    )

    it.live("budgets are independent of each other and of other subjects", () =>
      withBudget((budget) =>
        Effect.gen(function* () {
          const subject = `subject-${randomUUID()}`
          yield* spendAll(budget.search, subject)
          const others = [budget.customerRequest, budget.sellerRequest, budget.submission, budget.offerLookup, budget.registration, budget.failedSignIn]
          for (const spend of others) expect(yield* spend(subject, rate)).toEqual({ _tag: "Allowed" })
          expect(yield* budget.search(`other-${subject}`, rate)).toEqual({ _tag: "Allowed" })
        })
      )
    )

    it.live("each budget is counted under the key the server counted it under", () =>
      withBudget((budget, state) =>
        Effect.gen(function* () {
          const subject = randomUUID()
          const before: Record<RequestBudget.Budget, string> = {
            customerRequest: `requests:customer:${subject}`,
            sellerRequest: `requests:seller:${subject}`,
            submission: `customer:${subject}`,
            search: `search:${subject}`,
            offerLookup: `offers:${subject}`,
            registration: `register:${subject}`,
            failedSignIn: `sign-in-failures:${subject}`
          }
          for (const [name, key] of Object.entries(before) as Array<[RequestBudget.Budget, string]>) {
            yield* spendAll(budget[name], subject)
            expect((yield* state.rateLimit(key, rate))._tag, name).toBe("Limited")
          }
        })
      )
    )

    it.live(`spendNow spends the same budget as the effect, ${inLine ? "answered in line" : "answered once Redis has"}`, () =>
      withBudget((budget) =>
        Effect.gen(function* () {
          const subject = `subject-${randomUUID()}`
          const answeredInLine: Array<boolean> = []
          const spendNow = Effect.callback<RateDecision>((resume) => {
            let answered = 0
            budget.spendNow("submission", subject, rate, (exit) => {
              answered += 1
              resume(exit)
            })
            answeredInLine.push(answered === 1)
          })
          const decisions = [yield* budget.submission(subject, rate), yield* spendNow, yield* spendNow]
          expect(decisions.map((decision) => decision._tag)).toEqual(["Allowed", "Allowed", "Limited"])
          expect(answeredInLine).toEqual([inLine, inLine])
          // The other budgets of the subject are untouched.
          expect(yield* budget.customerRequest(subject, rate)).toEqual({ _tag: "Allowed" })
        })
      )
    )
  })

budgets("RequestBudget over SharedState.layerMemory", () => SharedState.layerMemory(), true)
budgets("RequestBudget over SharedState.layerRedis", () => SharedState.layerRedis({ url: redisUrl, keyPrefix: redisPrefix }), false)

afterAll(async () => {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    const keys: Array<string> = []
    for await (const batch of redis.scanStream({ match: `${redisPrefix}:*`, count: 1_000 })) keys.push(...(batch as Array<string>))
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
})
