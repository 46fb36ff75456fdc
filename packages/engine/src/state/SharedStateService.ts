/**
 * What shared state promises (the service `SharedState` names) and the words it speaks:
 * admission, circuits, the quote cache, single-flight leadership, carrier history, rate limits.
 * The two implementations (`internal/memoryState.ts`, `internal/redisState.ts`) build this
 * interface; `SharedState.ts` ties them to the service tag.
 */
import type { Effect, Option } from "effect"

/** The limits admission enforces for one seller (the SDK's `Limits`). */
export interface AdmissionLimits {
  readonly requestsPerSecond: number
  readonly burst: number
  readonly maxConcurrency: number
  /** The seller's call timeout; a permit expires a little after it, so a crashed process cannot leak it. */
  readonly timeoutMillis: number
}

export type DenialReason =
  /** The circuit is open (or half-open with its one probe already out). */
  | "circuit_open"
  /** The seller told us to wait (429 / Retry-After / RateLimit). */
  | "backoff"
  /** No rate budget now. */
  | "rate_limited"
  /** All concurrency permits are taken. */
  | "concurrency"

export type Admission =
  | {
      readonly _tag: "Admitted"
      /** Give it back with `complete`. */
      readonly permit: string
      /** This call is the half-open circuit's single probe. */
      readonly probe: boolean
    }
  | { readonly _tag: "Denied"; readonly reason: DenialReason; readonly retryAfterMillis: number }

/**
 * How a call under a permit ended, for the seller's concurrency and its circuit:
 * - `cancelled`: nothing was sent (we stopped waiting first): the permit goes back, the circuit learns nothing;
 * - `abandoned`: the call was on its way or sent when we stopped waiting for it (a deadline): the
 *   seller may still be working on it, so its permit stays out until it expires (the seller's
 *   timeout + 2 s after admission), counting against the seller's concurrency as the call would;
 *   a probe may go again, and the circuit learns nothing.
 */
export type CallOutcome = "success" | "failure" | "cancelled" | "abandoned"

/** One call of a batch of admissions (`admitMany`). */
export interface AdmissionRequest {
  readonly sellerId: string
  readonly limits: AdmissionLimits
}

/** One permit of a batch given back (`completeMany`), with the call's outcome. */
export interface PermitReturn {
  readonly sellerId: string
  readonly permit: string
  readonly outcome: CallOutcome
  readonly probe: boolean
}

export interface CircuitSnapshot {
  readonly state: "closed" | "open" | "half_open"
  readonly consecutiveFailures: number
  /** When an open circuit lets a probe through (epoch ms); 0 when closed. */
  readonly openUntil: number
}

export interface CircuitOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold: number
  /** How long an open circuit refuses calls before one probe may try. */
  readonly openMillis: number
}

export const defaultCircuitOptions: CircuitOptions = { failureThreshold: 5, openMillis: 30_000 }

/** How long a 429 halves a seller's rate after its Retry-After has passed. */
export const slowdownMillis = 60_000

export interface CacheEntry {
  readonly sellerId: string
  /** Serialised answer. */
  readonly value: string
  readonly ttlMillis: number
}

export interface Leadership {
  readonly key: string
  readonly token: string
}

/** A seller that offered an ISBN, and the offer's total (minor units). */
export interface CarrierEntry {
  readonly sellerId: string
  readonly total: number
}

export interface CarrierOptions {
  /** Carriers kept per ISBN, the cheapest. */
  readonly carriersPerIsbn: number
  /** How long an ISBN's history lives after its last write. */
  readonly carrierTtlMillis: number
}

export const defaultCarrierOptions: CarrierOptions = { carriersPerIsbn: 64, carrierTtlMillis: 7 * 24 * 60 * 60 * 1000 }

export interface SharedStateService {
  /**
   * One atomic decision for a call to a seller: circuit, back-off, rate (takes a token),
   * concurrency (takes a permit). Never waits. Never admits beyond the seller's limits because
   * an answer was slow: the Redis implementation then answers `rate_limited` with a short retry.
   */
  readonly admit: (sellerId: string, limits: AdmissionLimits) => Effect.Effect<Admission>
  /**
   * `admit` for several calls at once (a fan-out's), in order: one pass in memory, one round
   * trip to Redis (its scripts are batched per turn).
   */
  readonly admitMany: (calls: ReadonlyArray<AdmissionRequest>) => Effect.Effect<ReadonlyArray<Admission>>
  /** Returns the permit and records the outcome for the circuit breaker. */
  readonly complete: (sellerId: string, permit: string, outcome: CallOutcome, probe: boolean) => Effect.Effect<void>
  /** `complete` for several permits at once, as `admitMany`. */
  readonly completeMany: (permits: ReadonlyArray<PermitReturn>) => Effect.Effect<void>
  /**
   * The seller asked us to slow down: no process calls it for `millis`, then at half its rate
   * for {@link slowdownMillis}.
   */
  readonly backoff: (sellerId: string, millis: number) => Effect.Effect<void>
  readonly circuit: (sellerId: string) => Effect.Effect<CircuitSnapshot>

  /** Cached answers for one ISBN from the given sellers, in order; `undefined` where none. */
  readonly getQuotes: (isbn: string, sellerIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string | undefined>>
  readonly putQuotes: (isbn: string, entries: ReadonlyArray<CacheEntry>) => Effect.Effect<void>
  /**
   * Drops the cached answers of these sellers for one ISBN, known stale: a copy was just sold
   * there, or the seller said it has none left. The next request asks them (best effort: a
   * failure leaves the answer to expire).
   */
  readonly forgetQuotes: (isbn: string, sellerIds: ReadonlyArray<string>) => Effect.Effect<void>

  /** Becomes the leader for `key` for at most `ttlMillis`, or `None` when another holds it. */
  readonly lead: (key: string, ttlMillis: number) => Effect.Effect<Option.Option<Leadership>>
  /** Gives leadership up and wakes everyone waiting on the key. */
  readonly finish: (leadership: Leadership) => Effect.Effect<void>
  /** Waits until the key's leader finishes (or leadership expires), at most `maxWaitMillis`. */
  readonly awaitLeader: (key: string, maxWaitMillis: number) => Effect.Effect<"finished" | "timed_out">

  /**
   * Remembers that these sellers offered the ISBN at these totals (a seller's newer total
   * replaces its older one; the last of duplicates wins) and forgets the `notCarrying` sellers
   * for it. Keeps the cheapest `carriersPerIsbn` per ISBN, for `carrierTtlMillis` after the
   * ISBN's last write.
   */
  readonly recordCarriers: (isbn: string, entries: ReadonlyArray<CarrierEntry>, notCarrying?: ReadonlyArray<string>) => Effect.Effect<void>
  /** The ISBN's remembered carriers, cheapest first (equal totals by seller id), at most `limit`. */
  readonly carriers: (isbn: string, limit: number) => Effect.Effect<ReadonlyArray<CarrierEntry>>

  /**
   * Whether the state is shared as intended right now: `ok`, or `degraded` when the Redis
   * implementation gets no PING answer within its command timeout (Redis unreachable: it runs on
   * its in-process fallback; or slow: seller calls are denied until it answers). The in-process
   * implementation is always `ok`. For readiness checks.
   */
  readonly ping: Effect.Effect<"ok" | "degraded">
  /**
   * A plain rate limit on any key (e.g. an API client), shared by every process: one GCRA
   * decision, no permits, no circuit. Takes a token when allowed. Unlike `admit`, the Redis
   * implementation falls back to the divided in-process limit also when Redis is merely slow:
   * it protects bookbroker, and our own stall should not become a customer's 429.
   */
  readonly rateLimit: (key: string, rate: Rate) => Effect.Effect<RateDecision>
  /**
   * `rateLimit` decided in line, at `nowMillis` (the clock's time), by an implementation that
   * needs no round trip for it: the in-process one. Absent where a decision is a round trip (Redis):
   * callers then run `rateLimit`. For the server's fast intake lane, which answers without a fiber.
   */
  readonly rateLimitInline?: (key: string, rate: Rate, nowMillis: number) => RateDecision
}

export interface Rate {
  readonly requestsPerSecond: number
  readonly burst: number
}

export type RateDecision = { readonly _tag: "Allowed" } | { readonly _tag: "Limited"; readonly retryAfterMillis: number }
