/**
 * The Shelfwise seller API as msw handlers over the SDK's {@link SellerSimulator}, for the
 * conformance kit, engine tests and demos. Routes match any origin, so the same handlers serve
 * any host, in-process or over HTTP via `serveHandlers`.
 *
 * - Every call is HMAC-signed (`x-timestamp`, `x-signature: keyId=…,signature=…` over the SDK's
 *   canonical string), with the simulator's `apiKey` as the shared secret; a bad or stale
 *   signature is `401 { code: "BAD_SIGNATURE" }`.
 * - `POST /v2/availability` `{ isbns }` → `{ items: [...] }`: unknown books are left out, sold-out
 *   ones have `in_stock: 0`; prices are integer minor units with the currency on each item.
 * - `PUT /v2/orders/{client_order_id}` `{ offer_token, customer_ref, max_total_cents }` places an
 *   order atomically from an offer token; a replay of the id answers with its first outcome.
 * - `GET /v2/orders/{client_order_id}` → the order, or `404 { code: "NO_SUCH_ORDER" }`.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { Http } from "@bookbroker/adapter-sdk"
import {
  SimulatedRejection,
  simulate,
  type SellerSimulator,
  type SimulatedOrder,
  type SimulatedQuote,
  type StockItem,
  type WireErrors
} from "@bookbroker/adapter-sdk/testing"
import { http, HttpResponse, type RequestHandler } from "msw"

export interface ShelfwiseSellerOptions {
  /** The key id the seller issued; when set, requests signed under another key id are refused. */
  readonly keyId?: string
  /** ISBNs per availability call the seller accepts; more is `422 INVALID`. Default 25. */
  readonly maxBatchSize?: number
  /** How far a signature's timestamp may be from the real clock, in seconds. Default 300. */
  readonly maxClockSkewSeconds?: number
}

type SimulatedCondition = NonNullable<StockItem["condition"]>

const conditionToShelfwise: Readonly<Record<SimulatedCondition, string>> = {
  new: "new",
  like_new: "used_like_new",
  very_good: "used_very_good",
  good: "used_good",
  acceptable: "used_acceptable"
}

const error = (status: number, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  HttpResponse.json({ code, ...extra }, { status, headers })

/** How Shelfwise spells its errors: `{ code }` bodies, one status per business outcome. */
export const shelfwiseErrors: WireErrors = {
  rejection: (rejection) => {
    switch (rejection.code) {
      case "unauthorized":
        return error(401, "BAD_SIGNATURE")
      case "out_of_stock":
        return error(409, "SOLD_OUT")
      case "quote_expired":
      case "unknown_quote":
        // Shelfwise cannot tell an expired offer token from one it never issued.
        return error(410, "OFFER_EXPIRED")
      case "price_changed":
        return error(412, "PRICE_MOVED", rejection.currentPrice === undefined ? {} : { unit_price_cents: rejection.currentPrice })
      case "unknown_book":
      case "hold_expired":
      case "unknown_hold":
      case "invalid_request":
        return error(422, "INVALID")
    }
  },
  rateLimited: (seconds) => error(429, "RATE_LIMITED", {}, { "Retry-After": String(seconds) }),
  serverError: () => error(503, "MAINTENANCE", {}, { "Retry-After": "2" }),
  // A 200 in some other format (a half-deployed v3, say): JSON, but neither items nor an order.
  malformed: () => HttpResponse.json({ status: "ok", result: null })
}

const invalid = () => new SimulatedRejection("invalid_request")

/** Checks the HMAC signature over the request as received; throws `unauthorized` when it does not verify. */
const verifySignature = (
  seller: SellerSimulator,
  options: ShelfwiseSellerOptions,
  request: Request,
  body: string | undefined
): void => {
  const secret = seller.apiKey
  if (secret === undefined) return
  const timestamp = request.headers.get("x-timestamp") ?? ""
  const signature = /^keyId=([^,\s]+),signature=([0-9a-f]{64})$/.exec(request.headers.get("x-signature") ?? "")
  // Freshness is checked against real time: the simulator's `advance` moves business time (expiry), not the wire's.
  const fresh = /^\d+$/.test(timestamp) && Math.abs(Date.now() / 1000 - Number(timestamp)) <= (options.maxClockSkewSeconds ?? 300)
  if (signature === null || !fresh || (options.keyId !== undefined && signature[1] !== options.keyId)) {
    throw new SimulatedRejection("unauthorized")
  }
  const url = new URL(request.url)
  const expected = createHmac("sha256", secret)
    .update(Http.hmacCanonicalString(request.method, url.pathname + url.search, timestamp, body))
    .digest()
  if (!timingSafeEqual(expected, Buffer.from(signature[2]!, "hex"))) throw new SimulatedRejection("unauthorized")
}

const parseObject = (text: string): Record<string, unknown> => {
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return body as Record<string, unknown>
  } catch {
    // fall through
  }
  throw invalid()
}

const isCents = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const wireOffer = (seller: SellerSimulator, quote: SimulatedQuote) => ({
  isbn: quote.isbn,
  in_stock: quote.quantity,
  unit_price_cents: quote.price,
  shipping_cents: quote.shipping,
  currency: seller.currency,
  condition: conditionToShelfwise[quote.condition],
  offer_token: quote.quoteId,
  // Whole seconds, rounded down: the offer is never said to live longer than it does.
  valid_until: Math.floor(quote.expiresAt / 1000)
})

const wireSoldOut = (seller: SellerSimulator, isbn: string) => {
  const item = seller.stockItem(isbn)
  return {
    isbn,
    in_stock: 0,
    unit_price_cents: item?.price ?? 0,
    shipping_cents: item?.shipping ?? 0,
    currency: seller.currency,
    condition: conditionToShelfwise[item?.condition ?? "new"],
    offer_token: null,
    valid_until: null
  }
}

const wireOrder = (seller: SellerSimulator, order: SimulatedOrder) => ({
  order: {
    id: order.orderId,
    isbn: order.isbn,
    unit_price_cents: order.price,
    shipping_cents: order.shipping,
    currency: seller.currency,
    state: "accepted"
  }
})

/**
 * @example
 * const seller = new SellerSimulator({ apiKey: "shared-secret", stock: [{ isbn, price: 1299, shipping: 299, quantity: 3 }] })
 * const server = await serveHandlers(shelfwiseSellerHandlers(seller))
 */
export const shelfwiseSellerHandlers = (seller: SellerSimulator, options: ShelfwiseSellerOptions = {}): Array<RequestHandler> => {
  const maxBatchSize = options.maxBatchSize ?? 25
  return [
    http.post("*/v2/availability", ({ request }) =>
      simulate(seller, "quote", shelfwiseErrors, async () => {
        const text = await request.text()
        verifySignature(seller, options, request, text)
        const isbns = parseObject(text)["isbns"]
        if (!Array.isArray(isbns) || isbns.length === 0 || isbns.length > maxBatchSize || !isbns.every((isbn) => typeof isbn === "string")) {
          throw invalid()
        }
        const asked = [...new Set(isbns as Array<string>)]
        seller.quoteCalls.push(asked)
        const items = asked.flatMap((isbn) => {
          try {
            const quote = seller.quote(isbn)
            return ["unavailable" in quote ? wireSoldOut(seller, isbn) : wireOffer(seller, quote)]
          } catch (rejection) {
            // Books Shelfwise does not carry are left out of the answer.
            if (rejection instanceof SimulatedRejection && rejection.code === "unknown_book") return []
            throw rejection
          }
        })
        return HttpResponse.json({ items })
      })
    ),
    http.put("*/v2/orders/:clientOrderId", ({ request, params }) =>
      simulate(seller, "purchase", shelfwiseErrors, async (fault) => {
        const text = await request.text()
        verifySignature(seller, options, request, text)
        const clientOrderId = String(params["clientOrderId"] ?? "")
        const body = parseObject(text)
        const offerToken = body["offer_token"]
        const customerRef = body["customer_ref"]
        const maxTotal = body["max_total_cents"]
        if (
          clientOrderId.trim() === "" ||
          typeof offerToken !== "string" ||
          offerToken === "" ||
          typeof customerRef !== "string" ||
          customerRef.trim() === "" ||
          !isCents(maxTotal)
        ) {
          throw invalid()
        }
        // A new order must fit the customer's cap; a replay answers with its first outcome whatever it says.
        const quote = seller.quotes.get(offerToken)
        if (seller.lookupOrder(clientOrderId) === undefined && quote !== undefined && quote.price + quote.shipping > maxTotal) {
          throw invalid()
        }
        const order = seller.purchase({ idempotencyKey: clientOrderId, buyerReference: customerRef, quoteId: offerToken }, fault)
        return HttpResponse.json(wireOrder(seller, order))
      })
    ),
    http.get("*/v2/orders/:clientOrderId", ({ request, params }) =>
      simulate(seller, "lookupOrder", shelfwiseErrors, () => {
        verifySignature(seller, options, request, undefined)
        const order = seller.lookupOrder(String(params["clientOrderId"] ?? ""))
        return order === undefined ? error(404, "NO_SUCH_ORDER") : HttpResponse.json(wireOrder(seller, order))
      })
    )
  ]
}
