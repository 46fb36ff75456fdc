/**
 * One Buy API call: the bearer token, `X-EBAY-C-MARKETPLACE-ID` on every call (all calls of a
 * checkout session must carry the marketplace it was created with), the buyer's location in
 * `X-EBAY-C-ENDUSERCTX` for delivery costs, and one retry with a fresh token when eBay refuses
 * the cached one (401: nothing was processed). Statuses the adapter reads are in `expect`.
 */
import { type Contract, type Http, SellerClient, type SellerError } from "@bookbroker/adapter-sdk"
import { Effect } from "effect"
import { toSellerError } from "../ErrorMapping.js"
import type { TokenCache } from "./oauthToken.js"

export interface BuyCall {
  readonly operation: Contract.Operation
  readonly host: "api" | "apix"
  readonly method: "GET" | "POST"
  readonly path: string
  readonly query?: Readonly<Record<string, string | number | undefined>>
  readonly json?: unknown
  readonly expect?: ReadonlyArray<number>
}

export interface BuyApiOptions {
  readonly api: Http.SellerHttp
  readonly apix: Http.SellerHttp
  readonly tokens: TokenCache
  readonly marketplaceId: string
  /** `country=GB,zip=N1 1AA`, when the shipping address is known. */
  readonly contextualLocation?: string | undefined
}

export type BuyApi = (call: BuyCall) => Effect.Effect<Http.HttpResponse, SellerError.SellerError>

export const make = (options: BuyApiOptions): BuyApi => {
  const headers = {
    "x-ebay-c-marketplace-id": options.marketplaceId,
    ...(options.contextualLocation === undefined ? {} : { "x-ebay-c-enduserctx": `contextualLocation=${encodeURIComponent(options.contextualLocation)}` })
  }
  const send = (call: BuyCall, token: string) =>
    Effect.tryPromise({
      try: (signal) =>
        (call.host === "api" ? options.api : options.apix).request({
          operation: call.operation,
          method: call.method,
          path: call.path,
          ...(call.query === undefined ? {} : { query: call.query }),
          ...(call.json === undefined ? {} : { json: call.json }),
          headers: { ...headers, authorization: `Bearer ${token}` },
          expect: [...(call.expect ?? []), 401],
          signal
        }),
      catch: (cause) => SellerClient.toSellerError(call.operation, cause)
    })

  return (call) =>
    Effect.gen(function* () {
      const token = yield* options.tokens.get(call.operation)
      let response = yield* send(call, token)
      if (response.status === 401) {
        options.tokens.invalidate(token)
        response = yield* send(call, yield* options.tokens.get(call.operation))
        if (response.status === 401) return yield* Effect.fail(toSellerError(call.operation, 401, response.body))
      }
      return response
    })
}
