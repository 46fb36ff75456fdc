/**
 * In-process shared state: the same semantics as the Redis scripts, on the Effect clock (so
 * tests can drive it with TestClock). Used by the embedded mode and as the Redis fallback.
 */
import { Clock, Deferred, Effect, Option } from "effect"
import type {
  Admission,
  AdmissionLimits,
  CacheEntry,
  CallOutcome,
  CarrierEntry,
  CarrierOptions,
  CircuitOptions,
  CircuitSnapshot,
  Leadership,
  Rate,
  RateDecision,
  SharedStateService
} from "../SharedStateService.js"
import { defaultCarrierOptions, slowdownMillis } from "../SharedStateService.js"

interface SellerState {
  circuit: "closed" | "open"
  failures: number
  openUntil: number
  probeUntil: number
  backoffUntil: number
  slowUntil: number
  /** GCRA theoretical arrival time. */
  tat: number
  permits: Map<string, number>
}

export interface MemoryStateOptions {
  readonly circuit: CircuitOptions
  /** Upper bound on cached answers; the oldest go first. */
  readonly maxCacheEntries?: number
  readonly carriers?: CarrierOptions
  /**
   * ISBNs whose carrier history is kept; the least recently written go first. Default 200,000
   * (at 64 carriers each at most; typically a few dozen bytes per carrier).
   */
  readonly maxCarrierIsbns?: number
}

/** Cheapest first, equal totals by seller id (code unit order, as Redis orders equal scores). */
const byTotal = (a: CarrierEntry, b: CarrierEntry): number =>
  a.total - b.total || (a.sellerId < b.sellerId ? -1 : a.sellerId > b.sellerId ? 1 : 0)

/**
 * Each seller's limits: circuit, back-off, rate (GCRA) and concurrency (permits until they
 * expire or complete).
 */
const sellerLimits = (circuitOptions: CircuitOptions): Pick<SharedStateService, "admit" | "admitMany" | "complete" | "completeMany" | "backoff" | "circuit"> => {
  const sellers = new Map<string, SellerState>()
  let sequence = 0

  const seller = (id: string): SellerState => {
    let state = sellers.get(id)
    if (state === undefined) {
      state = { circuit: "closed", failures: 0, openUntil: 0, probeUntil: 0, backoffUntil: 0, slowUntil: 0, tat: 0, permits: new Map() }
      sellers.set(id, state)
    }
    return state
  }

  const admitAt = (now: number, id: string, limits: AdmissionLimits): Admission => {
    const state = seller(id)
    let probe = false
    if (state.circuit === "open") {
      if (now < state.openUntil) return { _tag: "Denied", reason: "circuit_open", retryAfterMillis: state.openUntil - now }
      if (state.probeUntil > now) return { _tag: "Denied", reason: "circuit_open", retryAfterMillis: state.probeUntil - now }
      probe = true
    }
    if (state.backoffUntil > now) return { _tag: "Denied", reason: "backoff", retryAfterMillis: state.backoffUntil - now }
    const rate = state.slowUntil > now ? limits.requestsPerSecond / 2 : limits.requestsPerSecond
    const interval = 1000 / rate
    const tat = Math.max(state.tat, now)
    const allowAt = tat + interval - limits.burst * interval
    if (now < allowAt) return { _tag: "Denied", reason: "rate_limited", retryAfterMillis: Math.ceil(allowAt - now) }
    // `forEach`, not `for … of`: no entry array per permit on every admission.
    state.permits.forEach((expiresAt, permit, permits) => {
      if (expiresAt <= now) permits.delete(permit)
    })
    if (state.permits.size >= limits.maxConcurrency) {
      const soonest = Math.min(...state.permits.values())
      return { _tag: "Denied", reason: "concurrency", retryAfterMillis: Math.max(1, soonest - now) }
    }
    sequence += 1
    const permit = `p${sequence}`
    state.permits.set(permit, now + permitTtl(limits))
    state.tat = tat + interval
    if (probe) state.probeUntil = now + permitTtl(limits)
    return { _tag: "Admitted", permit, probe }
  }

  const completeAt = (now: number, id: string, permit: string, outcome: CallOutcome, probe: boolean): void => {
    const state = seller(id)
    if (outcome === "abandoned") {
      // The seller may still be at it: the permit stays out until it expires.
      if (probe) state.probeUntil = 0
      return
    }
    state.permits.delete(permit)
    if (outcome === "cancelled") {
      if (probe) state.probeUntil = 0
      return
    }
    if (outcome === "success") {
      if (probe || state.circuit === "open") {
        state.circuit = "closed"
        state.openUntil = 0
        state.probeUntil = 0
      }
      state.failures = 0
      return
    }
    state.failures += 1
    if (probe || (state.circuit === "closed" && state.failures >= circuitOptions.failureThreshold)) {
      state.circuit = "open"
      state.openUntil = now + circuitOptions.openMillis
      state.probeUntil = 0
    }
  }

  return {
    admit: (id, limits) => Effect.map(Clock.currentTimeMillis, (now) => admitAt(now, id, limits)),
    admitMany: (calls) => Effect.map(Clock.currentTimeMillis, (now) => calls.map(({ sellerId, limits }) => admitAt(now, sellerId, limits))),
    complete: (id, permit, outcome, probe) => Effect.map(Clock.currentTimeMillis, (now) => completeAt(now, id, permit, outcome, probe)),
    completeMany: (permits) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const { sellerId, permit, outcome, probe } of permits) completeAt(now, sellerId, permit, outcome, probe)
      }),

    backoff: (id, millis) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const state = seller(id)
        state.backoffUntil = Math.max(state.backoffUntil, now + millis)
        state.slowUntil = Math.max(state.slowUntil, now + millis + slowdownMillis)
      }),

    circuit: (id) =>
      Effect.map(Clock.currentTimeMillis, (now): CircuitSnapshot => {
        const state = seller(id)
        if (state.circuit === "closed") return { state: "closed", consecutiveFailures: state.failures, openUntil: 0 }
        return { state: now < state.openUntil ? "open" : "half_open", consecutiveFailures: state.failures, openUntil: state.openUntil }
      })
  }
}

/** The API's own rate limit for its clients, per key (GCRA): decided in line, and as an effect on the clock. */
const apiRateLimit = (): Required<Pick<SharedStateService, "rateLimit" | "rateLimitInline">> => {
  const rateTats = new Map<string, number>()
  const allowed: RateDecision = { _tag: "Allowed" }
  const rateLimitInline = (key: string, rate: Rate, now: number): RateDecision => {
    const interval = 1000 / rate.requestsPerSecond
    const tat = Math.max(rateTats.get(key) ?? now, now)
    const allowAt = tat + interval - rate.burst * interval
    if (now < allowAt) return { _tag: "Limited", retryAfterMillis: Math.ceil(allowAt - now) }
    if (rateTats.size > 100_000) rateTats.clear()
    rateTats.set(key, tat + interval)
    return allowed
  }
  return { rateLimitInline, rateLimit: (key, rate) => Effect.map(Clock.currentTimeMillis, (now) => rateLimitInline(key, rate, now)) }
}

/** The quote cache: answers per ISBN and seller until their TTL, the oldest dropped beyond `maxEntries`. */
const quoteCache = (maxEntries: number): Pick<SharedStateService, "getQuotes" | "putQuotes" | "forgetQuotes"> => {
  const cache = new Map<string, { value: string; expiresAt: number }>()
  return {
    getQuotes: (isbn, sellerIds) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        sellerIds.map((id) => {
          const key = `${isbn}:${id}`
          const entry = cache.get(key)
          if (entry === undefined) return undefined
          if (entry.expiresAt <= now) {
            cache.delete(key)
            return undefined
          }
          return entry.value
        })
      ),

    putQuotes: (isbn, entries: ReadonlyArray<CacheEntry>) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const entry of entries) {
          if (entry.ttlMillis <= 0) continue
          const key = `${isbn}:${entry.sellerId}`
          cache.delete(key)
          cache.set(key, { value: entry.value, expiresAt: now + entry.ttlMillis })
        }
        // Maps iterate in insertion order: the first keys are the oldest writes.
        while (cache.size > maxEntries) cache.delete(cache.keys().next().value!)
      }),

    forgetQuotes: (isbn, sellerIds) =>
      Effect.sync(() => {
        for (const id of sellerIds) cache.delete(`${isbn}:${id}`)
      })
  }
}

/** Single flight: one leader per key until it finishes or its lease lapses; the others wait for it. */
const singleFlight = (): Pick<SharedStateService, "lead" | "finish" | "awaitLeader"> => {
  const leaders = new Map<string, { token: string; expiresAt: number; done: Deferred.Deferred<void> }>()
  let sequence = 0
  return {
    lead: (key, ttlMillis) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const current = leaders.get(key)
        if (current !== undefined && current.expiresAt > now) return Option.none<Leadership>()
        if (current !== undefined) yield* Deferred.succeed(current.done, undefined)
        sequence += 1
        const token = `t${sequence}`
        leaders.set(key, { token, expiresAt: now + ttlMillis, done: yield* Deferred.make<void>() })
        return Option.some({ key, token })
      }),

    finish: (leadership) =>
      Effect.suspend(() => {
        const current = leaders.get(leadership.key)
        if (current === undefined || current.token !== leadership.token) return Effect.void
        leaders.delete(leadership.key)
        return Deferred.succeed(current.done, undefined)
      }),

    awaitLeader: (key, maxWaitMillis) =>
      Effect.gen(function* () {
        const deadline = (yield* Clock.currentTimeMillis) + maxWaitMillis
        // A timer may wake a millisecond before the clock shows the lease as lapsed: look again then.
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const current = leaders.get(key)
          if (current === undefined || current.expiresAt <= now) return "finished" as const
          if (now >= deadline) return "timed_out" as const
          const finished = yield* Deferred.await(current.done).pipe(Effect.timeout(Math.max(1, Math.min(deadline, current.expiresAt) - now)), Effect.option)
          if (Option.isSome(finished)) return "finished" as const
        }
      })
  }
}

/** Which sellers recently offered an ISBN, cheapest first, per ISBN until its TTL (the least recently written dropped beyond `maxCarrierIsbns`). */
const carrierHistoryOf = (carriersPerIsbn: number, carrierTtl: number, maxCarrierIsbns: number): Pick<SharedStateService, "recordCarriers" | "carriers"> => {
  /** ISBN → its carriers, sorted cheapest first; Map order is write order (oldest first). */
  const carrierHistory = new Map<string, { expiresAt: number; carriers: ReadonlyArray<CarrierEntry> }>()
  return {
    recordCarriers: (isbn, entries, notCarrying = []) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (entries.length === 0 && notCarrying.length === 0) return
        const current = carrierHistory.get(isbn)
        const totals = new Map<string, number>()
        if (current !== undefined && current.expiresAt > now) for (const carrier of current.carriers) totals.set(carrier.sellerId, carrier.total)
        for (const entry of entries) totals.set(entry.sellerId, entry.total)
        for (const sellerId of notCarrying) totals.delete(sellerId)
        carrierHistory.delete(isbn)
        if (totals.size === 0) return
        const carriers = [...totals].map(([sellerId, total]) => ({ sellerId, total })).sort(byTotal).slice(0, carriersPerIsbn)
        carrierHistory.set(isbn, { expiresAt: now + carrierTtl, carriers })
        // Maps iterate in insertion order: the first keys are the least recently written.
        while (carrierHistory.size > maxCarrierIsbns) carrierHistory.delete(carrierHistory.keys().next().value!)
      }),

    carriers: (isbn, limit) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const current = carrierHistory.get(isbn)
        if (current === undefined) return []
        if (current.expiresAt <= now) {
          carrierHistory.delete(isbn)
          return []
        }
        return current.carriers.slice(0, Math.max(0, Math.floor(limit)))
      })
  }
}

export const makeMemoryState = (options: MemoryStateOptions): SharedStateService => ({
  ...apiRateLimit(),
  ...sellerLimits(options.circuit),
  ...quoteCache(options.maxCacheEntries ?? 200_000),
  ...singleFlight(),
  ...carrierHistoryOf(
    Math.max(1, Math.floor(options.carriers?.carriersPerIsbn ?? defaultCarrierOptions.carriersPerIsbn)),
    options.carriers?.carrierTtlMillis ?? defaultCarrierOptions.carrierTtlMillis,
    options.maxCarrierIsbns ?? 200_000
  ),
  ping: Effect.succeed("ok" as const)
})

/** A permit outlives the call's timeout by a margin, then expires on its own. */
export const permitTtl = (limits: AdmissionLimits): number => limits.timeoutMillis + 2_000
