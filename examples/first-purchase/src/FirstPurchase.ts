/**
 * The SDK end to end, before any engine: start a few simulated sellers over HTTP, ask each for
 * a quote in parallel, rank the offers by total, and buy from the cheapest — moving to the next
 * one only when a seller *known* to have failed (sold out, price above the maximum).
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { Contract, SellerClient, type Isbn, type Money, type SellerError } from "@bookbroker/adapter-sdk"
import { generateIsbns, referenceSellerHandlers, SellerSimulator, serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { Effect, Result } from "effect"

export interface Outcome {
  readonly isbn: Isbn.Isbn13
  readonly offers: ReadonlyArray<{ readonly seller: string; readonly total: Money.Money }>
  readonly skipped: ReadonlyArray<{ readonly seller: string; readonly why: string }>
  readonly bought: { readonly seller: string; readonly orderId: string; readonly total: Money.Money } | undefined
}

const sellers = [
  { name: "paper-moon", price: 1899, shipping: 299, latency: 40 },
  { name: "dusty-shelf", price: 1450, shipping: 350, latency: 90, soldOutOnHold: true },
  { name: "book-barn", price: 2199, shipping: 0, latency: 25 },
  { name: "page-turner", price: 1599, shipping: 450, latency: 60 },
  { name: "slow-reads", price: 999, shipping: 0, latency: 60, hangs: true }
] as const

export const firstPurchase = (maxTotal: Money.Money): Effect.Effect<Outcome, SellerError.SellerError | SellerClient.InvalidSellerConfig> =>
  Effect.gen(function* () {
    const [isbn] = generateIsbns({ size: 1, seed: 1 }) as [Isbn.Isbn13]
    const clients = yield* Effect.forEach(sellers, (spec) =>
      Effect.gen(function* () {
        const simulator = new SellerSimulator({
          name: spec.name,
          apiKey: `${spec.name}-key`,
          latency: { medianMillis: spec.latency },
          stock: [{ isbn, price: spec.price, shipping: spec.shipping, quantity: 3 }]
        })
        if ("soldOutOnHold" in spec) simulator.inject({ operation: "hold", kind: "out_of_stock" })
        if ("hangs" in spec) simulator.inject({ operation: "quote", kind: "hang" })
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => serveHandlers(referenceSellerHandlers(simulator), { onClose: () => simulator.close() })),
          (server) => Effect.promise(() => server.close())
        )
        return yield* SellerClient.make(referenceAdapter, {
          sellerId: spec.name,
          config: { baseUrl: server.url, currency: maxTotal.currency, shipping: spec.shipping },
          credentials: { apiKey: `${spec.name}-key` },
          limits: { timeoutMillis: 500 }
        })
      })
    )

    const answers = yield* Effect.forEach(
      clients,
      (client) => Effect.result(client.quote([isbn])).pipe(Effect.map((answer) => ({ client, answer }))),
      { concurrency: "unbounded" }
    )
    const skipped: Array<{ seller: string; why: string }> = []
    const offers: Array<{ client: SellerClient.SellerClient; offer: Contract.Offer }> = []
    for (const { client, answer } of answers) {
      if (Result.isFailure(answer)) skipped.push({ seller: client.sellerId, why: answer.failure.message })
      else for (const result of answer.success) if (result instanceof Contract.Offer) offers.push({ client, offer: result })
    }
    offers.sort((a, b) => a.offer.total.amount - b.offer.total.amount)

    let bought: Outcome["bought"]
    for (const { client, offer } of offers) {
      if (offer.total.amount > maxTotal.amount) break
      const held = yield* Effect.result(client.hold(offer))
      if (Result.isFailure(held)) {
        skipped.push({ seller: client.sellerId, why: held.failure.message })
        continue
      }
      const order = yield* client.purchase({
        isbn,
        source: { _tag: "Hold", hold: held.success },
        idempotencyKey: `first-purchase:${client.sellerId}`,
        maxTotal,
        buyerReference: "first-purchase"
      })
      bought = { seller: client.sellerId, orderId: order.orderId, total: order.total }
      break
    }
    return {
      isbn,
      offers: offers.map(({ client, offer }) => ({ seller: client.sellerId, total: offer.total })),
      skipped,
      bought
    } satisfies Outcome
  }).pipe(Effect.scoped)
