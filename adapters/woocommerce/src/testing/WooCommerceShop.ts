/**
 * A simulated WooCommerce shop: the REST API v3 routes bookbroker uses, as msw handlers over
 * the SDK's {@link SellerSimulator} (its stock is the shop's catalogue, one simple product per
 * ISBN with the ISBN as SKU; its `apiKey` is the consumer secret). Shaped after WooCommerce's
 * documentation and source, including what makes it hard to buy from:
 *
 * - `POST /orders` checks nothing and dedupes nothing: every create is a new order, a line
 *   item's `total` overrides the price, `set_paid` takes stock out even below zero.
 * - Orders are not searchable by meta; `GET /orders` filters by `product`, `after`, pages of
 *   `per_page` (default 10, at most 100) with `X-WP-Total` / `X-WP-TotalPages`.
 * - `GET /products?sku=a,b` matches SKUs exactly, 10 per page unless asked for more; without
 *   `sku` it lists the catalogue (the inventory listing), `orderby=id` / `order` sorting it.
 * - Errors are `{ code, message, data: { status } }`; 401s as WooCommerce's authentication
 *   sends them; a 429 comes from the host (WooCommerce has no rate limit), without that shape.
 *
 * Faults: quotes take the simulator's `quote` faults, the product list without `sku` its
 * `inventory` faults, order searches its `lookupOrder` faults.
 * A purchase draws its fault once, when the adapter re-reads the product (`GET /products/{id}`):
 * a sold-out or price rise changes the product there; a lost or hung answer and an overcharge
 * are kept for that product's next order. The simulator's order book (`seller.orders`) gets
 * every order placed for a known product, with the bookbroker key and reference read from its
 * meta data — for bookkeeping only: the shop itself never looks at them.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { type CallPlan, type FaultKind, type SellerSimulator, simulateCall, type WireErrors, type WireFormat } from "@bookbroker/adapter-sdk/testing"
import { Option } from "effect"
import { http, HttpResponse, type RequestHandler } from "msw"

export interface WooCommerceShopOptions {
  /** The consumer key the shop issued (the simulator's `apiKey` is its secret). Default `ck_bookbroker`. */
  readonly consumerKey?: string
  /** What the key may do. Default `read_write`. */
  readonly permissions?: "read" | "write" | "read_write"
  /** The meta keys the shop's bookkeeping reads bookbroker's key and reference from. */
  readonly idempotencyMetaKey?: string
  readonly buyerReferenceMetaKey?: string
}

/** A WooCommerce REST error, thrown inside a route and rendered as `{ code, message, data: { status } }`. */
export class WooCommerceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {}
  ) {
    super(message)
  }
}

export const wooCommerceErrorResponse = (error: WooCommerceError): Response =>
  HttpResponse.json({ code: error.code, message: error.message, data: { status: error.status } }, { status: error.status, headers: error.headers })

/** How a WooCommerce shop (and its host) fails. */
export const wooCommerceErrors: WireErrors = {
  rejection: (rejection) =>
    wooCommerceErrorResponse(
      rejection.code === "unauthorized"
        ? new WooCommerceError(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        : new WooCommerceError(400, "rest_invalid_param", `Invalid parameter(s): ${rejection.code}`)
    ),
  // WooCommerce itself never throttles: this is the host's or the CDN's page.
  rateLimited: (seconds) =>
    HttpResponse.text("<html><body><h1>429 Too Many Requests</h1></body></html>", {
      status: 429,
      headers: { "content-type": "text/html", "Retry-After": String(seconds) }
    }),
  // WordPress' fatal-error handler answering a REST request.
  serverError: () =>
    HttpResponse.json(
      { code: "internal_server_error", message: "<p>There has been a critical error on this website.</p>", data: { status: 500 }, additional_errors: [] },
      { status: 500 }
    ),
  // A plugin's PHP warning printed ahead of the JSON: WooCommerce's classic broken answer.
  malformed: () =>
    HttpResponse.text(
      '<br />\n<b>Warning</b>:  Undefined array key "isbn" in <b>/var/www/html/wp-content/plugins/book-fields/book-fields.php</b> on line <b>42</b><br />\n[]',
      { status: 200, headers: { "content-type": "application/json; charset=UTF-8" } }
    ),
  inProgress: () => HttpResponse.text("Service Unavailable", { status: 503, headers: { "Retry-After": "1" } })
}

/** WooCommerce's errors, and its own error class rendered as the shop would. */
const wooCommerceFormat: WireFormat = {
  ...wooCommerceErrors,
  rescue: (error) => (error instanceof WooCommerceError ? wooCommerceErrorResponse(error) : undefined)
}

type Json = Record<string, unknown>

/** Faults that belong to the order creation, kept from the product re-read for the next order. */
const orderFaults: ReadonlySet<FaultKind> = new Set(["lost_response", "commit_then_hang", "overcharge"])

const objectOf = (value: unknown): Json | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined

const intParam = (url: URL, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new WooCommerceError(400, "rest_invalid_param", `Invalid parameter(s): ${name}`)
  }
  return value
}

/** Site time as WooCommerce writes it: ISO 8601 without offset (the simulated site runs on UTC). */
const siteTime = (millis: number) => new Date(millis).toISOString().slice(0, 19)

export class WooCommerceShop {
  /** Every order the shop holds, as `GET /orders` shows it. */
  readonly orders: Array<Json> = []
  private readonly productIds = new Map<string, number>()
  private readonly isbns = new Map<number, string>()
  private readonly pendingOrderFaults = new Map<number, Array<FaultKind>>()
  private nextProductId = 794
  private nextOrderId = 727
  private nextItemId = 315

  constructor(
    readonly seller: SellerSimulator,
    readonly options: WooCommerceShopOptions = {}
  ) {}

  /** The product id of an ISBN the shop stocks (assigned on first sight), or undefined. */
  productId(isbn: string): number | undefined {
    if (this.seller.stockItem(isbn) === undefined) return undefined
    let id = this.productIds.get(isbn)
    if (id === undefined) {
      id = this.nextProductId++
      this.productIds.set(isbn, id)
      this.isbns.set(id, isbn)
    }
    return id
  }

  /** The product as `GET /products` shows it. */
  product(isbn: string): Json | undefined {
    const item = this.seller.stockItem(isbn)
    const id = this.productId(isbn)
    if (item === undefined || id === undefined) return undefined
    const price = this.decimal(item.price)
    return {
      id,
      name: `Book ${isbn}`,
      slug: `book-${isbn}`,
      type: "simple",
      status: "publish",
      catalog_visibility: "visible",
      sku: isbn,
      global_unique_id: isbn,
      price,
      regular_price: price,
      sale_price: "",
      on_sale: false,
      purchasable: true,
      manage_stock: true,
      stock_quantity: item.quantity,
      stock_status: item.quantity > 0 ? "instock" : "outofstock",
      backorders: "no",
      backorders_allowed: false,
      backordered: false,
      sold_individually: false,
      parent_id: 0,
      meta_data: []
    }
  }

  handlers(): Array<RequestHandler> {
    const root = "*/wp-json/wc/v3"
    return [
      http.get(`${root}/data/currencies/current`, ({ request }) =>
        this.serve({ fault: () => undefined }, () => {
          this.authenticate(request, "read")
          return this.json({ code: this.seller.currency, name: this.seller.currency, symbol: this.seller.currency, _links: {} })
        })
      ),
      http.get(`${root}/products`, ({ request }) => {
        // A search by SKU is a quote; the plain list, page by page, is the inventory listing.
        const listing = !new URL(request.url).searchParams.has("sku")
        const operation = listing ? "inventory" : "quote"
        return this.serve({ count: operation, fault: () => this.seller.takeFault(operation) }, () => {
          this.authenticate(request, "read")
          const url = new URL(request.url)
          const status = url.searchParams.get("status") ?? "any"
          const skus = url.searchParams.get("sku")
          const asked = skus === null ? [...this.seller.stock.keys()] : [...new Set(skus.split(",").map((sku) => sku.trim()))]
          if (skus !== null) this.seller.quoteCalls.push(asked)
          const products = status === "any" || status === "publish" ? asked.flatMap((isbn) => Option.toArray(Option.fromNullishOr(this.product(isbn)))) : []
          return this.page(url, this.ordered(url, products))
        })
      }),
      http.get(`${root}/products/:id`, ({ request, params }) => {
        const id = Number(params["id"])
        return this.serve({ fault: () => this.purchaseFault(id) }, (fault) => {
          this.authenticate(request, "read")
          const isbn = this.isbns.get(id)
          const item = isbn === undefined ? undefined : this.seller.stockItem(isbn)
          if (isbn === undefined || item === undefined) throw new WooCommerceError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
          // The book sold elsewhere, or got dearer, between the quote and this re-read.
          if (fault === "out_of_stock") item.quantity = 0
          if (fault === "price_changed") item.price += 150
          return this.json(this.product(isbn))
        })
      }),
      http.get(`${root}/orders`, ({ request }) =>
        this.serve({ count: "lookupOrder", fault: () => this.seller.takeFault("lookupOrder") }, () => {
          this.authenticate(request, "read")
          const url = new URL(request.url)
          const product = url.searchParams.get("product")
          const after = url.searchParams.get("after")
          const status = url.searchParams.get("status") ?? "any"
          const ascending = url.searchParams.get("order") === "asc"
          const matching = this.orders.filter(
            (order) =>
              (status === "any" ? order["status"] !== "trash" : order["status"] === status) &&
              (after === null || String(order["date_created"]) > after) &&
              (product === null || (order["line_items"] as Array<Json>).some((line) => String(line["product_id"]) === product))
          )
          const sorted = [...matching].sort((a, b) => (ascending ? 1 : -1) * (Number(a["id"]) - Number(b["id"])))
          return this.page(url, sorted)
        })
      ),
      http.post(`${root}/orders`, async ({ request }) => {
        const text = await request.text()
        const body = ((): Json | undefined => {
          try {
            return objectOf(JSON.parse(text))
          } catch {
            return undefined
          }
        })()
        const firstLine = objectOf((body?.["line_items"] as Array<unknown> | undefined)?.[0])
        const productId = Number(firstLine?.["variation_id"] || firstLine?.["product_id"] || 0)
        return this.serve({ count: "purchase", fault: () => this.pendingOrderFaults.get(productId)?.shift() }, (fault) => {
          this.authenticate(request, "write")
          if (body === undefined) throw new WooCommerceError(400, "rest_invalid_json", "Invalid JSON body passed.")
          return this.createOrder(body, fault === "overcharge")
        })
      }),
      http.all("*/wp-json/*", () =>
        wooCommerceErrorResponse(new WooCommerceError(404, "rest_no_route", "No route was found matching the URL and request method."))
      )
    ]
  }

  private decimal(minor: number): string {
    return Money.toDecimal(Money.make(minor, this.seller.currency))
  }

  private minor(value: unknown, field: string): number {
    const parsed = typeof value === "string" || typeof value === "number" ? Money.fromDecimal(value, this.seller.currency) : undefined
    if (parsed === undefined || parsed._tag === "Failure") throw new WooCommerceError(400, "rest_invalid_param", `Invalid parameter(s): ${field}`)
    return parsed.success.amount
  }

  private json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
    return HttpResponse.json(body as Json, { status, headers: { date: new Date(this.seller.now()).toUTCString(), ...headers } })
  }

  /** `orderby=id` with `order` (default `desc`); any other order is not simulated: the catalogue's own order. */
  private ordered(url: URL, products: ReadonlyArray<Json>): ReadonlyArray<Json> {
    if (url.searchParams.get("orderby") !== "id") return products
    const ascending = url.searchParams.get("order") === "asc"
    return [...products].sort((a, b) => (ascending ? 1 : -1) * (Number(a["id"]) - Number(b["id"])))
  }

  /** One page of a collection, with `X-WP-Total`, `X-WP-TotalPages` and a `Link` header of `prev` / `next` only (as WooCommerce's source sends). */
  private page(url: URL, items: ReadonlyArray<unknown>): Response {
    const perPage = intParam(url, "per_page", 10, 100)
    const page = intParam(url, "page", 1)
    const pages = Math.max(1, Math.ceil(items.length / perPage))
    const linkTo = (target: number) => {
      const link = new URL(url)
      link.searchParams.set("page", String(target))
      return link.toString()
    }
    const links = [...(page > 1 ? [`<${linkTo(page - 1)}>; rel="prev"`] : []), ...(page < pages ? [`<${linkTo(page + 1)}>; rel="next"`] : [])]
    return this.json(items.slice((page - 1) * perPage, page * perPage), 200, {
      "x-wp-total": String(items.length),
      "x-wp-totalpages": String(pages),
      ...(links.length === 0 ? {} : { link: links.join(", ") })
    })
  }

  private purchaseFault(productId: number): FaultKind | undefined {
    const fault = this.seller.takeFault("purchase")
    if (fault === undefined || !orderFaults.has(fault)) return fault
    const pending = this.pendingOrderFaults.get(productId) ?? []
    pending.push(fault)
    this.pendingOrderFaults.set(productId, pending)
    return undefined
  }

  /** WooCommerce's REST authentication as the spec describes it for HTTPS: query parameters first, then Basic. */
  private authenticate(request: Request, needs: "read" | "write"): void {
    const secret = this.seller.apiKey
    if (secret === undefined) return
    const url = new URL(request.url)
    let key = url.searchParams.get("consumer_key")
    let presented = url.searchParams.get("consumer_secret")
    const basic = /^Basic\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")
    if (key === null && basic !== null) {
      const decoded = Buffer.from(basic[1]!, "base64").toString("utf8")
      const colon = decoded.indexOf(":")
      key = colon < 0 ? decoded : decoded.slice(0, colon)
      presented = colon < 0 ? "" : decoded.slice(colon + 1)
    }
    if (key !== (this.options.consumerKey ?? "ck_bookbroker")) {
      // An unknown key is no authentication at all: the request runs anonymously and fails the permission check.
      throw needs === "read"
        ? new WooCommerceError(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        : new WooCommerceError(401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    }
    if (presented !== secret) {
      throw new WooCommerceError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.", {
        "WWW-Authenticate": 'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field"'
      })
    }
    const permissions = this.options.permissions ?? "read_write"
    if (needs === "write" && permissions === "read") {
      throw new WooCommerceError(401, "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.")
    }
    if (needs === "read" && permissions === "write") {
      throw new WooCommerceError(401, "woocommerce_rest_authentication_error", "The API key provided does not have read permissions.")
    }
  }

  /** `POST /orders` as WooCommerce runs it: no stock, price or duplicate check. */
  private createOrder(body: Json, overcharge: boolean): Response {
    if (body["id"] !== undefined) throw new WooCommerceError(400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.")
    const lines = Array.isArray(body["line_items"]) ? body["line_items"].map(objectOf) : []
    const shippingLines = Array.isArray(body["shipping_lines"]) ? body["shipping_lines"].map(objectOf) : []
    const now = this.seller.now()
    const lineItems = lines.map((line) => {
      if (line === undefined || !(line["product_id"] || line["variation_id"] || line["sku"])) {
        throw new WooCommerceError(400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required.")
      }
      const isbn = typeof line["sku"] === "string" && line["sku"] !== "" ? line["sku"] : this.isbns.get(Number(line["variation_id"] || line["product_id"]))
      const item = isbn === undefined ? undefined : this.seller.stockItem(isbn)
      const quantity = typeof line["quantity"] === "number" ? line["quantity"] : 1
      // A sent total overrides the shop's price; an unknown product becomes an unlinked, free line.
      const total = line["total"] !== undefined ? this.minor(line["total"], "line_items.total") : item === undefined ? 0 : item.price * quantity
      return { isbn: item === undefined ? undefined : isbn, item, quantity, total, productId: item === undefined ? Number(line["product_id"] ?? 0) : this.productId(isbn!)! }
    })
    const shipping = shippingLines.reduce((sum, line) => {
      if (line === undefined || typeof line["method_id"] !== "string") {
        throw new WooCommerceError(400, "woocommerce_rest_invalid_shipping_item", "Shipping method ID is required.")
      }
      return sum + this.minor(line["total"] ?? "0", "shipping_lines.total")
    }, 0)
    const fee = overcharge ? 500 : 0
    const paid = body["set_paid"] === true
    if (paid) for (const line of lineItems) if (line.item !== undefined) line.item.quantity -= line.quantity
    const id = this.nextOrderId++
    const meta = (Array.isArray(body["meta_data"]) ? body["meta_data"].map(objectOf) : []).flatMap((entry, index) =>
      entry === undefined ? [] : [{ id: 13106 + id * 10 + index, key: String(entry["key"]), value: entry["value"] }]
    )
    const itemsTotal = lineItems.reduce((sum, line) => sum + line.total, 0)
    const order: Json = {
      id,
      parent_id: 0,
      number: String(id),
      order_key: `wc_order_${id.toString(16)}`,
      created_via: "rest-api",
      status: paid ? "processing" : typeof body["status"] === "string" ? body["status"] : "pending",
      currency: typeof body["currency"] === "string" ? body["currency"] : this.seller.currency,
      date_created: siteTime(now),
      date_created_gmt: siteTime(now),
      date_paid: paid ? siteTime(now) : null,
      discount_total: "0.00",
      shipping_total: this.decimal(shipping),
      shipping_tax: "0.00",
      total: this.decimal(itemsTotal + shipping + fee),
      total_tax: "0.00",
      customer_id: 0,
      customer_note: typeof body["customer_note"] === "string" ? body["customer_note"] : "",
      billing: objectOf(body["billing"]) ?? {},
      shipping: objectOf(body["shipping"]) ?? {},
      payment_method: body["payment_method"] ?? "",
      payment_method_title: body["payment_method_title"] ?? "",
      transaction_id: body["transaction_id"] ?? "",
      line_items: lineItems.map((line) => ({
        id: this.nextItemId++,
        name: line.isbn === undefined ? "" : `Book ${line.isbn}`,
        product_id: line.productId,
        variation_id: 0,
        quantity: line.quantity,
        sku: line.isbn ?? "",
        subtotal: this.decimal(line.total),
        total: this.decimal(line.total),
        total_tax: "0.00",
        price: line.quantity === 0 ? 0 : Number(this.decimal(line.total)) / line.quantity,
        meta_data: []
      })),
      shipping_lines: shippingLines.map((line, index) => ({ id: this.nextItemId + index, method_id: line?.["method_id"], method_title: line?.["method_title"] ?? "", total: this.decimal(this.minor(line?.["total"] ?? "0", "total")) })),
      fee_lines: fee > 0 ? [{ id: this.nextItemId++, name: "Handling", total: this.decimal(fee) }] : [],
      meta_data: meta,
      needs_payment: !paid
    }
    this.orders.push(order)
    const booked = lineItems.find((line) => line.isbn !== undefined)
    if (booked !== undefined) {
      const metaValue = (key: string) => String(meta.find((entry) => entry.key === key)?.value ?? "")
      this.seller.orders.push({
        orderId: String(id),
        idempotencyKey: metaValue(this.options.idempotencyMetaKey ?? "bookbroker_idempotency_key"),
        isbn: booked.isbn!,
        price: booked.total + fee,
        shipping,
        quantity: booked.quantity,
        buyerReference: metaValue(this.options.buyerReferenceMetaKey ?? "bookbroker_buyer_reference"),
        placedAt: now
      })
    }
    return this.json(order, 201, { location: `/wp-json/wc/v3/orders/${id}` })
  }

  /** One simulated call, run by the SDK's `simulateCall` (count, rate limit, latency, fault) with WooCommerce's errors. */
  private serve(plan: CallPlan, work: (fault: FaultKind | undefined) => Response | Promise<Response>): Promise<Response> {
    return simulateCall(this.seller, plan, wooCommerceFormat, work)
  }
}

/**
 * The shop's routes for a simulator, e.g. for the conformance kit.
 *
 * @example
 * const seller = new SellerSimulator({ apiKey: "cs_secret", currency: "GBP", stock: [{ isbn, price: 899, quantity: 3 }] })
 * const server = await serveHandlers(wooCommerceShopHandlers(seller, { consumerKey: "ck_key" }))
 */
export const wooCommerceShopHandlers = (seller: SellerSimulator, options: WooCommerceShopOptions = {}): Array<RequestHandler> =>
  new WooCommerceShop(seller, options).handlers()
