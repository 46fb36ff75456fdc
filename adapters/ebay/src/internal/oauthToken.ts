/**
 * eBay's OAuth 2.0 application token (client-credentials grant), cached: the token endpoint
 * allows about 1,000 mints a day per app, and every Buy API call needs a token. A token is
 * reused until shortly before it lapses (10 % of its lifetime, at most 5 minutes, early), and
 * only one mint runs at a time: callers that need a token while one is being minted wait for
 * that one. The form-encoded grant does not fit the SDK's JSON client, so this uses the adapter
 * context's `fetch` (bookbroker's connection pool).
 */
import { type Adapter, type Contract, Http, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Option, Redacted, Schema } from "effect"
import { WireOAuthError, WireToken } from "../Wire.js"

export interface TokenOptions {
  /** `https://api.ebay.com/identity/v1/oauth2/token` */
  readonly tokenUrl: string
  readonly clientId: Redacted.Redacted<string>
  readonly clientSecret: Redacted.Redacted<string>
  readonly scopes: ReadonlyArray<string>
  /** Gives up on one mint after this long. */
  readonly timeoutMillis: number
  readonly now?: () => number
  /** The adapter context's `fetch`. */
  readonly fetch: Adapter.SellerFetch
}

export interface TokenCache {
  /** A valid token: the cached one, the one being minted, or a new one. */
  readonly get: (operation: Contract.Operation) => Effect.Effect<string, SellerError.SellerError>
  /** Forgets a token eBay refused (401), so the next `get` mints another. */
  readonly invalidate: (token: string) => void
}

/** Why a mint failed, without the operation (a mint is shared by calls of several operations). */
class MintFailure {
  constructor(
    readonly kind: "auth_failed" | "transport" | "timeout" | "rate_limited" | "server_error",
    readonly detail: string,
    readonly status?: number,
    readonly retryAfterMillis?: number
  ) {}
}

const maxEarlyMillis = 5 * 60_000

export const make = (options: TokenOptions): TokenCache => {
  const now = options.now ?? Date.now
  let cached: { readonly token: string; readonly refreshAt: number } | undefined
  let minting: Promise<string> | undefined

  const mint = async (): Promise<string> => {
    const basic = Buffer.from(`${Redacted.value(options.clientId)}:${Redacted.value(options.clientSecret)}`).toString("base64")
    let response: Awaited<ReturnType<Adapter.SellerFetch>>
    let text: string
    try {
      response = await options.fetch(options.tokenUrl, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: `grant_type=client_credentials&scope=${encodeURIComponent(options.scopes.join(" "))}`,
        signal: AbortSignal.timeout(options.timeoutMillis)
      })
      text = await response.text()
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError")
      const reason = cause instanceof Error && cause.cause instanceof Error ? `${cause.message}: ${cause.cause.message}` : String(cause)
      throw new MintFailure(timedOut ? "timeout" : "transport", `token request failed: ${reason}`)
    }
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name] = value
    })
    const body = ((): unknown => {
      try {
        return JSON.parse(text)
      } catch {
        return undefined
      }
    })()
    if (response.status === 200) {
      const token = Schema.decodeUnknownOption(WireToken)(body)
      if (Option.isNone(token)) throw new MintFailure("server_error", `token endpoint answered 200 without a token: ${text.slice(0, 200)}`, 200)
      const lifetime = token.value.expires_in * 1000
      cached = { token: token.value.access_token, refreshAt: now() + lifetime - Math.min(maxEarlyMillis, lifetime / 10) }
      return token.value.access_token
    }
    const oauth = Option.getOrUndefined(Schema.decodeUnknownOption(WireOAuthError)(body))
    const detail = `token endpoint answered ${response.status}${oauth === undefined ? `: ${text.slice(0, 200)}` : ` ${oauth.error}: ${oauth.error_description ?? ""}`}`
    if (response.status === 429) throw new MintFailure("rate_limited", detail, 429, Http.waitHint(headers))
    if (response.status >= 500) throw new MintFailure("server_error", detail, response.status, Http.waitHint(headers))
    // invalid_client (wrong keyset), invalid_scope (a scope the keyset is not granted), unauthorized_client…
    throw new MintFailure("auth_failed", detail, response.status)
  }

  const shared = (): Promise<string> => {
    if (cached !== undefined && now() < cached.refreshAt) return Promise.resolve(cached.token)
    minting ??= mint().finally(() => {
      minting = undefined
    })
    return minting
  }

  return {
    get: (operation) =>
      Effect.tryPromise({
        try: shared,
        catch: (cause): SellerError.SellerError => {
          if (!(cause instanceof MintFailure)) return SellerError.fromUnknown(operation, cause)
          const extra = { ...(cause.status === undefined ? {} : { status: cause.status }) }
          if (cause.kind === "auth_failed") return new SellerError.SellerRejected({ operation, reason: "auth_failed", detail: cause.detail, ...extra })
          // A token request is never an order: whatever happened to it, nothing was bought.
          return new SellerError.SellerUnavailable({
            operation,
            reason: cause.kind,
            detail: cause.detail,
            mayHaveBeenProcessed: false,
            ...extra,
            ...(cause.retryAfterMillis === undefined ? {} : { retryAfterMillis: cause.retryAfterMillis })
          })
        }
      }),
    invalidate: (token) => {
      if (cached?.token === token) cached = undefined
    }
  }
}
