/**
 * Every HTTP call the CLI makes goes through this one module, over the typed client generated
 * from `/openapi.json` (`@bookbroker/server/client`: openapi-typescript types, openapi-fetch):
 * bearer auth (customer key, seller key or operator token), problem+json answers turned into a
 * `CliError` carrying the problem's `detail`, and a server that is not there into "nothing
 * answers at <url>". The wire types below are the generated ones, named for the services.
 */
import { createBookbrokerClient, type BookbrokerClient, type operations } from "@bookbroker/server/client"
import { Effect } from "effect"
import { fail, type CliError } from "./CliError.js"
import type { ClientConfig } from "./Config.js"

// ---------------------------------------------------------------------------------------------
// Wire shapes, from the generated OpenAPI types

type Responses<Op extends keyof operations> = operations[Op]["responses"]
type JsonOf<R> = R extends { content: { "application/json": infer A } } ? A : never
type Json<Op extends keyof operations, Status extends keyof Responses<Op> = 200 & keyof Responses<Op>> = JsonOf<Responses<Op>[Status]>
type Body<Op extends keyof operations> = operations[Op] extends { requestBody: { content: { "application/json": infer A } } } ? A : never

export type PurchaseRequest = Json<"purchases.get"> & {
  readonly customer_id?: string
  readonly attention?: Json<"operator.getPurchaseRequest">["attention"]
}
export type PurchaseStatus = PurchaseRequest["status"]
export type Attempt = PurchaseRequest["attempts"][number]
export type CounterOffer = NonNullable<PurchaseRequest["counter_offer"]>
export type MoneyWire = PurchaseRequest["max_price"]
export type AcceptedPurchase = Json<"purchases.create", 202>
export type NewPurchaseRequest = Body<"purchases.create">
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next_cursor: string | null
}
export type BookSearchPage = Json<"books.search">
export type BookSearchHit = BookSearchPage["hits"][number]
export interface BookSearchQuery {
  readonly q: string
  readonly currency?: string
  readonly condition?: "new" | "like_new" | "very_good" | "good" | "acceptable"
  readonly in_stock?: boolean
  readonly max_total?: string
  readonly sort?: "relevance" | "price"
  readonly limit?: number
  readonly cursor?: string
}
export type BookOffers = Json<"books.offers">
export type BookOffer = BookOffers["offers"][number]
export type SellerOutcome = BookOffers["sellers"][number]
export type Readiness = Json<"health.readyz">
export type Seller = Json<"operator.getSeller">
export type SellerStatus = Seller["status"]
export type SellerHealth = Json<"operator.sellerHealth">
export type NewSeller = Body<"sellers.register">
export type RegisteredSeller = Json<"sellers.register", 201>
export type Customer = Json<"operator.listCustomers">["items"][number] & { readonly api_key?: string }
export type RevokedKeys = Json<"operator.revokeCustomerKeys">
export type ReplacedKey = Json<"operator.replaceCustomerKey", 201>
export type Finding = Json<"operator.listFindings">["items"][number]
export type FindingKind = Finding["kind"]
export type InventoryUpload = Json<"inventory.upload", 201>
export type UploadMode = InventoryUpload["mode"]
export type InventoryFormat = InventoryUpload["format"]
export type InventorySummary = Json<"inventory.inventory">
export type InventorySettings = Body<"inventory.configure">

/** The Content-Type an inventory file is sent as, by format. */
export const inventoryContentTypes: Record<InventoryFormat, "text/tab-separated-values" | "application/jsonl" | "application/xml"> = {
  tsv: "text/tab-separated-values",
  jsonl: "application/jsonl",
  onix: "application/xml"
}

export const terminalStatuses: ReadonlyArray<PurchaseStatus> = ["purchased", "price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"]

// ---------------------------------------------------------------------------------------------
// Calls

export type Auth = "customer" | "seller" | "operator" | "none"

interface Reply<A> {
  readonly data?: A
  readonly error?: unknown
  readonly response: Response
}

const connectionCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET"])

const errorCode = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    const errors = (current as { errors?: unknown }).errors
    if (Array.isArray(errors) && errors.length > 0) current = errors[0]
    else current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const authHint = (auth: Auth) =>
  auth === "operator"
    ? "pass --operator-token or set BOOKBROKER_OPERATOR_TOKEN (serve prints it; the demo writes it to .bookbroker/demo.json)"
    : auth === "seller"
      ? "pass --seller-key or set BOOKBROKER_SELLER_KEY (the seller API key that registration — bookbroker sellers add — showed once)"
      : "pass --api-key or set BOOKBROKER_API_KEY (the demo writes a fresh key to .bookbroker/demo.json each time it starts)"

const missingToken: Record<Exclude<Auth, "none">, string> = { customer: "no customer API key", seller: "no seller API key", operator: "no operator token" }

/** A streamed inventory file: the body is read as the request is sent, never held whole. */
export interface InventoryFile {
  readonly body: ReadableStream<Uint8Array>
  readonly format: InventoryFormat
  readonly mode: UploadMode
  readonly currency?: string
}

export interface Api {
  readonly baseUrl: string
  /** The same API, calling as another customer. */
  readonly withApiKey: (apiKey: string) => Api
  /** The same API, calling as a seller (its own API key). */
  readonly withSellerKey: (sellerKey: string) => Api

  readonly submitPurchase: (body: NewPurchaseRequest, idempotencyKey: string) => Effect.Effect<AcceptedPurchase, CliError>
  readonly purchase: (id: string) => Effect.Effect<PurchaseRequest, CliError>
  readonly purchases: (query?: { readonly status?: PurchaseStatus; readonly cursor?: string; readonly limit?: number }) => Effect.Effect<Page<PurchaseRequest>, CliError>
  readonly acceptCounterOffer: (id: string, paymentToken: string) => Effect.Effect<PurchaseRequest, CliError>
  /** Cancels a watching want. */
  readonly cancelPurchase: (id: string) => Effect.Effect<PurchaseRequest, CliError>
  readonly offers: (isbn: string, currency?: string) => Effect.Effect<BookOffers, CliError>
  readonly searchBooks: (query: BookSearchQuery) => Effect.Effect<BookSearchPage, CliError>

  readonly healthz: (timeoutMillis?: number) => Effect.Effect<unknown, CliError>
  readonly readyz: (timeoutMillis?: number) => Effect.Effect<Readiness, CliError>
  /** `/metrics` (operator token). */
  readonly metrics: Effect.Effect<string, CliError>
  readonly registerSeller: (seller: NewSeller) => Effect.Effect<RegisteredSeller, CliError>

  /** What a seller does with its own key: its inventory feed. */
  readonly seller: {
    /** Fails, before anything is sent, when no seller key is configured. */
    readonly checkKey: Effect.Effect<void, CliError>
    /** Streams the file; answers once the server has applied it (no time limit: files may be large). */
    readonly uploadInventory: (file: InventoryFile) => Effect.Effect<InventoryUpload, CliError>
    readonly uploads: Effect.Effect<ReadonlyArray<InventoryUpload>, CliError>
    readonly upload: (id: string) => Effect.Effect<InventoryUpload, CliError>
    readonly inventory: Effect.Effect<InventorySummary, CliError>
    readonly configureInventory: (settings: InventorySettings) => Effect.Effect<InventorySummary, CliError>
  }

  readonly operator: {
    readonly sellers: (status?: SellerStatus) => Effect.Effect<ReadonlyArray<Seller>, CliError>
    readonly seller: (id: string) => Effect.Effect<Seller, CliError>
    readonly activate: (id: string) => Effect.Effect<Seller, CliError>
    readonly disable: (id: string) => Effect.Effect<Seller, CliError>
    readonly health: Effect.Effect<ReadonlyArray<SellerHealth>, CliError>
    readonly sellerHealth: (id: string) => Effect.Effect<SellerHealth, CliError>
    readonly purchases: (query?: {
      readonly status?: PurchaseStatus
      readonly stuck?: boolean
      readonly cursor?: string
      readonly limit?: number
    }) => Effect.Effect<Page<PurchaseRequest>, CliError>
    readonly purchase: (id: string) => Effect.Effect<PurchaseRequest, CliError>
    readonly findings: (query?: { readonly open?: boolean; readonly requestId?: string }) => Effect.Effect<ReadonlyArray<Finding>, CliError>
    readonly settleFinding: (requestId: string, kind: FindingKind, note: string) => Effect.Effect<Finding, CliError>
    readonly retry: (id: string, paymentToken?: string) => Effect.Effect<PurchaseRequest, CliError>
    readonly createCustomer: (customer: { readonly name: string; readonly email?: string }) => Effect.Effect<Customer, CliError>
    readonly customers: Effect.Effect<ReadonlyArray<Customer>, CliError>
    readonly revokeCustomerKeys: (id: string) => Effect.Effect<RevokedKeys, CliError>
    readonly replaceCustomerKey: (id: string) => Effect.Effect<ReplacedKey, CliError>
  }
}

export const make = (config: ClientConfig): Api => {
  const baseUrl = config.baseUrl.replace(/\/+$/, "")
  const clients = new Map<Auth, BookbrokerClient>()

  const clientFor = (auth: Auth): Effect.Effect<BookbrokerClient, CliError> => {
    const token = auth === "operator" ? config.operatorToken : auth === "customer" ? config.apiKey : auth === "seller" ? config.sellerKey : undefined
    if (auth !== "none" && token === undefined) return Effect.fail(fail(missingToken[auth], authHint(auth)))
    let client = clients.get(auth)
    if (client === undefined) {
      client = createBookbrokerClient({ baseUrl, ...(token === undefined ? {} : { apiKey: token }) })
      clients.set(auth, client)
    }
    return Effect.succeed(client)
  }

  /**
   * One call: `what` names it in messages ("GET /v1/…"); `timeoutMillis` null waits as long as
   * it takes; `broken` words a transport failure the usual words would get wrong.
   */
  const send = <A>(
    auth: Auth,
    what: string,
    call: (client: BookbrokerClient, signal: AbortSignal) => Promise<Reply<A>>,
    timeoutMillis: number | null = 30_000,
    broken?: (code: string | undefined, error: unknown) => CliError | undefined
  ): Effect.Effect<A, CliError> =>
    Effect.gen(function* () {
      const client = yield* clientFor(auth)
      const reply = yield* Effect.tryPromise({
        try: (signal) => call(client, timeoutMillis === null ? signal : AbortSignal.any([signal, AbortSignal.timeout(timeoutMillis)])),
        catch: (error) => {
          const code = errorCode(error)
          const special = broken?.(code, error)
          if (special !== undefined) return special
          if (code === "ENOTFOUND" || code === "EAI_AGAIN") return fail(`cannot resolve the host of ${baseUrl}`, "check --url / BOOKBROKER_URL")
          if (code !== undefined && connectionCodes.has(code)) return fail(`nothing answers at ${baseUrl}`, "start it with: pnpm start")
          if (error instanceof Error && error.name === "TimeoutError") {
            return fail(`${baseUrl} did not answer ${what} within ${(timeoutMillis ?? 0) / 1000} s`, "is the server overloaded or stuck? see: bookbroker doctor")
          }
          if (code === "ERR_INVALID_URL" || (error instanceof TypeError && /url/i.test(error.message))) {
            return fail(`"${baseUrl}" is not a valid URL`, "use a URL like http://127.0.0.1:8080 (--url, BOOKBROKER_URL)")
          }
          const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
          return fail(`${what} at ${baseUrl} failed: ${cause instanceof Error ? cause.message : String(cause)}`)
        }
      })
      if (!reply.response.ok) return yield* Effect.fail(problem(what, auth, reply.response.status, reply.error))
      return reply.data as A
    })

  const problem = (what: string, auth: Auth, status: number, body: unknown): CliError => {
    const record = typeof body === "object" && body !== null ? (body as { detail?: unknown; title?: unknown }) : {}
    const detail = typeof record.detail === "string" ? record.detail : typeof record.title === "string" ? record.title : undefined
    const message = detail ?? `${what} answered ${status}${typeof body === "string" && body !== "" ? `: ${body.slice(0, 200)}` : ""}`
    // A seller's 403 is about the seller (disabled), not about its key.
    if (status === 401 || (status === 403 && auth !== "seller")) return fail(message, authHint(auth))
    if (status === 404 && detail?.startsWith("no endpoint") === true) return fail(message, `the server at ${baseUrl} does not offer this: is it an older version?`)
    if (status === 429) return fail(message, "slow down, or ask the operator for a higher limit")
    if (status >= 500) return fail(message, "the server had a problem; see its log, or run: bookbroker doctor")
    return fail(message)
  }

  const pageQuery = (query: { readonly status?: PurchaseStatus; readonly cursor?: string; readonly limit?: number }) => ({
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    ...(query.limit === undefined ? {} : { limit: String(query.limit) })
  })

  const path = (id: string) => ({ path: { id } })

  return {
    baseUrl,
    withApiKey: (apiKey) => make({ ...config, apiKey }),
    withSellerKey: (sellerKey) => make({ ...config, sellerKey }),
    submitPurchase: (body, idempotencyKey) =>
      send("customer", "POST /v1/purchase-requests", (client, signal) =>
        client.POST("/v1/purchase-requests", { params: { header: { "idempotency-key": idempotencyKey } }, body, signal })
      ),
    purchase: (id) => send("customer", `GET /v1/purchase-requests/${id}`, (client, signal) => client.GET("/v1/purchase-requests/{id}", { params: path(id), signal })),
    purchases: (query = {}) =>
      send("customer", "GET /v1/purchase-requests", (client, signal) => client.GET("/v1/purchase-requests", { params: { query: pageQuery(query) }, signal })),
    acceptCounterOffer: (id, token) =>
      send("customer", `POST /v1/purchase-requests/${id}/accept`, (client, signal) =>
        client.POST("/v1/purchase-requests/{id}/accept", { params: path(id), body: { payment: { token } }, signal })
      ),
    cancelPurchase: (id) =>
      send("customer", `POST /v1/purchase-requests/${id}/cancel`, (client, signal) => client.POST("/v1/purchase-requests/{id}/cancel", { params: path(id), signal })),
    offers: (isbn, currency) =>
      send("customer", `GET /v1/books/${isbn}/offers`, (client, signal) =>
        client.GET("/v1/books/{isbn}/offers", { params: { path: { isbn }, query: currency === undefined ? {} : { currency } }, signal })
      ),
    searchBooks: ({ in_stock, limit, ...query }) =>
      send("customer", "GET /v1/books", (client, signal) =>
        client.GET("/v1/books", {
          params: { query: { ...query, ...(in_stock === undefined ? {} : { in_stock: in_stock ? "true" : "false" }), ...(limit === undefined ? {} : { limit: String(limit) }) } },
          signal
        })
      ),
    healthz: (timeoutMillis = 5_000) => send("none", "GET /healthz", (client, signal) => client.GET("/healthz", { signal }), timeoutMillis),
    readyz: (timeoutMillis = 5_000) => send("none", "GET /readyz", (client, signal) => client.GET("/readyz", { signal }), timeoutMillis),
    metrics: send("operator", "GET /metrics", (client, signal) => client.GET("/metrics", { parseAs: "text", signal }) as Promise<Reply<string>>),
    registerSeller: (seller) => send("none", "POST /v1/sellers", (client, signal) => client.POST("/v1/sellers", { body: seller, signal })),
    seller: {
      checkKey: Effect.asVoid(clientFor("seller")),
      uploadInventory: (file) =>
        send(
          "seller",
          "POST /v1/sellers/me/inventory/uploads",
          (client, signal) =>
            client.POST("/v1/sellers/me/inventory/uploads", {
              params: { query: { mode: file.mode, ...(file.currency === undefined ? {} : { currency: file.currency }) } },
              // The generated type says string; a stream is what keeps a 1 GB file out of memory.
              body: file.body as unknown as string,
              bodySerializer: (body) => body,
              headers: { "content-type": inventoryContentTypes[file.format] },
              duplex: "half",
              signal
            }),
          null,
          (code, error) =>
            code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET" || (error instanceof TypeError && error.message === "terminated")
              ? fail(`the connection to ${baseUrl} broke off during the upload`, "whether the file was applied: bookbroker sellers inventory status")
              : undefined
        ),
      uploads: Effect.map(
        send("seller", "GET /v1/sellers/me/inventory/uploads", (client, signal) => client.GET("/v1/sellers/me/inventory/uploads", { signal })),
        (list) => list.uploads
      ),
      upload: (id) =>
        send("seller", `GET /v1/sellers/me/inventory/uploads/${id}`, (client, signal) => client.GET("/v1/sellers/me/inventory/uploads/{id}", { params: path(id), signal })),
      inventory: send("seller", "GET /v1/sellers/me/inventory", (client, signal) => client.GET("/v1/sellers/me/inventory", { signal })),
      configureInventory: (settings) =>
        send("seller", "PATCH /v1/sellers/me/inventory", (client, signal) => client.PATCH("/v1/sellers/me/inventory", { body: settings, signal }))
    },
    operator: {
      sellers: (status) =>
        Effect.map(
          send("operator", "GET /v1/operator/sellers", (client, signal) => client.GET("/v1/operator/sellers", { params: { query: status === undefined ? {} : { status } }, signal })),
          (list) => list.items
        ),
      seller: (id) => send("operator", `GET /v1/operator/sellers/${id}`, (client, signal) => client.GET("/v1/operator/sellers/{id}", { params: path(id), signal })),
      activate: (id) =>
        send("operator", `POST /v1/operator/sellers/${id}/activate`, (client, signal) => client.POST("/v1/operator/sellers/{id}/activate", { params: path(id), signal })),
      disable: (id) => send("operator", `POST /v1/operator/sellers/${id}/disable`, (client, signal) => client.POST("/v1/operator/sellers/{id}/disable", { params: path(id), signal })),
      health: Effect.map(
        send("operator", "GET /v1/operator/sellers/health", (client, signal) => client.GET("/v1/operator/sellers/health", { signal })),
        (list) => list.items
      ),
      sellerHealth: (id) =>
        send("operator", `GET /v1/operator/sellers/${id}/health`, (client, signal) => client.GET("/v1/operator/sellers/{id}/health", { params: path(id), signal })),
      purchases: (query = {}) =>
        send("operator", "GET /v1/operator/purchase-requests", (client, signal) =>
          client.GET("/v1/operator/purchase-requests", { params: { query: { ...pageQuery(query), ...(query.stuck === true ? { stuck: "true" } : {}) } }, signal })
        ),
      findings: (query = {}) =>
        Effect.map(
          send("operator", "GET /v1/operator/findings", (client, signal) =>
            client.GET("/v1/operator/findings", {
              params: { query: { ...(query.open === true ? { open: "true" } : {}), ...(query.requestId === undefined ? {} : { request_id: query.requestId }) } },
              signal
            })
          ),
          (list) => list.items
        ),
      settleFinding: (requestId, kind, note) =>
        send("operator", `POST /v1/operator/findings/${requestId}/${kind}/settle`, (client, signal) =>
          client.POST("/v1/operator/findings/{request_id}/{kind}/settle", { params: { path: { request_id: requestId, kind } }, body: { note }, signal })
        ),
      purchase: (id) =>
        send("operator", `GET /v1/operator/purchase-requests/${id}`, (client, signal) => client.GET("/v1/operator/purchase-requests/{id}", { params: path(id), signal })),
      retry: (id, token) =>
        send("operator", `POST /v1/operator/purchase-requests/${id}/retry`, (client, signal) =>
          client.POST("/v1/operator/purchase-requests/{id}/retry", { params: path(id), body: token === undefined ? null : { payment: { token } }, signal })
        ),
      createCustomer: (customer) =>
        send("operator", "POST /v1/operator/customers", (client, signal) =>
          client.POST("/v1/operator/customers", { body: { name: customer.name, ...(customer.email === undefined ? {} : { email: customer.email }) }, signal })
        ),
      customers: Effect.map(
        send("operator", "GET /v1/operator/customers", (client, signal) => client.GET("/v1/operator/customers", { signal })),
        (list) => list.items
      ),
      revokeCustomerKeys: (id) =>
        send("operator", `DELETE /v1/operator/customers/${id}/keys`, (client, signal) => client.DELETE("/v1/operator/customers/{id}/keys", { params: path(id), signal })),
      replaceCustomerKey: (id) =>
        send("operator", `POST /v1/operator/customers/${id}/keys`, (client, signal) => client.POST("/v1/operator/customers/{id}/keys", { params: path(id), signal }))
    }
  }
}
