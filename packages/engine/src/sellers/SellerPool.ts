/**
 * Ready-to-call `SellerClient`s for directory sellers, built once per seller version (a config
 * or credentials change builds a new one) on one shared undici connection pool with keep-alive.
 * The pool connects only where the operator's outbound policy allows (public addresses, plus the
 * networks the operator named): a seller's base URL is someone else's say-so, checked again at
 * every connect, after DNS.
 */
import { SellerClient } from "@bookbroker/adapter-sdk"
import { Context, Effect, Layer, Result } from "effect"
import { Agent } from "undici"
import { AdapterRegistry } from "./AdapterRegistry.js"
import * as OutboundAddress from "../outbound/OutboundAddress.js"
import type { Seller } from "./SellerDirectory.js"

export interface SellerPoolService {
  /** The client for a seller, or why it can't be built (unknown kind, config the adapter refuses). */
  readonly client: (seller: Seller) => Effect.Effect<SellerClient.SellerClient, SellerClient.InvalidSellerConfig>
  /** `client` for many sellers at once (a fan-out's), in order: one step for those already built. */
  readonly clients: (sellers: ReadonlyArray<Seller>) => Effect.Effect<Array<Result.Result<SellerClient.SellerClient, SellerClient.InvalidSellerConfig>>>
}

export class SellerPool extends Context.Service<SellerPool, SellerPoolService>()("@bookbroker/engine/SellerPool") {}

export interface SellerPoolOptions {
  /** Keep-alive connections per seller origin; default 32. */
  readonly connectionsPerOrigin?: number
}

export const make = (options: SellerPoolOptions = {}) =>
  Effect.gen(function* () {
    const registry = yield* AdapterRegistry
    const outbound = yield* OutboundAddress.OutboundPolicy
    const dispatcher = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Agent({
            connections: options.connectionsPerOrigin ?? 32,
            keepAliveTimeout: 10_000,
            keepAliveMaxTimeout: 60_000,
            pipelining: 1,
            connect: OutboundAddress.guardedConnector(outbound)
          })
      ),
      (agent) => Effect.promise(() => agent.close())
    )
    const clients = new Map<string, { readonly version: number; readonly client: SellerClient.SellerClient }>()
    /** The client built for this version of the seller, if there is one. */
    const built = (seller: Seller): SellerClient.SellerClient | undefined => {
      const cached = clients.get(seller.id)
      return cached !== undefined && cached.version === seller.updatedAt.getTime() ? cached.client : undefined
    }
    const client = (seller: Seller): Effect.Effect<SellerClient.SellerClient, SellerClient.InvalidSellerConfig> => {
      const ready = built(seller)
      if (ready !== undefined) return Effect.succeed(ready)
      const version = seller.updatedAt.getTime()
      return registry.get(seller.kind).pipe(
        Effect.mapError((error) => new SellerClient.InvalidSellerConfig({ sellerId: seller.id, kind: seller.kind, detail: error.message })),
        Effect.flatMap((adapter) =>
          SellerClient.make(adapter, {
            sellerId: seller.id,
            config: seller.config,
            credentials: seller.credentials,
            limits: seller.limits,
            dispatcher
          })
        ),
        Effect.tap((made) => Effect.sync(() => clients.set(seller.id, { version, client: made })))
      )
    }
    const service: SellerPoolService = {
      client,
      clients: (sellers) =>
        Effect.suspend(() => {
          const found: Array<Result.Result<SellerClient.SellerClient, SellerClient.InvalidSellerConfig> | undefined> = sellers.map((seller) => {
            const ready = built(seller)
            return ready === undefined ? undefined : Result.succeed(ready)
          })
          const missing = sellers.filter((_, i) => found[i] === undefined)
          if (missing.length === 0) return Effect.succeed(found as Array<Result.Result<SellerClient.SellerClient, SellerClient.InvalidSellerConfig>>)
          return Effect.map(
            Effect.forEach(missing, (seller) => Effect.result(client(seller))),
            (made) => {
              let next = 0
              return found.map((result) => result ?? made[next++]!)
            }
          )
        })
    }
    return service
  })

export const layer = (options: SellerPoolOptions = {}): Layer.Layer<SellerPool, never, AdapterRegistry> =>
  Layer.effect(SellerPool, make(options))
