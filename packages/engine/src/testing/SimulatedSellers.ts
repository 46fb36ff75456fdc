/**
 * A fleet of simulated sellers over real HTTP on 127.0.0.1, one server (origin) each, speaking
 * the reference seller API — for engine tests, demos and load runs.
 */
import { referenceSellerHandlers, SellerSimulator, serveHandlers, type HandlerServer, type ReferenceSellerOptions, type SellerSimulatorOptions } from "@bookbroker/adapter-sdk/testing"
import { Effect, type Scope } from "effect"
import { SellerDirectory } from "../sellers/SellerDirectory.js"

export interface SimulatedSellerSpec extends SellerSimulatorOptions {
  readonly name: string
  readonly mode?: ReferenceSellerOptions["mode"]
  readonly batch?: boolean
  /** The seller answers order lookups by idempotency key. Default false. */
  readonly orderLookup?: boolean
  /** Declare the inventory capability (the simulated seller serves its pages either way); default true. */
  readonly inventory?: boolean
  /** The seller keeps one hold per idempotency key (and says so). Default true; false: every hold call takes a copy. */
  readonly holdKeys?: boolean
}

export interface RunningSeller {
  readonly name: string
  readonly simulator: SellerSimulator
  readonly server: HandlerServer
  readonly apiKey: string
  /** Reference adapter config pointing at this seller. */
  readonly config: {
    readonly baseUrl: string
    readonly currency: string
    readonly mode: "hold" | "atomic"
    readonly batch: boolean
    readonly orderLookup: boolean
    readonly inventory: boolean
  }
}

export const startSellers = (specs: ReadonlyArray<SimulatedSellerSpec>): Effect.Effect<ReadonlyArray<RunningSeller>, never, Scope.Scope> =>
  Effect.forEach(specs, (spec) =>
    Effect.gen(function* () {
      const apiKey = spec.apiKey ?? `${spec.name}-key`
      const simulator = new SellerSimulator({ ...spec, apiKey })
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          serveHandlers(referenceSellerHandlers(simulator, { mode: spec.mode ?? "hold", batch: spec.batch ?? false, orderLookup: spec.orderLookup ?? false, holdKeys: spec.holdKeys ?? true }), {
            onClose: () => simulator.close()
          })
        ),
        (server) => Effect.promise(() => server.close())
      )
      return {
        name: spec.name,
        simulator,
        server,
        apiKey,
        config: {
          baseUrl: server.url,
          currency: simulator.currency,
          mode: spec.mode ?? "hold",
          batch: spec.batch ?? false,
          orderLookup: spec.orderLookup ?? false,
          // The simulated sellers serve their inventory pages: the adapter may read them (an inventory feed).
          inventory: spec.inventory ?? true
        }
      }
    })
  )

/**
 * Registers running simulated sellers in the directory, active at once, with the reference
 * adapter and generous limits (100 calls a second, burst 100) unless `limits` says otherwise.
 */
export const registerActive = (sellers: ReadonlyArray<RunningSeller>, limits: Record<string, number> = {}) =>
  Effect.gen(function* () {
    const directory = yield* SellerDirectory
    return yield* Effect.forEach(sellers, (seller) =>
      directory.register({
        name: seller.name,
        kind: "reference",
        config: seller.config,
        credentials: { apiKey: seller.apiKey },
        limits: { requestsPerSecond: 100, burst: 100, ...limits },
        status: "active"
      })
    )
  })
