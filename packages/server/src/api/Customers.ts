/**
 * A customer's own account, with its API key: replacing that key (every earlier one is revoked
 * at once, as a seller's rotation does) when it may have leaked. An operator revokes or
 * replaces a customer's keys through the operator endpoints.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { CustomerAuth } from "../Auth.js"

export const NewCustomerKey = Schema.Struct({
  api_key: Schema.String.annotate({ description: "The new customer API key, shown only this once; every earlier key is revoked" })
})

export class CustomersApi extends HttpApiGroup.make("customers")
  .add(
    HttpApiEndpoint.post("rotateKey", "/v1/customers/me/keys", { success: NewCustomerKey.pipe(HttpApiSchema.status(201)) }).annotate(
      OpenApi.Description,
      "Replaces the caller's API key: the answer holds the new one (shown only this once); the key that made the call and every other earlier key stop working — in this server at once, in every other server process within 1 s."
    )
  )
  .middleware(CustomerAuth) {}
