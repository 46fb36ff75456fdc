/**
 * Who is calling, per group: customers and sellers with their own bearer API keys (hashed in
 * the database, see the engine's `Access`), operators with the operator token from the server
 * configuration. A missing, unknown or revoked credential is a 401 problem; a key of the wrong
 * kind too; too many of those from one address, a 429 (`SignInFailures.ts`). Every request a
 * customer or seller key signs in counts against that principal's budget (`principalRateLimit`,
 * reads included), so no key reads or looks up as fast as it can: past it, a 429 problem with
 * `Retry-After`. Operator calls are not counted.
 */
import { Access, RequestBudget } from "@bookbroker/engine"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { timingSafeEqual } from "node:crypto"
import { Settings } from "./Config.js"
import { limit } from "./http/RateLimit.js"
import * as Problem from "./Problem.js"
import * as SignInFailures from "./SignInFailures.js"

export class CurrentCustomer extends Context.Service<CurrentCustomer, { readonly id: string }>()("@bookbroker/server/CurrentCustomer") {}
export class CurrentSeller extends Context.Service<CurrentSeller, { readonly id: string }>()("@bookbroker/server/CurrentSeller") {}

export class CustomerAuth extends HttpApiMiddleware.Service<CustomerAuth, { provides: CurrentCustomer }>()("CustomerAuth", {
  error: [Problem.Unauthorized, Problem.TooManyRequests],
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class SellerAuth extends HttpApiMiddleware.Service<SellerAuth, { provides: CurrentSeller }>()("SellerAuth", {
  error: [Problem.Unauthorized, Problem.TooManyRequests],
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class OperatorAuth extends HttpApiMiddleware.Service<OperatorAuth>()("OperatorAuth", {
  error: [Problem.Unauthorized, Problem.TooManyRequests],
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** The operator token the server was started with. */
export class OperatorToken extends Context.Service<OperatorToken, Redacted.Redacted<string>>()("@bookbroker/server/OperatorToken") {}

/**
 * The customer or seller a key belongs to (a key of the other kind proves nothing here); failed
 * sign-ins are slowed down (`SignInFailures.ts`), and each signed-in request is one of the
 * principal's budget.
 */
const principals = Effect.gen(function* () {
  const access = yield* Access.Access
  const guard = yield* SignInFailures.SignInGuard
  const budget = yield* RequestBudget.RequestBudget
  const rate = (yield* Settings).principalRateLimit
  return (kind: "customer" | "seller", token: Redacted.Redacted<string>) =>
    Effect.tap(
      guard.signIn(
        Effect.map(access.authenticate(token), Option.flatMap((found) => (found.kind === kind ? Option.some({ id: found.id }) : Option.none()))),
        Problem.unauthorized(`send a ${kind} API key as "Authorization: Bearer <key>"`)
      ),
      (principal) => limit(kind === "customer" ? budget.customerRequest : budget.sellerRequest, principal.id, rate)
    )
})

export const CustomerAuthLive = Layer.effect(
  CustomerAuth,
  Effect.map(principals, (principal) =>
    CustomerAuth.of({
      bearer: (httpEffect, { credential }) => Effect.flatMap(principal("customer", credential), (customer) => Effect.provideService(httpEffect, CurrentCustomer, customer))
    })
  )
)

export const SellerAuthLive = Layer.effect(
  SellerAuth,
  Effect.map(principals, (principal) =>
    SellerAuth.of({
      bearer: (httpEffect, { credential }) => Effect.flatMap(principal("seller", credential), (seller) => Effect.provideService(httpEffect, CurrentSeller, seller))
    })
  )
)

export const OperatorAuthLive = Layer.effect(
  OperatorAuth,
  Effect.gen(function* () {
    const want = Buffer.from(Redacted.value(yield* OperatorToken))
    const guard = yield* SignInFailures.SignInGuard
    return OperatorAuth.of({
      bearer: (httpEffect, { credential }) =>
        Effect.andThen(
          guard.signIn(
            Effect.sync(() => {
              const got = Buffer.from(Redacted.value(credential))
              return got.length === want.length && timingSafeEqual(got, want) ? Option.some(true) : Option.none()
            }),
            Problem.unauthorized('send the operator token as "Authorization: Bearer <token>"')
          ),
          httpEffect
        )
    })
  })
)
