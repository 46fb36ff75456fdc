/**
 * Who is calling, per group: customers and sellers with their own bearer API keys (hashed in
 * the database, see the engine's `Access`), operators with the operator token from the server
 * configuration. A missing or unknown credential is a 401 problem; a key of the wrong kind too.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Access } from "@bookbroker/engine"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import * as Problem from "./Problem.js"

export class CurrentCustomer extends Context.Tag("@bookbroker/server/CurrentCustomer")<CurrentCustomer, { readonly id: string }>() {}
export class CurrentSeller extends Context.Tag("@bookbroker/server/CurrentSeller")<CurrentSeller, { readonly id: string }>() {}

export class CustomerAuth extends HttpApiMiddleware.Tag<CustomerAuth>()("CustomerAuth", {
  failure: Problem.Unauthorized,
  provides: CurrentCustomer,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class SellerAuth extends HttpApiMiddleware.Tag<SellerAuth>()("SellerAuth", {
  failure: Problem.Unauthorized,
  provides: CurrentSeller,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class OperatorAuth extends HttpApiMiddleware.Tag<OperatorAuth>()("OperatorAuth", {
  failure: Problem.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** The operator token the server was started with. */
export class OperatorToken extends Context.Tag("@bookbroker/server/OperatorToken")<OperatorToken, Redacted.Redacted<string>>() {}

const principal = (kind: "customer" | "seller") => (token: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const access = yield* Access.Access
    const found = yield* access.authenticate(token)
    if (Option.isNone(found) || found.value.kind !== kind) {
      return yield* Effect.fail(Problem.unauthorized(`send a ${kind} API key as "Authorization: Bearer <key>"`))
    }
    return { id: found.value.id }
  })

export const CustomerAuthLive = Layer.effect(
  CustomerAuth,
  Effect.map(Access.Access, (access) => ({ bearer: (token: Redacted.Redacted<string>) => Effect.provideService(principal("customer")(token), Access.Access, access) }))
)

export const SellerAuthLive = Layer.effect(
  SellerAuth,
  Effect.map(Access.Access, (access) => ({ bearer: (token: Redacted.Redacted<string>) => Effect.provideService(principal("seller")(token), Access.Access, access) }))
)

export const OperatorAuthLive = Layer.effect(
  OperatorAuth,
  Effect.map(OperatorToken, (expected) => {
    const want = Buffer.from(Redacted.value(expected))
    return {
      bearer: (token: Redacted.Redacted<string>) => {
        const got = Buffer.from(Redacted.value(token))
        return got.length === want.length && timingSafeEqual(got, want)
          ? Effect.void
          : Effect.fail(Problem.unauthorized('send the operator token as "Authorization: Bearer <token>"'))
      }
    }
  })
)
