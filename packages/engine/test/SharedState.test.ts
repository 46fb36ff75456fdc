/**
 * One contract for both SharedState implementations: in-process and Redis (a real Redis at
 * 127.0.0.1:6379). Time really passes (`it.live`), because the Redis scripts read Redis `TIME`.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Clock, Context, Effect, Fiber, Layer, Logger, LogLevel, Option } from "effect"
import { Redis } from "ioredis"
import type { Admission } from "../src/state/SharedState.js"
import * as SharedState from "../src/state/SharedState.js"
import { permitTtl } from "../src/state/internal/memoryState.js"
import { admitted, denied, limits, seller } from "./support/admission.js"

const circuit = { failureThreshold: 3, openMillis: 300 }
const redisUrl = "redis://127.0.0.1:6379"

const elapsed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const value = yield* self
    return [value, (yield* Clock.currentTimeMillis) - start] as const
  })

const contract = (name: string, makeLayer: () => Layer.Layer<SharedState.SharedState>) =>
  describe(name, () => {
    const test = (title: string, body: (state: SharedState.SharedStateService) => Effect.Effect<void>, timeout?: number) =>
      it.live(
        title,
        () => {
          // Nothing may be logged at error level: for Redis, that would mean the fallback answered.
          const errors: Array<unknown> = []
          const capture = Logger.make(({ logLevel, message }) => {
            if (LogLevel.isGreaterThanOrEqualTo(logLevel, "Error")) errors.push(message)
          })
          return Effect.flatMap(SharedState.SharedState, body).pipe(
            Effect.provide(makeLayer()),
            Effect.andThen(Effect.sync(() => expect(errors).toEqual([]))),
            Effect.provide(Logger.layer([capture]))
          )
        },
        timeout
      )

    test("plain rate limit on a key: a burst, then one per interval; keys are independent", (state) =>
      Effect.gen(function* () {
        const key = `client-${randomUUID()}`
        const rate = { requestsPerSecond: 5, burst: 2 }
        expect(yield* state.rateLimit(key, rate)).toEqual({ _tag: "Allowed" })
        expect(yield* state.rateLimit(key, rate)).toEqual({ _tag: "Allowed" })
        const limited = yield* state.rateLimit(key, rate)
        expect(limited._tag).toBe("Limited")
        expect(limited._tag === "Limited" && limited.retryAfterMillis).toBeGreaterThan(0)
        expect(limited._tag === "Limited" && limited.retryAfterMillis).toBeLessThanOrEqual(200)
        expect(yield* state.rateLimit(`other-${key}`, rate)).toEqual({ _tag: "Allowed" })
        yield* Effect.sleep(230)
        expect(yield* state.rateLimit(key, rate)).toEqual({ _tag: "Allowed" })
        expect((yield* state.rateLimit(key, rate))._tag).toBe("Limited")
      }))

    test("rate limit: a burst, then one call per interval", (state) =>
      Effect.gen(function* () {
        const id = seller()
        const l = limits({ requestsPerSecond: 5, burst: 3 })
        for (let i = 0; i < 3; i++) admitted(yield* state.admit(id, l))
        const fourth = denied(yield* state.admit(id, l))
        expect(fourth.reason).toBe("rate_limited")
        expect(fourth.retryAfterMillis).toBeGreaterThan(0)
        expect(fourth.retryAfterMillis).toBeLessThanOrEqual(200)
        yield* Effect.sleep(220)
        admitted(yield* state.admit(id, l))
        // That one took the token that had come back: none is left.
        expect(denied(yield* state.admit(id, l)).reason).toBe("rate_limited")
      }))

    test("concurrency: permits run out and come back with complete", (state) =>
      Effect.gen(function* () {
        const id = seller()
        const l = limits({ maxConcurrency: 2 })
        const first = admitted(yield* state.admit(id, l))
        admitted(yield* state.admit(id, l))
        const third = denied(yield* state.admit(id, l))
        expect(third.reason).toBe("concurrency")
        expect(third.retryAfterMillis).toBeGreaterThan(0)
        expect(third.retryAfterMillis).toBeLessThanOrEqual(permitTtl(l))
        expect(first.probe).toBe(false)
        yield* state.complete(id, first.permit, "success", false)
        admitted(yield* state.admit(id, l))
        expect(denied(yield* state.admit(id, l)).reason).toBe("concurrency")
        // Completing an unknown permit changes nothing.
        yield* state.complete(id, "no-such-permit", "success", false)
        expect(denied(yield* state.admit(id, l)).reason).toBe("concurrency")
      }))

    test("a fan-out's admissions and completions at once: answered in order, within each seller's limits, as one by one", (state) =>
      Effect.gen(function* () {
        const busy = seller()
        const other = seller()
        const two = limits({ maxConcurrency: 2 })
        const admissions = yield* state.admitMany([
          { sellerId: busy, limits: two },
          { sellerId: other, limits: two },
          { sellerId: busy, limits: two },
          { sellerId: busy, limits: two }
        ])
        const [first, elsewhere, second] = [admitted(admissions[0]!), admitted(admissions[1]!), admitted(admissions[2]!)]
        expect(denied(admissions[3]!).reason).toBe("concurrency")
        expect(yield* state.admitMany([])).toEqual([])
        // Back together: one success, one failure (the circuit counts it), one abandoned (its permit stays out).
        yield* state.completeMany([
          { sellerId: busy, permit: first.permit, outcome: "success", probe: false },
          { sellerId: other, permit: elsewhere.permit, outcome: "failure", probe: false },
          { sellerId: busy, permit: second.permit, outcome: "abandoned", probe: false }
        ])
        expect((yield* state.circuit(other)).consecutiveFailures).toBe(1)
        admitted(yield* state.admit(busy, two))
        expect(denied(yield* state.admit(busy, two)).reason).toBe("concurrency")
        yield* state.completeMany([])
      }))

    test(
      "concurrency: a permit that is never completed expires after permitTtl",
      (state) =>
        Effect.gen(function* () {
          const id = seller()
          const l = limits({ maxConcurrency: 2, timeoutMillis: 50 })
          expect(permitTtl(l)).toBe(2_050)
          admitted(yield* state.admit(id, l))
          yield* Effect.sleep(1_000)
          // A younger permit: the older one must expire on its own, not with the whole set.
          admitted(yield* state.admit(id, l))
          yield* Effect.sleep(500)
          const still = denied(yield* state.admit(id, l))
          expect(still.reason).toBe("concurrency")
          // The older permit's expiry: about 550 ms away.
          expect(still.retryAfterMillis).toBeGreaterThan(300)
          expect(still.retryAfterMillis).toBeLessThanOrEqual(650)
          yield* Effect.sleep(700)
          admitted(yield* state.admit(id, l))
          // The younger one still holds.
          expect(denied(yield* state.admit(id, l)).reason).toBe("concurrency")
        }),
      10_000
    )

    test("cancelled: the permit comes back, the circuit learns nothing, a cancelled probe lets another probe go", (state) =>
      Effect.gen(function* () {
        const id = seller()
        const l = limits({ maxConcurrency: 1 })
        const first = admitted(yield* state.admit(id, l))
        yield* state.complete(id, first.permit, "cancelled", false)
        const second = admitted(yield* state.admit(id, l))
        yield* state.complete(id, second.permit, "failure", false)
        for (let i = 0; i < 4; i++) {
          const a = admitted(yield* state.admit(id, l))
          yield* state.complete(id, a.permit, "cancelled", false)
        }
        expect((yield* state.circuit(id)).consecutiveFailures).toBe(1)
        for (let i = 0; i < 2; i++) {
          const a = admitted(yield* state.admit(id, l))
          yield* state.complete(id, a.permit, "failure", false)
        }
        expect((yield* state.circuit(id)).state).toBe("open")
        yield* Effect.sleep(circuit.openMillis + 50)
        const probe = admitted(yield* state.admit(id, l))
        expect(probe.probe).toBe(true)
        expect(denied(yield* state.admit(id, l)).reason).toBe("circuit_open")
        yield* state.complete(id, probe.permit, "cancelled", true)
        const again = admitted(yield* state.admit(id, l))
        expect(again.probe).toBe(true)
      }))

    test(
      "abandoned: the call may still be at the seller, so its permit stays out until it expires; the circuit learns nothing, an abandoned probe lets another probe go",
      (state) =>
        Effect.gen(function* () {
          const id = seller()
          const l = limits({ maxConcurrency: 2, timeoutMillis: 50 })
          const first = admitted(yield* state.admit(id, l))
          yield* state.complete(id, first.permit, "abandoned", false)
          admitted(yield* state.admit(id, l))
          const held = denied(yield* state.admit(id, l))
          expect(held.reason).toBe("concurrency")
          // The abandoned permit expires permitTtl (2,050 ms) after its admission.
          expect(held.retryAfterMillis).toBeGreaterThan(1_000)
          expect(held.retryAfterMillis).toBeLessThanOrEqual(permitTtl(l))
          yield* Effect.sleep(held.retryAfterMillis + 50)
          admitted(yield* state.admit(id, l))
          expect((yield* state.circuit(id)).consecutiveFailures).toBe(0)

          const flaky = seller()
          const one = limits({ maxConcurrency: 3, timeoutMillis: 50 })
          for (let i = 0; i < 3; i++) yield* state.complete(flaky, admitted(yield* state.admit(flaky, one)).permit, "failure", false)
          expect((yield* state.circuit(flaky)).state).toBe("open")
          yield* Effect.sleep(circuit.openMillis + 50)
          const probe = admitted(yield* state.admit(flaky, one))
          expect(probe.probe).toBe(true)
          expect(denied(yield* state.admit(flaky, one)).reason).toBe("circuit_open")
          yield* state.complete(flaky, probe.permit, "abandoned", true)
          expect(admitted(yield* state.admit(flaky, one)).probe).toBe(true)
        }),
      10_000
    )

    test("circuit: opens after the threshold, one probe, closes on its success", (state) =>
      Effect.gen(function* () {
        const id = seller()
        const l = limits()
        expect(yield* state.circuit(id)).toEqual({ state: "closed", consecutiveFailures: 0, openUntil: 0 })
        for (let i = 0; i < 3; i++) {
          const a = admitted(yield* state.admit(id, l))
          yield* state.complete(id, a.permit, "failure", false)
        }
        const open = yield* state.circuit(id)
        expect(open.state).toBe("open")
        expect(open.consecutiveFailures).toBe(3)
        expect(open.openUntil).toBeGreaterThan(0)
        const refused = denied(yield* state.admit(id, l))
        expect(refused.reason).toBe("circuit_open")
        expect(refused.retryAfterMillis).toBeGreaterThan(0)
        expect(refused.retryAfterMillis).toBeLessThanOrEqual(300)

        yield* Effect.sleep(350)
        expect((yield* state.circuit(id)).state).toBe("half_open")
        const racers = yield* Effect.all(
          Array.from({ length: 6 }, () => state.admit(id, l)),
          { concurrency: "unbounded" }
        )
        const probes = racers.filter((a) => a._tag === "Admitted")
        expect(probes).toHaveLength(1)
        const probe = admitted(probes[0]!)
        expect(probe.probe).toBe(true)
        for (const a of racers) if (a._tag === "Denied") expect(a.reason).toBe("circuit_open")
        // Still half-open while the probe is out, and still refusing.
        expect((yield* state.circuit(id)).state).toBe("half_open")
        expect(denied(yield* state.admit(id, l)).reason).toBe("circuit_open")

        yield* state.complete(id, probe.permit, "success", true)
        expect(yield* state.circuit(id)).toEqual({ state: "closed", consecutiveFailures: 0, openUntil: 0 })
        const after = admitted(yield* state.admit(id, l))
        expect(after.probe).toBe(false)
        admitted(yield* state.admit(id, l))
      }))

    test("circuit: a failed probe opens the circuit again", (state) =>
      Effect.gen(function* () {
        const id = seller()
        const l = limits()
        for (let i = 0; i < 3; i++) {
          const a = admitted(yield* state.admit(id, l))
          yield* state.complete(id, a.permit, "failure", false)
        }
        const firstOpen = yield* state.circuit(id)
        yield* Effect.sleep(350)
        const probe = admitted(yield* state.admit(id, l))
        expect(probe.probe).toBe(true)
        yield* state.complete(id, probe.permit, "failure", true)
        const reopened = yield* state.circuit(id)
        expect(reopened.state).toBe("open")
        expect(reopened.consecutiveFailures).toBe(4)
        expect(reopened.openUntil).toBeGreaterThan(firstOpen.openUntil)
        const refused = denied(yield* state.admit(id, l))
        expect(refused.reason).toBe("circuit_open")
        expect(refused.retryAfterMillis).toBeGreaterThan(200)
        // And after another open period, another single probe.
        yield* Effect.sleep(350)
        expect(admitted(yield* state.admit(id, l)).probe).toBe(true)
        expect(denied(yield* state.admit(id, l)).reason).toBe("circuit_open")
      }))

    test("circuit: a success resets the consecutive failure count", (state) =>
      Effect.gen(function* () {
        const id = seller()
        const l = limits()
        const run = (outcome: "success" | "failure") =>
          Effect.flatMap(state.admit(id, l), (a) => state.complete(id, admitted(a).permit, outcome, false))
        yield* run("failure")
        yield* run("failure")
        expect((yield* state.circuit(id)).consecutiveFailures).toBe(2)
        yield* run("success")
        expect((yield* state.circuit(id)).consecutiveFailures).toBe(0)
        yield* run("failure")
        yield* run("failure")
        expect(yield* state.circuit(id)).toEqual({ state: "closed", consecutiveFailures: 2, openUntil: 0 })
        admitted(yield* state.admit(id, l))
        // The third in a row opens it.
        yield* run("failure")
        expect((yield* state.circuit(id)).state).toBe("open")
      }))

    test("backoff: refuses for its duration (the longer one wins), then halves the rate", (state) =>
      Effect.gen(function* () {
        const slowed = seller()
        const control = seller()
        // Interval 200 ms normally, 400 ms while slowed; burst 1.
        const l = limits({ requestsPerSecond: 5, burst: 1 })
        yield* state.backoff(slowed, 300)
        yield* state.backoff(slowed, 50)
        const refused = denied(yield* state.admit(slowed, l))
        expect(refused.reason).toBe("backoff")
        expect(refused.retryAfterMillis).toBeGreaterThan(200)
        expect(refused.retryAfterMillis).toBeLessThanOrEqual(300)
        admitted(yield* state.admit(control, l))

        yield* Effect.sleep(350)
        admitted(yield* state.admit(slowed, l))
        admitted(yield* state.admit(control, l))
        yield* Effect.sleep(300)
        // 300 ms later: past the normal interval, short of the halved rate's.
        admitted(yield* state.admit(control, l))
        const slow = denied(yield* state.admit(slowed, l))
        expect(slow.reason).toBe("rate_limited")
        expect(slow.retryAfterMillis).toBeGreaterThan(0)
        // About 100 ms (400 - 300), give or take the calls in between.
        expect(slow.retryAfterMillis).toBeLessThanOrEqual(150)
      }))

    test("quote cache: in order, undefined where missing, expires by TTL, ttl <= 0 not stored, stale answers forgotten", (state) =>
      Effect.gen(function* () {
        const isbn = `978${randomUUID()}`
        yield* state.putQuotes(isbn, [
          { sellerId: "short", value: '{"price":1}', ttlMillis: 200 },
          { sellerId: "long", value: '{"price":2}', ttlMillis: 5_000 },
          { sellerId: "zero", value: '{"price":3}', ttlMillis: 0 },
          { sellerId: "negative", value: '{"price":4}', ttlMillis: -10 }
        ])
        expect(yield* state.getQuotes(isbn, ["long", "missing", "short", "zero", "negative"])).toEqual([
          '{"price":2}',
          undefined,
          '{"price":1}',
          undefined,
          undefined
        ])
        expect(yield* state.getQuotes(isbn, [])).toEqual([])
        expect(yield* state.getQuotes(`978${randomUUID()}`, ["long"])).toEqual([undefined])
        yield* Effect.sleep(300)
        expect(yield* state.getQuotes(isbn, ["short", "long"])).toEqual([undefined, '{"price":2}'])
        // A newer answer replaces the older one.
        yield* state.putQuotes(isbn, [{ sellerId: "long", value: '{"price":5}', ttlMillis: 5_000 }])
        expect(yield* state.getQuotes(isbn, ["long"])).toEqual(['{"price":5}'])
        // A stale answer is forgotten, that seller's only, for that ISBN only; forgetting nothing is nothing.
        const other = `978${randomUUID()}`
        yield* state.putQuotes(isbn, [{ sellerId: "kept", value: '{"price":6}', ttlMillis: 5_000 }])
        yield* state.putQuotes(other, [{ sellerId: "long", value: '{"price":7}', ttlMillis: 5_000 }])
        yield* state.forgetQuotes(isbn, ["long", "missing"])
        yield* state.forgetQuotes(isbn, [])
        expect(yield* state.getQuotes(isbn, ["long", "kept"])).toEqual([undefined, '{"price":6}'])
        expect(yield* state.getQuotes(other, ["long"])).toEqual(['{"price":7}'])
      }))

    test("single flight: one leader; waiters wake soon after finish; a stale token releases nothing", (state) =>
      Effect.gen(function* () {
        const key = `quote:${randomUUID()}`
        expect(yield* state.awaitLeader(key, 1_000)).toBe("finished")
        const leader = yield* state.lead(key, 5_000)
        expect(Option.isSome(leader)).toBe(true)
        expect(Option.isNone(yield* state.lead(key, 5_000))).toBe(true)
        const waiter = yield* Effect.forkChild(elapsed(state.awaitLeader(key, 3_000)))
        yield* Effect.sleep(100)
        yield* state.finish(Option.getOrThrow(leader))
        const [result, waited] = yield* Fiber.join(waiter)
        expect(result).toBe("finished")
        expect(waited).toBeGreaterThanOrEqual(90)
        expect(waited).toBeLessThan(600)

        const second = Option.getOrThrow(yield* state.lead(key, 5_000))
        expect(second.token).not.toBe(Option.getOrThrow(leader).token)
        // Finishing the old leadership again must not release the new one.
        yield* state.finish(Option.getOrThrow(leader))
        expect(Option.isNone(yield* state.lead(key, 5_000))).toBe(true)
        yield* state.finish(second)
        expect(Option.isSome(yield* state.lead(key, 5_000))).toBe(true)
      }))

    test("single flight: a waiter times out when the leader never finishes", (state) =>
      Effect.gen(function* () {
        const key = `quote:${randomUUID()}`
        Option.getOrThrow(yield* state.lead(key, 5_000))
        const [result, waited] = yield* elapsed(state.awaitLeader(key, 150))
        expect(result).toBe("timed_out")
        expect(waited).toBeGreaterThanOrEqual(140)
        expect(waited).toBeLessThan(1_000)
      }))

    test("carrier history: cheapest first, limited, newer totals replace older, the not-carrying forgotten", (state) =>
      Effect.gen(function* () {
        const isbn = `978${randomUUID()}`
        expect(yield* state.carriers(isbn, 10)).toEqual([])
        yield* state.recordCarriers(isbn, [
          { sellerId: "b", total: 1_500 },
          { sellerId: "a", total: 1_200 },
          { sellerId: "c", total: 1_500 },
          { sellerId: "d", total: 3_000 }
        ])
        expect(yield* state.carriers(isbn, 10)).toEqual([
          { sellerId: "a", total: 1_200 },
          { sellerId: "b", total: 1_500 },
          { sellerId: "c", total: 1_500 },
          { sellerId: "d", total: 3_000 }
        ])
        expect(yield* state.carriers(isbn, 2)).toEqual([
          { sellerId: "a", total: 1_200 },
          { sellerId: "b", total: 1_500 }
        ])
        expect(yield* state.carriers(isbn, 0)).toEqual([])
        expect(yield* state.carriers(`978${randomUUID()}`, 10)).toEqual([])

        // A newer total replaces the older one; sellers that no longer have it are forgotten.
        yield* state.recordCarriers(isbn, [{ sellerId: "d", total: 1_000 }], ["a", "never-seen"])
        expect(yield* state.carriers(isbn, 10)).toEqual([
          { sellerId: "d", total: 1_000 },
          { sellerId: "b", total: 1_500 },
          { sellerId: "c", total: 1_500 }
        ])
        // The last of duplicates wins; an empty write changes nothing.
        yield* state.recordCarriers(isbn, [
          { sellerId: "b", total: 10 },
          { sellerId: "b", total: 2_000 }
        ])
        yield* state.recordCarriers(isbn, [], [])
        expect(yield* state.carriers(isbn, 10)).toEqual([
          { sellerId: "d", total: 1_000 },
          { sellerId: "c", total: 1_500 },
          { sellerId: "b", total: 2_000 }
        ])
        yield* state.recordCarriers(isbn, [], ["b", "c", "d"])
        expect(yield* state.carriers(isbn, 10)).toEqual([])
      }))

    test("carrier history: keeps the cheapest 64 carriers per ISBN", (state) =>
      Effect.gen(function* () {
        const isbn = `978${randomUUID()}`
        const entry = (i: number) => ({ sellerId: `seller-${String(i).padStart(3, "0")}`, total: 1_000 + i })
        // Dearer ones first, then cheaper ones that push them out.
        yield* state.recordCarriers(isbn, Array.from({ length: 40 }, (_, i) => entry(60 + i)))
        yield* state.recordCarriers(isbn, Array.from({ length: 60 }, (_, i) => entry(i)))
        const kept = yield* state.carriers(isbn, 1_000)
        expect(kept).toEqual(Array.from({ length: 64 }, (_, i) => entry(i)))
        // A carrier dearer than all 64 kept is not kept; a cheaper one is, and the dearest goes.
        yield* state.recordCarriers(isbn, [{ sellerId: "dear", total: 50_000 }, { sellerId: "cheap", total: 1 }])
        const after = yield* state.carriers(isbn, 1_000)
        expect(after).toHaveLength(64)
        expect(after[0]).toEqual({ sellerId: "cheap", total: 1 })
        expect(after.at(-1)).toEqual(entry(62))
        expect(after.map((carrier) => carrier.sellerId)).not.toContain("dear")
      }))

    test("single flight: a lapsed leadership lets a new leader in and wakes waiters", (state) =>
      Effect.gen(function* () {
        const key = `quote:${randomUUID()}`
        const first = Option.getOrThrow(yield* state.lead(key, 200))
        const [result, waited] = yield* elapsed(state.awaitLeader(key, 3_000))
        expect(result).toBe("finished")
        expect(waited).toBeLessThan(1_000)
        yield* Effect.sleep(50)
        const next = Option.getOrThrow(yield* state.lead(key, 1_000))
        expect(next.token).not.toBe(first.token)
        expect(Option.isNone(yield* state.lead(key, 1_000))).toBe(true)
      }))

    test("ping: ok while the state is shared as intended", (state) =>
      Effect.gen(function* () {
        expect(yield* state.ping).toBe("ok")
        expect(yield* state.ping).toBe("ok")
      }))
  })

contract("SharedState.layerMemory", () => SharedState.layerMemory(circuit))

/** Carrier history expiry, with a TTL short enough to watch (one contract for both implementations). */
const carrierExpiry = (name: string, makeLayer: () => Layer.Layer<SharedState.SharedState>) =>
  describe(name, () => {
    it.live("carrier history: expires its TTL after the ISBN's last write, which refreshes it", () =>
      Effect.gen(function* () {
        const state = yield* SharedState.SharedState
        const isbn = `978${randomUUID()}`
        const other = `978${randomUUID()}`
        yield* state.recordCarriers(isbn, [{ sellerId: "a", total: 100 }])
        yield* state.recordCarriers(other, [{ sellerId: "a", total: 100 }])
        yield* Effect.sleep(600)
        // Writing refreshes the whole ISBN's TTL, also for the carriers already there.
        yield* state.recordCarriers(isbn, [{ sellerId: "b", total: 200 }])
        yield* Effect.sleep(600)
        expect(yield* state.carriers(isbn, 10)).toEqual([
          { sellerId: "a", total: 100 },
          { sellerId: "b", total: 200 }
        ])
        expect(yield* state.carriers(other, 10)).toEqual([])
        yield* Effect.sleep(600)
        expect(yield* state.carriers(isbn, 10)).toEqual([])
        // Gone means gone: a new write starts afresh.
        yield* state.recordCarriers(isbn, [{ sellerId: "c", total: 300 }])
        expect(yield* state.carriers(isbn, 10)).toEqual([{ sellerId: "c", total: 300 }])
      }).pipe(Effect.provide(makeLayer()))
    )
  })

carrierExpiry("SharedState.layerMemory carrier TTL", () => SharedState.layerMemory({ ...circuit, carrierTtlMillis: 1_000 }))

describe("SharedState.layerMemory carrier history bounds", () => {
  it.effect("forgets the least recently written ISBNs beyond maxCarrierIsbns", () =>
    Effect.gen(function* () {
      const state = yield* SharedState.SharedState
      const carrier = [{ sellerId: "s", total: 1 }]
      yield* state.recordCarriers("isbn-1", carrier)
      yield* state.recordCarriers("isbn-2", carrier)
      yield* state.recordCarriers("isbn-1", [{ sellerId: "t", total: 2 }]) // isbn-1 is now the most recent
      yield* state.recordCarriers("isbn-3", carrier)
      expect(yield* state.carriers("isbn-2", 10)).toEqual([])
      expect(yield* state.carriers("isbn-1", 10)).toEqual([
        { sellerId: "s", total: 1 },
        { sellerId: "t", total: 2 }
      ])
      expect(yield* state.carriers("isbn-3", 10)).toEqual(carrier)
    }).pipe(Effect.provide(SharedState.layerMemory({ maxCarrierIsbns: 2, carriersPerIsbn: 64 })))
  )
})

/** Every Redis key prefix the tests used; their keys are deleted afterwards. */
const prefixes: Array<string> = []
const newPrefix = () => {
  const prefix = `bbtest-${randomUUID()}`
  prefixes.push(prefix)
  return prefix
}

afterAll(async () => {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    for (const prefix of prefixes) {
      const keys: Array<string> = []
      for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 1_000 })) keys.push(...(batch as Array<string>))
      if (keys.length > 0) await redis.del(...keys)
    }
  } finally {
    redis.disconnect()
  }
})

const testPrefix = newPrefix()
contract("SharedState.layerRedis", () => SharedState.layerRedis({ url: redisUrl, keyPrefix: testPrefix, circuit }))
carrierExpiry("SharedState.layerRedis carrier TTL", () => SharedState.layerRedis({ url: redisUrl, keyPrefix: testPrefix, circuit, carrierTtlMillis: 1_000 }))

const instance = (layer: Layer.Layer<SharedState.SharedState>) =>
  Effect.map(Layer.build(layer), Context.get(SharedState.SharedState))

describe("SharedState.layerRedis across processes", () => {
  it.live("two instances share rate limit, permits and leadership", () =>
    Effect.gen(function* () {
      const options = { url: redisUrl, keyPrefix: newPrefix(), circuit }
      const a = yield* instance(SharedState.layerRedis(options))
      const b = yield* instance(SharedState.layerRedis(options))

      const id = seller()
      const rate = limits({ requestsPerSecond: 5, burst: 4 })
      const answers = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).admit(id, rate)),
        { concurrency: "unbounded" }
      )
      expect(answers.filter((x) => x._tag === "Admitted")).toHaveLength(4)
      for (const x of answers) if (x._tag === "Denied") expect(x.reason).toBe("rate_limited")

      const other = seller()
      const few = limits({ maxConcurrency: 3 })
      const permits = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).admit(other, few)),
        { concurrency: "unbounded" }
      )
      const granted = permits.filter((x) => x._tag === "Admitted")
      expect(granted).toHaveLength(3)
      expect(new Set(granted.map((x) => x.permit)).size).toBe(3)
      // A permit taken through one instance is returned through the other.
      yield* b.complete(other, granted[0]!.permit, "success", false)
      admitted(yield* a.admit(other, few))

      // The circuit opened through one instance is open for the other.
      const flaky = seller()
      for (let i = 0; i < 3; i++) yield* b.complete(flaky, admitted(yield* a.admit(flaky, limits())).permit, "failure", false)
      expect(denied(yield* b.admit(flaky, limits())).reason).toBe("circuit_open")

      // Back-off told to one instance holds for the other.
      const told = seller()
      yield* a.backoff(told, 500)
      expect(denied(yield* b.admit(told, limits())).reason).toBe("backoff")

      // Quotes cached by one are read by the other.
      const isbn = `978${randomUUID()}`
      yield* a.putQuotes(isbn, [{ sellerId: "s", value: "v", ttlMillis: 5_000 }])
      expect(yield* b.getQuotes(isbn, ["s"])).toEqual(["v"])

      // Leadership taken by one: the other waits and is woken by its finish.
      const key = `quote:${randomUUID()}`
      const leader = Option.getOrThrow(yield* a.lead(key, 5_000))
      expect(Option.isNone(yield* b.lead(key, 5_000))).toBe(true)
      const waiter = yield* Effect.forkChild(elapsed(b.awaitLeader(key, 3_000)))
      yield* Effect.sleep(100)
      yield* a.finish(leader)
      const [result, waited] = yield* Fiber.join(waiter)
      expect(result).toBe("finished")
      expect(waited).toBeLessThan(600)
    }))

  it.live("fan-outs admitted and completed in batches by two instances together keep each seller's limits exactly", () =>
    Effect.gen(function* () {
      const options = { url: redisUrl, keyPrefix: newPrefix(), circuit }
      // One instance batches its seller scripts (the default), the other sends one command per call.
      const a = yield* instance(SharedState.layerRedis(options))
      const b = yield* instance(SharedState.layerRedis({ ...options, batchSellerScripts: false }))
      const batched = yield* instance(SharedState.layerRedis(options))

      const rated = seller()
      const few = seller()
      const told = seller()
      const plenty = seller()
      const limitsOf: Record<string, ReturnType<typeof limits>> = {
        [rated]: limits({ requestsPerSecond: 2, burst: 3 }),
        [few]: limits({ maxConcurrency: 2 }),
        [told]: limits(),
        [plenty]: limits()
      }
      yield* b.backoff(told, 2_000)
      // Three fan-outs over the four sellers at once, each asking every seller twice: the calls of
      // one turn leave as one pipeline per instance, interleaved in Redis with the other's.
      const calls = [a, batched, b].flatMap((state) => [rated, few, told, plenty, rated, few, told, plenty].map((id) => ({ state, id })))
      const answers = yield* Effect.forEach(calls, ({ state, id }) => Effect.map(state.admit(id, limitsOf[id]!), (answer) => ({ state, id, answer })), {
        concurrency: "unbounded"
      })
      const grantedFor = (id: string) => answers.filter((x) => x.id === id && x.answer._tag === "Admitted")
      expect(grantedFor(rated)).toHaveLength(3)
      expect(grantedFor(few)).toHaveLength(2)
      expect(grantedFor(told)).toHaveLength(0)
      expect(grantedFor(plenty)).toHaveLength(6)
      for (const x of answers.filter((x) => x.id === rated && x.answer._tag === "Denied")) expect(denied(x.answer).reason).toBe("rate_limited")
      for (const x of answers.filter((x) => x.id === few && x.answer._tag === "Denied")) expect(denied(x.answer).reason).toBe("concurrency")
      for (const x of answers.filter((x) => x.id === told)) expect(denied(x.answer).reason).toBe("backoff")
      const permits = answers.flatMap((x) => (x.answer._tag === "Admitted" ? [x.answer.permit] : []))
      expect(new Set(permits).size).toBe(permits.length)

      // Completions in one batch: the concurrency permits come back, each exactly once.
      yield* Effect.forEach(grantedFor(few), (x) => x.state.complete(few, admitted(x.answer).permit, "success", false), { concurrency: "unbounded" })
      const again = yield* Effect.forEach([a, batched, b, a], (state) => state.admit(few, limitsOf[few]!), { concurrency: "unbounded" })
      expect(again.filter((x) => x._tag === "Admitted")).toHaveLength(2)

      // Failures completed in one batch count one by one: three open the circuit for everyone.
      const flaky = seller()
      const flakyPermits = yield* Effect.forEach([a, a, batched], (state) => Effect.map(state.admit(flaky, limits()), (x) => ({ state, permit: admitted(x).permit })), {
        concurrency: "unbounded"
      })
      yield* Effect.forEach(flakyPermits, ({ state, permit }) => state.complete(flaky, permit, "failure", false), { concurrency: "unbounded" })
      expect((yield* b.circuit(flaky)).state).toBe("open")
      expect(denied(yield* b.admit(flaky, limits())).reason).toBe("circuit_open")
    }))

  it.live("carrier history is one sorted set per ISBN, shared, capped, with a 7-day TTL", () =>
    Effect.gen(function* () {
      const prefix = newPrefix()
      const options = { url: redisUrl, keyPrefix: prefix, circuit }
      const a = yield* instance(SharedState.layerRedis(options))
      const b = yield* instance(SharedState.layerRedis(options))
      const isbn = `978${randomUUID()}`
      yield* a.recordCarriers(isbn, [
        { sellerId: "x", total: 700 },
        { sellerId: "y", total: 650 }
      ])
      expect(yield* b.carriers(isbn, 10)).toEqual([
        { sellerId: "y", total: 650 },
        { sellerId: "x", total: 700 }
      ])
      yield* b.recordCarriers(isbn, [], ["y"])
      expect(yield* a.carriers(isbn, 10)).toEqual([{ sellerId: "x", total: 700 }])

      const raw = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
      yield* Effect.addFinalizer(() => Effect.sync(() => raw.disconnect()))
      const key = `${prefix}:carriers:${isbn}`
      const [members, ttl] = yield* Effect.promise(() => Promise.all([raw.zrange(key, 0, -1, "WITHSCORES"), raw.pttl(key)]))
      expect(members).toEqual(["x", "700"])
      expect(ttl).toBeGreaterThan(7 * 24 * 60 * 60 * 1000 - 60_000)
      expect(ttl).toBeLessThanOrEqual(7 * 24 * 60 * 60 * 1000)
    }))

  it.live("the finish notification alone wakes waiters in other instances", () =>
    Effect.gen(function* () {
      // Polling so slow that only the published notification can wake the waiters in time.
      const options = { url: redisUrl, keyPrefix: newPrefix(), circuit, leaderPollMillis: 10_000 }
      const a = yield* instance(SharedState.layerRedis(options))
      const b = yield* instance(SharedState.layerRedis(options))
      const key = `quote:${randomUUID()}`
      const other = `quote:${randomUUID()}`
      const leader = Option.getOrThrow(yield* a.lead(key, 5_000))
      Option.getOrThrow(yield* a.lead(other, 5_000))
      const waiters = yield* Effect.forEach([a, b, b], (s) => Effect.forkChild(elapsed(s.awaitLeader(key, 3_000))))
      const bystander = yield* Effect.forkChild(b.awaitLeader(other, 1_000))
      yield* Effect.sleep(100)
      yield* a.finish(leader)
      for (const waiter of waiters) {
        const [result, waited] = yield* Fiber.join(waiter)
        expect(result).toBe("finished")
        expect(waited).toBeLessThan(1_000)
      }
      // Another key's finish woke no one else.
      expect(yield* Fiber.join(bystander)).toBe("timed_out")
    }))
})

describe("SharedState.layerRedis without Redis", () => {
  it.live("ping: degraded, within the command timeout, while Redis is unreachable", () =>
    Effect.gen(function* () {
      const state = yield* SharedState.SharedState
      const [result, waited] = yield* elapsed(state.ping)
      expect(result).toBe("degraded")
      expect(waited).toBeLessThan(1_000)
    }).pipe(
      Effect.provide(SharedState.layerRedis({ url: "redis://127.0.0.1:1", keyPrefix: `bbtest-${randomUUID()}`, circuit, commandTimeoutMillis: 250 })),
      Effect.provide(Logger.layer([]))
    )
  )

  it.live("keeps carrier history in-process while Redis is unreachable", () => {
    const errors: Array<string> = []
    const capture = Logger.make(({ logLevel, message }) => {
      if (LogLevel.isGreaterThanOrEqualTo(logLevel, "Error")) errors.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
    })
    return Effect.gen(function* () {
      const state = yield* SharedState.SharedState
      const start = yield* Clock.currentTimeMillis
      const isbn = `978${randomUUID()}`
      yield* state.recordCarriers(isbn, [
        { sellerId: "b", total: 900 },
        { sellerId: "a", total: 800 }
      ])
      expect(yield* state.carriers(isbn, 10)).toEqual([
        { sellerId: "a", total: 800 },
        { sellerId: "b", total: 900 }
      ])
      expect((yield* Clock.currentTimeMillis) - start).toBeLessThan(1_000)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(/Redis unreachable/)
    }).pipe(
      Effect.provide(SharedState.layerRedis({ url: "redis://127.0.0.1:1", keyPrefix: `bbtest-${randomUUID()}`, circuit })),
      Effect.provide(Logger.layer([capture]))
    )
  })

  it.live("falls back to in-process limits divided by the expected processes, logs loudly, never hangs", () => {
    const logs: Array<{ level: string; message: string }> = []
    const capture = Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel, message: Array.isArray(message) ? message.map(String).join(" ") : String(message) })
    })
    return Effect.gen(function* () {
      const state = yield* SharedState.SharedState
      const start = yield* Clock.currentTimeMillis

      const id = seller()
      const l = limits({ maxConcurrency: 8 })
      // The switch to the fallback happens at this first call. Its rate budget starts empty there
      // (proven below with a slow rate: `rated`); at 1,000/s divided by 4 a token comes back every
      // 4 ms, so on a busy machine this call may already find one.
      const first = yield* state.admit(id, l)
      if (first._tag === "Admitted") yield* state.complete(id, first.permit, "cancelled", first.probe)
      else expect(first.reason).toBe("rate_limited")
      yield* Effect.sleep(50)
      const answers: Array<Admission> = []
      for (let i = 0; i < 10; i++) answers.push(yield* state.admit(id, l))
      const granted = answers.filter((a) => a._tag === "Admitted")
      expect(granted).toHaveLength(2)
      for (const a of answers) if (a._tag === "Denied") expect(a.reason).toBe("concurrency")
      // Permits handed out by the fallback are returned to it.
      yield* state.complete(id, granted[0]!.permit, "success", false)
      admitted(yield* state.admit(id, l))
      expect(denied(yield* state.admit(id, l)).reason).toBe("concurrency")

      const rated = seller()
      const rate = limits({ requestsPerSecond: 8, burst: 8 })
      const rateAnswers = yield* Effect.all(Array.from({ length: 6 }, () => state.admit(rated, rate)))
      // 8 / 4 = 2 per second (burst 2), from an empty budget at the switch: the first token comes
      // 500 ms after it, not a burst now.
      expect(rateAnswers.filter((a) => a._tag === "Admitted")).toHaveLength(0)
      for (const a of rateAnswers) expect(denied(a).reason).toBe("rate_limited")
      expect(denied(rateAnswers[0]!).retryAfterMillis).toBeGreaterThan(300)
      expect(denied(rateAnswers[0]!).retryAfterMillis).toBeLessThanOrEqual(500)

      // The circuit breaker and back-off still work locally.
      const flaky = seller()
      for (let i = 0; i < 3; i++) yield* state.complete(flaky, admitted(yield* state.admit(flaky, limits())).permit, "failure", false)
      expect((yield* state.circuit(flaky)).state).toBe("open")
      const told = seller()
      yield* state.backoff(told, 500)
      expect(denied(yield* state.admit(told, limits())).reason).toBe("backoff")

      // No cache, local single flight.
      yield* state.putQuotes("9780000000000", [{ sellerId: "s", value: "v", ttlMillis: 5_000 }])
      expect(yield* state.getQuotes("9780000000000", ["s", "t"])).toEqual([undefined, undefined])
      const key = `quote:${randomUUID()}`
      const leader = Option.getOrThrow(yield* state.lead(key, 5_000))
      expect(Option.isNone(yield* state.lead(key, 5_000))).toBe(true)
      expect(yield* state.awaitLeader(key, 50)).toBe("timed_out")
      yield* state.finish(leader)
      expect(Option.isSome(yield* state.lead(key, 5_000))).toBe(true)

      expect((yield* Clock.currentTimeMillis) - start).toBeLessThan(1_000)

      const errors = logs.filter((entry) => entry.level === "Error")
      // Loud, but once per 10 s rather than once per call.
      expect(errors).toHaveLength(1)
      expect(errors[0]!.message).toMatch(/Redis unreachable/)
      expect(errors[0]!.message).toContain("127.0.0.1:1")
      expect(errors[0]!.message).toContain("divided by 4")
      expect(logs.map((entry) => entry.message).join("\n")).not.toContain("secret")
    }).pipe(
      Effect.provide(
        SharedState.layerRedis({ url: "redis://:secret@127.0.0.1:1", keyPrefix: `bbtest-${randomUUID()}`, circuit, expectedProcesses: 4 })
      ),
      Effect.provide(Logger.layer([capture]))
    )
  })
})
