/**
 * The reference seller API (`openapi/reference-seller.v1.yaml`) as msw handlers over a
 * {@link SellerSimulator}. Routes match any origin, so the same handlers serve any host,
 * in-process or over HTTP via `serveHandlers`.
 */
import { http, HttpResponse, type RequestHandler } from "msw"
import * as Money from "../Money.js"
import { SimulatedRejection, type SellerSimulator, type SimulatedQuote } from "./SellerSimulator.js"
import { jsonErrors, replayRefused, simulate, type WireErrors } from "./Simulation.js"

export interface ReferenceSellerOptions {
  /** `hold`: quote → hold → order from the hold. `atomic`: no holds, order from a quote. Default `hold`. */
  readonly mode?: "hold" | "atomic"
  /** Offer `POST /api/v1/quotes`. Default true. */
  readonly batch?: boolean
  /** Offer `GET /api/v1/orders/{idempotency_key}`. Default false. */
  readonly orderLookup?: boolean
  /**
   * Offer `GET /api/v1/inventory?cursor=…&limit=…` (1..1000): pages of
   * `{ listings: [{ listing_id, book_id, price, quantity }], next_cursor }` over the simulator's
   * stock. Default true: serving it claims nothing — the adapter's `inventory` config decides
   * whether bookbroker asks.
   */
  readonly inventory?: boolean
  /**
   * Keep one hold per `Idempotency-Key` and echo the key in the hold. Default true; `false` is a
   * seller that ignores the key (every hold call takes a copy).
   */
  readonly holdKeys?: boolean
}

const decimal = (minor: number, currency: string): number => Number(Money.toDecimal(Money.make(minor, currency)))

const errorsFor = (seller: SellerSimulator): WireErrors => ({
  ...jsonErrors,
  rejection: (rejection) => {
    const response = jsonErrors.rejection(new SimulatedRejection(rejection.code))
    if (rejection.currentPrice === undefined) return response
    return HttpResponse.json(
      { error: rejection.code, message: rejection.message, current_price: decimal(rejection.currentPrice, seller.currency) },
      { status: response.status }
    )
  }
})

const wireQuote = (seller: SellerSimulator, isbn: string, quote: SimulatedQuote | { readonly unavailable: "out_of_stock" }) =>
  "unavailable" in quote
    ? { book_id: isbn, available: false, price: null, quote_id: null, expires_at: null }
    : {
        book_id: isbn,
        available: true,
        price: decimal(quote.price, seller.currency),
        quote_id: quote.quoteId,
        expires_at: new Date(quote.expiresAt).toISOString(),
        quantity: quote.quantity
      }

const readJson = async (request: Request): Promise<Record<string, unknown>> => {
  try {
    const body: unknown = await request.json()
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return body as Record<string, unknown>
  } catch {
    // fall through
  }
  throw new SimulatedRejection("invalid_request")
}

/**
 * @example
 * const seller = new SellerSimulator({ apiKey: "k", stock: [{ isbn, price: 1299, quantity: 3 }] })
 * const server = await serveHandlers(referenceSellerHandlers(seller, { mode: "hold" }))
 */
export const referenceSellerHandlers = (seller: SellerSimulator, options: ReferenceSellerOptions = {}): Array<RequestHandler> => {
  const mode = options.mode ?? "hold"
  const errors = errorsFor(seller)
  const handlers: Array<RequestHandler> = [
    http.get("*/api/v1/books/:isbn/quote", ({ request, params }) =>
      simulate(seller, "quote", errors, () => {
        seller.checkApiKey(request.headers.get("x-api-key"))
        const isbn = String(params["isbn"])
        seller.quoteCalls.push([isbn])
        return HttpResponse.json(wireQuote(seller, isbn, seller.quote(isbn)))
      })
    ),
    http.post("*/api/v1/orders", ({ request }) =>
      simulate(seller, "purchase", errors, async (fault) => {
        seller.checkApiKey(request.headers.get("x-api-key"))
        const key = request.headers.get("idempotency-key")
        const body = await readJson(request)
        const buyerReference = typeof body["buyer_reference"] === "string" ? body["buyer_reference"] : undefined
        if (key === null || key === "" || buyerReference === undefined || buyerReference === "") throw new SimulatedRejection("invalid_request")
        const refusal = seller.takeReplayRefusal(key)
        if (refusal !== undefined) return replayRefused(errors, refusal)
        const replay = seller.lookupOrder(key) !== undefined
        const source =
          mode === "hold" && typeof body["hold_id"] === "string"
            ? { holdId: body["hold_id"] }
            : mode === "atomic" && typeof body["quote_id"] === "string"
              ? { quoteId: body["quote_id"] }
              : undefined
        if (source === undefined) throw new SimulatedRejection("invalid_request")
        const order = seller.purchase({ idempotencyKey: key, buyerReference, ...source }, fault)
        return HttpResponse.json(
          { order_id: order.orderId, status: "confirmed", price: decimal(order.price, seller.currency) },
          { status: replay ? 200 : 201 }
        )
      })
    )
  ]
  if (options.orderLookup === true) {
    handlers.push(
      http.get("*/api/v1/orders/:key", ({ request, params }) =>
        simulate(seller, "lookupOrder", errors, () => {
          seller.checkApiKey(request.headers.get("x-api-key"))
          const order = seller.lookupOrder(String(params["key"]))
          if (order === undefined) return HttpResponse.json({ error: "unknown_order", message: "no order with this key" }, { status: 404 })
          return HttpResponse.json({ order_id: order.orderId, status: "confirmed", price: decimal(order.price, seller.currency) })
        })
      )
    )
  }
  if (options.inventory ?? true) {
    handlers.push(
      http.get("*/api/v1/inventory", ({ request }) =>
        simulate(seller, "inventory", errors, () => {
          seller.checkApiKey(request.headers.get("x-api-key"))
          const query = new URL(request.url).searchParams
          const limit = Number(query.get("limit") ?? "100")
          if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new SimulatedRejection("invalid_request")
          const cursor = query.get("cursor")
          const page = seller.inventory(cursor === null || cursor === "" ? null : cursor, limit)
          return HttpResponse.json({
            listings: page.listings.map((listing) => ({
              listing_id: listing.listingId,
              book_id: listing.isbn,
              price: decimal(listing.price, seller.currency),
              quantity: listing.quantity
            })),
            next_cursor: page.nextCursor
          })
        })
      )
    )
  }
  if (mode === "hold") {
    handlers.push(
      http.post("*/api/v1/books/hold", ({ request }) =>
        simulate(seller, "hold", errors, async (fault) => {
          seller.checkApiKey(request.headers.get("x-api-key"))
          const body = await readJson(request)
          const quantity = body["quantity"] ?? 1
          if (typeof body["quote_id"] !== "string" || typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1) {
            throw new SimulatedRejection("invalid_request")
          }
          const key = request.headers.get("idempotency-key")
          const keyed = options.holdKeys ?? true
          const hold = seller.hold(body["quote_id"], quantity, fault, keyed && key !== null && key !== "" ? key : undefined)
          return HttpResponse.json({
            hold_id: hold.holdId,
            price: decimal(hold.price, seller.currency),
            expires_at: new Date(hold.expiresAt).toISOString(),
            ...(hold.idempotencyKey === undefined ? {} : { idempotency_key: hold.idempotencyKey })
          })
        })
      ),
      http.delete("*/api/v1/books/hold/:holdId", ({ request, params }) =>
        simulate(seller, "release", errors, () => {
          seller.checkApiKey(request.headers.get("x-api-key"))
          seller.release(String(params["holdId"]))
          return new HttpResponse(null, { status: 204 })
        })
      )
    )
  }
  if (options.batch ?? true) {
    handlers.push(
      http.post("*/api/v1/quotes", ({ request }) =>
        simulate(seller, "quote", errors, async () => {
          seller.checkApiKey(request.headers.get("x-api-key"))
          const body = await readJson(request)
          const ids = body["book_ids"]
          if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === "string")) {
            throw new SimulatedRejection("invalid_request")
          }
          seller.quoteCalls.push(ids as Array<string>)
          const quotes = (ids as Array<string>).flatMap((isbn) => {
            try {
              return [wireQuote(seller, isbn, seller.quote(isbn))]
            } catch (error) {
              if (error instanceof SimulatedRejection && error.code === "unknown_book") return []
              throw error
            }
          })
          return HttpResponse.json({ quotes })
        })
      )
    )
  }
  return handlers
}
