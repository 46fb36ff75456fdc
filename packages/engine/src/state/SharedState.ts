/**
 * State every bookbroker process must agree on: per-seller admission (circuit breaker, the
 * seller's own back-off, rate limit, concurrency permits), the quote cache, single-flight
 * leadership and each ISBN's carrier history (who recently offered it, for seller selection).
 * Two implementations behind this one service: Redis (`layerRedis`, many
 * processes; Lua scripts on Redis `TIME`, so clocks don't matter) and in-process
 * (`layerMemory`, the embedded single-process mode). Both pass one contract test suite.
 *
 * Methods never fail: shared state is infrastructure. The Redis implementation, when Redis is
 * unreachable, says so loudly and falls back to in-process limits divided by the expected
 * number of processes — never to unlimited — whose rate budgets start empty at the switch. When
 * Redis is connected but merely slow to answer (often our own stalled event loop), seller
 * admission denies the call for now rather than fall back: the other processes are still
 * admitting through Redis, and local budgets on top of theirs would exceed the seller's limit.
 * (Details in `internal/redisState.ts`.)
 */
import { Context, Layer } from "effect"
import { makeMemoryState } from "./internal/memoryState.js"
import { makeRedisState, type RedisStateOptions } from "./internal/redisState.js"
import { type CarrierOptions, type CircuitOptions, defaultCarrierOptions, defaultCircuitOptions, type SharedStateService } from "./SharedStateService.js"

export type { RedisStateOptions } from "./internal/redisState.js"
export * from "./SharedStateService.js"

export class SharedState extends Context.Service<SharedState, SharedStateService>()("@bookbroker/engine/SharedState") {}

/** In-process shared state for the embedded single-process mode. */
export const layerMemory = (
  options: Partial<CircuitOptions> &
    Partial<CarrierOptions> & {
      readonly maxCacheEntries?: number
      /** ISBNs whose carrier history is kept; the least recently written go first. Default 200,000. */
      readonly maxCarrierIsbns?: number
    } = {}
): Layer.Layer<SharedState> =>
  Layer.sync(SharedState, () =>
    makeMemoryState({
      circuit: {
        failureThreshold: options.failureThreshold ?? defaultCircuitOptions.failureThreshold,
        openMillis: options.openMillis ?? defaultCircuitOptions.openMillis
      },
      carriers: {
        carriersPerIsbn: options.carriersPerIsbn ?? defaultCarrierOptions.carriersPerIsbn,
        carrierTtlMillis: options.carrierTtlMillis ?? defaultCarrierOptions.carrierTtlMillis
      },
      ...(options.maxCacheEntries === undefined ? {} : { maxCacheEntries: options.maxCacheEntries }),
      ...(options.maxCarrierIsbns === undefined ? {} : { maxCarrierIsbns: options.maxCarrierIsbns })
    })
  )

/** Redis-backed shared state for several processes (see `RedisStateOptions`). */
export const layerRedis = (options: RedisStateOptions): Layer.Layer<SharedState> =>
  Layer.effect(SharedState, makeRedisState(options))
