/**
 * Who is calling, per group: customers and sellers with their own bearer API keys (hashed in
 * the database, see the engine's `Access`), operators with the operator token from the server
 * configuration. A missing or unknown credential is a 401 problem; a key of the wrong kind too.
 */
import { Access } from "@bookbroker/engine"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { timingSafeEqual } from "node:crypto"
import * as Problem from "./Problem.js"

export class CurrentCustomer extends Context.Service<CurrentCustomer, { readonly id: string }>()("@bookbroker/server/CurrentCustomer") {}
export class CurrentSeller extends Context.Service<CurrentSeller, { readonly id: string }>()("@bookbroker/server/CurrentSeller") {}

export class CustomerAuth extends HttpApiMiddleware.Service<CustomerAuth, { provides: CurrentCustomer }>()("CustomerAuth", {
  error: Problem.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class SellerAuth extends HttpApiMiddleware.Service<SellerAuth, { provides: CurrentSeller }>()("SellerAuth", {
  error: Problem.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class OperatorAuth extends HttpApiMiddleware.Service<OperatorAuth>()("OperatorAuth", {
  error: Problem.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** The operator token the server was started with. */
export class OperatorToken extends Context.Service<OperatorToken, Redacted.Redacted<string>>()("@bookbroker/server/OperatorToken") {}

const principal = (access: Access.AccessService, kind: "customer" | "seller", token: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const found = yield* access.authenticate(token)
    if (Option.isNone(found) || found.value.kind !== kind) {
      return yield* Effect.fail(Problem.unauthorized(`send a ${kind} API key as "Authorization: Bearer <key>"`))
    }
    return { id: found.value.id }
  })

export const CustomerAuthLive = Layer.effect(
  CustomerAuth,
  Effect.map(Access.Access, (access) =>
    CustomerAuth.of({
      bearer: (httpEffect, { credential }) => Effect.flatMap(principal(access, "customer", credential), (customer) => Effect.provideService(httpEffect, CurrentCustomer, customer))
    })
  )
)

export const SellerAuthLive = Layer.effect(
  SellerAuth,
  Effect.map(Access.Access, (access) =>
    SellerAuth.of({
      bearer: (httpEffect, { credential }) => Effect.flatMap(principal(access, "seller", credential), (seller) => Effect.provideService(httpEffect, CurrentSeller, seller))
    })
  )
)

export const OperatorAuthLive = Layer.effect(
  OperatorAuth,
  Effect.map(OperatorToken, (expected) => {
    const want = Buffer.from(Redacted.value(expected))
    return OperatorAuth.of({
      bearer: (httpEffect, { credential }) => {
        const got = Buffer.from(Redacted.value(credential))
        return got.length === want.length && timingSafeEqual(got, want)
          ? httpEffect
          : Effect.fail(Problem.unauthorized('send the operator token as "Authorization: Bearer <token>"'))
      }
    })
  })
)
