/**
 * The payment gateway over Stripe: PaymentIntents with manual capture, through the official
 * `stripe` SDK.
 *
 * - authorize: one `paymentIntents.create` that also confirms (`capture_method: "manual"`,
 *   `confirm: true`, the payment token as `payment_method`, `automatic_payment_methods` with
 *   `allow_redirects: "never"`, since no customer is there to follow a redirect), for the
 *   customer's maximum, with `metadata.request_id`. `requires_capture` is the authorization.
 * - a want (`saveForLater`) authorizes again when a copy is found, days later, without the
 *   customer — and Stripe lets a PaymentMethod be used again only once it is attached to a
 *   Customer. So its first authorization creates a Customer for the request (idempotency key
 *   `PurchaseKeys.savedPaymentMethod`), kept in `stripe_customers` (migration 0016) since Stripe's
 *   keys find it again only for about 24 hours, and confirms with `customer` and
 *   `setup_future_usage: "off_session"`, which attaches the PaymentMethod; later rounds confirm
 *   with that Customer and PaymentMethod and `off_session: true` (`internal/savedCards.ts` says
 *   which). Off-session, a bank that wants the customer to authenticate fails the payment
 *   (`authentication_required`), as does a card declined meanwhile: `PaymentDeclined`, so the
 *   want ends `failed` with the reason. Requests without `saveForLater` create no Customer.
 * - capture: `paymentIntents.capture` with `amount_to_capture` (Stripe releases the rest).
 * - void: `paymentIntents.cancel`. refund: `refunds.create` on the intent.
 * - lookup: Stripe Search on `metadata['request_id']`.
 *
 * Retries belong to the pipeline, never to the SDK: every POST carries bookbroker's own
 * idempotency key (never the SDK's random one), `maxNetworkRetries` is 0, and the one retry the
 * SDK makes on its own after a closed connection (even at 0) is switched off too — a failed
 * call surfaces at once as `PaymentUnavailable`, and the pipeline retries under the same key.
 *
 * A step re-run after a crash is safe: under the same key Stripe replays its first answer; and
 * where Stripe refuses because the intent already is where we wanted it (a void of a canceled
 * intent, a capture of an intent captured for that amount), the gateway reads the intent and
 * calls it success.
 *
 * Stripe's answers map onto the error taxonomy of `PaymentGateway.ts`: card errors (and an
 * intent left `requires_payment_method` or `requires_action`) are `PaymentDeclined`; connection
 * failures, timeouts, 5xx, 409 (the key is busy with a concurrent request) and 429 (with its
 * `Retry-After`) are `PaymentUnavailable`; idempotency errors and other 4xx are
 * `PaymentRejected`.
 *
 * Caveats the pipeline must know: Stripe Search is eventually consistent (usually under a minute,
 * up to an hour in incidents, and not offered to merchants in India), so an empty `lookup` right
 * after an authorize proves nothing; and amounts go to Stripe as `Money`'s ISO 4217 minor units,
 * which is what Stripe expects except for its few special cases (three-decimal currencies must
 * be multiples of 10; ISK, HUF, TWD and UGX have Stripe-specific rules).
 *
 * The secret key is handed to the SDK and nothing else: it is never in a span, a log or an
 * error (any text that comes back from Stripe is scrubbed of it).
 */
import { Money } from "@bookbroker/adapter-sdk"
import type { SqlClient } from "effect/sql"
import * as http from "node:http"
import * as https from "node:https"
import { Data, Effect, Layer, Redacted, Result, Schedule, type Scope } from "effect"
import Stripe from "stripe"
import * as SavedCards from "./internal/savedCards.js"
import {
  type Authorization,
  type AuthorizeRequest,
  PaymentDeclined,
  PaymentGateway,
  type PaymentGatewayService,
  type PaymentRecord,
  PaymentRejected,
  PaymentUnavailable
} from "./PaymentGateway.js"

export interface StripeGatewayOptions {
  readonly secretKey: Redacted.Redacted<string>
  /** Default `api.stripe.com`; tests point it at `FakeStripe`. */
  readonly host?: string
  readonly port?: number
  readonly protocol?: "http" | "https"
  /** Per call; default 30 000 ms. A timeout is `PaymentUnavailable` (the outcome is unknown). */
  readonly timeoutMillis?: number
  /** How long Stripe keeps an uncaptured authorization; default 7 days (card payments). */
  readonly authorizationLifetimeMillis?: number
  /**
   * How often the cards of wants that are over are detached from their Customers (no card stays
   * on file after the want: `detachEndedWantCards`); default every minute, 0: never.
   */
  readonly detachEveryMillis?: number
  /** A want that ended failed (or without a copy) keeps its card this long for an operator's retry; default 7 days. */
  readonly savedCardGraceDays?: number
}

type Operation = PaymentUnavailable["operation"]
type MutatingOperation = Exclude<Operation, "lookup">

const defaultTimeoutMillis = 30_000
/** Search pages of 100: far more intents than one purchase request ever has. */
const searchPageSize = 100
const maxSearchPages = 10

/** A rejected SDK promise, before it is classified. */
class StripeCallFailed extends Data.TaggedError("StripeCallFailed")<{ readonly error: unknown }> {}

const call = <A>(request: () => Promise<A>): Effect.Effect<A, StripeCallFailed> =>
  Effect.tryPromise({ try: request, catch: (error) => new StripeCallFailed({ error }) })

/**
 * The SDK retries a request once after ECONNRESET/EPIPE even with `maxNetworkRetries: 0`
 * (RequestSender `_shouldRetry`). Renaming those codes turns that retry off, so every retry is
 * the pipeline's decision; the original error stays as the cause.
 */
const withoutSilentRetry = (inner: Stripe.HttpClient): Stripe.HttpClient => ({
  getClientName: () => inner.getClientName(),
  makeRequest: (...args) =>
    inner.makeRequest(...args).catch((error: unknown) => {
      const code = (error as { readonly code?: unknown } | null)?.code
      if (typeof code === "string" && Stripe.HttpClient.CONNECTION_CLOSED_ERROR_CODES.includes(code)) {
        const reason = error instanceof Error ? error.message : String(error)
        throw Object.assign(new Error(`connection closed before an answer arrived (${code}: ${reason})`, { cause: error }), {
          code: "BOOKBROKER_CONNECTION_CLOSED"
        })
      }
      throw error
    })
})

/** `Retry-After` (seconds or an HTTP date) in milliseconds. */
const retryAfterMillis = (headers: Readonly<Record<string, string>> | undefined): number | undefined => {
  const value = headers?.["retry-after"]?.trim()
  if (value === undefined || value === "") return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil(at - Date.now()))
}

type Classified =
  | { readonly kind: "declined"; readonly reason: string; readonly detail: string }
  | { readonly kind: "unavailable"; readonly detail: string; readonly retryAfterMillis?: number }
  | { readonly kind: "rejected"; readonly detail: string }

const describe = (error: Stripe.errors.StripeError): string => {
  const status = error.statusCode === undefined ? "" : ` ${error.statusCode}`
  const code = error.code === undefined || error.code === "" ? "" : ` ${error.code}`
  const cause = error.detail instanceof Error ? ` (${error.detail.message})` : ""
  const request = error.requestId === undefined ? "" : ` [request ${error.requestId}]`
  return `Stripe ${error.rawType ?? error.type}${status}${code}: ${error.message}${cause}${request}`
}

/** Where a failed SDK call leaves us (texts not yet scrubbed). */
const classify = (error: unknown): Classified => {
  if (!(error instanceof Stripe.errors.StripeError)) {
    // Not an answer from Stripe nor a transport failure: an SDK or programming error. Never
    // retried blindly; the reconciler looks at what Stripe holds.
    return { kind: "rejected", detail: `unexpected error from the Stripe SDK: ${error instanceof Error ? error.message : String(error)}` }
  }
  const detail = describe(error)
  if (error instanceof Stripe.errors.StripeCardError) {
    return { kind: "declined", reason: error.decline_code || error.code || "card_declined", detail }
  }
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    const after = retryAfterMillis(error.headers)
    return { kind: "unavailable", detail, ...(after === undefined ? {} : { retryAfterMillis: after }) }
  }
  if (error instanceof Stripe.errors.StripeConnectionError) return { kind: "unavailable", detail }
  if (error instanceof Stripe.errors.StripeIdempotencyError) return { kind: "rejected", detail }
  if (error instanceof Stripe.errors.StripeAPIError) {
    // 5xx, 409 (another request holds the key, or a lock timed out) and unreadable answers:
    // the outcome is unknown, retry under the same key.
    const status = error.statusCode
    if (status === undefined || status >= 500 || status === 409 || status < 400) return { kind: "unavailable", detail }
    return { kind: "rejected", detail }
  }
  // Invalid request, authentication, permission: Stripe refused the request itself.
  return { kind: "rejected", detail }
}

const isUnexpectedState = (error: unknown): boolean =>
  error instanceof Stripe.errors.StripeInvalidRequestError && error.code === "payment_intent_unexpected_state"

const escapeSearchValue = (value: string): string => value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")

const toMoney = (amount: number, currency: string): Money.Money => Money.make(amount, currency.toUpperCase())

const recordStatus = (intent: Stripe.PaymentIntent): PaymentRecord["status"] => {
  switch (intent.status) {
    case "requires_capture":
      return "authorized"
    // Cards don't normally stop here; it may still become an authorization, so it's counted as one.
    case "processing":
      return "authorized"
    case "succeeded": {
      const charge = intent.latest_charge
      return typeof charge === "object" && charge !== null && charge.refunded ? "refunded" : "captured"
    }
    case "canceled":
      return "voided"
    // requires_payment_method (declined), requires_action (authentication we can't do),
    // requires_confirmation: no money is held.
    default:
      return "declined"
  }
}

/** What every Stripe call works with: the client, the secret scrubbed from every text, the wants' saved cards. */
interface StripeContext {
  readonly stripe: Stripe
  readonly scrub: (text: string) => string
  readonly savedCards: Effect.Success<typeof SavedCards.make>
}


const paymentError = (ctx: StripeContext, operation: MutatingOperation, error: unknown): PaymentDeclined | PaymentUnavailable | PaymentRejected => {
  const classified = classify(error)
  const detail = ctx.scrub(classified.detail)
  switch (classified.kind) {
    case "declined":
      return operation === "authorize"
        ? new PaymentDeclined({ reason: classified.reason, detail })
        : new PaymentRejected({ operation, detail: `card error outside an authorization: ${detail}` })
    case "unavailable":
      return new PaymentUnavailable({
        operation,
        detail,
        ...(classified.retryAfterMillis === undefined ? {} : { retryAfterMillis: classified.retryAfterMillis })
      })
    case "rejected":
      return new PaymentRejected({ operation, detail })
  }
}

/** `paymentError` for calls whose type rules out a decline. */
const notDeclined = (ctx: StripeContext, operation: Exclude<MutatingOperation, "authorize">) => (error: unknown) => {
  const mapped = paymentError(ctx, operation, error)
  return mapped._tag === "PaymentDeclined" ? new PaymentRejected({ operation, detail: mapped.detail }) : mapped
}

const rejected = (ctx: StripeContext, operation: MutatingOperation, detail: string, authorizationEnded?: boolean) =>
  new PaymentRejected({ operation, detail: ctx.scrub(detail), ...(authorizationEnded === true ? { authorizationEnded } : {}) })

/** Reads an intent to see where a refused capture or void left it. */
const retrieve = (ctx: StripeContext, operation: Exclude<MutatingOperation, "authorize">, providerRef: string) =>
  call(() => ctx.stripe.paymentIntents.retrieve(providerRef)).pipe(Effect.mapError((failure) => notDeclined(ctx, operation)(failure.error)))

/** The Customer a want's card is attached to: created once per request (its key), kept before it is used. */
const createCustomer = (ctx: StripeContext, requestId: string, idempotencyKey: string) =>
  call(() => ctx.stripe.customers.create({ description: `bookbroker purchase request ${requestId}`, metadata: { request_id: requestId } }, { idempotencyKey })).pipe(
    Effect.mapError((failure) => paymentError(ctx, "authorize", failure.error)),
    Effect.flatMap((customer) => ctx.savedCards.keepCustomer(requestId, customer.id))
  )

/** One confirmed PaymentIntent for the request's maximum, with manual capture: `requires_capture` is the authorization. */
const confirm = (
  ctx: StripeContext,
  request: AuthorizeRequest,
  extra: Pick<Stripe.PaymentIntentCreateParams, "customer" | "setup_future_usage" | "off_session" | "payment_method">
) =>
  Effect.gen(function* () {
    const intent = yield* call(() =>
      ctx.stripe.paymentIntents.create(
        {
          amount: request.amount.amount,
          currency: request.amount.currency.toLowerCase(),
          capture_method: "manual",
          confirm: true,
          payment_method: request.paymentToken,
          automatic_payment_methods: { enabled: true, allow_redirects: "never" },
          metadata: { request_id: request.requestId },
          ...extra
        },
        { idempotencyKey: request.idempotencyKey }
      )
    ).pipe(Effect.mapError((failure) => paymentError(ctx, "authorize", failure.error)))
    switch (intent.status) {
      case "requires_capture": {
        const method = intent.payment_method
        return { providerRef: intent.id, amount: request.amount, paymentMethod: typeof method === "string" ? method : method?.id }
      }
      case "requires_payment_method": {
        const last = intent.last_payment_error
        return yield* new PaymentDeclined({
          reason: last?.decline_code || last?.code || "card_declined",
          detail: ctx.scrub(`PaymentIntent ${intent.id} needs another payment method: ${last?.message ?? "the payment method was refused"}`)
        })
      }
      case "requires_action":
        return yield* new PaymentDeclined({
          reason: "authentication_required",
          detail: `PaymentIntent ${intent.id} needs the customer to authenticate (3-D Secure), which a server-side confirmation cannot do`
        })
      default:
        return yield* rejected(ctx, 
          "authorize",
          `PaymentIntent ${intent.id} is ${intent.status} after confirmation, not requires_capture (capture_method ${intent.capture_method})`
        )
    }
  })


const authorize = (ctx: StripeContext): PaymentGatewayService["authorize"] => (request) =>
    Effect.gen(function* () {
      if (request.saveForLater === undefined) return yield* confirm(ctx, request, {})
      const saved = yield* ctx.savedCards.find(request.requestId)
      const how = SavedCards.confirmation(saved, request)
      if (how._tag === "OffSession") {
        yield* Effect.annotateCurrentSpan("payment.off_session", true)
        return yield* confirm(ctx, request, { customer: how.customer, payment_method: how.paymentMethod, off_session: true })
      }
      const customer = how.customer ?? (yield* createCustomer(ctx, request.requestId, request.saveForLater.idempotencyKey))
      const authorization = yield* confirm(ctx, request, { customer, setup_future_usage: "off_session" })
      // Attached now (Stripe may name the PaymentMethod it made from a test token: the intent says which).
      yield* ctx.savedCards.saved(request.requestId, request.paymentToken, authorization.paymentMethod ?? request.paymentToken, request.idempotencyKey)
      return authorization
    }).pipe(
      Effect.map(({ providerRef, amount }): Authorization => ({ providerRef, amount })),
      Effect.withSpan("StripeGateway.authorize", {
        attributes: {
          "purchase.request_id": request.requestId,
          "payment.idempotency_key": request.idempotencyKey,
          "payment.save_for_later": request.saveForLater !== undefined
        }
      })
    )

const capture = (ctx: StripeContext): PaymentGatewayService["capture"] => (request) =>
    Effect.gen(function* () {
      const wanted = request.amount.amount
      const result = yield* Effect.result(
        call(() => ctx.stripe.paymentIntents.capture(request.providerRef, { amount_to_capture: wanted }, { idempotencyKey: request.idempotencyKey }))
      )
      if (Result.isSuccess(result)) {
        const intent = result.success
        if (intent.status === "succeeded" && intent.amount_received === wanted) return
        return yield* rejected(ctx, "capture", `PaymentIntent ${intent.id} is ${intent.status} with ${intent.amount_received} received after capturing ${wanted}`)
      }
      if (!isUnexpectedState(result.failure.error)) return yield* notDeclined(ctx, "capture")(result.failure.error)
      // Not capturable any more: success only if it was captured, for exactly this amount.
      const intent = yield* retrieve(ctx, "capture", request.providerRef)
      if (intent.status === "succeeded" && intent.amount_received === wanted) return
      if (intent.status === "canceled") {
        // Stripe cancels an uncaptured authorization after its lifetime (7 days for cards):
        // `cancellation_reason` "automatic". Either way nothing is held any more.
        return yield* rejected(ctx, 
          "capture",
          `PaymentIntent ${intent.id} is canceled (${intent.cancellation_reason === "automatic" ? "the authorization lapsed at Stripe" : `cancellation_reason ${intent.cancellation_reason ?? "none"}`}): nothing left to capture`,
          true
        )
      }
      return yield* rejected(ctx, 
        "capture",
        `${classify(result.failure.error).detail}; PaymentIntent ${intent.id} is ${intent.status} with ${intent.amount_received} received, not ${wanted}`
      )
    }).pipe(
      Effect.withSpan("StripeGateway.capture", {
        attributes: { "payment.provider_ref": request.providerRef, "payment.idempotency_key": request.idempotencyKey }
      })
    )

const voidIntent = (ctx: StripeContext): PaymentGatewayService["void"] => (request) =>
    Effect.gen(function* () {
      const result = yield* Effect.result(
        call(() => ctx.stripe.paymentIntents.cancel(request.providerRef, { cancellation_reason: "abandoned" }, { idempotencyKey: request.idempotencyKey }))
      )
      if (Result.isSuccess(result)) {
        if (result.success.status === "canceled") return
        return yield* rejected(ctx, "void", `PaymentIntent ${result.success.id} is ${result.success.status} after cancel`)
      }
      if (!isUnexpectedState(result.failure.error)) return yield* notDeclined(ctx, "void")(result.failure.error)
      // Not cancelable any more: success if it already is canceled (a void re-run).
      const intent = yield* retrieve(ctx, "void", request.providerRef)
      if (intent.status === "canceled") return
      return yield* rejected(ctx, 
        "void",
        `${classify(result.failure.error).detail}; PaymentIntent ${intent.id} is ${intent.status}` +
          (intent.status === "succeeded" ? ` (captured ${intent.amount_received}; refund it instead)` : "")
      )
    }).pipe(
      Effect.withSpan("StripeGateway.void", {
        attributes: { "payment.provider_ref": request.providerRef, "payment.idempotency_key": request.idempotencyKey }
      })
    )

const refund = (ctx: StripeContext): PaymentGatewayService["refund"] => (request) =>
    call(() =>
      ctx.stripe.refunds.create({ payment_intent: request.providerRef, amount: request.amount.amount }, { idempotencyKey: request.idempotencyKey })
    ).pipe(
      Effect.mapError((failure) => notDeclined(ctx, "refund")(failure.error)),
      Effect.flatMap((refund) =>
        refund.status === "failed" || refund.status === "canceled"
          ? Effect.fail(rejected(ctx, "refund", `refund ${refund.id} of PaymentIntent ${request.providerRef} is ${refund.status}`))
          : Effect.void
      ),
      Effect.withSpan("StripeGateway.refund", {
        attributes: { "payment.provider_ref": request.providerRef, "payment.idempotency_key": request.idempotencyKey }
      })
    )

const lookup = (ctx: StripeContext): PaymentGatewayService["lookup"] => (requestId) =>
    Effect.gen(function* () {
      const query = `metadata['request_id']:'${escapeSearchValue(requestId)}'`
      const found: Array<Stripe.PaymentIntent> = []
      let page: string | undefined
      for (let pages = 0; pages < maxSearchPages; pages++) {
        const current = page
        const result = yield* call(() =>
          ctx.stripe.paymentIntents.search({
            query,
            limit: searchPageSize,
            expand: ["data.latest_charge"],
            ...(current === undefined ? {} : { page: current })
          })
        ).pipe(
          Effect.mapError((failure) => {
            // The service type says lookup is only ever unavailable: a refused search (a bug
            // or a misconfiguration) says so in its detail.
            const classified = classify(failure.error)
            const detail = ctx.scrub(classified.kind === "rejected" ? `search refused: ${classified.detail}` : classified.detail)
            return new PaymentUnavailable({
              operation: "lookup",
              detail,
              ...(classified.kind === "unavailable" && classified.retryAfterMillis !== undefined
                ? { retryAfterMillis: classified.retryAfterMillis }
                : {})
            })
          })
        )
        found.push(...result.data.filter((intent) => intent.metadata["request_id"] === requestId))
        if (!result.has_more || result.next_page === null) break
        page = result.next_page
      }
      return found
        .sort((a, b) => a.created - b.created)
        .map(
          (intent): PaymentRecord => ({
            providerRef: intent.id,
            requestId,
            status: recordStatus(intent),
            authorized: toMoney(intent.amount, intent.currency),
            captured: toMoney(intent.amount_received, intent.currency)
          })
        )
    }).pipe(Effect.withSpan("StripeGateway.lookup", { attributes: { "purchase.request_id": requestId } }))

/**
 * No card stays on file after its want: the PaymentMethod a want's first authorization
 * attached is detached from the request's Customer once the want bought, was cancelled or
 * expired (after `savedCardGraceDays` when it ended otherwise). Claimed first, so two
 * processes never detach the same one; a detach Stripe refuses as an invalid request (no such
 * PaymentMethod, or not attached any more) leaves nothing on file either. Any other failure is
 * tried again once the claim lapses.
 */
const detachEndedWantCards = (ctx: StripeContext, graceDays: number) =>
  Effect.gen(function* () {
    const ended = yield* ctx.savedCards.claimEnded(50, graceDays, 300)
    let detached = 0
    for (const card of ended) {
      const outcome = yield* call(() => ctx.stripe.paymentMethods.detach(card.payment_method)).pipe(
        Effect.as("detached" as const),
        Effect.catch((failure) =>
          // No such PaymentMethod, or not attached to anyone any more: nothing of it is on file.
          failure.error instanceof Stripe.errors.StripeInvalidRequestError &&
          (failure.error.code === "resource_missing" || /not attached/i.test(failure.error.message))
            ? Effect.as(Effect.logInfo("saved card already off file").pipe(Effect.annotateLogs({ requestId: card.request_id, detail: ctx.scrub(failure.error.message) })), "detached" as const)
            : Effect.as(
                Effect.logWarning("saved card not detached yet; tried again later").pipe(
                  Effect.annotateLogs({ requestId: card.request_id, detail: ctx.scrub(failure.error instanceof Error ? failure.error.message : String(failure.error)) })
                ),
                "later" as const
              )
        )
      )
      if (outcome === "detached") {
        yield* ctx.savedCards.detached(card.request_id)
        detached++
      }
    }
    return detached
  }).pipe(Effect.withSpan("StripeGateway.detachEndedWantCards"))

export const make = (options: StripeGatewayOptions): Effect.Effect<PaymentGatewayService, never, Scope.Scope | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const savedCards = yield* SavedCards.make
    const protocol = options.protocol ?? "https"
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => (protocol === "http" ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true }))),
      (agent) => Effect.sync(() => agent.destroy())
    )
    const secret = Redacted.value(options.secretKey)
    const stripe = new Stripe(secret, {
      maxNetworkRetries: 0,
      timeout: options.timeoutMillis ?? defaultTimeoutMillis,
      httpClient: withoutSilentRetry(Stripe.createNodeHttpClient(agent)),
      telemetry: false,
      appInfo: { name: "bookbroker" },
      protocol,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port })
    })

    const scrub = (text: string): string => (secret === "" ? text : text.split(secret).join("[redacted secret key]"))
    const ctx: StripeContext = { stripe, scrub, savedCards }
    const service: PaymentGatewayService = {
      name: "stripe",
      // Stripe releases an uncaptured card authorization after 7 days.
      authorizationLifetimeMillis: options.authorizationLifetimeMillis ?? 7 * 24 * 60 * 60 * 1_000,
      authorize: authorize(ctx),
      capture: capture(ctx),
      void: voidIntent(ctx),
      refund: refund(ctx),
      lookup: lookup(ctx)
    }
    const detachEvery = options.detachEveryMillis ?? 60_000
    if (detachEvery > 0) {
      yield* Effect.forkScoped(
        detachEndedWantCards(ctx, options.savedCardGraceDays ?? 7).pipe(
          Effect.catchCause((cause) => Effect.logError("detaching the cards of ended wants failed", cause)),
          Effect.repeat(Schedule.spaced(detachEvery))
        )
      )
    }
    return service
  })

/** The Stripe gateway as the `PaymentGateway` (its HTTP agent lives as long as the layer; wants' Customers are kept in the database). */
export const layer = (options: StripeGatewayOptions): Layer.Layer<PaymentGateway, never, SqlClient.SqlClient> => Layer.effect(PaymentGateway, make(options))
