/**
 * Redis-backed shared state: the same semantics as `memoryState.ts`, decided atomically by Lua
 * scripts that read the clock with Redis `TIME` (process clocks never matter). When Redis is
 * unreachable, or a command errors or does not answer within `commandTimeoutMillis`, every
 * method falls back to an in-process state with limits divided by the expected number of
 * processes — never to unlimited — and says so loudly.
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
 */
import { randomUUID } from "node:crypto"
import { Clock, Data, Deferred, Duration, Effect, Exit, Option, type Scope } from "effect"
import { Redis } from "ioredis"
import type {
  Admission,
  AdmissionLimits,
  CallOutcome,
  CarrierEntry,
  CircuitOptions,
  CircuitSnapshot,
  DenialReason,
  Leadership,
  Rate,
  RateDecision,
  SharedStateService
} from "../SharedState.js"
import { defaultCarrierOptions, defaultCircuitOptions, slowdownMillis } from "../SharedState.js"
import { makeMemoryState, permitTtl } from "./memoryState.js"

export interface RedisStateOptions {
  /** e.g. "redis://127.0.0.1:6379" */
  readonly url: string
  /** Every key starts with it, e.g. "bb". */
  readonly keyPrefix: string
  readonly circuit?: Partial<CircuitOptions>
  /** Expected number of bookbroker processes; the fallback divides limits by it. Default 4. */
  readonly expectedProcesses?: number
  /** Per-command timeout before falling back; default 250 ms. */
  readonly commandTimeoutMillis?: number
  /**
   * How often a single-flight waiter re-checks the leader key, in case it missed the finish
   * notification; default 50 ms. (Tests raise it to prove the notification alone wakes waiters.)
   */
  readonly leaderPollMillis?: number
  /** Carriers kept per ISBN, the cheapest; default 64. */
  readonly carriersPerIsbn?: number
  /** How long an ISBN's carrier history lives after its last write; default 7 days. */
  readonly carrierTtlMillis?: number
}

/** How long an untouched circuit hash (a failure count) survives, beyond its open period. */
const circuitIdleMillis = 24 * 60 * 60 * 1000
/** How often, at most, the fallback says Redis is unreachable. */
const fallbackLogEveryMillis = 10_000
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

class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{ readonly reason: string }> {}

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
  Effect.async<void>((resume) => {
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
    Effect.zipRight(Effect.sync(() => client.disconnect()))
  )

export const makeRedisState = (options: RedisStateOptions): Effect.Effect<SharedStateService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const circuitOptions: CircuitOptions = { ...defaultCircuitOptions, ...options.circuit }
    const processes = Math.max(1, Math.floor(options.expectedProcesses ?? 4))
    const commandTimeout = Duration.millis(options.commandTimeoutMillis ?? 250)
    const prefix = options.keyPrefix
    const leaderPollMillis = options.leaderPollMillis ?? 50
    const safeUrl = redactRedisUrl(options.url)
    const carrierOptions = {
      carriersPerIsbn: Math.max(1, Math.floor(options.carriersPerIsbn ?? defaultCarrierOptions.carriersPerIsbn)),
      carrierTtlMillis: Math.max(1, Math.ceil(options.carrierTtlMillis ?? defaultCarrierOptions.carrierTtlMillis))
    }
    const memory = makeMemoryState({ circuit: circuitOptions, carriers: carrierOptions })

    let lastConnectionError = "not connected yet"
    let lastFallbackLog = Number.NEGATIVE_INFINITY
    let degraded = false

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redis = new Redis(options.url, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: connectTimeoutMillis
        }) as ScriptedRedis
        redis.on("error", (error: unknown) => {
          lastConnectionError = describeError(error)
        })
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

    // Single-flight notifications: one pattern subscription, waiters kept locally.
    const doneChannelPrefix = `${prefix}:lead-done:`
    const waiters = new Map<string, Set<() => void>>()
    const subscriber = yield* Effect.acquireRelease(
      Effect.sync(() => {
        // Subscribes on every (re)connection itself rather than relying on the offline queue.
        const redis = client.duplicate({ autoResubscribe: false })
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

    yield* Effect.all([awaitConnection(client), awaitConnection(subscriber)], { concurrency: "unbounded", discard: true })

    const sellerKey = (sellerId: string, part: string) => `${prefix}:{seller:${sellerId}}:${part}`
    const leadKey = (key: string) => `${prefix}:lead:${key}`

    /** One Redis command, failing fast when not connected and after `commandTimeoutMillis`. */
    const redis = <A>(command: () => Promise<A>): Effect.Effect<A, RedisUnavailable> =>
      Effect.suspend(() =>
        client.status === "ready"
          ? Effect.tryPromise({ try: command, catch: (error) => new RedisUnavailable({ reason: describeError(error) }) })
          : Effect.fail(new RedisUnavailable({ reason: `connection ${client.status}: ${lastConnectionError}` }))
      ).pipe(
        Effect.timeoutFail({
          duration: commandTimeout,
          onTimeout: () => new RedisUnavailable({ reason: `no answer within ${Duration.toMillis(commandTimeout)} ms` })
        }),
        Effect.tap(() =>
          degraded
            ? Effect.suspend(() => {
                degraded = false
                return Effect.logWarning(`Redis at ${safeUrl} is reachable again; shared state is shared across processes again`)
              })
            : Effect.void
        )
      )

    const reportFallback = (error: RedisUnavailable): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        degraded = true
        if (now - lastFallbackLog < fallbackLogEveryMillis) return Effect.void
        lastFallbackLog = now
        return Effect.logError(
          `Redis unreachable at ${safeUrl} (${error.reason}): shared state falls back to in-process state, ` +
            `with requestsPerSecond, burst and maxConcurrency divided by ${processes} expected processes; ` +
            `the quote cache is off and single flight is per process until Redis answers again`
        ).pipe(Effect.annotateLogs({ redisUrl: safeUrl, expectedProcesses: processes }))
      })

    const orElse = <A>(primary: Effect.Effect<A, RedisUnavailable>, fallback: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.catchAll(primary, (error) => Effect.zipRight(reportFallback(error), fallback))

    const dividedLimits = (limits: AdmissionLimits): AdmissionLimits => ({
      requestsPerSecond: limits.requestsPerSecond / processes,
      burst: Math.max(1, Math.floor(limits.burst / processes)),
      maxConcurrency: Math.max(1, Math.floor(limits.maxConcurrency / processes)),
      timeoutMillis: limits.timeoutMillis
    })

    const admit = (sellerId: string, limits: AdmissionLimits): Effect.Effect<Admission> =>
      orElse(
        redis(() =>
          client.bookbrokerAdmit(
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
          )
        ).pipe(Effect.flatMap((reply) => Effect.try({ try: () => decodeAdmission(reply), catch: (e) => new RedisUnavailable({ reason: describeError(e) }) }))),
        Effect.map(memory.admit(sellerId, dividedLimits(limits)), (admission) =>
          admission._tag === "Admitted" ? { ...admission, permit: `${localMark}${admission.permit}` } : admission
        )
      )

    const complete = (sellerId: string, permit: string, outcome: CallOutcome, probe: boolean): Effect.Effect<void> =>
      permit.startsWith(localMark)
        ? memory.complete(sellerId, permit.slice(localMark.length), outcome, probe)
        : orElse(
            redis(() =>
              client.bookbrokerComplete(
                sellerKey(sellerId, "circuit"),
                sellerKey(sellerId, "permits"),
                permit,
                outcome,
                probe ? "1" : "0",
                circuitOptions.failureThreshold,
                Math.ceil(circuitOptions.openMillis),
                circuitIdleMillis
              )
            ).pipe(Effect.asVoid),
            // The Redis permit expires by itself; the outcome still counts for this process.
            memory.complete(sellerId, permit, outcome, probe)
          )

    const backoff = (sellerId: string, millis: number): Effect.Effect<void> =>
      // Kept locally too, so a seller that asked us to wait is not called during an outage.
      Effect.zipRight(
        memory.backoff(sellerId, millis),
        orElse(
          redis(() =>
            client.bookbrokerBackoff(
              sellerKey(sellerId, "backoff"),
              sellerKey(sellerId, "slow"),
              Math.ceil(millis),
              Math.ceil(millis + slowdownMillis)
            )
          ).pipe(Effect.asVoid),
          Effect.void
        )
      )

    const circuit = (sellerId: string): Effect.Effect<CircuitSnapshot> =>
      orElse(
        redis(() => client.bookbrokerCircuit(sellerKey(sellerId, "circuit"))).pipe(
          Effect.flatMap((reply) => Effect.try({ try: () => decodeCircuit(reply), catch: (e) => new RedisUnavailable({ reason: describeError(e) }) }))
        ),
        memory.circuit(sellerId)
      )

    const getQuotes = (isbn: string, sellerIds: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string | undefined>> =>
      sellerIds.length === 0
        ? Effect.succeed([])
        : orElse(
            redis(() => client.mget(sellerIds.map((id) => `${prefix}:quote:${isbn}:${id}`))).pipe(
              Effect.map((values) => sellerIds.map((_, i) => values[i] ?? undefined))
            ),
            Effect.succeed(sellerIds.map(() => undefined))
          )

    const putQuotes: SharedStateService["putQuotes"] = (isbn, entries) => {
      const stored = entries.filter((entry) => entry.ttlMillis > 0)
      if (stored.length === 0) return Effect.void
      return orElse(
        redis(async () => {
          const pipeline = client.pipeline()
          for (const entry of stored) pipeline.set(`${prefix}:quote:${isbn}:${entry.sellerId}`, entry.value, "PX", Math.ceil(entry.ttlMillis))
          const results = (await pipeline.exec()) ?? []
          const failed = results.find(([error]) => error !== null)
          if (failed !== undefined) throw failed[0]
        }),
        Effect.void
      )
    }

    const lead = (key: string, ttlMillis: number): Effect.Effect<Option.Option<Leadership>> => {
      const token = randomUUID()
      return orElse(
        redis(() => client.set(leadKey(key), token, "PX", Math.max(1, Math.ceil(ttlMillis)), "NX")).pipe(
          Effect.map((reply) => (reply === "OK" ? Option.some({ key, token }) : Option.none()))
        ),
        Effect.map(memory.lead(key, ttlMillis), Option.map((local) => ({ key, token: `${localMark}${local.token}` })))
      )
    }

    const finish = (leadership: Leadership): Effect.Effect<void> =>
      leadership.token.startsWith(localMark)
        ? memory.finish({ key: leadership.key, token: leadership.token.slice(localMark.length) })
        : orElse(
            redis(() => client.bookbrokerFinish(leadKey(leadership.key), leadership.token, `${doneChannelPrefix}${leadership.key}`)).pipe(
              Effect.asVoid
            ),
            // The leadership lapses by its TTL; waiters see the key gone.
            Effect.void
          )

    const leaderGone = (key: string): Effect.Effect<boolean, RedisUnavailable> =>
      Effect.map(
        redis(() => client.exists(leadKey(key))),
        (count) => count === 0
      )

    const awaitLeader = (key: string, maxWaitMillis: number): Effect.Effect<"finished" | "timed_out"> =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<void>()
        const wake = () => Deferred.unsafeDone(done, Exit.void)
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
            Effect.catchAll(() => Effect.succeed(false)),
            Effect.delay(leaderPollMillis),
            Effect.repeat({ until: (gone) => gone })
          )
          return yield* Effect.raceFirst(Deferred.await(done), poll).pipe(
            Effect.timeoutTo({ duration: Math.max(0, maxWaitMillis), onSuccess: () => "finished" as const, onTimeout: () => "timed_out" as const })
          )
        })
        return yield* orElse(waitRemote, memory.awaitLeader(key, maxWaitMillis)).pipe(Effect.ensuring(unregister))
      })

    const carriersKey = (isbn: string) => `${prefix}:carriers:${isbn}`

    const recordCarriers: SharedStateService["recordCarriers"] = (isbn, entries, notCarrying = []) => {
      if (entries.length === 0 && notCarrying.length === 0) return Effect.void
      return orElse(
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
        memory.recordCarriers(isbn, entries, notCarrying)
      )
    }

    const carriers = (isbn: string, limit: number): Effect.Effect<ReadonlyArray<CarrierEntry>> => {
      const count = Math.floor(limit)
      if (count <= 0) return Effect.succeed([])
      return orElse(
        redis(() => client.zrange(carriersKey(isbn), 0, count - 1, "WITHSCORES")).pipe(
          Effect.map((reply) => {
            const found: Array<CarrierEntry> = []
            for (let i = 0; i + 1 < reply.length; i += 2) found.push({ sellerId: reply[i]!, total: Number(reply[i + 1]) })
            return found
          })
        ),
        memory.carriers(isbn, count)
      )
    }

    /** One PING within the command timeout; no fallback report (the methods that fall back log it). */
    const ping: Effect.Effect<"ok" | "degraded"> = redis(() => client.ping()).pipe(
      Effect.match({ onFailure: () => "degraded" as const, onSuccess: (reply) => (reply === "PONG" ? ("ok" as const) : ("degraded" as const)) })
    )

    const rateLimit = (key: string, rate: Rate): Effect.Effect<RateDecision> =>
      orElse(
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

    return {
      rateLimit,
      admit,
      complete,
      backoff,
      circuit,
      getQuotes,
      putQuotes,
      lead,
      finish,
      awaitLeader,
      recordCarriers,
      carriers,
      ping
    } satisfies SharedStateService
  })
