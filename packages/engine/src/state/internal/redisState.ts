/**
 * Redis-backed shared state: the same semantics as `memoryState.ts`, decided atomically by Lua
 * scripts that read the clock with Redis `TIME` (process clocks never matter).
 *
 * Two kinds of trouble, told apart because they call for opposite answers:
 * - Unreachable: the connection is not ready, it broke while the command was out, or the
 *   command was refused (an error reply included: Redis ran nothing, or a global condition such
 *   as OOM, READONLY or BUSY that every process sees alike). Every method then falls back to an
 *   in-process state, says so loudly, and seller admission runs on limits divided by the
 *   expected number of processes — never unlimited. Each switch to the fallback starts the
 *   sellers' local rate budgets empty (they refill at the divided rate from the switch on), and
 *   this process's seller permits still out through Redis count against the local concurrency,
 *   so the switch itself adds no burst on top of what Redis already admitted.
 * - Slow: connected, but no answer within `commandTimeoutMillis`. Usually our own event loop
 *   stalled (CPU starvation, GC) while Redis answered at once; the command is not cancelled and
 *   may well have run. Seller admission then denies the call for now (`rate_limited`, a short
 *   retry) instead of falling back — falling back would admit from local budgets while the other
 *   processes keep admitting through Redis, over the seller's limit. A permit such a late answer
 *   handed out is given back when the answer arrives. The other methods use their in-process
 *   fallback for that one call (each says below why that is harmless); slow answers are logged
 *   as a rate-limited warning, not as an outage.
 * A stalled loop runs its due timers before it reads the socket, so a timeout first lets the
 * loop read what has arrived (one `setImmediate`, after the poll phase): an answer waiting in
 * the socket is an answer, not a timeout. A connection that receives nothing at all for
 * `deadConnectionMillis` while commands wait (a silent network partition) is closed and
 * reopened, which turns "slow forever" into "unreachable" and so into the fallback.
 *
 * Seller admission and completion issued in the same turn of the event loop (a quote fan-out's
 * calls) go to Redis as one pipeline of per-seller scripts (`scriptBatch.ts`): one round trip
 * per fan-out, each script still atomic on its own seller's keys.
 *
 * Keys (a seller's keys share a hash tag, so they live in one cluster slot):
 * - `${prefix}:{seller:${id}}:circuit`  hash: state, failures, open_until, probe_until
 * - `${prefix}:{seller:${id}}:backoff`  exists while the seller asked us to wait (PX)
 * - `${prefix}:{seller:${id}}:slow`     exists while the seller's rate is halved (PX)
 * - `${prefix}:{seller:${id}}:gcra`     GCRA theoretical arrival time, ms (PX until it is in the past)
 * - `${prefix}:{seller:${id}}:permits`  sorted set: permit id → expiry ms (PX until the last expiry)
 * - `${prefix}:quote:${isbn}:${sellerId}` cached answer (PX its TTL)
 * - `${prefix}:lead:${key}`             single-flight leader token (PX its TTL);
 *   `${prefix}:lead-done:${key}` is published when the leader finishes.
 * - `${prefix}:carriers:${isbn}`        sorted set: seller id → its recent offer's total; the
 *   cheapest `carriersPerIsbn` kept, PX `carrierTtlMillis` refreshed on every write
 *
 * The file, top to bottom: the scripts; the link (`makeLink`: the connection, how a command
 * answers or fails, the reports and `orElse`); then one function per concept over the link —
 * seller admission (`sellerAdmission`, with `admissionFallback` for an outage), the quote cache,
 * single flight, the carrier history, the API's rate limit — and `makeRedisState` puts them
 * together.
 */
import { randomUUID } from "node:crypto"
import { Clock, Data, Deferred, Effect, Exit, Option, type Scope } from "effect"
import { Redis } from "ioredis"
import type {
  Admission,
  AdmissionLimits,
  AdmissionRequest,
  CallOutcome,
  CarrierEntry,
  CircuitOptions,
  CircuitSnapshot,
  DenialReason,
  Leadership,
  PermitReturn,
  Rate,
  RateDecision,
  SharedStateService
} from "../SharedStateService.js"
import { defaultCarrierOptions, defaultCircuitOptions, slowdownMillis } from "../SharedStateService.js"
import { makeMemoryState, permitTtl } from "./memoryState.js"
import { makeScriptBatch, type BatchedScript } from "./scriptBatch.js"

export interface RedisStateOptions {
  /** e.g. "redis://127.0.0.1:6379" */
  readonly url: string
  /** Every key starts with it, e.g. "bb". */
  readonly keyPrefix: string
  readonly circuit?: Partial<CircuitOptions>
  /** Expected number of bookbroker processes; the fallback divides limits by it. Default 4. */
  readonly expectedProcesses?: number
  /**
   * How long a command may take; default 250 ms. A connected Redis that has not answered by then
   * is "slow" (seller admission denies the call, see the module comment), not "unreachable".
   */
  readonly commandTimeoutMillis?: number
  /**
   * Commands waiting and no data at all from Redis for this long: the connection is considered
   * dead, closed and reopened (commands on it fail, the fallback applies until it is back);
   * default 2,000 ms. Well above any answer time, so only a stall that long trips it.
   */
  readonly deadConnectionMillis?: number
  /**
   * How often a single-flight waiter re-checks the leader key, in case it missed the finish
   * notification; default 50 ms. (Tests raise it to prove the notification alone wakes waiters.)
   */
  readonly leaderPollMillis?: number
  /** Carriers kept per ISBN, the cheapest; default 64. */
  readonly carriersPerIsbn?: number
  /** How long an ISBN's carrier history lives after its last write; default 7 days. */
  readonly carrierTtlMillis?: number
  /**
   * Seller admission and completion scripts issued in the same turn go to Redis as one pipeline
   * (`scriptBatch.ts`); default true. False sends each as its own command, one round trip per
   * call (as before issue 14; kept so the quotes bench can compare the two in one run).
   */
  readonly batchSellerScripts?: boolean
}

/** How long an untouched circuit hash (a failure count) survives, beyond its open period. */
const circuitIdleMillis = 24 * 60 * 60 * 1000
/** How often, at most, the fallback says Redis is unreachable. */
const fallbackLogEveryMillis = 10_000
/** How often, at most, slow answers from a connected Redis are reported. */
const slowLogEveryMillis = 10_000
/** When a seller call denied for a slow answer may ask again. */
const slowAnswerRetryMillis = 200
const connectTimeoutMillis = 1_000
/** Marks permits and leadership tokens that the in-process fallback handed out. */
const localMark = "local:"

/** `now` in integer epoch milliseconds from the Redis server clock. */
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * KEYS: circuit, backoff, slow, gcra, permits
 * ARGV: requestsPerSecond, burst, maxConcurrency, permitTtl, permit id
 * Returns {1, permit, probe} or {0, reason, retryAfterMillis}.
 */
const admitLua = `${luaNow}
local rps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_concurrency = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local permit = ARGV[5]

local probe = 0
local circuit = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'probe_until')
if circuit[1] == 'open' then
  local open_until = tonumber(circuit[2]) or 0
  local probe_until = tonumber(circuit[3]) or 0
  if now < open_until then return {0, 'circuit_open', open_until - now} end
  if probe_until > now then return {0, 'circuit_open', probe_until - now} end
  probe = 1
end

local backoff = redis.call('PTTL', KEYS[2])
if backoff > 0 then return {0, 'backoff', backoff} end

local rate = rps
if redis.call('EXISTS', KEYS[3]) == 1 then rate = rps / 2 end
local interval = 1000 / rate
local tat = tonumber(redis.call('GET', KEYS[4])) or 0
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then return {0, 'rate_limited', math.ceil(allow_at - now)} end

redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
if redis.call('ZCARD', KEYS[5]) >= max_concurrency then
  local soonest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  local at = tonumber(soonest[2]) or (now + 1)
  return {0, 'concurrency', math.max(1, at - now)}
end

local expires = now + ttl
redis.call('ZADD', KEYS[5], expires, permit)
local last = redis.call('ZRANGE', KEYS[5], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[5], math.max(1, (tonumber(last[2]) or expires) - now))
tat = tat + interval
redis.call('SET', KEYS[4], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
if probe == 1 then redis.call('HSET', KEYS[1], 'probe_until', expires) end
return {1, permit, probe}
`

/**
 * KEYS: circuit, permits
 * ARGV: permit id, outcome, probe ('1' | '0'), failureThreshold, openMillis, idle millis
 */
const completeLua = `
if ARGV[2] == 'abandoned' then
  -- Sent, and we stopped waiting: the seller may still be at it, so the permit stays out until it
  -- expires; the circuit learns nothing, a probe may go again.
  if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'probe_until', 0) end
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'cancelled' then
  -- We stopped waiting: the permit goes back, the circuit learns nothing, a probe may go again.
  if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'probe_until', 0) end
  return 0
end
if ARGV[2] == 'success' then
  -- Any success closes the circuit and clears the failure count: the initial state.
  redis.call('DEL', KEYS[1])
  return 0
end
${luaNow}
local open_millis = tonumber(ARGV[5])
local state = redis.call('HGET', KEYS[1], 'state')
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if ARGV[3] == '1' or (state ~= 'open' and failures >= tonumber(ARGV[4])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', now + open_millis, 'probe_until', 0)
end
redis.call('PEXPIRE', KEYS[1], open_millis + tonumber(ARGV[6]))
return failures
`

/**
 * KEYS: backoff, slow
 * ARGV: backoff millis, slow millis (each kept only when longer than what is there)
 */
const backoffLua = `
for i = 1, 2 do
  local millis = tonumber(ARGV[i])
  if millis > 0 and redis.call('PTTL', KEYS[i]) < millis then
    redis.call('SET', KEYS[i], '1', 'PX', millis)
  end
end
return 0
`

/**
 * KEYS: gcra. ARGV: requestsPerSecond, burst.
 * Returns {1, 0} when allowed (a token taken), {0, retryAfterMillis} when not.
 */
const rateLimitLua = `${luaNow}
local interval = 1000 / tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then return {0, math.ceil(allow_at - now)} end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
return {1, 0}
`

/** KEYS: circuit. Returns {state, failures, open_until}. */
const circuitLua = `${luaNow}
local c = redis.call('HMGET', KEYS[1], 'state', 'failures', 'open_until')
local failures = tonumber(c[2]) or 0
if c[1] ~= 'open' then return {'closed', failures, 0} end
local open_until = tonumber(c[3]) or 0
if now < open_until then return {'open', failures, open_until} end
return {'half_open', failures, open_until}
`

/** KEYS: lead key. ARGV: token, channel. Deletes and publishes only when the token still leads. */
const finishLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '1')
  return 1
end
return 0
`

type Script = (...args: Array<string | number>) => Promise<unknown>

interface ScriptedRedis extends Redis {
  readonly bookbrokerAdmit: Script
  readonly bookbrokerComplete: Script
  readonly bookbrokerBackoff: Script
  readonly bookbrokerCircuit: Script
  readonly bookbrokerFinish: Script
  readonly bookbrokerRateLimit: Script
}

/** Not connected, the connection broke under the command, or the command was refused: fall back. */
class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{ readonly reason: string }> {}
/** Connected, but no answer within the command timeout; the command may still run in Redis. */
class RedisSlow extends Data.TaggedError("RedisSlow")<{ readonly reason: string }> {}
type RedisFailure = RedisUnavailable | RedisSlow

/** The URL as it may be logged: any password replaced. */
export const redactRedisUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@")
  }
}

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const denialReasons: ReadonlyArray<DenialReason> = ["circuit_open", "backoff", "rate_limited", "concurrency"]

const decodeAdmission = (reply: unknown): Admission => {
  if (!Array.isArray(reply)) throw new Error(`unexpected admit reply: ${String(reply)}`)
  const [admitted, detail, extra] = reply as [unknown, unknown, unknown]
  if (admitted === 1) return { _tag: "Admitted", permit: String(detail), probe: extra === 1 }
  const reason = denialReasons.find((r) => r === detail)
  if (reason === undefined) throw new Error(`unexpected admit reply: ${JSON.stringify(reply)}`)
  return { _tag: "Denied", reason, retryAfterMillis: Number(extra) }
}

const decodeCircuit = (reply: unknown): CircuitSnapshot => {
  if (!Array.isArray(reply)) throw new Error(`unexpected circuit reply: ${String(reply)}`)
  const [state, failures, openUntil] = reply as [unknown, unknown, unknown]
  if (state !== "closed" && state !== "open" && state !== "half_open") throw new Error(`unexpected circuit state: ${String(state)}`)
  return { state, consecutiveFailures: Number(failures), openUntil: Number(openUntil) }
}

/** Waits (bounded) for the client's first connection attempt to succeed or fail. */
const awaitConnection = (client: Redis): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (client.status === "ready") return resume(Effect.void)
    const done = () => {
      cleanup()
      resume(Effect.void)
    }
    const cleanup = () => {
      client.off("ready", done)
      client.off("error", done)
      client.off("end", done)
    }
    client.once("ready", done)
    client.once("error", done)
    client.once("end", done)
    return Effect.sync(cleanup)
  }).pipe(Effect.timeout(connectTimeoutMillis), Effect.ignore)

const closeClient = (client: Redis, graceful: boolean): Effect.Effect<void> =>
  Effect.promise(() => (graceful && client.status === "ready" ? client.quit().then(() => undefined, () => undefined) : Promise.resolve())).pipe(
    Effect.timeout(1_000),
    Effect.ignore,
    Effect.andThen(Effect.sync(() => client.disconnect()))
  )

/**
 * The connection and the way every command goes through it: a command either answers, or fails
 * as unreachable or slow (`redis`); the other parts decide what each failure means for them,
 * most through `orElse` (the in-process fallback, reported). One per process.
 */
interface Link {
  readonly client: ScriptedRedis
  readonly prefix: string
  /** The expected number of bookbroker processes: the fallback divides limits by it. */
  readonly processes: number
  readonly redis: <A>(command: () => Promise<A>, onLateAnswer?: (answer: A) => void) => Effect.Effect<A, RedisFailure>
  readonly orElse: <A>(operation: string, primary: Effect.Effect<A, RedisFailure>, fallback: Effect.Effect<A>) => Effect.Effect<A>
  readonly reportFallback: (error: RedisUnavailable) => Effect.Effect<void>
  readonly reportSlow: (operation: string, error: RedisSlow) => Effect.Effect<void>
  /** When this process last switched to the fallback (Effect clock, ms). */
  readonly fallbackSince: () => number
  /** Runs `hook` at each switch to the fallback. */
  readonly onFallbackSwitch: (hook: () => void) => void
}

/** What this process knows of the connection's health, shared by the parts of the link. */
interface Health {
  lastConnectionError: string
  /** Bumped on every connection error, close or reconnect: a command that saw it change is not merely slow. */
  connectionEvents: number
  /** On the in-process fallback now (unreachable), until a command answers again. */
  degraded: boolean
  /** When this process last switched to the fallback (Effect clock, ms). */
  fallbackSince: number
  lastFallbackLog: number
  lastSlowLog: number
  slowSinceLog: number
  /** Run at each switch to the fallback. */
  readonly switchHooks: Array<() => void>
}

/** The client, with bookbroker's scripts defined, counting connection events into `health`. */
const openClient = (options: RedisStateOptions, health: Health): Effect.Effect<ScriptedRedis, never, Scope.Scope> => {
  const deadConnectionMillis = Math.max(1, options.deadConnectionMillis ?? 2_000)
  return Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis(options.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: connectTimeoutMillis,
        socketTimeout: deadConnectionMillis
      }) as ScriptedRedis
      redis.on("error", (error: unknown) => {
        health.lastConnectionError = describeError(error)
        health.connectionEvents += 1
      })
      for (const event of ["close", "end", "reconnecting"]) redis.on(event, () => (health.connectionEvents += 1))
      redis.defineCommand("bookbrokerAdmit", { lua: admitLua, numberOfKeys: 5 })
      redis.defineCommand("bookbrokerComplete", { lua: completeLua, numberOfKeys: 2 })
      redis.defineCommand("bookbrokerBackoff", { lua: backoffLua, numberOfKeys: 2 })
      redis.defineCommand("bookbrokerCircuit", { lua: circuitLua, numberOfKeys: 1 })
      redis.defineCommand("bookbrokerFinish", { lua: finishLua, numberOfKeys: 1 })
      redis.defineCommand("bookbrokerRateLimit", { lua: rateLimitLua, numberOfKeys: 1 })
      return redis
    }),
    (redis) => closeClient(redis, true)
  )
}

/**
 * One Redis command, failing fast when not connected. No answer within `commandTimeoutMillis`
 * is `RedisSlow` while the connection stayed up throughout, `RedisUnavailable` otherwise.
 * Real timers, not the Effect clock: this is about the network and our own event loop.
 * `onLateAnswer` gets an answer that arrives after the caller stopped waiting (timed out or
 * interrupted).
 */
const runCommand =
  (client: ScriptedRedis, health: Health, commandTimeoutMillis: number, safeUrl: string) =>
  <A>(command: () => Promise<A>, onLateAnswer?: (answer: A) => void): Effect.Effect<A, RedisFailure> =>
    Effect.callback<A, RedisFailure>((resume) => {
      if (client.status !== "ready") {
        resume(Effect.fail(new RedisUnavailable({ reason: `connection ${client.status}: ${health.lastConnectionError}` })))
        return
      }
      const eventsBefore = health.connectionEvents
      let settled = false
      let grace: ReturnType<typeof setImmediate> | undefined
      const settle = (result: Effect.Effect<A, RedisFailure>) => {
        if (settled) return
        stop()
        resume(result)
      }
      const timer = setTimeout(() => {
        // After a stall the loop runs due timers before it polls the socket: let it read what
        // has arrived (the poll phase comes before setImmediate's) before calling it a timeout.
        grace = setImmediate(() => {
          const reason = `no answer within ${commandTimeoutMillis} ms`
          settle(
            Effect.fail(
              client.status === "ready" && health.connectionEvents === eventsBefore
                ? new RedisSlow({ reason })
                : new RedisUnavailable({ reason: `${reason}; connection ${client.status}: ${health.lastConnectionError}` })
            )
          )
        })
      }, commandTimeoutMillis)
      const stop = () => {
        settled = true
        clearTimeout(timer)
        if (grace !== undefined) clearImmediate(grace)
      }
      let pending: Promise<A>
      try {
        pending = command()
      } catch (error) {
        settle(Effect.fail(new RedisUnavailable({ reason: describeError(error) })))
        return
      }
      pending.then(
        (answer) => (settled ? onLateAnswer?.(answer) : settle(Effect.succeed(answer))),
        (error: unknown) => settle(Effect.fail(new RedisUnavailable({ reason: describeError(error) })))
      )
      return Effect.sync(stop)
    }).pipe(
      Effect.tap(() =>
        health.degraded
          ? Effect.suspend(() => {
              health.degraded = false
              return Effect.logWarning(`Redis at ${safeUrl} is reachable again; shared state is shared across processes again`)
            })
          : Effect.void
      )
    )

/** Saying so when Redis is unreachable or slow (rate-limited logs), and `orElse`: what the other parts fall back with. */
const reporting = (health: Health, safeUrl: string, processes: number) => {
  const reportFallback = (error: RedisUnavailable): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (!health.degraded) {
        // A switch: the local rate budgets start empty, so the switch adds no burst.
        health.degraded = true
        health.fallbackSince = now
        for (const hook of health.switchHooks) hook()
      }
      if (now - health.lastFallbackLog < fallbackLogEveryMillis) return Effect.void
      health.lastFallbackLog = now
      return Effect.logError(
        `Redis unreachable at ${safeUrl} (${error.reason}): shared state falls back to in-process state, ` +
          `with requestsPerSecond, burst and maxConcurrency divided by ${processes} expected processes ` +
          `(rate budgets start empty at the switch); ` +
          `the quote cache is off and single flight is per process until Redis answers again`
      ).pipe(Effect.annotateLogs({ redisUrl: safeUrl, expectedProcesses: processes }))
    })

  const reportSlow = (operation: string, error: RedisSlow): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      health.slowSinceLog += 1
      if (now - health.lastSlowLog < slowLogEveryMillis) return Effect.void
      health.lastSlowLog = now
      const count = health.slowSinceLog
      health.slowSinceLog = 0
      return Effect.logWarning(
        `Redis at ${safeUrl} is connected but gave ${operation} ${error.reason} (${count} slow answer(s) since the last report; ` +
          `a stalled event loop or a busy Redis): seller admission denies such calls for now (retry after ${slowAnswerRetryMillis} ms) ` +
          `instead of falling back to in-process limits; the other state uses its in-process fallback for that call`
      ).pipe(Effect.annotateLogs({ redisUrl: safeUrl }))
    })

  /**
   * For everything but seller admission: unreachable falls back (loudly); slow uses the same
   * fallback for this one call, which each caller below argues is harmless.
   */
  const orElse = <A>(operation: string, primary: Effect.Effect<A, RedisFailure>, fallback: Effect.Effect<A>): Effect.Effect<A> =>
    Effect.catchTags(primary, {
      RedisUnavailable: (error) => Effect.andThen(reportFallback(error), fallback),
      RedisSlow: (error) => Effect.andThen(reportSlow(operation, error), fallback)
    })
  return { reportFallback, reportSlow, orElse }
}

const makeLink = (options: RedisStateOptions): Effect.Effect<Link, never, Scope.Scope> =>
  Effect.gen(function* () {
    const processes = Math.max(1, Math.floor(options.expectedProcesses ?? 4))
    const safeUrl = redactRedisUrl(options.url)
    const health: Health = {
      lastConnectionError: "not connected yet",
      connectionEvents: 0,
      degraded: false,
      fallbackSince: 0,
      lastFallbackLog: Number.NEGATIVE_INFINITY,
      lastSlowLog: Number.NEGATIVE_INFINITY,
      slowSinceLog: 0,
      switchHooks: []
    }
    const client = yield* openClient(options, health)
    return {
      client,
      prefix: options.keyPrefix,
      processes,
      redis: runCommand(client, health, Math.max(1, options.commandTimeoutMillis ?? 250), safeUrl),
      ...reporting(health, safeUrl, processes),
      fallbackSince: () => health.fallbackSince,
      onFallbackSwitch: (hook) => void health.switchHooks.push(hook)
    }
  })

const sellerKeyOf = (prefix: string, sellerId: string, part: string) => `${prefix}:{seller:${sellerId}}:${part}`

/**
 * Seller admission while Redis is unreachable: the in-process circuit, back-off and concurrency
 * (`memory`) and this process's share of the seller's limits (the limits divided by the
 * expected processes), counting the permits this process still has out through Redis.
 */
const admissionFallback = (link: Link, memory: SharedStateService) => {
  const { processes } = link
  /**
   * The fallback's seller rate budgets (GCRA theoretical arrival times), kept here rather than
   * in `memory` because they start empty at each switch (cleared then; a seller not in the map
   * is empty as of the switch).
   */
  const fallbackTats = new Map<string, number>()
  link.onFallbackSwitch(() => fallbackTats.clear())
  /** Sellers' halved-rate periods (`backoff`), for the fallback's rate budgets. */
  const slowUntil = new Map<string, number>()
  /** This process's permits taken through Redis and not yet completed: seller → permit → expiry. */
  const redisPermits = new Map<string, Map<string, number>>()

  const dividedLimits = (limits: AdmissionLimits): AdmissionLimits => ({
    requestsPerSecond: limits.requestsPerSecond / processes,
    burst: Math.max(1, Math.floor(limits.burst / processes)),
    maxConcurrency: Math.max(1, Math.floor(limits.maxConcurrency / processes)),
    timeoutMillis: limits.timeoutMillis
  })

  /** This process's permits for the seller still out through Redis (expired ones dropped). */
  const permitsOut = (sellerId: string, now: number): Map<string, number> | undefined => {
    const permits = redisPermits.get(sellerId)
    if (permits === undefined) return undefined
    for (const [permit, expiresAt] of permits) if (expiresAt <= now) permits.delete(permit)
    if (permits.size > 0) return permits
    redisPermits.delete(sellerId)
    return undefined
  }

  /**
   * This process's share of the seller's limits while on the fallback, or the denial: the rate
   * from a budget that was empty at the switch to the fallback (halved while the seller asked us
   * to slow down), and the concurrency counting the permits still out through Redis. Takes a
   * rate token when it answers `undefined`.
   */
  const takeFallbackShare = (sellerId: string, local: AdmissionLimits, now: number): Admission | undefined => {
    const rate = (slowUntil.get(sellerId) ?? 0) > now ? local.requestsPerSecond / 2 : local.requestsPerSecond
    const interval = 1000 / rate
    const tat = Math.max(fallbackTats.get(sellerId) ?? link.fallbackSince() + local.burst * interval, now)
    const allowAt = tat + interval - local.burst * interval
    if (now < allowAt) return { _tag: "Denied", reason: "rate_limited", retryAfterMillis: Math.ceil(allowAt - now) }
    const out = permitsOut(sellerId, now)
    if (out !== undefined && out.size >= local.maxConcurrency) {
      return { _tag: "Denied", reason: "concurrency", retryAfterMillis: Math.max(1, Math.min(...out.values()) - now) }
    }
    fallbackTats.set(sellerId, tat + interval)
    return undefined
  }

  /**
   * Admission while Redis is unreachable: the in-process circuit, back-off and concurrency
   * (`memory`, its own rate check switched off by an unlimited rate: the rate is
   * `takeFallbackShare`'s), then this process's share. A call `memory` admitted but the share
   * refuses is undone: cancelled gives the permit back and frees a probe, the circuit learns
   * nothing.
   */
  const fallbackAdmit = (sellerId: string, limits: AdmissionLimits): Effect.Effect<Admission> =>
    Effect.gen(function* () {
      const local = dividedLimits(limits)
      const start = yield* Clock.currentTimeMillis
      // Local permits and the ones still out through Redis share the local concurrency.
      const room = Math.max(1, local.maxConcurrency - (permitsOut(sellerId, start)?.size ?? 0))
      const admission = yield* memory.admit(sellerId, { ...local, requestsPerSecond: Number.POSITIVE_INFINITY, maxConcurrency: room })
      if (admission._tag === "Denied") return admission
      const denial = takeFallbackShare(sellerId, local, yield* Clock.currentTimeMillis)
      if (denial === undefined) return { ...admission, permit: `${localMark}${admission.permit}` }
      yield* memory.complete(sellerId, admission.permit, "cancelled", admission.probe)
      return denial
    })

  return { slowUntil, redisPermits, permitsOut, fallbackAdmit }
}

/**
 * Seller admission (rate, concurrency, circuit, back-off) in Redis scripts; while Redis is
 * unreachable, `admissionFallback`; while it is slow, denied for a moment (see the module comment).
 */
const sellerAdmission = (link: Link, memory: SharedStateService, circuitOptions: CircuitOptions, batchSellerScripts: boolean) => {
  const { client, redis, orElse, reportFallback, reportSlow, prefix } = link
  const { slowUntil, redisPermits, permitsOut, fallbackAdmit } = admissionFallback(link, memory)
  const sellerKey = (sellerId: string, part: string) => sellerKeyOf(prefix, sellerId, part)
  /** Seller admission and completion: batched per turn (one round trip per fan-out), or one command each. */
  const sellerScript: (script: BatchedScript, args: ReadonlyArray<string | number>) => Promise<unknown> =
    batchSellerScripts ? makeScriptBatch(client).send : (script, args) => client[script](...args)

  const completeInRedis = (sellerId: string, permit: string, outcome: CallOutcome, probe: boolean): Promise<unknown> =>
    sellerScript("bookbrokerComplete", [
      sellerKey(sellerId, "circuit"),
      sellerKey(sellerId, "permits"),
      permit,
      outcome,
      probe ? "1" : "0",
      circuitOptions.failureThreshold,
      Math.ceil(circuitOptions.openMillis),
      circuitIdleMillis
    ])

  /** An admission answered after its caller stopped waiting: a permit it took goes straight back. */
  const returnLatePermit =
    (sellerId: string) =>
    (reply: unknown): void => {
      let admission: Admission
      try {
        admission = decodeAdmission(reply)
      } catch {
        return
      }
      // Not ready: the permit expires in Redis by itself.
      if (admission._tag === "Admitted" && client.status === "ready") {
        completeInRedis(sellerId, admission.permit, "cancelled", admission.probe).catch(() => undefined)
      }
    }

  const admit = (sellerId: string, limits: AdmissionLimits): Effect.Effect<Admission> =>
    redis(
      () =>
        sellerScript("bookbrokerAdmit", [
          sellerKey(sellerId, "circuit"),
          sellerKey(sellerId, "backoff"),
          sellerKey(sellerId, "slow"),
          sellerKey(sellerId, "gcra"),
          sellerKey(sellerId, "permits"),
          limits.requestsPerSecond,
          limits.burst,
          limits.maxConcurrency,
          Math.ceil(permitTtl(limits)),
          randomUUID()
        ]),
      returnLatePermit(sellerId)
    ).pipe(
      Effect.flatMap((reply) => Effect.try({ try: () => decodeAdmission(reply), catch: (e) => new RedisUnavailable({ reason: describeError(e) }) })),
      Effect.tap((admission) =>
        admission._tag === "Admitted"
          ? Effect.map(Clock.currentTimeMillis, (now) => {
              const permits = permitsOut(sellerId, now) ?? new Map<string, number>()
              permits.set(admission.permit, now + permitTtl(limits))
              redisPermits.set(sellerId, permits)
            })
          : Effect.void
      ),
      Effect.catchTags({
        // Connected, only slow: the script may have run and admitted in Redis, and the other
        // processes keep admitting there. Falling back now would admit on top of them, so the
        // call is denied for now; a permit the late answer brings goes back (returnLatePermit).
        RedisSlow: (error) =>
          Effect.as(reportSlow("seller admission", error), {
            _tag: "Denied",
            reason: "rate_limited",
            retryAfterMillis: slowAnswerRetryMillis
          } satisfies Admission),
        RedisUnavailable: (error) => Effect.andThen(reportFallback(error), fallbackAdmit(sellerId, limits))
      })
    )

  const complete = (sellerId: string, permit: string, outcome: CallOutcome, probe: boolean): Effect.Effect<void> => {
    if (permit.startsWith(localMark)) return memory.complete(sellerId, permit.slice(localMark.length), outcome, probe)
    // An abandoned call's permit stays out here too, until it expires.
    const out = outcome === "abandoned" ? undefined : redisPermits.get(sellerId)
    out?.delete(permit)
    if (out?.size === 0) redisPermits.delete(sellerId)
    return orElse(
      "complete",
      redis(() => completeInRedis(sellerId, permit, outcome, probe)).pipe(Effect.asVoid),
      // Unreachable: the Redis permit expires by itself (never more permits, only fewer for a
      // while). Slow: the command is not cancelled, Redis runs it when it gets to it. Either
      // way the outcome also counts for this process's fallback circuit.
      memory.complete(sellerId, permit, outcome, probe)
    )
  }

  const backoff = (sellerId: string, millis: number): Effect.Effect<void> =>
    // Kept locally too, so a seller that asked us to wait is not called during an outage.
    Effect.andThen(
      Effect.andThen(
        memory.backoff(sellerId, millis),
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (slowUntil.size > 10_000) for (const [id, until] of slowUntil) if (until <= now) slowUntil.delete(id)
          slowUntil.set(sellerId, Math.max(slowUntil.get(sellerId) ?? 0, now + millis + slowdownMillis))
        })
      ),
      orElse(
        "backoff",
        redis(() =>
          client.bookbrokerBackoff(
            sellerKey(sellerId, "backoff"),
            sellerKey(sellerId, "slow"),
            Math.ceil(millis),
            Math.ceil(millis + slowdownMillis)
          )
        ).pipe(Effect.asVoid),
        // Slow: the command stays in flight and Redis applies it late; meanwhile this process
        // already honours it.
        Effect.void
      )
    )

  const circuit = (sellerId: string): Effect.Effect<CircuitSnapshot> =>
    orElse(
      "circuit",
      redis(() => client.bookbrokerCircuit(sellerKey(sellerId, "circuit"))).pipe(
        Effect.flatMap((reply) => Effect.try({ try: () => decodeCircuit(reply), catch: (e) => new RedisUnavailable({ reason: describeError(e) }) }))
      ),
      // A report, not a decision (admission decides in its own script): a slow answer just
      // shows this process's local view for once.
      memory.circuit(sellerId)
    )

  return {
    admit,
    // Started together, the scripts go in one batch (`makeScriptBatch`): one round trip.
    admitMany: (calls: ReadonlyArray<AdmissionRequest>) =>
      Effect.forEach(calls, ({ sellerId, limits }) => admit(sellerId, limits), { concurrency: "unbounded" }),
    complete,
    completeMany: (permits: ReadonlyArray<PermitReturn>) =>
      Effect.forEach(permits, ({ sellerId, permit, outcome, probe }) => complete(sellerId, permit, outcome, probe), { concurrency: "unbounded", discard: true }),
    backoff,
    circuit
  }
}

/** The quote cache: answers kept per ISBN and seller for their TTL; misses and failures are just misses. */
const quoteCache = ({ client, redis, orElse, prefix }: Link) => {
    const getQuotes = (isbn: string, sellerIds: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string | undefined>> =>
      sellerIds.length === 0
        ? Effect.succeed([])
        : orElse(
            "quote cache read",
            redis(() => client.mget(sellerIds.map((id) => `${prefix}:quote:${isbn}:${id}`))).pipe(
              Effect.map((values) => sellerIds.map((_, i) => values[i] ?? undefined))
            ),
            // A miss is just a miss: the seller is asked, through admission.
            Effect.succeed(sellerIds.map(() => undefined))
          )

    const putQuotes: SharedStateService["putQuotes"] = (isbn, entries) => {
      const stored = entries.filter((entry) => entry.ttlMillis > 0)
      if (stored.length === 0) return Effect.void
      return orElse(
        "quote cache write",
        redis(async () => {
          const pipeline = client.pipeline()
          for (const entry of stored) pipeline.set(`${prefix}:quote:${isbn}:${entry.sellerId}`, entry.value, "PX", Math.ceil(entry.ttlMillis))
          const results = (await pipeline.exec()) ?? []
          const failed = results.find(([error]) => error !== null)
          if (failed !== undefined) throw failed[0]
        }),
        // An answer not cached is a later miss (slow: the writes usually land anyway).
        Effect.void
      )
    }

    const forgetQuotes: SharedStateService["forgetQuotes"] = (isbn, sellerIds) =>
      sellerIds.length === 0
        ? Effect.void
        : orElse(
            "quote cache forget",
            // One key a command (the keys of one ISBN live in different Cluster slots).
            Effect.asVoid(redis(() => Promise.all(sellerIds.map((id) => client.del(`${prefix}:quote:${isbn}:${id}`))))),
            // Not forgotten: the answer expires with its TTL (at most the cache's 30 s).
            Effect.void
          )

    return { getQuotes, putQuotes, forgetQuotes }
}

/**
 * Single flight across processes: one leader per key (a token set NX), the others wait for its
 * finish notification (one pattern subscription per process, waiters kept locally) or poll.
 */
const singleFlight = (link: Link, memory: SharedStateService, leaderPollMillis: number) =>
  Effect.gen(function* () {
    const { client, redis, orElse, prefix } = link
    const leadKey = (key: string) => `${prefix}:lead:${key}`
    // Single-flight notifications: one pattern subscription, waiters kept locally.
    const doneChannelPrefix = `${prefix}:lead-done:`
    const waiters = new Map<string, Set<() => void>>()
    const subscriber = yield* Effect.acquireRelease(
      Effect.sync(() => {
        // Subscribes on every (re)connection itself rather than relying on the offline queue.
        const redis = client.duplicate({ autoResubscribe: false, socketTimeout: undefined })
        redis.on("error", () => {})
        redis.on("ready", () => {
          redis.psubscribe(`${doneChannelPrefix}*`).catch(() => {})
        })
        redis.on("pmessage", (_pattern: string, channel: string) => {
          if (!channel.startsWith(doneChannelPrefix)) return
          const wake = waiters.get(channel.slice(doneChannelPrefix.length))
          if (wake !== undefined) for (const w of [...wake]) w()
        })
        return redis
      }),
      (redis) => closeClient(redis, false)
    )

    const lead = (key: string, ttlMillis: number): Effect.Effect<Option.Option<Leadership>> => {
      const token = randomUUID()
      return orElse(
        "single flight",
        redis(
          () => client.set(leadKey(key), token, "PX", Math.max(1, Math.ceil(ttlMillis)), "NX"),
          // Leadership taken after we stopped waiting: nobody leads with it, give it up at once.
          (reply) => {
            if (reply === "OK" && client.status === "ready") client.bookbrokerFinish(leadKey(key), token, `${doneChannelPrefix}${key}`).catch(() => undefined)
          }
        ).pipe(Effect.map((reply) => (reply === "OK" ? Option.some({ key, token }) : Option.none()))),
        // Single flight per process: at worst a duplicate fan-out, whose seller calls still go
        // through admission.
        Effect.map(memory.lead(key, ttlMillis), Option.map((local) => ({ key, token: `${localMark}${local.token}` })))
      )
    }

    const finish = (leadership: Leadership): Effect.Effect<void> =>
      leadership.token.startsWith(localMark)
        ? memory.finish({ key: leadership.key, token: leadership.token.slice(localMark.length) })
        : orElse(
            "single flight",
            redis(() => client.bookbrokerFinish(leadKey(leadership.key), leadership.token, `${doneChannelPrefix}${leadership.key}`)).pipe(
              Effect.asVoid
            ),
            // The leadership lapses by its TTL; waiters see the key gone. (Slow: the command
            // still runs when Redis gets to it.)
            Effect.void
          )

    const leaderGone = (key: string): Effect.Effect<boolean, RedisFailure> =>
      Effect.map(
        redis(() => client.exists(leadKey(key))),
        (count) => count === 0
      )

    const awaitLeader = (key: string, maxWaitMillis: number): Effect.Effect<"finished" | "timed_out"> =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<void>()
        const wake = () => Deferred.doneUnsafe(done, Exit.void)
        let forKey = waiters.get(key)
        if (forKey === undefined) waiters.set(key, (forKey = new Set()))
        forKey.add(wake)
        const unregister = Effect.sync(() => {
          const set = waiters.get(key)
          set?.delete(wake)
          if (set?.size === 0) waiters.delete(key)
        })
        // Registered before the first check, so a finish in between is not missed.
        const waitRemote = Effect.gen(function* () {
          if (yield* leaderGone(key)) return "finished" as const
          const poll = leaderGone(key).pipe(
            Effect.catch(() => Effect.succeed(false)),
            Effect.delay(leaderPollMillis),
            Effect.repeat({ until: (gone) => gone })
          )
          return yield* Effect.raceFirst(Deferred.await(done), poll).pipe(
            Effect.as("finished" as const),
            Effect.timeoutOrElse({ duration: Math.max(0, maxWaitMillis), orElse: () => Effect.succeed("timed_out" as const) })
          )
        })
        // At worst the waiter stops waiting and fans out itself, through admission.
        return yield* orElse("single flight", waitRemote, memory.awaitLeader(key, maxWaitMillis)).pipe(Effect.ensuring(unregister))
      })

    return { subscriber, lead, finish, awaitLeader }
  })

/** Which sellers recently offered an ISBN, the cheapest first (selection hints). */
const carrierHistory = ({ client, redis, orElse, prefix }: Link, memory: SharedStateService, carrierOptions: { readonly carriersPerIsbn: number; readonly carrierTtlMillis: number }) => {
    const carriersKey = (isbn: string) => `${prefix}:carriers:${isbn}`

    const recordCarriers: SharedStateService["recordCarriers"] = (isbn, entries, notCarrying = []) => {
      if (entries.length === 0 && notCarrying.length === 0) return Effect.void
      return orElse(
        "carrier history write",
        redis(async () => {
          const key = carriersKey(isbn)
          // One round trip, applied atomically: add, forget, cap, refresh the TTL.
          const transaction = client.multi()
          if (entries.length > 0) transaction.zadd(key, ...entries.flatMap((entry) => [entry.total, entry.sellerId]))
          if (notCarrying.length > 0) transaction.zrem(key, ...notCarrying)
          transaction.zremrangebyrank(key, carrierOptions.carriersPerIsbn, -1)
          transaction.pexpire(key, carrierOptions.carrierTtlMillis)
          const results = (await transaction.exec()) ?? []
          const failed = results.find(([error]) => error !== null)
          if (failed !== undefined) throw failed[0]
        }),
        // Selection hints only; a slow write usually lands anyway.
        memory.recordCarriers(isbn, entries, notCarrying)
      )
    }

    const carriers = (isbn: string, limit: number): Effect.Effect<ReadonlyArray<CarrierEntry>> => {
      const count = Math.floor(limit)
      if (count <= 0) return Effect.succeed([])
      return orElse(
        "carrier history read",
        redis(() => client.zrange(carriersKey(isbn), 0, count - 1, "WITHSCORES")).pipe(
          Effect.map((reply) => {
            const found: Array<CarrierEntry> = []
            for (let i = 0; i + 1 < reply.length; i += 2) found.push({ sellerId: reply[i]!, total: Number(reply[i + 1]) })
            return found
          })
        ),
        // Selection hints only: fewer known carriers means a wider selection, not more calls
        // than admission allows.
        memory.carriers(isbn, count)
      )
    }

    return { recordCarriers, carriers }
}

/** The API's own rate limit for its clients (per key), and a health ping. */
const apiLimits = ({ client, redis, orElse, prefix, processes }: Link, memory: SharedStateService) => {
    /** One PING within the command timeout; no fallback report (the methods that fall back log it). */
    const ping: Effect.Effect<"ok" | "degraded"> = redis(() => client.ping()).pipe(
      Effect.match({ onFailure: () => "degraded" as const, onSuccess: (reply) => (reply === "PONG" ? ("ok" as const) : ("degraded" as const)) })
    )

    /**
     * Slow answers fall back like unreachable ones (not denied, unlike seller admission): this
     * limit protects bookbroker from its API clients, not a third party from us. The fallback
     * still enforces the limit divided by the expected processes (never unlimited), so a stall
     * lets through at most a little more than the limit for a moment, whereas denying would turn
     * our own stalls into 429s for customers who did nothing wrong.
     */
    const rateLimit = (key: string, rate: Rate): Effect.Effect<RateDecision> =>
      orElse(
        "API rate limit",
        redis(() => client.bookbrokerRateLimit(`${prefix}:{rate:${key}}`, rate.requestsPerSecond, rate.burst)).pipe(
          Effect.flatMap((reply) =>
            Effect.try({
              try: (): RateDecision => {
                const [allowed, retryAfter] = reply as [number, number]
                return allowed === 1 ? { _tag: "Allowed" } : { _tag: "Limited", retryAfterMillis: Number(retryAfter) }
              },
              catch: (e) => new RedisUnavailable({ reason: describeError(e) })
            })
          )
        ),
        memory.rateLimit(key, { requestsPerSecond: rate.requestsPerSecond / processes, burst: Math.max(1, Math.floor(rate.burst / processes)) })
      )

    return { rateLimit, ping }
}

export const makeRedisState = (options: RedisStateOptions): Effect.Effect<SharedStateService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const circuitOptions: CircuitOptions = { ...defaultCircuitOptions, ...options.circuit }
    const carrierOptions = {
      carriersPerIsbn: Math.max(1, Math.floor(options.carriersPerIsbn ?? defaultCarrierOptions.carriersPerIsbn)),
      carrierTtlMillis: Math.max(1, Math.ceil(options.carrierTtlMillis ?? defaultCarrierOptions.carrierTtlMillis))
    }
    const memory = makeMemoryState({ circuit: circuitOptions, carriers: carrierOptions })
    const link = yield* makeLink(options)
    const flight = yield* singleFlight(link, memory, options.leaderPollMillis ?? 50)
    yield* Effect.all([awaitConnection(link.client), awaitConnection(flight.subscriber)], { concurrency: "unbounded", discard: true })
    const { lead, finish, awaitLeader } = flight
    return {
      ...apiLimits(link, memory),
      ...sellerAdmission(link, memory, circuitOptions, options.batchSellerScripts !== false),
      ...quoteCache(link),
      lead,
      finish,
      awaitLeader,
      ...carrierHistory(link, memory, carrierOptions)
    } satisfies SharedStateService
  })
