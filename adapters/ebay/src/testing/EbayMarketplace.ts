/**
 * A simulated eBay: the Buy API routes the adapter uses, as msw handlers over the SDK's
 * {@link SellerSimulator} (each stocked ISBN is one Buy It Now listing by one seller; the
 * simulator's `apiKey` is the keyset's client secret). Shaped after eBay's OpenAPI contracts:
 *
 * - `POST /identity/v1/oauth2/token`: Basic client id/secret, form-encoded client-credentials
 *   grant; `invalid_client` (401) for a wrong keyset, `invalid_scope` (400) for the guest
 *   order scope when the keyset is not approved. Tokens live `tokenLifetimeSeconds`.
 * - Browse `item_summary/search` (`q` = the ISBN; 400/12001 without q) and `item/{item_id}`.
 *   The search index lags: a listing that just sold out is still found, and only getItem says
 *   `OUT_OF_STOCK` — which is why the adapter re-reads the listing.
 * - Order v1_beta guest checkout: `initiate` (409 15013 sold out, 15018 unknown item, 400 15001
 *   missing field), `place_order` (200 + warning 15006 and the same purchase order when placed
 *   before; 400 15003 unknown session; 409 15020 when the item changed), and
 *   `guest_purchase_order/{id}` (400 16002 unknown). No idempotency key anywhere, as on eBay.
 * - Every Buy API call needs `Authorization: Bearer` (401 errorId 1001) and
 *   `X-EBAY-C-MARKETPLACE-ID` of the simulated marketplace (409 12019 / 400 15029 otherwise).
 *
 * Faults: quotes take the simulator's `quote` faults at the search, purchases theirs at
 * `initiate`: a sold-out or price rise happens there; a lost or hung answer and an overcharge
 * are kept for that session's `place_order`. Reading a purchase order takes `lookupOrder` faults.
 * Orders go into the simulator's order book with the buyer reference read from the `+tag` of
 * the contact email (bookkeeping only: eBay never reads it) and the checkout session id as key.
 * 429s carry `Retry-After` (whether eBay sends it is not documented).
 */
import { Money } from "@bookbroker/adapter-sdk"
import { type CallPlan, type FaultKind, type SellerSimulator, simulateCall, type WireFormat } from "@bookbroker/adapter-sdk/testing"
import { http, HttpResponse, type RequestHandler } from "msw"

export interface EbayMarketplaceOptions {
  readonly marketplaceId?: string
  /** The keyset's App ID (client id); the simulator's `apiKey` is its Cert ID (client secret). */
  readonly clientId?: string
  /** eBay granted the keyset the Order API guest scope. Default true. */
  readonly guestCheckoutApproved?: boolean
  readonly tokenLifetimeSeconds?: number
}

const apiScope = "https://api.ebay.com/oauth/api_scope"
const guestScope = "https://api.ebay.com/oauth/api_scope/buy.guest.order"

/** An eBay error, rendered as `{ errors: [{ errorId, domain, category, message }] }`. */
export class EbayError extends Error {
  constructor(
    readonly status: number,
    readonly errorId: number,
    readonly domain: string,
    readonly category: "REQUEST" | "BUSINESS" | "APPLICATION",
    message: string,
    readonly headers: Readonly<Record<string, string>> = {}
  ) {
    super(message)
  }
}

export const ebayErrorResponse = (error: EbayError): Response =>
  HttpResponse.json(
    { errors: [{ errorId: error.errorId, domain: error.domain, category: error.category, message: error.message, longMessage: error.message }] },
    { status: error.status, headers: error.headers }
  )

const conditionIds = { new: ["1000", "New"], like_new: ["2750", "Like New"], very_good: ["4000", "Very Good"], good: ["5000", "Good"], acceptable: ["6000", "Acceptable"] } as const

/** Faults that belong to placing the order, kept from `initiate` for the session's `place_order`. */
const orderFaults: ReadonlySet<FaultKind> = new Set(["lost_response", "commit_then_hang", "overcharge"])

interface Session {
  readonly id: string
  readonly isbn: string
  readonly itemId: string
  readonly price: number
  readonly shipping: number
  readonly buyerReference: string
  readonly expiresAt: number
  /** A fault of placing the order, drawn at initiate; taken by the first place_order. */
  fault: FaultKind | undefined
  purchaseOrderId?: string
}

interface PurchaseOrder {
  readonly id: string
  readonly itemId: string
  readonly isbn: string
  readonly price: number
  readonly shipping: number
  readonly createdAt: number
}

type Json = Record<string, unknown>

export class EbayMarketplace {
  readonly sessions = new Map<string, Session>()
  readonly purchaseOrders = new Map<string, PurchaseOrder>()
  /** Every form body the token endpoint received (to count mints). */
  readonly tokenRequests: Array<URLSearchParams> = []
  private readonly tokens = new Map<string, { readonly scopes: ReadonlyArray<string>; readonly expiresAt: number }>()
  private readonly itemIds = new Map<string, string>()
  private readonly isbns = new Map<string, string>()
  private sequence = 0
  readonly marketplaceId: string

  constructor(
    readonly seller: SellerSimulator,
    readonly options: EbayMarketplaceOptions = {}
  ) {
    this.marketplaceId = options.marketplaceId ?? "EBAY_GB"
  }

  /** The RESTful item id of the listing of an ISBN (`v1|<legacy id>|0`), or undefined. */
  itemId(isbn: string): string | undefined {
    if (this.seller.stockItem(isbn) === undefined) return undefined
    let id = this.itemIds.get(isbn)
    if (id === undefined) {
      id = `v1|${204561237890 + this.itemIds.size}|0`
      this.itemIds.set(isbn, id)
      this.isbns.set(id, isbn)
    }
    return id
  }

  handlers(): Array<RequestHandler> {
    return [
      http.post("*/identity/v1/oauth2/token", async ({ request }) => this.serve({ fault: () => undefined }, async () => this.token(request))),
      http.get("*/buy/browse/v1/item_summary/search", ({ request }) =>
        this.serve({ count: "quote", fault: () => this.seller.takeFault("quote") }, () => {
          this.authorize(request, apiScope, "API_BROWSE")
          this.marketplace(request, 409, 12019, "API_BROWSE")
          const url = new URL(request.url)
          const q = url.searchParams.get("q")
          if (q === null || q.trim() === "") throw new EbayError(400, 12001, "API_BROWSE", "REQUEST", "The call must have a valid 'q', 'category_ids', 'epid' or 'gtin' query parameter.")
          this.seller.quoteCalls.push([q])
          const limit = Number(url.searchParams.get("limit") ?? "50")
          const summaries = [q.trim()].flatMap((isbn) => (this.itemId(isbn) === undefined ? [] : [this.summary(isbn)]))
          return this.json({
            href: url.toString(),
            total: summaries.length,
            limit,
            offset: 0,
            ...(summaries.length === 0 ? {} : { itemSummaries: summaries })
          })
        })
      ),
      http.get("*/buy/browse/v1/item/:itemId", ({ request, params }) =>
        this.serve({ fault: () => undefined }, () => {
          this.authorize(request, apiScope, "API_BROWSE")
          this.marketplace(request, 400, 11011, "API_BROWSE")
          const isbn = this.isbns.get(String(params["itemId"]))
          if (isbn === undefined) throw new EbayError(404, 11001, "API_BROWSE", "REQUEST", "The specified item ID was not found.")
          return this.json(this.item(isbn))
        })
      ),
      http.post("*/buy/order/v1/guest_checkout_session/initiate", ({ request }) => {
        // A purchase draws its fault here; faults of placing the order wait for place_order.
        let deferred: FaultKind | undefined
        const fault = () => {
          const drawn = this.seller.takeFault("purchase")
          if (drawn === undefined || !orderFaults.has(drawn)) return drawn
          deferred = drawn
          return undefined
        }
        return this.serve({ count: "purchase", fault }, async (drawn) => {
          this.authorize(request, guestScope, "API_ORDER")
          this.marketplace(request, 400, 15029, "API_ORDER")
          return this.initiate(await this.body(request), drawn ?? deferred)
        })
      }),
      http.post("*/buy/order/v1/guest_checkout_session/:sessionId/place_order", ({ request, params }) => {
        const session = this.sessions.get(String(params["sessionId"]))
        const fault = () => {
          const drawn = session?.fault
          if (session !== undefined) session.fault = undefined
          return drawn
        }
        return this.serve({ fault }, (drawn) => {
          this.authorize(request, guestScope, "API_ORDER")
          this.marketplace(request, 400, 15029, "API_ORDER")
          return this.place(String(params["sessionId"]), drawn)
        })
      }),
      http.get("*/buy/order/v1/guest_purchase_order/:purchaseOrderId", ({ request, params }) =>
        this.serve({ count: "lookupOrder", fault: () => this.seller.takeFault("lookupOrder") }, () => {
          this.authorize(request, guestScope, "API_ORDER")
          const order = this.purchaseOrders.get(String(params["purchaseOrderId"]))
          if (order === undefined) throw new EbayError(400, 16002, "API_ORDER", "REQUEST", "The purchase order ID was not found.")
          return this.json(this.purchaseOrder(order))
        })
      )
    ]
  }

  private amount(minor: number) {
    return { value: Money.toDecimal(Money.make(minor, this.seller.currency)), currency: this.seller.currency }
  }

  private json(body: unknown, status = 200): Response {
    return HttpResponse.json(body as Json, { status, headers: { date: new Date(this.seller.now()).toUTCString() } })
  }

  private id(prefix: string): string {
    this.sequence += 1
    return `${prefix}${String(this.sequence).padStart(6, "0")}`
  }

  private summary(isbn: string): Json {
    const item = this.seller.stockItem(isbn)!
    const [conditionId, condition] = conditionIds[item.condition]
    const itemId = this.itemId(isbn)!
    const legacy = itemId.split("|")[1]
    return {
      itemId,
      legacyItemId: legacy,
      title: `Book ${isbn} - paperback`,
      price: this.amount(item.price),
      buyingOptions: ["FIXED_PRICE"],
      condition,
      conditionId,
      seller: { username: this.seller.name, feedbackPercentage: "99.8", feedbackScore: 5321 },
      shippingOptions: [{ shippingCostType: "FIXED", shippingCost: this.amount(item.shipping) }],
      itemHref: `https://api.ebay.com/buy/browse/v1/item/${encodeURIComponent(itemId)}`,
      itemWebUrl: `https://www.ebay.co.uk/itm/${legacy}`
    }
  }

  private item(isbn: string): Json {
    const item = this.seller.stockItem(isbn)!
    return {
      ...this.summary(isbn),
      gtin: isbn,
      enabledForGuestCheckout: true,
      eligibleForInlineCheckout: true,
      estimatedAvailabilities: [
        item.quantity > 0
          ? { estimatedAvailabilityStatus: item.quantity < 3 ? "LIMITED_STOCK" : "IN_STOCK", estimatedAvailableQuantity: item.quantity }
          : { estimatedAvailabilityStatus: "OUT_OF_STOCK", estimatedAvailableQuantity: 0 }
      ]
    }
  }

  private async token(request: Request): Promise<Response> {
    const form = new URLSearchParams(await request.text())
    this.tokenRequests.push(form)
    const basic = /^Basic\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")
    const [id, secret] = basic === null ? [] : Buffer.from(basic[1]!, "base64").toString("utf8").split(":")
    if (id !== (this.options.clientId ?? "bookbroker-app-PRD") || (this.seller.apiKey !== undefined && secret !== this.seller.apiKey)) {
      return HttpResponse.json({ error: "invalid_client", error_description: "client authentication failed" }, { status: 401 })
    }
    if (form.get("grant_type") !== "client_credentials") {
      return HttpResponse.json({ error: "unsupported_grant_type", error_description: "grant type in request is not supported by the authorization server" }, { status: 400 })
    }
    const scopes = (form.get("scope") ?? "").split(" ").filter((scope) => scope !== "")
    if (scopes.includes(guestScope) && this.options.guestCheckoutApproved === false) {
      return HttpResponse.json({ error: "invalid_scope", error_description: "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client" }, { status: 400 })
    }
    const lifetime = this.options.tokenLifetimeSeconds ?? 7200
    const token = `v^1.1#i^1#${this.id("t")}#r^0`
    this.tokens.set(token, { scopes, expiresAt: this.seller.now() + lifetime * 1000 })
    return HttpResponse.json({ access_token: token, expires_in: lifetime, token_type: "Application Access Token" })
  }

  private authorize(request: Request, scope: string, domain: string): void {
    const bearer = /^Bearer\s+(.+)$/.exec(request.headers.get("authorization") ?? "")?.[1]
    const token = bearer === undefined ? undefined : this.tokens.get(bearer)
    if (token === undefined || token.expiresAt <= this.seller.now()) {
      throw new EbayError(401, 1001, "OAuth", "REQUEST", "Invalid access token. Check the value of the Authorization HTTP request header.")
    }
    if (!token.scopes.includes(scope)) throw new EbayError(403, 1100, domain, "REQUEST", "Access denied. Insufficient permissions to fulfill the request.")
  }

  private marketplace(request: Request, status: number, errorId: number, domain: string): void {
    const asked = request.headers.get("x-ebay-c-marketplace-id")
    if (asked !== this.marketplaceId) {
      throw new EbayError(status, errorId, domain, "REQUEST", `The marketplace value ${asked ?? "(none)"} is not supported here; use ${this.marketplaceId}.`)
    }
  }

  private async body(request: Request): Promise<Json> {
    try {
      const body: unknown = await request.json()
      if (typeof body === "object" && body !== null && !Array.isArray(body)) return body as Json
    } catch {
      // fall through
    }
    throw new EbayError(400, 15002, "API_ORDER", "REQUEST", "Invalid field: request body.")
  }

  private initiate(body: Json, fault: FaultKind | undefined): Response {
    const missing = (field: string) => new EbayError(400, 15001, "API_ORDER", "REQUEST", `Missing field: ${field}. The indicated field is required for this request.`)
    const email = body["contactEmail"]
    if (typeof email !== "string" || !email.includes("@")) throw missing("contactEmail")
    const card = body["creditCard"] as Json | undefined
    for (const field of ["cardNumber", "expireMonth", "expireYear", "brand", "accountHolderName"]) if (card?.[field] === undefined) throw missing(`creditCard.${field}`)
    if (typeof body["shippingAddress"] !== "object" || body["shippingAddress"] === null) throw missing("shippingAddress")
    const lines = Array.isArray(body["lineItemInputs"]) ? (body["lineItemInputs"] as Array<Json>) : []
    if (lines.length === 0) throw new EbayError(409, 15019, "API_ORDER", "BUSINESS", "To place an order, you must have at least one line item.")
    if (lines.length > 1) throw new EbayError(409, 15011, "API_ORDER", "BUSINESS", "You have exceeded the maximum number of 1 line items.")
    const line = lines[0]!
    if (line["quantity"] !== 1) throw new EbayError(409, 15014, "API_ORDER", "BUSINESS", "The quantity submitted for this item is invalid.")
    const isbn = this.isbns.get(String(line["itemId"]))
    const item = isbn === undefined ? undefined : this.seller.stockItem(isbn)
    if (isbn === undefined || item === undefined) throw new EbayError(409, 15018, "API_ORDER", "BUSINESS", "The item is not available for purchase.")
    if (fault === "out_of_stock") item.quantity = 0
    if (fault === "price_changed") item.price += 150
    if (item.quantity < 1) throw new EbayError(409, 15013, "API_ORDER", "BUSINESS", "The quantity value is greater than the quantity available.")
    const tag = /^[^@+]*\+([^@]*)@/.exec(email)?.[1] ?? ""
    const session: Session = {
      id: this.id("gcs-"),
      isbn,
      itemId: String(line["itemId"]),
      price: item.price,
      shipping: item.shipping,
      buyerReference: tag,
      expiresAt: this.seller.now() + 30 * 60_000,
      fault: fault !== undefined && orderFaults.has(fault) ? fault : undefined
    }
    this.sessions.set(session.id, session)
    return this.json({
      checkoutSessionId: session.id,
      expirationDate: new Date(session.expiresAt).toISOString(),
      lineItems: [
        {
          lineItemId: `${session.id}-1`,
          itemId: session.itemId,
          title: `Book ${isbn} - paperback`,
          quantity: 1,
          baseUnitPrice: this.amount(session.price),
          netPrice: this.amount(session.price),
          shippingOptions: [{ shippingOptionId: "1", baseDeliveryCost: this.amount(session.shipping), selected: true }],
          seller: { username: this.seller.name, feedbackPercentage: "99.8", feedbackScore: 5321 }
        }
      ],
      pricingSummary: { priceSubtotal: this.amount(session.price), deliveryCost: this.amount(session.shipping), total: this.amount(session.price + session.shipping) },
      shippingAddress: body["shippingAddress"]
    })
  }

  private place(sessionId: string, fault: FaultKind | undefined): Response {
    const session = this.sessions.get(sessionId)
    if (session === undefined || session.expiresAt <= this.seller.now()) throw new EbayError(400, 15003, "API_ORDER", "REQUEST", "The checkout session requested does not exist.")
    if (session.purchaseOrderId !== undefined) {
      return this.json({
        purchaseOrderId: session.purchaseOrderId,
        purchaseOrderHref: `https://apix.ebay.com/buy/order/v1/guest_purchase_order/${session.purchaseOrderId}`,
        purchaseOrderPaymentStatus: "PAID",
        warnings: [{ errorId: 15006, domain: "API_ORDER", category: "BUSINESS", message: "The order has already been placed for the checkout session submitted and no modifications can be made." }]
      })
    }
    const item = this.seller.stockItem(session.isbn)
    if (item === undefined || item.quantity < 1 || item.price !== session.price) {
      throw new EbayError(409, 15020, "API_ORDER", "BUSINESS", "During the checkout process the item has been changed. Create a new checkout session for this item.")
    }
    item.quantity -= 1
    const order: PurchaseOrder = {
      id: this.id("5000"),
      itemId: session.itemId,
      isbn: session.isbn,
      price: session.price + (fault === "overcharge" ? 500 : 0),
      shipping: session.shipping,
      createdAt: this.seller.now()
    }
    session.purchaseOrderId = order.id
    this.purchaseOrders.set(order.id, order)
    this.seller.orders.push({
      orderId: order.id,
      idempotencyKey: session.id,
      isbn: order.isbn,
      price: order.price,
      shipping: order.shipping,
      quantity: 1,
      buyerReference: session.buyerReference,
      placedAt: order.createdAt
    })
    return this.json({
      purchaseOrderId: order.id,
      purchaseOrderHref: `https://apix.ebay.com/buy/order/v1/guest_purchase_order/${order.id}`,
      purchaseOrderPaymentStatus: "PAID"
    })
  }

  private purchaseOrder(order: PurchaseOrder): Json {
    return {
      purchaseOrderId: order.id,
      purchaseOrderCreationDate: new Date(order.createdAt).toISOString(),
      purchaseOrderPaymentStatus: "PAID",
      purchaseOrderStatus: "PAID",
      lineItems: [
        {
          lineItemId: `${order.id}-1`,
          itemId: order.itemId,
          title: `Book ${order.isbn} - paperback`,
          quantity: 1,
          baseUnitPrice: this.amount(order.price),
          netPrice: this.amount(order.price),
          lineItemPaymentStatus: "PAID",
          lineItemStatus: "PENDING",
          orderId: `${order.id.slice(-6)}-${order.id}`
        }
      ],
      pricingSummary: { priceSubtotal: this.amount(order.price), deliveryCost: this.amount(order.shipping), total: this.amount(order.price + order.shipping) }
    }
  }

  /** One call, run by the SDK's `simulateCall` (count, rate limit, latency, fault) with eBay's errors. */
  private serve(plan: CallPlan, work: (fault: FaultKind | undefined) => Response | Promise<Response>): Promise<Response> {
    return simulateCall(this.seller, plan, ebayFormat, work)
  }
}

/** eBay's "too many requests" (errorId 2001); the Retry-After header is an assumption. */
const rateLimited = (seconds: number) =>
  ebayErrorResponse(new EbayError(429, 2001, "ACCESS", "REQUEST", "Too many requests. The request limit has been reached for the resource.", { "Retry-After": String(seconds) }))

/** How eBay answers the simulator's faults; handlers throw `EbayError`, rendered as eBay would. */
const ebayFormat: WireFormat = {
  rateLimited,
  serverError: () => ebayErrorResponse(new EbayError(500, 15000, "API_ORDER", "APPLICATION", "There was a problem with an eBay internal system or process.")),
  // An edge proxy's page instead of eBay's JSON.
  malformed: () => HttpResponse.text("<html><body>Service Temporarily Unavailable</body></html>", { status: 200, headers: { "content-type": "application/json" } }),
  inProgress: () => rateLimited(1),
  // The marketplace's handlers throw EbayError, never the simulator's generic rejection.
  rejection: (rejection) => ebayErrorResponse(new EbayError(409, 15004, "API_ORDER", "REQUEST", rejection.message)),
  rescue: (error) => (error instanceof EbayError ? ebayErrorResponse(error) : undefined)
}

/**
 * The marketplace's routes for a simulator, e.g. for the conformance kit.
 *
 * @example
 * const seller = new SellerSimulator({ apiKey: "cert-secret", currency: "GBP", stock: [{ isbn, price: 649, shipping: 280, quantity: 3 }] })
 * const server = await serveHandlers(ebayMarketplaceHandlers(seller, { marketplaceId: "EBAY_GB" }))
 */
export const ebayMarketplaceHandlers = (seller: SellerSimulator, options: EbayMarketplaceOptions = {}): Array<RequestHandler> =>
  new EbayMarketplace(seller, options).handlers()
