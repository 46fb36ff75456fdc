/**
 * AbeBooks' four-digit response codes (Purchase API appendices) in the seller error taxonomy.
 * The first three digits look like the HTTP status (an inference the mapping does not rely on:
 * it reads the code in the body, and falls back to the HTTP status only when there is none).
 * Pure, so the rule that decides "refused" versus "may have been placed" is tested on its own.
 */
import { type Contract, SellerError } from "@bookbroker/adapter-sdk"

export type CodeMeaning =
  /** A clean refusal: nothing was processed. */
  | { readonly _tag: "Rejected"; readonly reason: SellerError.RejectedReason; readonly hint: string }
  /** Retry later (the SDK's rate_limited / server_error semantics). */
  | { readonly _tag: "Unavailable"; readonly reason: "rate_limited" | "server_error"; readonly hint: string }
  /** The request id was used before: resolved by the caller (same body: 2003; other body: 4090). */
  | { readonly _tag: "Duplicate"; readonly sameBody: boolean }
  | { readonly _tag: "Unknown" }

const rejected = (reason: SellerError.RejectedReason, hint: string): CodeMeaning => ({ _tag: "Rejected", reason, hint })

const meanings: ReadonlyMap<number, CodeMeaning> = new Map<number, CodeMeaning>([
  [2003, { _tag: "Duplicate", sameBody: true }],
  [4090, { _tag: "Duplicate", sameBody: false }],
  [4000, rejected("invalid_request", "malformed message")],
  [4001, rejected("auth_failed", "the credit-card token does not match a card on the AbeBooks account (credential creditCardToken)")],
  [4002, rejected("invalid_request", "no listings, a quantity below 1 or more than 250 items")],
  [4003, rejected("invalid_request", "AbeBooks could not parse the JSON body")],
  [4010, rejected("auth_failed", "authentication failed")],
  [4011, rejected("invalid_request", "Abe-Date missing")],
  [4012, rejected("invalid_request", "Abe-Date unparsable")],
  [4013, rejected("invalid_request", "request expired: Abe-Date is more than 5 minutes old — check this host's clock")],
  [4014, rejected("auth_failed", "access key invalid (credential accessKey)")],
  [4015, rejected("auth_failed", "access key expired (credential accessKey)")],
  [4016, rejected("auth_failed", "Abe-Signature missing")],
  [4017, rejected("auth_failed", "Abe-Signature invalid (credential secretKey)")],
  [4018, rejected("invalid_request", "Abe-RequestId missing or invalid")],
  [4030, rejected("auth_failed", "not permitted: the Purchase API is open to select partners only")],
  [4042, rejected("invalid_request", "resource not found or malformed URI — check purchaseBaseUrl")],
  [4050, rejected("invalid_request", "method not supported")],
  [4060, rejected("invalid_request", "requested media type not supported")],
  [4150, rejected("invalid_request", "submitted media type not supported")],
  [4220, rejected("invalid_request", "malformed request")],
  [4291, { _tag: "Unavailable", reason: "rate_limited", hint: "rate limit exceeded" }],
  [4292, rejected("auth_failed", "too many failed authentication attempts")],
  [4293, rejected("auth_failed", "too many requests with an invalid credit-card token")],
  [5000, { _tag: "Unavailable", reason: "server_error", hint: "server error" }],
  [5030, { _tag: "Unavailable", reason: "server_error", hint: "temporarily unavailable" }]
])

/** What a response code means; `Unknown` for codes AbeBooks does not document (and 4041, which depends on the call). */
export const meaningOf = (code: number): CodeMeaning => meanings.get(code) ?? { _tag: "Unknown" }

/** An error answer as a seller error, for calls where a refusal cannot hide an order (everything but `POST /orders`). */
export const toSellerError = (
  operation: Contract.Operation,
  code: number,
  status: number,
  message: string | undefined,
  retryAfterMillis: number | undefined
): SellerError.SellerError | undefined => {
  const meaning = meaningOf(code)
  const detail = `${status} ${code}${message === undefined ? "" : ` ${message}`}`
  switch (meaning._tag) {
    case "Rejected":
      return new SellerError.SellerRejected({ operation, reason: meaning.reason, status, detail: `${detail} (${meaning.hint})` })
    case "Unavailable":
      return new SellerError.SellerUnavailable({
        operation,
        reason: meaning.reason,
        status,
        detail: `${detail} (${meaning.hint})`,
        mayHaveBeenProcessed: meaning.reason === "server_error",
        ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
      })
    default:
      return undefined
  }
}
