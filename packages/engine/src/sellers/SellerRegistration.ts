/**
 * A seller signing itself up: the seller and its first API key are created in one transaction,
 * so a refused registration leaves no key behind and no registered seller is left without one.
 * Whether it starts `active` or `pending` review is the caller's policy (`NewSeller.status`).
 */
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, type Redacted } from "effect"
import { Access } from "../Access.js"
import { orDie } from "../internal/sql.js"
import { type NewSeller, type RegistrationError, type Seller, SellerDirectory } from "./SellerDirectory.js"

export interface Registered {
  readonly seller: Seller
  /** Shown once: only its hash is stored. */
  readonly apiKey: Redacted.Redacted<string>
}

export interface SellerRegistrationService {
  readonly register: (seller: NewSeller) => Effect.Effect<Registered, RegistrationError>
}

export class SellerRegistration extends Context.Service<SellerRegistration, SellerRegistrationService>()("@bookbroker/engine/SellerRegistration") {}

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const directory = yield* SellerDirectory
  const access = yield* Access

  const registerWithKey = (newSeller: NewSeller) =>
    Effect.gen(function* () {
      const seller = yield* directory.register(newSeller)
      const apiKey = yield* access.issueKey({ kind: "seller", id: seller.id })
      return { seller, apiKey }
    })

  const service: SellerRegistrationService = {
    register: (newSeller) => orDie(sql.withTransaction(registerWithKey(newSeller))).pipe(Effect.withSpan("SellerRegistration.register"))
  }
  return service
})

export const layer: Layer.Layer<SellerRegistration, never, SqlClient.SqlClient | SellerDirectory | Access> = Layer.effect(SellerRegistration, make)
