/**
 * The Redis shared state when Redis is slow or gone, against a private `redis-server` per test
 * (its own port, no persistence; paused, slept or SIGKILLed here — never the shared 6379, which
 * other suites use meanwhile). Real connections and real time (`it.live`): a slow answer must
 * deny a seller call rather than fall back to in-process limits, and a real outage falls back
 * from empty rate budgets.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { freePort } from "../src/testing/Ports.js"
import { admitted, denied, limits, seller } from "./support/admission.js"
import { Clock, Context, Effect, Fiber, Layer, Logger, LogLevel, type Scope } from "effect"
import { Redis } from "ioredis"
import type { Admission } from "../src/state/SharedState.js"
import * as SharedState from "../src/state/SharedState.js"

const circuit = { failureThreshold: 3, openMillis: 300 }

interface PrivateRedis {
  readonly url: string
  /** SIGKILL; done once the process is gone. */
  readonly kill: Effect.Effect<void>
}

const killed = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

/** A redis-server on a free port for this test's scope (DEBUG allowed: it is ours alone). */
const privateRedis: Effect.Effect<PrivateRedis, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    await new Promise<void>((resolve, reject) => {
      let output = ""
      const timer = setTimeout(() => reject(new Error(`redis-server not ready:\n${output}`)), 10_000)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on("data", onData)
      child.stderr?.on("data", onData)
      child.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)))
    })
    return { child, url: `redis://127.0.0.1:${port}` }
  }),
  ({ child }) => Effect.promise(() => killed(child))
).pipe(Effect.map(({ child, url }) => ({ url, kill: Effect.promise(() => killed(child)) })))

/** A second, plain connection to the private server (to pause or put it to sleep). */
const rawClient = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const instance = (options: SharedState.RedisStateOptions) =>
  Effect.map(Layer.build(SharedState.layerRedis(options)), Context.get(SharedState.SharedState))

/** Every log line of the test, by level. */
const captureLogs = () => {
  const logs: Array<{ level: LogLevel.LogLevel; message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push({ level: logLevel, message: Array.isArray(message) ? message.map(String).join(" ") : String(message) })
  })
  const atLeast = (level: LogLevel.LogLevel) => logs.filter((entry) => LogLevel.isGreaterThanOrEqualTo(entry.level, level)).map((entry) => entry.message)
  return { layer: Logger.layer([logger]), atLeast }
}

/** Admitted through Redis (not by the in-process fallback, whose permits are marked). */
const admittedByRedis = (admission: Admission) => {
  const answer = admitted(admission)
  expect(answer.permit.startsWith("local:")).toBe(false)
  return answer
}

/**
 * Blocks this process's event loop (answering when the stall began), as CPU starvation or a long GC pause would — from a check
 * phase callback (like one in the I/O phase), so the next loop iteration runs the timers that
 * fell due before it reads the sockets. (A stall inside a timer callback would not show that:
 * libuv reads its clock once per iteration, so those timers wait for the next one.)
 */
const stallEventLoop = (millis: number) =>
  Effect.callback<number>((resume) => {
    setImmediate(() => {
      const started = Date.now()
      const until = started + millis
      while (Date.now() < until) {
        // busy
      }
      resume(Effect.succeed(started))
    })
  })

/** Polls the condition every 20 ms, for at most `timeoutMillis`. */
const waitFor = <E, R>(condition: Effect.Effect<boolean, E, R>, timeoutMillis = 5_000) =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMillis
    while (!(yield* condition)) {
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* Effect.die(new Error(`condition not met within ${timeoutMillis} ms`))
      yield* Effect.sleep(20)
    }
  })

describe("SharedState.layerRedis when Redis is slow or gone", () => {
  it.live(
    "a command that times out while connected denies the seller call instead of falling back; a late permit goes back",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const server = yield* privateRedis
        const raw = yield* rawClient(server.url)
        // One expected process: a fallback would admit freely here, so any admission below would be it.
        const state = yield* instance({ url: server.url, keyPrefix: `bbtest-${randomUUID()}`, circuit, expectedProcesses: 1, commandTimeoutMillis: 100 })
        const id = seller()
        const l = limits({ maxConcurrency: 2 })
        yield* state.complete(id, admittedByRedis(yield* state.admit(id, l)).permit, "success", false)

        // Scripts count as writes: every admission waits in Redis until the pause ends.
        yield* Effect.promise(() => raw.client("PAUSE", 800, "WRITE"))
        const pausedAt = yield* Clock.currentTimeMillis
        for (let i = 0; i < 3; i++) {
          const answer = denied(yield* state.admit(id, l))
          expect(answer.reason).toBe("rate_limited")
          expect(answer.retryAfterMillis).toBeGreaterThanOrEqual(100)
          expect(answer.retryAfterMillis).toBeLessThanOrEqual(250)
        }
        expect((yield* Clock.currentTimeMillis) - pausedAt).toBeLessThan(700)

        // After the pause the three scripts run; two of them take the two permits. Those late
        // permits are handed back as their answers arrive, so both permits are free again.
        yield* Effect.sleep(800 - ((yield* Clock.currentTimeMillis) - pausedAt) + 300)
        const permitsKey = (yield* Effect.promise(() => raw.keys(`*${id}*permits`)))[0]
        expect(permitsKey === undefined ? 0 : yield* Effect.promise(() => raw.zcard(permitsKey))).toBe(0)
        admittedByRedis(yield* state.admit(id, l))
        admittedByRedis(yield* state.admit(id, l))
        expect(denied(yield* state.admit(id, l)).reason).toBe("concurrency")

        // No fallback: nothing at error level; one (rate-limited) warning for the three slow answers.
        expect(logs.atLeast("Error")).toEqual([])
        const warnings = logs.atLeast("Warn")
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toMatch(/connected but gave seller admission no answer within 100 ms/)
      }).pipe(Effect.provide(logs.layer))
    },
    15_000
  )

  it.live(
    "an answer that arrived while the event loop was stalled is an answer, not a timeout",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const server = yield* privateRedis
        const raw = yield* rawClient(server.url)
        const state = yield* instance({ url: server.url, keyPrefix: `bbtest-${randomUUID()}`, circuit, expectedProcesses: 1, commandTimeoutMillis: 60 })
        const id = seller()
        const l = limits()
        let shown = 0
        for (let i = 0; i < 12 && shown < 4; i++) {
          // The admission goes out and Redis holds its answer for 100 ms; meanwhile our loop stalls
          // for 300 ms, far past the 60 ms timeout, and the answer arrives in the socket during
          // the stall. When the loop runs again, the due timer comes before the socket is read.
          yield* Effect.promise(() => raw.client("PAUSE", 100, "WRITE"))
          const warningsBefore = logs.atLeast("Warn").length
          const sentAt = Date.now()
          const admission = yield* Effect.forkChild(state.admit(id, l))
          yield* Effect.sleep(5)
          const stalledAt = yield* stallEventLoop(300)
          const answer = yield* Fiber.join(admission)
          // On a machine so busy that the timeout fell due before the stall began, this run did
          // not show the case (the timeout was real): it proves nothing either way.
          if (stalledAt - sentAt >= 60) {
            if (answer._tag === "Admitted") yield* state.complete(id, answer.permit, "success", false)
            continue
          }
          shown += 1
          yield* state.complete(id, admittedByRedis(answer).permit, "success", false)
          expect(logs.atLeast("Warn").slice(warningsBefore)).toEqual([])
        }
        expect(shown).toBe(4)
      }).pipe(Effect.provide(logs.layer))
    },
    15_000
  )

  it.live(
    "after a real disconnect the fallback admits at most the divided limit, from an empty budget",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const server = yield* privateRedis
        const state = yield* instance({ url: server.url, keyPrefix: `bbtest-${randomUUID()}`, circuit, expectedProcesses: 2 })
        const id = seller()
        // 20/s, burst 10; the fallback's share with 2 processes: 10/s (one per 100 ms), burst 5.
        const l = limits({ requestsPerSecond: 20, burst: 10 })
        for (let i = 0; i < 10; i++) yield* state.complete(id, admittedByRedis(yield* state.admit(id, l)).permit, "success", false)
        expect(denied(yield* state.admit(id, l)).reason).toBe("rate_limited")

        yield* server.kill
        yield* waitFor(Effect.map(state.ping, (ping) => ping === "degraded"))

        // The switch: Redis has just admitted a whole burst, so the local budget starts empty.
        const switched = yield* Clock.currentTimeMillis
        const first = denied(yield* state.admit(id, l))
        expect(first.reason).toBe("rate_limited")
        expect(first.retryAfterMillis).toBeGreaterThan(50)
        expect(first.retryAfterMillis).toBeLessThanOrEqual(100)
        const times: Array<number> = []
        while ((yield* Clock.currentTimeMillis) - switched < 1_000) {
          const answer = yield* state.admit(id, l)
          if (answer._tag === "Admitted") {
            expect(answer.permit.startsWith("local:")).toBe(true)
            times.push((yield* Clock.currentTimeMillis) - switched)
            yield* state.complete(id, answer.permit, "success", false)
          } else {
            expect(answer.reason).toBe("rate_limited")
          }
          yield* Effect.sleep(5)
        }
        // One per 100 ms from the switch on, none from a starting burst.
        expect(times.length).toBeGreaterThanOrEqual(7)
        expect(times.length).toBeLessThanOrEqual(10)
        times.forEach((at, i) => expect(at).toBeGreaterThanOrEqual((i + 1) * 100 - 5))

        // Idle, the budget refills up to the divided burst, and no further.
        yield* Effect.sleep(700)
        const burst: Array<Admission> = []
        for (let i = 0; i < 10; i++) burst.push(yield* state.admit(id, l))
        expect(burst.filter((answer) => answer._tag === "Admitted")).toHaveLength(5)

        const errors = logs.atLeast("Error")
        expect(errors).toHaveLength(1)
        expect(errors[0]).toMatch(/Redis unreachable/)
        expect(errors[0]).toContain("divided by 2")
      }).pipe(Effect.provide(logs.layer))
    },
    15_000
  )

  it.live("after a real disconnect, the permits still out through Redis count against the fallback's concurrency", () =>
    Effect.gen(function* () {
      const server = yield* privateRedis
      const state = yield* instance({ url: server.url, keyPrefix: `bbtest-${randomUUID()}`, circuit, expectedProcesses: 2 })
      const id = seller()
      // The fallback's share: 2 permits.
      const l = limits({ maxConcurrency: 4 })
      const first = admittedByRedis(yield* state.admit(id, l))
      admittedByRedis(yield* state.admit(id, l))

      yield* server.kill
      yield* waitFor(Effect.map(state.ping, (ping) => ping === "degraded"))
      // The rate budget starts empty (500/s here: refilled within milliseconds).
      expect(denied(yield* state.admit(id, l)).reason).toBe("rate_limited")
      yield* Effect.sleep(20)
      const busy = denied(yield* state.admit(id, l))
      expect(busy.reason).toBe("concurrency")
      expect(busy.retryAfterMillis).toBeGreaterThan(2_000)

      // One of the two calls ends: one local permit.
      yield* state.complete(id, first.permit, "success", false)
      const local = yield* state.admit(id, l)
      expect(local._tag === "Admitted" && local.permit.startsWith("local:")).toBe(true)
      expect(denied(yield* state.admit(id, l)).reason).toBe("concurrency")
    }).pipe(Effect.provide(Logger.layer([])))
  )

  it.live(
    "a connection that receives nothing for deadConnectionMillis is reopened: slow turns into unreachable, then back",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const server = yield* privateRedis
        const raw = yield* rawClient(server.url)
        const state = yield* instance({
          url: server.url,
          keyPrefix: `bbtest-${randomUUID()}`,
          circuit,
          expectedProcesses: 1,
          commandTimeoutMillis: 100,
          deadConnectionMillis: 400
        })
        const id = seller()
        const l = limits()
        admittedByRedis(yield* state.admit(id, l))

        // The whole server stops answering for 1.5 s (the reply to this comes after it).
        const sleeping = raw.debug("SLEEP", "1.5").catch(() => undefined)
        yield* Effect.sleep(50)
        const slow = denied(yield* state.admit(id, l))
        expect(slow.reason).toBe("rate_limited")
        expect(logs.atLeast("Error")).toEqual([])

        // Nothing received for 400 ms: the connection is dropped, and the fallback takes over.
        yield* Effect.sleep(500)
        expect(yield* state.ping).toBe("degraded")
        yield* state.admit(id, l)
        expect(logs.atLeast("Error").join("\n")).toMatch(/Redis unreachable/)

        yield* Effect.promise(() => sleeping)
        yield* waitFor(Effect.map(state.ping, (ping) => ping === "ok"))
        admittedByRedis(yield* state.admit(id, l))
      }).pipe(Effect.provide(logs.layer))
    },
    15_000
  )
})
