/**
 * One Admin GraphQL call: `POST /admin/api/{version}/graphql.json` with the access token, and
 * the mapping of Shopify's answers into the seller error taxonomy. HTTP statuses are the SDK's
 * (401/403 auth_failed, 429 with Retry-After, 5xx); what Shopify says with a 200 is read here:
 * a top-level `errors` array — THROTTLED, ACCESS_DENIED, MAX_COST_EXCEEDED, anything else — and
 * `extensions.cost` on every answer, which feeds the cost tracker. `userErrors` belong to each
 * mutation and are read by the adapter.
 */
import { type Contract, type Http, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Schema } from "effect"
import { CostTracker, throttledWaitMillis } from "./costBucket.js"
import type { Document } from "./documents.js"

const ThrottleStatus = Schema.Struct({ maximumAvailable: Schema.Number, currentlyAvailable: Schema.Number, restoreRate: Schema.Number })

const Cost = Schema.Struct({
  requestedQueryCost: Schema.optional(Schema.Number),
  actualQueryCost: Schema.optional(Schema.NullOr(Schema.Number)),
  throttleStatus: Schema.optional(ThrottleStatus)
})

const GraphqlError = Schema.Struct({
  message: Schema.String,
  extensions: Schema.optional(Schema.Struct({ code: Schema.optional(Schema.String) }))
})

/** The top level of every GraphQL answer: `data`, `errors` and `extensions` are siblings. */
const Envelope = Schema.Struct({
  data: Schema.optional(Schema.NullOr(Schema.Unknown)),
  errors: Schema.optional(Schema.Array(GraphqlError)),
  extensions: Schema.optional(Schema.Struct({ cost: Schema.optional(Cost) }))
})
type Envelope = typeof Envelope.Type

export const malformed = (operation: Contract.Operation, detail: string) => new SellerError.MalformedSellerResponse({ operation, detail })

export const rejected = (operation: Contract.Operation, reason: SellerError.RejectedReason, detail: string) =>
  new SellerError.SellerRejected({ operation, reason, detail })

/** Decodes a Shopify body; anything off-format is a `MalformedSellerResponse` naming the field. */
export const decodeWire =
  <A, I>(schema: Schema.Codec<A, I>, operation: Contract.Operation) =>
  (body: unknown): Effect.Effect<A, SellerError.SellerError> =>
    Schema.decodeUnknownEffect(schema, { onExcessProperty: "ignore", reportInput: true })(body).pipe(
      Effect.mapError((error) => malformed(operation, error.message))
    )

/** Statuses Shopify uses for a shop that cannot trade now; the request was refused at the door. */
const shopClosed: Readonly<Record<number, string>> = {
  402: "the shop is frozen (unpaid Shopify bill)",
  423: "the shop is locked",
  430: "Shopify rejected the request for security reasons"
}

export interface AdminCall<A> {
  readonly operation: Contract.Operation
  readonly document: Document<A>
  readonly variables: Readonly<Record<string, unknown>>
  /** Hold the call back (rate_limited, not sent) while the shop's cost bucket cannot pay for it. */
  readonly preflight?: boolean
}

export interface AdminAnswer<A> {
  readonly data: A
  /** The shop's clock (the `Date` header), in milliseconds; our clock when absent. */
  readonly shopTime: number
}

export interface AdminApiOptions {
  readonly http: Http.SellerHttp
  readonly apiVersion: string
  /** The shop's cost bucket as last reported; shared by the calls of one seller client. */
  readonly costs?: CostTracker
  readonly now?: () => number
}

export interface AdminApi {
  readonly run: <A>(call: AdminCall<A>) => Effect.Effect<AdminAnswer<A>, SellerError.SellerError>
  readonly costs: CostTracker
}

export const make = (options: AdminApiOptions): AdminApi => {
  const costs = options.costs ?? new CostTracker()
  const now = options.now ?? Date.now
  const path = `/admin/api/${options.apiVersion}/graphql.json`

  const send = (call: Http.HttpCall): Effect.Effect<Http.HttpResponse, SellerError.SellerError> =>
    Effect.tryPromise({
      try: (signal) => options.http.request({ ...call, signal }),
      catch: (cause) => SellerClient.toSellerError(call.operation, cause)
    })

  const run = <A>(call: AdminCall<A>): Effect.Effect<AdminAnswer<A>, SellerError.SellerError> =>
    Effect.gen(function* () {
      const { operation, document } = call
      if (call.preflight === true) {
        const wait = costs.waitBefore(document.name, now())
        if (wait > 0) {
          return yield* new SellerError.SellerUnavailable({
            operation,
            reason: "rate_limited",
            detail: `not sent: the shop's cost bucket cannot pay for ${document.name} for another ${wait} ms`,
            retryAfterMillis: wait
          })
        }
      }
      const response = yield* send({
        operation,
        method: "POST",
        path,
        json: { query: document.text, variables: call.variables, operationName: document.name },
        expect: [402, 423, 430]
      })
      const closed = shopClosed[response.status]
      if (closed !== undefined) {
        return yield* new SellerError.SellerUnavailable({
          operation,
          reason: "server_error",
          status: response.status,
          detail: `${closed} (${response.status})`
        })
      }
      const envelope = yield* decodeWire(Envelope, operation)(response.body)
      costs.observe(document.name, envelope.extensions?.cost, now())
      if (envelope.errors !== undefined && envelope.errors.length > 0) return yield* topLevelError(operation, document, envelope)
      if (envelope.data === undefined || envelope.data === null) return yield* malformed(operation, `${document.name} answered without data or errors`)
      const data = yield* decodeWire(document.data, operation)(envelope.data)
      const date = Date.parse(response.headers["date"] ?? "")
      return { data, shopTime: Number.isNaN(date) ? now() : date }
    })

  return { run, costs }
}

const codesOf = (envelope: Envelope): ReadonlyArray<string> => (envelope.errors ?? []).flatMap((error) => error.extensions?.code ?? [])

const describeErrors = (envelope: Envelope): string =>
  (envelope.errors ?? []).map((error) => `${error.message}${error.extensions?.code === undefined ? "" : ` [${error.extensions.code}]`}`).join("; ")

/**
 * A 200 with top-level errors. THROTTLED requests are refused before they run, so they are never
 * "may have been processed". Errors we do not know on a mutation are not guessed at: the answer
 * is malformed, which the SDK reports for a purchase as outcome unknown.
 */
const topLevelError = <A>(operation: Contract.Operation, document: Document<A>, envelope: Envelope): Effect.Effect<never, SellerError.SellerError> => {
  const codes = codesOf(envelope)
  const detail = `${document.name}: ${describeErrors(envelope)}`
  if (codes.includes("THROTTLED")) {
    return Effect.fail(
      new SellerError.SellerUnavailable({
        operation,
        reason: "rate_limited",
        detail,
        retryAfterMillis: throttledWaitMillis(envelope.extensions?.cost)
      })
    )
  }
  if (codes.includes("ACCESS_DENIED")) {
    return Effect.fail(rejected(operation, "auth_failed", `${detail} — the custom app lacks an access scope (see the adapter docs)`))
  }
  if (codes.includes("MAX_COST_EXCEEDED")) {
    return Effect.fail(rejected(operation, "invalid_request", `${detail} — lower maxBatchSize in the seller's config`))
  }
  if (codes.includes("INTERNAL_SERVER_ERROR")) {
    return Effect.fail(new SellerError.SellerUnavailable({ operation, reason: "server_error", detail, mayHaveBeenProcessed: document.mutation }))
  }
  if (!document.mutation && (envelope.data === undefined || envelope.data === null)) {
    // A query Shopify did not run (a field this API version lacks, a bad argument): a config or adapter problem.
    return Effect.fail(rejected(operation, "invalid_request", `${detail} — check the seller's apiVersion`))
  }
  return Effect.fail(malformed(operation, `unexpected GraphQL errors: ${detail}`))
}
