/**
 * HTTP helpers for adapters: JSON calls over undici (keep-alive, the engine's connection pool),
 * the usual auth schemes, and the mapping of HTTP outcomes into the seller error taxonomy, so
 * an adapter is mostly mapping code. Statuses the adapter wants to interpret itself (a 404 that
 * means "not carried", a 409 that means "out of stock") are listed in `expect`; every other
 * non-2xx status becomes a typed error here.
 */
import { createHash, createHmac } from "node:crypto"
import { Effect, Exit, Redacted, Schema } from "effect"
import { parseRateLimit } from "ratelimit-header-parser"
import { getGlobalDispatcher, type Dispatcher } from "undici"
import type { Operation } from "./Contract.js"
import * as SchemaError from "./internal/schemaError.js"
import { fromUnknown, MalformedSellerResponse, type SellerError, SellerRejected, SellerUnavailable } from "./SellerError.js"

type Secret = string | Redacted.Redacted<string>
const reveal = (secret: Secret): string => (typeof secret === "string" ? secret : Redacted.value(secret))

/** What an auth scheme sees of a request it signs. */
export interface SignableRequest {
  readonly method: string
  /** Path and query, e.g. `/api/v1/books/9780306406157/quote?x=1`. */
  readonly pathAndQuery: string
  readonly body: string | undefined
  readonly headers: Record<string, string>
}

/** Adds credentials to a request by setting headers. */
export interface Auth {
  readonly apply: (request: SignableRequest) => void
}

/** An API key in a header, e.g. `Auth.apiKeyHeader("X-Api-Key", key)`. */
export const apiKeyHeader = (header: string, key: Secret): Auth => ({
  apply: (req) => {
    req.headers[header.toLowerCase()] = reveal(key)
  }
})

/** `Authorization: Bearer <token>`. */
export const bearer = (token: Secret): Auth => ({
  apply: (req) => {
    req.headers["authorization"] = `Bearer ${reveal(token)}`
  }
})

/** `Authorization: Basic …` (RFC 7617). */
export const basic = (username: string, password: Secret): Auth => ({
  apply: (req) => {
    req.headers["authorization"] = `Basic ${Buffer.from(`${username}:${reveal(password)}`).toString("base64")}`
  }
})

export interface HmacOptions {
  readonly keyId: Secret
  readonly secret: Secret
  /** Header carrying the signature; default `x-signature`. */
  readonly signatureHeader?: string
  /** Header carrying the Unix time in seconds; default `x-timestamp`. */
  readonly timestampHeader?: string
  /** Clock for the timestamp (tests); default `Date.now`. */
  readonly now?: () => number
}

/**
 * The canonical string an HMAC-signing seller checks:
 * `METHOD\npathAndQuery\ntimestamp\nsha256-hex(body)`.
 */
export const hmacCanonicalString = (method: string, pathAndQuery: string, timestamp: string, body: string | undefined) =>
  `${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${createHash("sha256").update(body ?? "").digest("hex")}`

/**
 * HMAC-SHA256 request signing: sets `x-timestamp` and
 * `x-signature: keyId=<id>,signature=<hex>` over {@link hmacCanonicalString}.
 */
export const hmac = (options: HmacOptions): Auth => ({
  apply: (req) => {
    const timestamp = String(Math.floor((options.now ?? Date.now)() / 1000))
    const canonical = hmacCanonicalString(req.method, req.pathAndQuery, timestamp, req.body)
    const signature = createHmac("sha256", reveal(options.secret)).update(canonical).digest("hex")
    req.headers[(options.timestampHeader ?? "x-timestamp").toLowerCase()] = timestamp
    req.headers[(options.signatureHeader ?? "x-signature").toLowerCase()] = `keyId=${reveal(options.keyId)},signature=${signature}`
  }
})

/** What a seller told us about its rate limit on a response. */
export interface RateLimitInfo {
  readonly limit?: number
  readonly remaining?: number
  /** Milliseconds until the window resets. */
  readonly resetMillis?: number
}

export type ResponseHeaders = Readonly<Record<string, string | undefined>>

/**
 * Milliseconds a `Retry-After` header asks to wait: delay-seconds or an HTTP-date.
 * `undefined` when absent or unreadable.
 */
export const parseRetryAfter = (value: string | undefined, now: number = Date.now()): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  // Only an HTTP-date (day name … hh:mm:ss): `Date.parse` alone reads "1.5" or "-1" as dates in 2001.
  if (!httpDate.test(text)) return undefined
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const httpDate = /^[a-z]{3,9},?\s.*\d{1,2}:\d{2}:\d{2}/i

/**
 * Milliseconds until a rate-limit window resets. The combined draft header counts delta seconds;
 * split headers send delta seconds, a Unix time in seconds (large values) or an HTTP-date.
 * Read here rather than by the header parser, which takes relative resets from its own clock.
 */
const resetMillisOf = (headers: Record<string, string>, now: number): number | undefined => {
  const combined = headers["ratelimit"]
  if (combined) {
    const seconds = /reset\s*=\s*(\d+)/i.exec(combined)?.[1]
    return seconds === undefined ? undefined : Number(seconds) * 1000
  }
  const prefix = ["ratelimit-", "x-ratelimit-", "x-rate-limit-"].find((candidate) => headers[`${candidate}remaining`])
  const reset = prefix === undefined ? undefined : headers[`${prefix}reset`]?.trim()
  if (reset === undefined || reset === "") return undefined
  if (/^\d+$/.test(reset)) return Number(reset) > 1e9 ? Math.max(0, Number(reset) * 1000 - now) : Number(reset) * 1000
  return parseRetryAfter(reset, now)
}

/** Reads `RateLimit` (IETF draft, combined or split) and `X-RateLimit-*` headers. */
export const parseRateLimitHeaders = (headers: ResponseHeaders, now: number = Date.now()): RateLimitInfo | undefined => {
  const clean: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) clean[name.toLowerCase()] = value
  const parsed = parseRateLimit(clean)
  if (parsed === undefined) return undefined
  const info: { limit?: number; remaining?: number; resetMillis?: number } = {}
  if (Number.isFinite(parsed.limit)) info.limit = parsed.limit
  if (Number.isFinite(parsed.remaining)) info.remaining = parsed.remaining
  const resetMillis = resetMillisOf(clean, now)
  if (resetMillis !== undefined) info.resetMillis = resetMillis
  return info
}

/** How long the seller asks us to wait, from Retry-After or an exhausted RateLimit window. */
export const waitHint = (headers: ResponseHeaders, now: number = Date.now()): number | undefined => {
  const retryAfter = parseRetryAfter(headers["retry-after"], now)
  if (retryAfter !== undefined) return retryAfter
  const rate = parseRateLimitHeaders(headers, now)
  return rate !== undefined && rate.remaining === 0 ? rate.resetMillis : undefined
}

export interface SellerHttpOptions {
  /** The seller's API root, e.g. `https://api.seller.example`. */
  readonly baseUrl: string
  readonly auth?: Auth
  readonly headers?: Readonly<Record<string, string>>
  /** undici dispatcher (connection pool); the engine passes its own. */
  readonly dispatcher?: Dispatcher
}

export interface HttpCall {
  readonly operation: Operation
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  readonly query?: Readonly<Record<string, string | number | undefined>>
  /** A JSON body. */
  readonly json?: unknown
  readonly headers?: Readonly<Record<string, string>>
  /** Sent as `Idempotency-Key`. */
  readonly idempotencyKey?: string
  /** Non-2xx statuses the adapter interprets itself; they are returned, not thrown. */
  readonly expect?: ReadonlyArray<number>
  readonly signal?: AbortSignal
}

export interface HttpResponse {
  readonly status: number
  readonly headers: ResponseHeaders
  /** The parsed JSON body, or `undefined` when the body was empty. */
  readonly body: unknown
}

export interface SellerHttp {
  /**
   * Sends one call. Resolves with 2xx and `expect`ed statuses; rejects with a
   * `SellerUnavailable`, `SellerRejected` or `MalformedSellerResponse` otherwise.
   */
  readonly request: (call: HttpCall) => Promise<HttpResponse>
}

// Errors raised before a single byte can have reached the seller: the call was not processed.
const notSentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "ERR_INVALID_URL",
  // The engine's connection pool refused the address (not public, not allowed by the operator).
  "EADDRNOTALLOWED"
])

/**
 * Makes a JSON client for one seller API.
 *
 * @example
 * const api = createSellerHttp({ baseUrl: config.baseUrl, auth: apiKeyHeader("X-Api-Key", key) })
 * const res = await api.request({ operation: "quote", method: "GET", path: `/books/${isbn}`, expect: [404], signal })
 */
export const createSellerHttp = (options: SellerHttpOptions): SellerHttp => {
  const base = new URL(options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`)
  // What every call shares, worked out once: the origin, the base path and the client's headers.
  const origin = base.origin
  // Under a base without query or fragment, a plain path is simply appended to the base's path.
  const basePath = base.search === "" && base.hash === "" && base.pathname.endsWith("/") ? base.pathname : undefined
  const clientHeaders: Record<string, string> = { accept: "application/json" }
  for (const [k, v] of Object.entries(options.headers ?? {})) clientHeaders[k.toLowerCase()] = v
  return {
    request: async (call) => {
      const { pathname, search } = target(base, basePath, call)
      const pathAndQuery = pathname + search
      const body = call.json === undefined ? undefined : JSON.stringify(call.json)
      const headers: Record<string, string> = { ...clientHeaders }
      if (call.headers !== undefined) for (const [k, v] of Object.entries(call.headers)) headers[k.toLowerCase()] = v
      if (body !== undefined) headers["content-type"] = "application/json"
      if (call.idempotencyKey !== undefined) headers["idempotency-key"] = call.idempotencyKey
      options.auth?.apply({ method: call.method, pathAndQuery, body, headers })

      let status: number
      let responseHeaders: Record<string, string | undefined>
      let text: string
      try {
        // Origin and path as undici's own `request(url)` would pass them, without a URL per call.
        const response = await (options.dispatcher ?? getGlobalDispatcher()).request({
          origin,
          path: pathAndQuery,
          method: call.method,
          headers,
          body: body ?? null,
          signal: call.signal ?? null
        })
        status = response.statusCode
        responseHeaders = flattenHeaders(response.headers)
        text = await response.body.text()
      } catch (cause) {
        throw transportError(call, cause)
      }

      const ok = (status >= 200 && status < 300) || (call.expect !== undefined && call.expect.includes(status))
      if (!ok) throw statusError(call, status, responseHeaders, text)
      if (text.trim() === "") return { status, headers: responseHeaders, body: undefined }
      try {
        return { status, headers: responseHeaders, body: JSON.parse(text) as unknown }
      } catch {
        throw new MalformedSellerResponse({
          operation: call.operation,
          detail: `${call.method} ${pathname} answered ${status} with a body that is not JSON: ${preview(text)}`
        })
      }
    }
  }
}

/**
 * Letters, digits, `-`, `_`, `~` and `/` only, not starting with `//`: a path that the URL parser
 * would leave as it is (nothing to percent-encode, no dot segments, no query or fragment).
 */
const plainPath = /^\/?(?!\/)[A-Za-z0-9\-_~/]*$/

/** The path and query a call goes to, as `new URL(path, base)` with its query set resolves them. */
const target = (base: URL, basePath: string | undefined, call: HttpCall): { readonly pathname: string; readonly search: string } => {
  if (basePath !== undefined && plainPath.test(call.path)) {
    const pathname = basePath + (call.path.startsWith("/") ? call.path.slice(1) : call.path)
    if (call.query === undefined) return { pathname, search: "" }
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(call.query)) if (value !== undefined) params.set(key, String(value))
    const query = params.toString()
    return { pathname, search: query === "" ? "" : `?${query}` }
  }
  const url = new URL(call.path.replace(/^\//, ""), base)
  for (const [key, value] of Object.entries(call.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value))
  }
  return { pathname: url.pathname, search: url.search }
}

/** undici's headers are lowercased already; only repeated ones (arrays) need joining. */
const flattenHeaders = (headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> => {
  for (const name in headers) {
    if (Array.isArray(headers[name])) {
      const flat: Record<string, string | undefined> = {}
      for (const [key, value] of Object.entries(headers)) flat[key] = Array.isArray(value) ? value.join(", ") : value
      return flat
    }
  }
  return headers as Record<string, string | undefined>
}

const preview = (text: string) => JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)

const transportError = (call: HttpCall, cause: unknown): SellerUnavailable => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  const aborted = call.signal?.aborted === true || (cause instanceof Error && cause.name === "AbortError")
  const detail = `${call.method} ${call.path}: ${cause instanceof Error ? cause.message : String(cause)}${code === undefined ? "" : ` (${code})`}`
  return new SellerUnavailable({
    operation: call.operation,
    reason: aborted || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" ? "timeout" : "transport",
    detail,
    mayHaveBeenProcessed: !(code !== undefined && notSentCodes.has(code))
  })
}

const statusError = (call: HttpCall, status: number, headers: ResponseHeaders, text: string) => {
  const detail = `${call.method} ${call.path} answered ${status}${text.trim() === "" ? "" : `: ${preview(text)}`}`
  const retryAfterMillis = waitHint(headers)
  const wait = retryAfterMillis === undefined ? {} : { retryAfterMillis }
  if (status === 401 || status === 403) {
    return new SellerRejected({ operation: call.operation, reason: "auth_failed", status, detail })
  }
  if (status === 400 || status === 404 || status === 405 || status === 413 || status === 422) {
    return new SellerRejected({ operation: call.operation, reason: "invalid_request", status, detail })
  }
  if (status === 408) {
    return new SellerUnavailable({ operation: call.operation, reason: "timeout", status, detail, mayHaveBeenProcessed: true, ...wait })
  }
  if (status === 409) {
    return new SellerUnavailable({ operation: call.operation, reason: "conflict", status, detail, ...wait })
  }
  if (status === 429) {
    return new SellerUnavailable({ operation: call.operation, reason: "rate_limited", status, detail, ...wait })
  }
  if (status >= 500) {
    return new SellerUnavailable({ operation: call.operation, reason: "server_error", status, detail, mayHaveBeenProcessed: true, ...wait })
  }
  return new MalformedSellerResponse({ operation: call.operation, detail: `unexpected status: ${detail}` })
}

/**
 * Decodes a response body with a schema of the seller's wire format; a mismatch is a
 * `MalformedSellerResponse` naming the offending field.
 *
 * @example
 * const quote = decodeBody(WireQuote, res.body, "quote")
 */
export const decodeBody = <A, I>(schema: Schema.Codec<A, I>, body: unknown, operation: Operation): A => {
  const result = Schema.decodeUnknownExit(schema, { errors: "first", onExcessProperty: "ignore", reportInput: true })(body)
  if (Exit.isSuccess(result)) return result.value
  throw new MalformedSellerResponse({ operation, detail: SchemaError.ofExit(result) })
}

/**
 * One path segment from a value (an ISBN, an idempotency key): percent-encoded, and refused
 * when it would change the path (`.`, `..`, empty) instead of naming a resource.
 *
 * @example
 * path: `/v2/orders/${Http.pathSegment(request.idempotencyKey)}`
 */
export const pathSegment = (value: string): string => {
  if (value === "" || value === "." || value === "..") {
    throw new SellerRejected({ operation: "purchase", reason: "invalid_request", detail: `"${value}" cannot be a path segment` })
  }
  return encodeURIComponent(value)
}

/** The Effect form of a {@link SellerHttp}: interruption aborts the call; failures are seller errors. */
export interface EffectSellerHttp {
  readonly request: (call: Omit<HttpCall, "signal">) => Effect.Effect<HttpResponse, SellerError>
}

/**
 * Wraps a {@link SellerHttp} for Effect-style adapters.
 *
 * @example
 * const api = Http.effect(ctx.http({ baseUrl: config.baseUrl, auth }))
 * const response = yield* api.request({ operation: "quote", method: "GET", path: "/books" })
 */
export const effect = (http: SellerHttp): EffectSellerHttp => ({
  request: (call) =>
    Effect.tryPromise({ try: (signal) => http.request({ ...call, signal }), catch: (cause) => fromUnknown(call.operation, cause) })
})
