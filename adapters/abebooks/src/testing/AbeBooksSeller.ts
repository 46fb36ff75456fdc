/**
 * A simulated AbeBooks as msw handlers over the SDK's {@link SellerSimulator}: Search Web
 * Services (`GET /search`, XML) and the Purchase API (`/v1/orders`, signed JSON) on one origin.
 * The simulator's stock, latency, rate limits and faults apply to every route; routes match any
 * origin, so the same handlers serve any host, in-process or over HTTP via `serveHandlers`.
 *
 * What it models, following AbeBooks' docs where they speak and the adapter's choices where they
 * do not (see the adapter's README):
 * - `GET /search?clientkey&isbn&currency&destinationcountry` → `<searchResults><Book>…` with one
 *   listing per ISBN the simulator stocks (`<quantity>0</quantity>` when sold out, none when not
 *   carried); a wrong client key is HTTP 401.
 * - every Purchase API call is signed (`Abe-Date`, `Abe-RequestId`, `Abe-Signature`, the access
 *   key header) with the simulator's `apiKey` as the secret key; refusals carry AbeBooks' codes.
 * - `POST /v1/orders` creates an order (`2010`) whose item status is `null` for the first
 *   `processingReads` reads and then final: `05` Ordered, `14` Item Unavailable, `53` Max
 *   Price Exceeded. The same request id again answers `2003` with that order; with another
 *   body, `4090`.
 * - `GET /v1/orders?referenceId=…` and `GET /v1/orders/{orderId}` read orders back.
 */
import { timingSafeEqual } from "node:crypto"
import { Money } from "@bookbroker/adapter-sdk"
import { replayRefused, SimulatedRejection, simulate, type SellerSimulator, type WireErrors } from "@bookbroker/adapter-sdk/testing"
import { http, HttpResponse, type RequestHandler } from "msw"
import * as Signing from "../Signing.js"

export interface AbeBooksSellerOptions {
  /** The access key the simulated account has; requests under another are `4014`. */
  readonly accessKey?: string
  /** The Search Web Services client key; a search with another is HTTP 401. */
  readonly clientKey?: string
  /** The token of the card stored on the account; an order with another is `4001`. */
  readonly creditCardToken?: string
  /** How many reads (the creation answer included) show a new order without a status. Default 1. */
  readonly processingReads?: number
  /** The header the access key arrives in. Default `Abe-AccessKey`. */
  readonly accessKeyHeader?: string
}

/** A Purchase API answer with AbeBooks' four-digit code; the HTTP status is its first three digits. */
export const abeAnswer = (code: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  HttpResponse.json({ code, message, ...extra }, { status: Math.floor(code / 10), headers })

class AbeRefusal extends Error {
  constructor(
    readonly code: number,
    message: string
  ) {
    super(message)
  }
}

/** How the Purchase API spells errors: `{ code, message }`. */
export const abeBooksPurchaseErrors: WireErrors = {
  rejection: (rejection) =>
    rejection.code === "unauthorized" ? abeAnswer(4017, "Invalid Abe-Signature") : abeAnswer(4220, `Malformed request: ${rejection.code}`),
  rateLimited: (seconds) => abeAnswer(4291, "Rate limit exceeded", {}, { "Retry-After": String(seconds) }),
  serverError: () => abeAnswer(5000, "Server error. The error has been recorded"),
  malformed: () => HttpResponse.json({ status: "OK", result: [] }),
  inProgress: () => abeAnswer(2003, "Duplicate request received for order currently being processed")
}

/** How Search Web Services answer errors: HTTP statuses with short text bodies. */
export const abeBooksSearchErrors: WireErrors = {
  rejection: (rejection) =>
    rejection.code === "unauthorized"
      ? new HttpResponse("Invalid clientkey", { status: 401, headers: { "content-type": "text/plain" } })
      : new HttpResponse("Bad request", { status: 400, headers: { "content-type": "text/plain" } }),
  rateLimited: (seconds) => new HttpResponse("Too many requests", { status: 429, headers: { "Retry-After": String(seconds), "content-type": "text/plain" } }),
  serverError: () => new HttpResponse("Service unavailable", { status: 503, headers: { "content-type": "text/plain" } }),
  malformed: () => new HttpResponse("<html><body>Search is down for maintenance</body></html>", { status: 200, headers: { "content-type": "text/html" } })
}

/** The simulated listing id of an ISBN (AbeBooks `bookId`s are long numbers), and back. */
export const listingIdOf = (isbn: string): string => `2${isbn.slice(2)}`
const isbnOfListing = (listingId: string): string | undefined => (/^2\d{11}$/.test(listingId) ? `97${listingId.slice(1)}` : undefined)

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const conditionWords: Readonly<Record<string, [string, string]>> = {
  new: ["NEW BOOK", "New"],
  like_new: ["NOT NEW BOOK", "As New"],
  very_good: ["NOT NEW BOOK", "Very Good"],
  good: ["NOT NEW BOOK", "Good"],
  acceptable: ["NOT NEW BOOK", "Fair"]
}

interface AbeOrder {
  readonly orderId: string
  readonly referenceId: string
  readonly body: string
  readonly listingId: string
  readonly isbn: string
  readonly quantity: number
  readonly price: number
  readonly shipping: number
  readonly finalStatus: "05" | "14" | "53"
  readsLeft: number
}

const statusDescriptions = { "05": "Ordered", "14": "Item Unavailable", "53": "Max Price Exceeded" } as const

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * @example
 * const seller = new SellerSimulator({ apiKey: "secret-key", currency: "USD", stock: [{ isbn, price: 1299, shipping: 399, quantity: 2 }] })
 * const server = await serveHandlers(abeBooksSellerHandlers(seller, { accessKey: "ak", clientKey: "ck", creditCardToken: "tok" }))
 */
export const abeBooksSellerHandlers = (seller: SellerSimulator, options: AbeBooksSellerOptions = {}): Array<RequestHandler> => {
  const orders = new Map<string, AbeOrder>()
  const byReference = new Map<string, AbeOrder>()
  const processingReads = options.processingReads ?? 1
  const accessKeyHeader = (options.accessKeyHeader ?? Signing.defaultAccessKeyHeader).toLowerCase()
  let sequence = 0

  const dated = (response: Response): Response => {
    // AbeBooks' clock is the simulator's (moved by `advance`), as the `Date` of every answer.
    response.headers.set("date", new Date(seller.now()).toUTCString())
    return response
  }
  const decimal = (minor: number) => Money.toDecimal(Money.make(minor, seller.currency))

  /** Reads an order as AbeBooks shows it; each read brings a new order closer to its final status. */
  const wireOrder = (order: AbeOrder) => {
    const status = order.readsLeft > 0 ? null : order.finalStatus
    if (order.readsLeft > 0) order.readsLeft -= 1
    return {
      orderId: order.orderId,
      referenceId: order.referenceId,
      currency: seller.currency,
      items: [
        {
          orderItemId: `${order.orderId}-1`,
          listingId: order.listingId,
          isbn: order.isbn,
          quantity: order.quantity,
          price: decimal(order.price),
          shipping: decimal(order.shipping),
          status,
          statusDescription: status === null ? null : statusDescriptions[status]
        }
      ]
    }
  }

  /** Checks the Purchase API signature as received; throws the code AbeBooks answers with. */
  const verify = (request: Request, body: string): void => {
    const date = request.headers.get("abe-date")
    const signature = request.headers.get("abe-signature")
    const requestId = request.headers.get("abe-requestid")
    if (date === null) throw new AbeRefusal(4011, "Abe-Date header missing")
    const millis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(date) ? Date.parse(date) : NaN
    if (Number.isNaN(millis)) throw new AbeRefusal(4012, "Abe-Date header unparsable")
    // Freshness by real time: `advance` moves business time (expiry), not the wire's.
    if (Math.abs(Date.now() - millis) > 5 * 60_000) throw new AbeRefusal(4013, "Request expired")
    if (options.accessKey !== undefined && request.headers.get(accessKeyHeader) !== options.accessKey) throw new AbeRefusal(4014, "Invalid access key")
    if (signature === null) throw new AbeRefusal(4016, "Abe-Signature header missing")
    if (requestId === null || !uuid.test(requestId)) throw new AbeRefusal(4018, "Abe-RequestId header missing or invalid")
    if (seller.apiKey === undefined) return
    const expected = Buffer.from(
      Signing.signature(seller.apiKey, Signing.stringToSign(request.method, Signing.canonicalUri(new URL(request.url)), date, requestId, body === "" ? undefined : body))
    )
    const presented = Buffer.from(signature)
    if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) throw new AbeRefusal(4017, "Invalid Abe-Signature")
  }

  /** Runs a Purchase API call: AbeBooks' refusals become `{ code, message }` answers. */
  const purchaseApi = async (request: Request, work: (body: string) => Response | Promise<Response>): Promise<Response> => {
    const body = await request.text()
    try {
      verify(request, body)
      return dated(await work(body))
    } catch (error) {
      if (error instanceof AbeRefusal) return dated(abeAnswer(error.code, error.message))
      throw error
    }
  }

  const parseOrderRequest = (text: string) => {
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new AbeRefusal(4003, "Unable to parse JSON")
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new AbeRefusal(4000, "Malformed message")
    const { referenceId, buyerReference, dryRun, ccToken, maxPrice, currency, items } = body as Record<string, unknown>
    if (!Array.isArray(items) || items.length === 0) throw new AbeRefusal(4002, "No listings")
    const lines = items as Array<Record<string, unknown>>
    if (lines.some((line) => typeof line["quantity"] !== "number" || !Number.isInteger(line["quantity"]) || line["quantity"] < 1)) {
      throw new AbeRefusal(4002, "A listing quantity is below 1")
    }
    if (lines.reduce((sum, line) => sum + (line["quantity"] as number), 0) > 250) throw new AbeRefusal(4002, "More than 250 items")
    if (lines.length !== 1 || typeof lines[0]!["listingId"] !== "string") throw new AbeRefusal(4220, "The simulator takes one listing per order")
    if (typeof ccToken !== "string") throw new AbeRefusal(4220, "ccToken missing")
    if (options.creditCardToken !== undefined && ccToken !== options.creditCardToken) throw new AbeRefusal(4001, "Credit card token does not match a card on the account")
    if (typeof referenceId !== "string" || referenceId === "" || typeof buyerReference !== "string" || buyerReference.trim() === "" || dryRun !== false) {
      throw new AbeRefusal(4220, "referenceId, buyerReference and dryRun are required")
    }
    if (currency !== seller.currency || typeof maxPrice !== "string") throw new AbeRefusal(4220, `maxPrice must be a decimal in ${seller.currency}`)
    const max = Money.fromDecimal(maxPrice, seller.currency)
    if (max._tag === "Failure") throw new AbeRefusal(4220, `maxPrice: ${max.failure}`)
    return { referenceId, buyerReference, listingId: lines[0]!["listingId"] as string, quantity: lines[0]!["quantity"] as number, maxPrice: max.success.amount }
  }

  const placeOrder = (text: string, requestId: string, fault: Parameters<Parameters<typeof simulate>[3]>[0]): Response => {
    const ask = parseOrderRequest(text)
    if (ask.referenceId !== requestId) throw new AbeRefusal(4220, "referenceId must be the Abe-RequestId")
    const refusal = seller.takeReplayRefusal(requestId)
    if (refusal !== undefined) return replayRefused(abeBooksPurchaseErrors, refusal)
    const previous = byReference.get(requestId)
    if (previous !== undefined) {
      if (previous.body !== JSON.stringify(JSON.parse(text))) return abeAnswer(4090, "Duplicate RequestID with different content")
      return abeAnswer(2003, "Duplicate request received for order currently being processed", { order: wireOrder(previous) })
    }
    const isbn = isbnOfListing(ask.listingId)
    // A placed order keeps the simulator's order id (its order book is what tests count).
    let outcome: Pick<AbeOrder, "finalStatus" | "price" | "shipping"> & { readonly orderId?: string }
    try {
      const quote = isbn === undefined ? undefined : seller.quote(isbn)
      if (quote === undefined || "unavailable" in quote) throw new SimulatedRejection("out_of_stock")
      if ((quote.price + quote.shipping) * ask.quantity > ask.maxPrice && fault !== "overcharge") {
        outcome = { finalStatus: "53", price: quote.price, shipping: quote.shipping }
      } else {
        const placed = seller.purchase({ idempotencyKey: requestId, buyerReference: ask.buyerReference, quoteId: quote.quoteId }, fault)
        outcome = { finalStatus: "05", price: placed.price, shipping: placed.shipping, orderId: placed.orderId }
      }
    } catch (error) {
      if (!(error instanceof SimulatedRejection)) throw error
      const item = isbn === undefined ? undefined : seller.stockItem(isbn)
      outcome = { finalStatus: error.code === "price_changed" ? "53" : "14", price: item?.price ?? 0, shipping: item?.shipping ?? 0 }
    }
    sequence += 1
    const order: AbeOrder = {
      orderId: outcome.orderId ?? `${seller.name}-refused-${sequence}`,
      referenceId: requestId,
      body: JSON.stringify(JSON.parse(text)),
      listingId: ask.listingId,
      isbn: isbn ?? "",
      quantity: ask.quantity,
      finalStatus: outcome.finalStatus,
      price: outcome.price,
      shipping: outcome.shipping,
      readsLeft: processingReads
    }
    orders.set(order.orderId, order)
    byReference.set(requestId, order)
    return abeAnswer(2010, "Order created", { order: wireOrder(order) })
  }

  return [
    http.get("*/search", ({ request }) =>
      simulate(seller, "quote", abeBooksSearchErrors, () => {
        const url = new URL(request.url)
        if (options.clientKey !== undefined && url.searchParams.get("clientkey") !== options.clientKey) throw new SimulatedRejection("unauthorized")
        const isbn = url.searchParams.get("isbn") ?? ""
        if (isbn === "" || (url.searchParams.get("currency") ?? "USD") !== seller.currency) throw new SimulatedRejection("invalid_request")
        seller.quoteCalls.push([isbn])
        const item = seller.stockItem(isbn)
        const books =
          item === undefined
            ? ""
            : `<Book><bookId>${listingIdOf(isbn)}</bookId><isbn13>${escapeXml(isbn)}</isbn13>` +
              `<listingCondition>${conditionWords[item.condition]![0]}</listingCondition><itemCondition>${conditionWords[item.condition]![1]}</itemCondition>` +
              `<quantity>${Math.max(0, item.quantity)}</quantity><vendorCurrency>${seller.currency}</vendorCurrency>` +
              `<listingPrice>${decimal(item.price)}</listingPrice><firstBookShipCost>${decimal(item.shipping)}</firstBookShipCost>` +
              `<totalListingPrice>${decimal(item.price + item.shipping)}</totalListingPrice><vendorName>${escapeXml(seller.name)} &amp; Co</vendorName></Book>`
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<searchResults><resultCount>${item === undefined ? 0 : 1}</resultCount>${books}</searchResults>`
        return dated(new HttpResponse(xml, { headers: { "content-type": "text/xml; charset=UTF-8" } }))
      })
    ),
    http.post("*/v1/orders", ({ request }) =>
      simulate(seller, "purchase", abeBooksPurchaseErrors, (fault) =>
        purchaseApi(request, (text) => placeOrder(text, request.headers.get("abe-requestid") ?? "", fault))
      )
    ),
    http.get("*/v1/orders", ({ request }) =>
      simulate(seller, "lookupOrder", abeBooksPurchaseErrors, () =>
        purchaseApi(request, () => {
          const url = new URL(request.url)
          const referenceId = url.searchParams.get("referenceId")
          const ids = url.searchParams.getAll("orderId")
          const found = [...orders.values()].filter(
            (order) => (referenceId === null || order.referenceId === referenceId) && (ids.length === 0 || ids.includes(order.orderId))
          )
          return abeAnswer(2000, "Order status retrieved", { orders: found.map(wireOrder) })
        })
      )
    ),
    http.get("*/v1/orders/:orderId", ({ request, params }) =>
      simulate(seller, "lookupOrder", abeBooksPurchaseErrors, () =>
        purchaseApi(request, () => {
          const order = orders.get(String(params["orderId"] ?? ""))
          return order === undefined ? abeAnswer(4041, "Order not found") : abeAnswer(2000, "Order status retrieved", { order: wireOrder(order) })
        })
      )
    )
  ]
}
