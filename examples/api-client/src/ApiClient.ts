/**
 * A bookbroker customer over HTTP with the typed client (`@bookbroker/server/client`, generated
 * from the server's `/openapi.json`): list the current offers for a book, submit a purchase
 * request with a maximum price, and follow it until it is decided.
 */
import { createBookbrokerClient, describeProblem } from "@bookbroker/server/client"
import { randomUUID } from "node:crypto"

export interface BuyOptions {
  readonly baseUrl: string
  /** A customer API key (an operator creates one with `POST /v1/operator/customers`). */
  readonly apiKey: string
  readonly isbn: string
  /** The most the customer pays, price + shipping, in minor units. */
  readonly maxPrice: { readonly amount: number; readonly currency: string }
  readonly paymentToken: string
  /** Makes a re-run of the same purchase the same request. Default: a new one. */
  readonly idempotencyKey?: string
  readonly log?: (line: string) => void
  /** How long to follow the request; default 60 s. */
  readonly timeoutMillis?: number
}

export interface BuyResult {
  readonly offers: ReadonlyArray<{ readonly seller: string; readonly total: number; readonly currency: string }>
  readonly requestId: string
  readonly status: string
  readonly finalPrice: { readonly amount: number; readonly currency: string } | null
  readonly reason: string | null
}

const money = (value: { readonly amount: number; readonly currency: string }) => `${(value.amount / 100).toFixed(2)} ${value.currency}`

export const buy = async (options: BuyOptions): Promise<BuyResult> => {
  const log = options.log ?? (() => {})
  const api = createBookbrokerClient({ baseUrl: options.baseUrl, apiKey: options.apiKey })

  const offers = await api.GET("/v1/books/{isbn}/offers", { params: { path: { isbn: options.isbn }, query: { currency: options.maxPrice.currency } } })
  if (offers.data === undefined) throw new Error(`offers: ${describeProblem(offers.error)}`)
  log(`${offers.data.offers.length} offers for ${offers.data.isbn} (${offers.data.sellers.length} sellers asked in ${offers.data.duration_ms} ms):`)
  for (const offer of offers.data.offers) log(`  ${money(offer.total).padStart(12)}  ${offer.seller_name} (${offer.condition})`)

  const submitted = await api.POST("/v1/purchase-requests", {
    params: { header: { "idempotency-key": options.idempotencyKey ?? randomUUID() } },
    body: {
      isbn: options.isbn,
      max_price: options.maxPrice,
      payment: { token: options.paymentToken },
      customer: { name: "Example Reader", email: "reader@example.com", shipping_address: { line1: "1 Example Street", city: "Paris", country: "FR" } }
    }
  })
  if (submitted.data === undefined) throw new Error(`purchase: ${describeProblem(submitted.error)}`)
  log(`purchase request ${submitted.data.id}: ${submitted.data.status}, up to ${money(options.maxPrice)}`)

  const deadline = Date.now() + (options.timeoutMillis ?? 60_000)
  while (Date.now() < deadline) {
    const current = await api.GET("/v1/purchase-requests/{id}", { params: { path: { id: submitted.data.id } } })
    if (current.data === undefined) throw new Error(`status: ${describeProblem(current.error)}`)
    if (current.data.terminal) {
      const request = current.data
      log(
        request.status === "purchased" && request.final_price !== null
          ? `purchased for ${money(request.final_price)} (order ${request.order_id})`
          : `${request.status}${request.reason === null ? "" : `: ${request.reason}`}${request.counter_offer === null ? "" : ` (counter-offer: ${money(request.counter_offer.price)} from ${request.counter_offer.seller_name})`}`
      )
      return {
        offers: offers.data.offers.map((offer) => ({ seller: offer.seller_name, total: offer.total.amount, currency: offer.total.currency })),
        requestId: request.id,
        status: request.status,
        finalPrice: request.final_price,
        reason: request.reason
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`purchase request ${submitted.data.id} was not decided within ${options.timeoutMillis ?? 60_000} ms`)
}
