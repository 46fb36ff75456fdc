/**
 * Taking the customer's money: authorize the maximum at intake, capture the real price once a
 * seller confirmed an order (never more than authorized), void otherwise, refund if ever needed.
 * Every call carries bookbroker's own idempotency key, persisted before the call, so a step
 * re-run after a crash repeats the same operation instead of making a new one.
 *
 * Implementations: Stripe (PaymentIntents with manual capture) and the sandbox ledger in
 * PostgreSQL (the embedded default). Errors say what the pipeline may do next:
 * - `PaymentDeclined`: final; the customer's payment method said no.
 * - `PaymentUnavailable`: the outcome is unknown (timeout, 5xx, connection lost) or the
 *   provider is down; retry with the same idempotency key.
 * - `PaymentRejected`: the provider refused the request itself (capture above the
 *   authorization, unknown payment, idempotency key reused with other parameters); a bug or a
 *   state to reconcile, never retried blindly.
 */
import type { Money } from "@bookbroker/adapter-sdk"
import { Context, type Effect, Schema } from "effect"

export class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", {
  reason: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `payment declined (${this.reason}): ${this.detail}`
  }
}

export class PaymentUnavailable extends Schema.TaggedError<PaymentUnavailable>()("PaymentUnavailable", {
  operation: Schema.Literals(["authorize", "capture", "void", "refund", "lookup"]),
  detail: Schema.String,
  retryAfterMillis: Schema.optional(Schema.Int)
}) {
  override get message(): string {
    return `payment provider unavailable during ${this.operation}, outcome unknown: ${this.detail} (retried with the same idempotency key)`
  }
}

export class PaymentRejected extends Schema.TaggedError<PaymentRejected>()("PaymentRejected", {
  operation: Schema.Literals(["authorize", "capture", "void", "refund", "lookup"]),
  detail: Schema.String,
  /**
   * The provider said (authoritatively: its own record of the payment) that the authorization no
   * longer holds money — it lapsed (Stripe cancels an uncaptured card authorization after 7
   * days) or was voided — so a capture can never succeed and there is nothing left to void.
   */
  authorizationEnded: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    return `payment provider refused ${this.operation}: ${this.detail}`
  }
}

export type PaymentError = PaymentDeclined | PaymentUnavailable | PaymentRejected

export interface AuthorizeRequest {
  readonly idempotencyKey: string
  /** bookbroker's purchase request id, kept with the payment for reconciliation. */
  readonly requestId: string
  readonly amount: Money.Money
  /** The customer's payment method token (Stripe: a PaymentMethod id; sandbox: a test token). */
  readonly paymentToken: string
  /**
   * Set for a request that may wait (a want, `wait_until`): it may authorize again in a later
   * round, when a copy is found and the customer is not there. The first authorization then
   * keeps the payment method usable for later ones (Stripe: a Customer made for the request, the
   * PaymentMethod attached to it with `setup_future_usage`; later rounds are confirmed
   * off-session); `idempotencyKey` (one per request, `PurchaseKeys.savedPaymentMethod`) makes
   * whatever is created for that once. Left out, nothing is kept (the sandbox keeps nothing either
   * way: its tokens can be used again).
   */
  readonly saveForLater?: { readonly idempotencyKey: string }
}

export interface Authorization {
  /** The provider's id for the authorization (Stripe: the PaymentIntent id). */
  readonly providerRef: string
  readonly amount: Money.Money
}

export interface CaptureRequest {
  readonly idempotencyKey: string
  readonly providerRef: string
  /** At most the authorized amount. */
  readonly amount: Money.Money
}

export interface VoidRequest {
  readonly idempotencyKey: string
  readonly providerRef: string
}

export interface RefundRequest {
  readonly idempotencyKey: string
  readonly providerRef: string
  readonly amount: Money.Money
}

/** What the provider holds for a purchase request, for the sweeper and the reconciler. */
export interface PaymentRecord {
  readonly providerRef: string
  readonly requestId: string
  readonly status: "authorized" | "captured" | "voided" | "declined" | "refunded"
  readonly authorized: Money.Money
  readonly captured: Money.Money
}

export interface PaymentGatewayService {
  readonly name: string
  /**
   * How long an authorization holds the customer's money before the provider lets it lapse
   * (Stripe card payments: 7 days); `undefined` when it never lapses (the sandbox). Every
   * deadline inside a purchase must end well within it.
   */
  readonly authorizationLifetimeMillis?: number
  readonly authorize: (request: AuthorizeRequest) => Effect.Effect<Authorization, PaymentError>
  readonly capture: (request: CaptureRequest) => Effect.Effect<void, PaymentUnavailable | PaymentRejected>
  readonly void: (request: VoidRequest) => Effect.Effect<void, PaymentUnavailable | PaymentRejected>
  readonly refund: (request: RefundRequest) => Effect.Effect<void, PaymentUnavailable | PaymentRejected>
  /** Every payment the provider has for a purchase request (by the request id in its metadata). */
  readonly lookup: (requestId: string) => Effect.Effect<ReadonlyArray<PaymentRecord>, PaymentUnavailable>
}

export class PaymentGateway extends Context.Service<PaymentGateway, PaymentGatewayService>()("@bookbroker/engine/PaymentGateway") {}
