/**
 * The seller error taxonomy. Every failure of a seller call is exactly one of four typed,
 * serialisable errors; retryability is a property of the error, not of the caller's guess.
 *
 * - {@link SellerUnavailable}: the seller could not answer now (transport, timeout, server
 *   error, rate limited). Retryable, after `retryAfterMillis` when the seller said so.
 * - {@link SellerRejected}: the seller answered no (out of stock, price changed, expired,
 *   invalid request, auth failed). Not retryable: move on or fix the configuration.
 * - {@link MalformedSellerResponse}: the seller answered something that breaks the contract.
 * - {@link OutcomeUnknown}: a purchase that may have reached the seller, with no answer. Never
 *   guessed: resolve it by retrying with the same idempotency key or by an order lookup.
 */
import { Effect, Exit, Schema } from "effect"
import { Operation } from "./Contract.js"
import { Money } from "./Money.js"

export const UnavailableReason = Schema.Literals(["transport", "timeout", "server_error", "rate_limited", "conflict", "adapter_error"])
export type UnavailableReason = typeof UnavailableReason.Type

export class SellerUnavailable extends Schema.TaggedError<SellerUnavailable>()("SellerUnavailable", {
  operation: Operation,
  reason: UnavailableReason,
  detail: Schema.String,
  status: Schema.optional(Schema.Int),
  /** The seller asked us to wait this long (Retry-After / RateLimit headers). */
  retryAfterMillis: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /**
   * True when the request may have been processed before it failed (sent, then no answer or a
   * 5xx). For a purchase this turns into {@link OutcomeUnknown}.
   */
  mayHaveBeenProcessed: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false)), Schema.withDecodingDefault(Effect.succeed(false)))
}) {
  get retryable(): boolean {
    return this.reason !== "adapter_error"
  }
  override get message(): string {
    const wait = this.retryAfterMillis === undefined ? "" : `; the seller asks to wait ${this.retryAfterMillis} ms`
    return `seller unavailable for ${this.operation} (${this.reason}${this.status === undefined ? "" : ` ${this.status}`}): ${this.detail}${wait}`
  }
}

export const RejectedReason = Schema.Literals(["out_of_stock", "price_changed", "quote_expired", "hold_expired", "invalid_request", "auth_failed"])
export type RejectedReason = typeof RejectedReason.Type

export class SellerRejected extends Schema.TaggedError<SellerRejected>()("SellerRejected", {
  operation: Operation,
  reason: RejectedReason,
  detail: Schema.String,
  status: Schema.optional(Schema.Int),
  /** With `price_changed`: the seller's new price, when it said. */
  currentPrice: Schema.optional(Money)
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    const hint =
      this.reason === "auth_failed"
        ? " — check the seller's credentials in its adapter config"
        : this.reason === "invalid_request"
          ? " — the adapter sent something the seller does not accept; check the adapter config"
          : ""
    return `seller rejected ${this.operation} (${this.reason}): ${this.detail}${hint}`
  }
}

export class MalformedSellerResponse extends Schema.TaggedError<MalformedSellerResponse>()(
  "MalformedSellerResponse",
  {
    operation: Operation,
    detail: Schema.String
  }
) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return `seller answered ${this.operation} with something outside the contract: ${this.detail}`
  }
}

export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()("OutcomeUnknown", {
  operation: Schema.Literal("purchase"),
  idempotencyKey: Schema.String,
  detail: Schema.String
}) {
  /** Retryable with the same idempotency key (or resolvable by order lookup), never with a new one. */
  get retryable(): boolean {
    return true
  }
  override get message(): string {
    return `purchase ${this.idempotencyKey} may or may not have been placed (${this.detail}); resolve it with the same idempotency key or an order lookup before trying another seller`
  }
}

export const SellerError = Schema.Union([SellerUnavailable, SellerRejected, MalformedSellerResponse, OutcomeUnknown])
export type SellerError = typeof SellerError.Type

const tags: ReadonlySet<string> = new Set(["SellerUnavailable", "SellerRejected", "MalformedSellerResponse", "OutcomeUnknown"])

/** True for any error of the taxonomy (including ones decoded from JSON). */
export const isSellerError = (u: unknown): u is SellerError =>
  u instanceof SellerUnavailable ||
  u instanceof SellerRejected ||
  u instanceof MalformedSellerResponse ||
  u instanceof OutcomeUnknown

/** True for a plain object that looks like a serialised seller error (`{ _tag: "SellerRejected", … }`). */
export const hasSellerErrorTag = (u: unknown): boolean =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag)

export const isRetryable = (error: SellerError): boolean => error.retryable

/** Encodes an error as JSON-safe data (for the database, logs and the wire). */
export const encode = Schema.encodeSync(SellerError)
/** Decodes what {@link encode} produced. */
export const decode = Schema.decodeUnknownSync(SellerError)
const decodeExit = Schema.decodeUnknownExit(SellerError)

/**
 * Anything an adapter throws, as a seller error: taxonomy errors (or their serialised form)
 * pass through; anything else is an `adapter_error` that may have been processed — so a
 * purchase that threw is treated as outcome unknown, never as a clean failure.
 */
export const fromUnknown = (operation: Operation, cause: unknown): SellerError => {
  if (isSellerError(cause)) return cause
  if (hasSellerErrorTag(cause)) {
    const decoded = decodeExit(cause)
    if (Exit.isSuccess(decoded)) return decoded.value
  }
  const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : typeof cause === "string" ? cause : (JSON.stringify(cause) ?? String(cause))
  return new SellerUnavailable({ operation, reason: "adapter_error", detail, mayHaveBeenProcessed: true })
}
