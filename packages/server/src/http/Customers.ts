/** A customer's own key: rotation, as sellers rotate theirs (`Access.issueKey` with `rotate`). */
import { HttpApiBuilder } from "effect/http-api"
import { Access } from "@bookbroker/engine"
import { Effect, Redacted } from "effect"
import { BookbrokerApi } from "../Api.js"
import { CurrentCustomer } from "../Auth.js"

export const CustomersLive = HttpApiBuilder.group(BookbrokerApi, "customers", (handlers) =>
  Effect.gen(function* () {
    const access = yield* Access.Access
    return handlers.handle("rotateKey", () =>
      Effect.gen(function* () {
        const customer = yield* CurrentCustomer
        const apiKey = yield* access.issueKey({ kind: "customer", id: customer.id }, { rotate: true })
        return { api_key: Redacted.value(apiKey) }
      })
    )
  })
)
