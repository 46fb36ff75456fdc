/**
 * Quotes through AbeBooks Search Web Services: one `GET /search?clientkey=…&isbn=…` per ISBN,
 * an XML answer, the cheapest acceptable copy as the offer. The SDK's HTTP client speaks JSON
 * only, so this call goes through the pool's `fetch` (the adapter context's) and maps its outcomes into the taxonomy itself the way
 * the SDK would: 401/403 → auth_failed, 429 → rate_limited with the seller's wait, 5xx →
 * server_error, a body that is not a search answer → MalformedSellerResponse.
 */
import { type Adapter, type Contract, Http, SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Redacted, Result } from "effect"
import { readBooks } from "./internal/searchXml.js"
import { choose, listingOf, type Listing } from "./Listings.js"

export interface SearchOptions {
  readonly searchBaseUrl: string
  readonly clientKey: Redacted.Redacted<string>
  readonly currency: string
  readonly destinationCountry: string
  readonly minimumCondition: Contract.Condition
  readonly quoteTtlSeconds: number
  /** The adapter context's `fetch` (bookbroker's connection pool). */
  readonly fetch: Adapter.SellerFetch
}

const notSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT", "EADDRNOTALLOWED"])

const transportError = (cause: unknown, signal: AbortSignal): SellerError.SellerUnavailable => {
  const inner = cause instanceof Error && cause.cause !== undefined ? cause.cause : cause
  const code = typeof inner === "object" && inner !== null && "code" in inner ? String(inner.code) : undefined
  return new SellerError.SellerUnavailable({
    operation: "quote",
    reason: signal.aborted ? "timeout" : "transport",
    detail: `GET /search: ${inner instanceof Error ? inner.message : String(inner)}${code === undefined ? "" : ` (${code})`}`,
    mayHaveBeenProcessed: !(code !== undefined && notSentCodes.has(code))
  })
}

const statusError = (status: number, headers: Http.ResponseHeaders, text: string): SellerError.SellerError => {
  const detail = `GET /search answered ${status}: ${JSON.stringify(text.slice(0, 200))}`
  const retryAfterMillis = Http.waitHint(headers)
  const wait = retryAfterMillis === undefined ? {} : { retryAfterMillis }
  if (status === 401 || status === 403) {
    return new SellerError.SellerRejected({ operation: "quote", reason: "auth_failed", status, detail: `${detail} (Search Web Services refused the clientKey)` })
  }
  if (status === 429) return new SellerError.SellerUnavailable({ operation: "quote", reason: "rate_limited", status, detail, ...wait })
  if (status >= 500) return new SellerError.SellerUnavailable({ operation: "quote", reason: "server_error", status, detail, mayHaveBeenProcessed: true, ...wait })
  return new SellerError.SellerRejected({ operation: "quote", reason: "invalid_request", status, detail: `${detail} — check searchBaseUrl` })
}

/** The seller's clock from the `Date` header (1 s resolution); ours when it is missing. */
export const sellerNow = (headers: Http.ResponseHeaders): number => {
  const date = Date.parse(headers["date"] ?? "")
  return Number.isNaN(date) ? Date.now() : date
}

/** Quotes one ISBN. */
export const quoteOne = (options: SearchOptions, isbn: string): Effect.Effect<Contract.QuoteResultInput, SellerError.SellerError> =>
  Effect.gen(function* () {
    const url = new URL("search", options.searchBaseUrl.endsWith("/") ? options.searchBaseUrl : `${options.searchBaseUrl}/`)
    url.searchParams.set("clientkey", Redacted.value(options.clientKey))
    url.searchParams.set("isbn", isbn)
    url.searchParams.set("currency", options.currency)
    url.searchParams.set("destinationcountry", options.destinationCountry)
    const { status, headers, text } = yield* Effect.tryPromise({
      try: async (signal) => {
        try {
          const response = await options.fetch(url, { signal, headers: { accept: "application/xml, text/xml" } })
          const flat: Record<string, string> = {}
          response.headers.forEach((value, name) => {
            flat[name] = value
          })
          return { status: response.status, headers: flat, text: await response.text() }
        } catch (cause) {
          throw transportError(cause, signal)
        }
      },
      catch: (cause) => SellerError.fromUnknown("quote", cause)
    })
    if (status < 200 || status >= 300) return yield* statusError(status, headers, text)
    const read = readBooks(text)
    if ("error" in read) return yield* new SellerError.MalformedSellerResponse({ operation: "quote", detail: read.error })
    const listings: Array<Listing> = []
    for (const record of read.books) {
      const listing = listingOf(record, options.currency)
      if (Result.isFailure(listing)) return yield* new SellerError.MalformedSellerResponse({ operation: "quote", detail: listing.failure })
      listings.push(listing.success)
    }
    const chosen = choose(isbn, listings, options.minimumCondition)
    if (chosen._tag === "Unavailable") return { available: false, isbn, reason: chosen.reason }
    const { listing } = chosen
    return {
      available: true,
      isbn,
      // The listing id is all a purchase needs; the offer carries price and expiry itself.
      quoteId: listing.listingId,
      price: { amount: listing.price.amount, currency: listing.price.currency },
      shipping: { amount: listing.shipping.amount, currency: listing.shipping.currency },
      condition: listing.condition,
      quantity: listing.quantity,
      expiresAt: new Date(sellerNow(headers) + options.quoteTtlSeconds * 1000)
    }
  })
