/**
 * What is in force for a seller beyond its directory row: the limits (the adapter's defaults
 * with the seller's overrides) and the capabilities its adapter declares — or, when the adapter
 * refuses the seller's config, why. Read from the client the pool builds for the seller, so it
 * is what the engine would call with, not a second reading of the config.
 */
import type { Contract, SellerClient } from "@bookbroker/adapter-sdk"
import { Context, Effect, Layer } from "effect"
import type { Seller } from "./SellerDirectory.js"
import { SellerPool } from "./SellerPool.js"

export type InForce =
  | {
      readonly _tag: "Usable"
      readonly limits: Contract.Limits
      readonly capabilities: SellerClient.SellerClient["capabilities"]
    }
  | { readonly _tag: "Refused"; readonly detail: string }

export interface SellerViewsService {
  /** The limits and capabilities in force for a seller, or why its adapter refuses it; never fails. */
  readonly inForce: (seller: Seller) => Effect.Effect<InForce>
}

export class SellerViews extends Context.Service<SellerViews, SellerViewsService>()("@bookbroker/engine/SellerViews") {}

/** The limits in force, `null` when the adapter refuses the seller. */
export const limitsOf = (inForce: InForce): Contract.Limits | null => (inForce._tag === "Usable" ? inForce.limits : null)

export const make = Effect.gen(function* () {
  const pool = yield* SellerPool
  const service: SellerViewsService = {
    inForce: (seller) =>
      pool.client(seller).pipe(
        Effect.map((client): InForce => ({ _tag: "Usable", limits: client.limits, capabilities: client.capabilities })),
        Effect.catchTag("InvalidSellerConfig", (error) => Effect.succeed<InForce>({ _tag: "Refused", detail: error.detail })),
        Effect.withSpan("SellerViews.inForce", { attributes: { "seller.id": seller.id } })
      )
  }
  return service
})

export const layer: Layer.Layer<SellerViews, never, SellerPool> = Layer.effect(SellerViews, make)
