/**
 * A Shopify shop's Admin GraphQL API as msw handlers over the SDK's {@link SellerSimulator}, for
 * the conformance kit, engine tests and demos. It answers the way Shopify's public documentation
 * says, and no better: `POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`;
 * 401 for a bad token; HTTP 200 for everything GraphQL, with `data`, `errors` and
 * `extensions.cost` side by side; a cost-based leaky bucket answering `THROTTLED`; `userErrors`
 * in mutation payloads; and **no idempotency** — every `draftOrderCreate` makes a new draft, so
 * duplicate orders are possible unless the client prevents them. Every answer has a `Date`
 * header from the simulator's clock (its `advance` moves it).
 *
 * It reads the operation from the query text (root fields and their arguments), not a full
 * GraphQL parser, and answers the whole documented shape of each node whatever was selected.
 *
 * `productVariants` without a barcode in its search is the inventory listing: every variant, page
 * by page with Shopify's cursors, counted and faulted as the simulator's `inventory`.
 *
 * The simulator's view of a purchase is the adapter's whole draft-order flow (pre-order check,
 * create, complete). A fault injected for `purchase` is taken by the check and lands where it
 * would on Shopify: `out_of_stock` and `price_changed` change the shop before it answers (the
 * book sells out, the price goes up), `overcharge` raises the price just before the draft is
 * created, and the transport faults (server error, hang, lost response, malformed, throttled)
 * hit the `draftOrderComplete` of that flow — the call whose lost answer leaves an order behind.
 */
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { SimulatedRejection, simulate, type FaultKind, type SellerSimulator, type SimulatedOrder, type WireErrors } from "@bookbroker/adapter-sdk/testing"
import { delay, http, HttpResponse, type RequestHandler } from "msw"
import { Option, Result } from "effect"

export interface ShopifyShopOptions {
  /** The Admin API access token the shop accepts. Default: the simulator's `apiKey` (none: any). */
  readonly accessToken?: string
  /** The cost bucket. Default 2000 points restoring 100 a second (current docs, Standard plan). */
  readonly bucket?: { readonly maximumAvailable: number; readonly restoreRate: number }
  /** How the merchant typed each book's barcode. Default: the ISBN-13. */
  readonly barcodeOf?: (isbn: string) => string
  /** New drafts answer `ready: false` for this many reads. Default 0. */
  readonly draftReadyAfterReads?: number
  /** The first this-many `draftOrderCreate` answers are lost after the draft is made (a create that timed out). Default 0. */
  readonly lostCreateAnswers?: number
}

/** A request the shop received, as a test wants to see it. */
export interface ShopifyRequest {
  readonly apiVersion: string
  readonly accessToken: string | null
  readonly contentType: string | null
  readonly operationName: string | undefined
  readonly query: string
  readonly variables: Readonly<Record<string, unknown>>
}

export interface SimulatedDraft {
  readonly id: string
  readonly name: string
  status: "OPEN" | "COMPLETED"
  readsUntilReady: number
  readonly isbn: string
  readonly variantId: string
  readonly quantity: number
  readonly unitPrice: number
  readonly shipping: number
  readonly tags: ReadonlyArray<string>
  readonly note: string | null
  readonly customAttributes: ReadonlyArray<{ readonly key: string; readonly value: string }>
  order: { readonly id: string; readonly name: string } | null
}

type Json = Record<string, unknown>

const invalidToken = "[API] Invalid API key or access token (unrecognized login or wrong password)"

/** The value of `arg` in the first `field(...)` call of a query, from a literal or a variable. */
const argument = (query: string, field: string, arg: string, variables: Json): unknown => {
  const call = new RegExp(`\\b${field}\\s*\\(([^)]*)\\)`).exec(query)?.[1]
  if (call === undefined) return undefined
  const match = new RegExp(`\\b${arg}\\s*:\\s*(\\$\\w+|"(?:[^"\\\\]|\\\\.)*"|-?\\d+)`).exec(call)?.[1]
  if (match === undefined) return undefined
  if (match.startsWith("$")) return variables[match.slice(1)]
  if (match.startsWith('"')) return JSON.parse(match) as unknown
  return Number(match)
}

/** Shopify search syntax, the part this shop understands: `field:value` terms joined by OR. */
const searchTerms = (search: string): ReadonlyArray<{ readonly field: string; readonly value: string }> =>
  search.split(/\s+OR\s+/).flatMap((term) => {
    const match = /^\s*(\w+):(?:"([^"]*)"|(\S+))\s*$/.exec(term)
    return match === null ? [] : [{ field: match[1]!, value: match[2] ?? match[3]! }]
  })

const hasRootField = (query: string, field: string) => new RegExp(`\\b${field}\\s*\\(`).test(query)

export class ShopifyShop {
  readonly seller: SellerSimulator
  /** Every request received, in order. */
  readonly requests: Array<ShopifyRequest> = []
  /** Every draft order ever created, by id. */
  readonly drafts = new Map<string, SimulatedDraft>()
  private readonly options: ShopifyShopOptions
  private readonly bucket: { maximumAvailable: number; restoreRate: number; available: number; at: number }
  private readonly variantIds = new Map<string, string>()
  /** Purchase faults taken at the pre-order check, waiting for the flow's later calls, by key tag. */
  private readonly armed = new Map<string, FaultKind>()
  private sequence = 0
  private lostCreates: number

  constructor(seller: SellerSimulator, options: ShopifyShopOptions = {}) {
    this.seller = seller
    this.options = options
    const bucket = options.bucket ?? { maximumAvailable: 2000, restoreRate: 100 }
    this.bucket = { ...bucket, available: bucket.maximumAvailable, at: Date.now() }
    this.lostCreates = options.lostCreateAnswers ?? 0
  }

  get currency(): string {
    return this.seller.currency
  }

  /** Sets what the cost bucket holds now (to test throttling). */
  setAvailable(points: number): void {
    this.bucket.available = points
    this.bucket.at = Date.now()
  }

  /** The variant id of a book's listing. */
  variantId(isbn: string): string {
    let id = this.variantIds.get(isbn)
    if (id === undefined) {
      id = `gid://shopify/ProductVariant/${44_000 + this.variantIds.size + 1}`
      this.variantIds.set(isbn, id)
    }
    return id
  }

  /** How Shopify spells its errors. Business refusals are `userErrors` and never reach here. */
  readonly errors: WireErrors = {
    rejection: (rejection) =>
      rejection.code === "unauthorized"
        ? HttpResponse.json({ errors: invalidToken }, { status: 401 })
        : HttpResponse.json({ errors: { query: "Required parameter missing or invalid" } }, { status: 400 }),
    rateLimited: (seconds) => this.throttled(seconds * this.bucket.restoreRate, 0),
    serverError: () =>
      HttpResponse.json({ errors: [{ message: "Internal error. Looks like something went wrong on our end.", extensions: { code: "INTERNAL_SERVER_ERROR" } }] }, { status: 500 }),
    // A 200 from something that is not the Admin API (a proxy, a theme page answering JSON).
    malformed: () => HttpResponse.json({ data: null }),
    inProgress: () => this.throttled(this.bucket.restoreRate, 0)
  }

  handlers(): Array<RequestHandler> {
    return [
      http.post("*/admin/api/:version/graphql.json", async ({ request, params }) => {
        const text = await request.text()
        let body: Json = {}
        try {
          const parsed: unknown = JSON.parse(text)
          if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) body = parsed as Json
        } catch {
          // answered below
        }
        const query = typeof body["query"] === "string" ? body["query"] : ""
        const variables = typeof body["variables"] === "object" && body["variables"] !== null ? (body["variables"] as Json) : {}
        this.requests.push({
          apiVersion: String(params["version"]),
          accessToken: request.headers.get("x-shopify-access-token"),
          contentType: request.headers.get("content-type"),
          operationName: typeof body["operationName"] === "string" ? body["operationName"] : undefined,
          query,
          variables
        })
        return this.withDate(await this.route(request, query, variables))
      })
    ]
  }

  private route(request: Request, query: string, variables: Json): Promise<Response> {
    const authorize = () => {
      const token = this.options.accessToken ?? this.seller.apiKey
      if (token !== undefined && request.headers.get("x-shopify-access-token") !== token) throw new SimulatedRejection("unauthorized")
      if (!(request.headers.get("content-type") ?? "").startsWith("application/json") || query === "") throw new SimulatedRejection("invalid_request")
    }
    if (hasRootField(query, "draftOrderComplete")) {
      const draft = this.drafts.get(String(argument(query, "draftOrderComplete", "id", variables)))
      return this.purchaseStep("complete", draft?.tags[0], () => (authorize(), this.complete(query, variables)))
    }
    if (hasRootField(query, "draftOrderCreate")) {
      const tags = (variables["input"] as Json | undefined)?.["tags"]
      const tag = Array.isArray(tags) && typeof tags[0] === "string" ? tags[0] : undefined
      return this.purchaseStep("create", tag, (fault) => (authorize(), this.create(variables, fault)))
    }
    if (hasRootField(query, "draftOrders") && hasRootField(query, "productVariants")) {
      const tag = this.tagOf(argument(query, "draftOrders", "query", variables))
      return this.purchaseStep("check", tag, (fault) => (authorize(), this.check(query, variables, fault)))
    }
    if (hasRootField(query, "draftOrders")) return simulate(this.seller, "lookupOrder", this.errors, () => (authorize(), this.lookup(query, variables)))
    if (hasRootField(query, "productVariants")) {
      // Variants by barcode are a quote; the variants of a search without barcodes, page by page, the inventory listing.
      const search = String(argument(query, "productVariants", "query", variables) ?? "")
      if (searchTerms(search).some((term) => term.field === "barcode")) {
        return simulate(this.seller, "quote", this.errors, () => (authorize(), this.quote(query, variables)))
      }
      return simulate(this.seller, "inventory", this.errors, () => (authorize(), this.listing(query, variables, search)))
    }
    return Promise.resolve(
      HttpResponse.json({ errors: [{ message: "Field doesn't exist on type 'QueryRoot'", extensions: { code: "undefinedField" } }] })
    )
  }

  // -------------------------------------------------------------------------------------------
  // The purchase flow and its faults

  private async purchaseStep(step: "check" | "create" | "complete", tag: string | undefined, work: (fault: FaultKind | undefined) => Response): Promise<Response> {
    const seller = this.seller
    const done = seller.enter()
    try {
      const wait = seller.admit()
      if (wait !== undefined) return this.errors.rateLimited(wait)
      let fault: FaultKind | undefined
      if (step === "check") {
        seller.calls.purchase += 1
        const taken = seller.takeFault("purchase")
        if (tag !== undefined) this.armed.delete(tag)
        if (taken === "out_of_stock" || taken === "price_changed") fault = taken
        else if (taken !== undefined && tag !== undefined) this.armed.set(tag, taken)
      } else if (tag !== undefined) {
        const armed = this.armed.get(tag)
        if (step === "create" && armed === "overcharge") {
          this.armed.delete(tag)
          fault = armed
        } else if (step === "complete" && armed !== undefined && armed !== "overcharge") {
          this.armed.delete(tag)
          fault = armed
        }
      }
      const latency = seller.sampleLatency()
      if (latency > 0) await delay(latency)
      if (step === "create" && this.lostCreates > 0) {
        this.lostCreates -= 1
        work(fault)
        return HttpResponse.error()
      }
      switch (fault) {
        case "hang":
          await seller.hang()
          return HttpResponse.error()
        case "server_error":
          return this.errors.serverError()
        case "rate_limited":
        case "in_progress":
          return this.errors.rateLimited(1)
        case "malformed":
          return this.errors.malformed()
        case "lost_response":
          // Shopify completes the draft, then the connection drops before the answer leaves.
          work(fault)
          return HttpResponse.error()
        case "commit_then_hang":
          // Completed, then never answered: the caller only sees its own timeout.
          work(fault)
          await seller.hang()
          return HttpResponse.error()
      }
      return work(fault)
    } catch (error) {
      if (error instanceof SimulatedRejection) return this.errors.rejection(error)
      throw error
    } finally {
      done()
    }
  }

  private tagOf(search: unknown): string | undefined {
    return typeof search === "string" ? searchTerms(search).find((term) => term.field === "tag")?.value : undefined
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  private quote(query: string, variables: Json): Response {
    const cost = this.charge(2 + this.first(query, "productVariants", variables) + 1)
    if (cost.throttled !== undefined) return cost.throttled
    const search = String(argument(query, "productVariants", "query", variables) ?? "")
    const isbns = this.isbnsIn(search)
    this.seller.quoteCalls.push(isbns)
    return this.answer({ productVariants: this.variantConnection(query, variables, search), shop: { currencyCode: this.currency } }, cost.requested)
  }

  /**
   * Every variant of the shop in the order its books were stocked (new ones join the end), the
   * search's `product_status` honoured (every simulated product is ACTIVE).
   */
  private listing(query: string, variables: Json, search: string): Response {
    const cost = this.charge(2 + this.first(query, "productVariants", variables) + 1)
    if (cost.throttled !== undefined) return cost.throttled
    const statuses = searchTerms(search)
      .filter((term) => term.field === "product_status")
      .flatMap((term) => term.value.split(","))
    const listed = statuses.length === 0 || statuses.includes("ACTIVE") ? [...this.seller.stock.keys()] : []
    return this.answer({ productVariants: this.connection(query, variables, listed), shop: { currencyCode: this.currency } }, cost.requested)
  }

  private check(query: string, variables: Json, fault: FaultKind | undefined): Response {
    const cost = this.charge(12 + 2 + this.first(query, "productVariants", variables) + 1)
    if (cost.throttled !== undefined) return cost.throttled
    const search = String(argument(query, "productVariants", "query", variables) ?? "")
    for (const isbn of this.isbnsIn(search)) {
      const item = this.seller.stockItem(isbn)
      if (item === undefined) continue
      // Someone else bought the last copies, or the merchant raised the price, since the quote.
      if (fault === "out_of_stock") item.quantity = 0
      if (fault === "price_changed") item.price += 100
    }
    return this.answer(
      {
        draftOrders: this.draftConnection(String(argument(query, "draftOrders", "query", variables) ?? "")),
        productVariants: this.variantConnection(query, variables, search),
        shop: { currencyCode: this.currency }
      },
      cost.requested
    )
  }

  private lookup(query: string, variables: Json): Response {
    const cost = this.charge(12)
    if (cost.throttled !== undefined) return cost.throttled
    return this.answer({ draftOrders: this.draftConnection(String(argument(query, "draftOrders", "query", variables) ?? "")) }, cost.requested)
  }

  private first(query: string, field: string, variables: Json): number {
    const first = argument(query, field, "first", variables)
    return typeof first === "number" && Number.isInteger(first) && first > 0 ? Math.min(first, 250) : 0
  }

  /** The books a barcode search can name (any spelling the SDK's ISBN library reads). */
  private isbnsIn(search: string): Array<string> {
    const isbns = searchTerms(search)
      .filter((term) => term.field === "barcode")
      .flatMap((term) => Option.toArray(Isbn.parse(term.value)))
    return [...new Set(isbns)]
  }

  private variantConnection(query: string, variables: Json, search: string) {
    const values = new Set(searchTerms(search).filter((term) => term.field === "barcode").map((term) => term.value))
    const matches = this.isbnsIn(search).filter((isbn) => this.seller.stockItem(isbn) !== undefined && values.has(this.barcodeOf(isbn)))
    return this.connection(query, variables, matches)
  }

  /** One page of a `productVariants` connection over these books, from `first` / `after`, with Relay's `pageInfo`. */
  private connection(query: string, variables: Json, matches: ReadonlyArray<string>) {
    const first = this.first(query, "productVariants", variables)
    const after = argument(query, "productVariants", "after", variables)
    const start = typeof after === "string" ? Number(Buffer.from(after, "base64").toString("utf8").replace("cursor:", "")) + 1 : 0
    const page = matches.slice(start, start + first)
    const cursor = (index: number) => Buffer.from(`cursor:${index}`).toString("base64")
    return {
      edges: page.map((isbn, index) => ({ cursor: cursor(start + index), node: this.variantNode(isbn) })),
      pageInfo: {
        hasNextPage: start + first < matches.length,
        hasPreviousPage: start > 0,
        startCursor: page.length === 0 ? null : cursor(start),
        endCursor: page.length === 0 ? null : cursor(start + page.length - 1)
      }
    }
  }

  private barcodeOf(isbn: string): string {
    return this.options.barcodeOf?.(isbn) ?? isbn
  }

  private variantNode(isbn: string) {
    const item = this.seller.stockItem(isbn)!
    const id = this.variantId(isbn)
    const legacy = id.split("/").at(-1)!
    return {
      id,
      legacyResourceId: legacy,
      sku: `BOOK-${isbn}`,
      barcode: this.barcodeOf(isbn),
      title: "Default Title",
      displayName: `Book ${isbn} - Default Title`,
      price: this.decimal(item.price),
      compareAtPrice: null,
      inventoryQuantity: item.quantity,
      sellableOnlineQuantity: Math.max(0, item.quantity),
      availableForSale: item.quantity > 0,
      inventoryPolicy: "DENY",
      inventoryItem: { tracked: true, requiresShipping: true },
      product: { id: `gid://shopify/Product/${Number(legacy) + 1_000_000}`, title: `Book ${isbn}`, status: "ACTIVE", tracksInventory: true }
    }
  }

  private draftConnection(search: string) {
    const tags = searchTerms(search).filter((term) => term.field === "tag").map((term) => term.value)
    const drafts = [...this.drafts.values()].filter((draft) => tags.some((tag) => draft.tags.includes(tag)))
    return { edges: drafts.map((draft) => ({ cursor: draft.id, node: this.draftNode(draft) })) }
  }

  private draftNode(draft: SimulatedDraft) {
    draft.readsUntilReady = Math.max(0, draft.readsUntilReady - 1)
    const money = (minor: number) => ({ amount: this.decimal(minor), currencyCode: this.currency })
    const bag = (minor: number) => ({ shopMoney: money(minor), presentmentMoney: money(minor) })
    return {
      id: draft.id,
      name: draft.name,
      status: draft.status,
      ready: draft.readsUntilReady === 0,
      tags: draft.tags,
      note: draft.note,
      customAttributes: draft.customAttributes,
      order: draft.order,
      totalPriceSet: bag(draft.unitPrice * draft.quantity + draft.shipping),
      totalShippingPriceSet: bag(draft.shipping),
      lineItems: { edges: [{ node: { quantity: draft.quantity, variant: { id: draft.variantId, barcode: this.barcodeOf(draft.isbn) } } }] }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Mutations

  private create(variables: Json, fault: FaultKind | undefined): Response {
    const cost = this.charge(10)
    if (cost.throttled !== undefined) return cost.throttled
    const input = (variables["input"] ?? {}) as Json
    const lineItems = Array.isArray(input["lineItems"]) ? (input["lineItems"] as Array<Json>) : []
    const line = lineItems[0]
    const isbn = [...this.variantIds.entries()].find(([, id]) => id === line?.["variantId"])?.[0]
    const quantity = line?.["quantity"]
    if (lineItems.length !== 1 || isbn === undefined || typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1) {
      return this.payload("draftOrderCreate", null, [{ field: ["lineItems", "0", "variantId"], message: "Variant is invalid" }], cost.requested)
    }
    const shippingLine = input["shippingLine"] as Json | undefined
    const shippingMoney = shippingLine?.["priceWithCurrency"] as Json | undefined
    let shipping = 0
    if (shippingMoney !== undefined) {
      const parsed = Money.fromDecimal(String(shippingMoney["amount"]), String(shippingMoney["currencyCode"]))
      if (Result.isFailure(parsed) || parsed.success.currency !== this.currency) {
        return this.payload("draftOrderCreate", null, [{ field: ["shippingLine", "priceWithCurrency"], message: "Price is invalid" }], cost.requested)
      }
      shipping = parsed.success.amount
    }
    const item = this.seller.stockItem(isbn)!
    // The merchant raised the price between the adapter's check and its draft.
    if (fault === "overcharge") item.price += 500
    this.sequence += 1
    const draft: SimulatedDraft = {
      id: `gid://shopify/DraftOrder/${990_000 + this.sequence}`,
      name: `#D${this.sequence}`,
      status: "OPEN",
      readsUntilReady: (this.options.draftReadyAfterReads ?? 0) + 1,
      isbn,
      variantId: String(line!["variantId"]),
      quantity,
      // Drafts take the catalog price when they are made (stock is not checked here, per the docs).
      unitPrice: item.price,
      shipping,
      tags: Array.isArray(input["tags"]) ? (input["tags"] as Array<unknown>).map(String) : [],
      note: typeof input["note"] === "string" ? input["note"] : null,
      customAttributes: Array.isArray(input["customAttributes"])
        ? (input["customAttributes"] as Array<Json>).map((attribute) => ({ key: String(attribute["key"]), value: String(attribute["value"]) }))
        : [],
      order: null
    }
    this.drafts.set(draft.id, draft)
    return this.payload("draftOrderCreate", draft, [], cost.requested)
  }

  private complete(query: string, variables: Json): Response {
    const cost = this.charge(10)
    if (cost.throttled !== undefined) return cost.throttled
    const draft = this.drafts.get(String(argument(query, "draftOrderComplete", "id", variables)))
    if (draft === undefined) return this.payload("draftOrderComplete", null, [{ field: ["id"], message: "Draft order not found" }], cost.requested)
    if (draft.status === "COMPLETED") {
      return this.payload("draftOrderComplete", null, [{ field: null, message: "This draft order has already been completed" }], cost.requested)
    }
    // Completing reserves the stock; it does not refuse for lack of it (the docs leave checking to the caller).
    const item = this.seller.stockItem(draft.isbn)
    if (item !== undefined) item.quantity -= draft.quantity
    const orderNumber = 1000 + this.seller.orders.length + 1
    draft.order = { id: `gid://shopify/Order/${5_500_000 + orderNumber}`, name: `#${orderNumber}` }
    draft.status = "COMPLETED"
    const attribute = (key: string) => draft.customAttributes.find((candidate) => candidate.key === key)?.value
    const order: SimulatedOrder = {
      orderId: draft.order.id,
      idempotencyKey: attribute("bookbroker_idempotency_key") ?? "",
      isbn: draft.isbn,
      price: draft.unitPrice,
      shipping: draft.shipping,
      quantity: draft.quantity,
      buyerReference: attribute("bookbroker_request") ?? draft.note ?? "",
      placedAt: this.seller.now()
    }
    this.seller.orders.push(order)
    return this.payload("draftOrderComplete", draft, [], cost.requested)
  }

  // -------------------------------------------------------------------------------------------
  // Answers

  private payload(field: string, draft: SimulatedDraft | null, userErrors: Array<{ field: Array<string> | null; message: string }>, cost: number): Response {
    return this.answer({ [field]: { draftOrder: draft === null ? null : this.draftNode(draft), userErrors } }, cost)
  }

  private answer(data: Json, requestedQueryCost: number): Response {
    return HttpResponse.json({ data, extensions: { cost: { requestedQueryCost, actualQueryCost: requestedQueryCost, throttleStatus: this.throttleStatus() } } })
  }

  /** Takes `cost` points from the bucket, or answers THROTTLED (nothing runs). */
  private charge(cost: number): { readonly requested: number; readonly throttled?: Response } {
    this.refill()
    if (this.bucket.available < cost) return { requested: cost, throttled: this.throttled(cost, this.bucket.available) }
    this.bucket.available -= cost
    return { requested: cost }
  }

  private refill(): void {
    const now = Date.now()
    this.bucket.available = Math.min(this.bucket.maximumAvailable, this.bucket.available + ((now - this.bucket.at) / 1000) * this.bucket.restoreRate)
    this.bucket.at = now
  }

  private throttleStatus() {
    return { maximumAvailable: this.bucket.maximumAvailable, currentlyAvailable: this.bucket.available, restoreRate: this.bucket.restoreRate }
  }

  private throttled(requestedQueryCost: number, currentlyAvailable: number): Response {
    return HttpResponse.json({
      errors: [{ message: "Throttled", extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" } }],
      extensions: {
        cost: {
          requestedQueryCost,
          actualQueryCost: null,
          throttleStatus: { maximumAvailable: this.bucket.maximumAvailable, currentlyAvailable, restoreRate: this.bucket.restoreRate }
        }
      }
    })
  }

  private decimal(minor: number): string {
    return Money.toDecimal(Money.make(Math.max(0, minor), this.currency))
  }

  private withDate(response: Response): Response {
    if (response.type === "error") return response
    const headers = new Headers(response.headers)
    headers.set("date", new Date(this.seller.now()).toUTCString())
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }
}

/**
 * @example
 * const seller = new SellerSimulator({ apiKey: "shpat_test", currency: "GBP", stock: [{ isbn, price: 899, quantity: 3 }] })
 * const server = await serveHandlers(shopifyShopHandlers(seller))
 */
export const shopifyShopHandlers = (seller: SellerSimulator, options: ShopifyShopOptions = {}): Array<RequestHandler> =>
  new ShopifyShop(seller, options).handlers()
