/**
 * Wants paid through Stripe: the engine over real PostgreSQL, simulated sellers over HTTP, and
 * `StripeGateway` (the real `stripe` SDK) against `FakeStripe`. A want's first authorization
 * saves the card (a Customer for the request, the PaymentMethod attached with
 * `setup_future_usage`) and is voided when the want watches; the round a feed listing wakes
 * authorizes off-session with that Customer and PaymentMethod — which FakeStripe, like Stripe,
 * refuses for a PaymentMethod used before without a Customer, so these tests fail if the card is
 * not attached. A card refused off-session ends the want `failed` with the reason, nothing held,
 * nothing bought; a request without `wait_until` makes no Customer.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import * as InventoryUploads from "../src/inventory/InventoryUploads.js"
import * as Wants from "../src/jobs/Wants.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as StripeGateway from "../src/payments/StripeGateway.js"
import * as Purchases from "../src/purchases/Purchases.js"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import { FakeStripe, TestDatabase } from "../src/testing/index.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const isbns = generateIsbns({ size: 8, seed: 4242 }) as ReadonlyArray<Isbn.Isbn13>
const secretKey = `sk_test_${randomUUID().replaceAll("-", "")}`
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000)

let fake: FakeStripe.FakeStripeServer
beforeAll(async () => {
  fake = await FakeStripe.start({ secretKey })
})
afterAll(async () => {
  await fake.close()
})

/** `PurchaseHarness.infrastructure` with the Stripe gateway instead of the sandbox ledger. */
const infrastructure = () =>
  InventoryUploads.layer().pipe(
    Layer.provideMerge(
      Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 60_000 }), StripeGateway.layer({ ...fake.gatewayOptions(secretKey), detachEveryMillis: 50 }), Purchases.layer).pipe(
        Layer.provideMerge(OutboundAddress.layerLoopback),
        Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]))),
        Layer.provideMerge(TestDatabase.layer)
      )
    )
  )

const wantsJob = Effect.gen(function* () {
  const context = yield* Layer.build(Wants.layer().pipe(Layer.provide(Harness.engine({ offerIndex: true }))))
  return Context.get(context, Wants.Wants)
})

/** A seller with one copy of `isbn` at `price`, registered, its inventory uploaded as a snapshot. */
const listedSeller = (name: string, isbn: Isbn.Isbn13, price: number) =>
  Effect.gen(function* () {
    const [seller] = yield* Harness.SimulatedSellers.startSellers([{ name, stock: [{ isbn, price, shipping: 0, quantity: 1 }] }])
    const [registered] = yield* Harness.register([seller!])
    const uploads = yield* InventoryUploads.InventoryUploads
    const file = `listingid\tisbn\tprice\tquantity\tbookcondition\nL-${name}\t${isbn}\t${(price / 100).toFixed(2)}\t1\tNew\n`
    yield* uploads.upload(registered!.id, { mode: "snapshot", format: "tsv", currency: "EUR" }, Stream.make(new TextEncoder().encode(file)))
    return seller!
  })

const intentsOf = (request: string) => fake.intents().filter((intent) => intent.metadata["request_id"] === request)
const customersOf = (request: string) => fake.customers().filter((customer) => customer.metadata["request_id"] === request)
/** What the engine sent to create each of the request's PaymentIntents, in order. */
const intentParams = (request: string) =>
  fake
    .requests()
    .filter((entry) => entry.method === "POST" && entry.path === "/v1/payment_intents" && entry.idempotencyKey?.startsWith(`${request}:authorize:`) === true)
    .map((entry) => entry.params)

const detachedAt = (requestId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ detached_at: Date | null }>`SELECT detached_at FROM stripe_customers WHERE request_id = ${requestId}`).pipe(
    Effect.map((rows) => rows[0]?.detached_at ?? null),
    Effect.orDie
  )

/** Waits (bounded) until the request's card is recorded as detached. */
const untilDetached = (requestId: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 300 && (yield* detachedAt(requestId)) === null; i++) yield* Effect.sleep(20)
  })

describe("Wants on Stripe", () => {
  it.live("a want watches, is woken by a feed listing and buys off-session: one Customer, the card attached, the real price captured", () =>
    Effect.gen(function* () {
      const isbn = isbns[0]!
      const [dear] = yield* Harness.SimulatedSellers.startSellers([{ name: "dear", stock: [{ isbn, price: 2500, shipping: 0, quantity: 3 }] }])
      yield* Harness.register([dear!])
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      // The customer's own PaymentMethod (as Stripe.js makes it): one object, usable again only once attached.
      const card = fake.createPaymentMethod("pm_card_visa")
      const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(14), paymentToken: card })
      expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")
      const [customer, ...more] = customersOf(id)
      expect(more).toHaveLength(0)
      const [saving] = intentsOf(id)
      // Saved with the first authorization, which was voided when the want began watching.
      expect(saving).toMatchObject({ status: "canceled", customer: customer!.id, setup_future_usage: "off_session", payment_method: card, amount_received: 0 })
      expect(fake.paymentMethod(card)?.customer).toBe(customer!.id)

      const cheap = yield* listedSeller("cheap", isbn, 1500)
      expect((yield* wants.runOnce).woken).toBe(1)
      const bought = yield* Harness.runUntilDone(worker, id)
      expect(bought.status).toBe("purchased")
      expect(bought.finalPrice?.amount).toBe(1500)
      expect(cheap.simulator.orders).toHaveLength(1)

      const intents = intentsOf(id)
      expect(intents).toHaveLength(2)
      expect(intents[1]).toMatchObject({ status: "succeeded", customer: customer!.id, payment_method: card, amount: 2000, amount_received: 1500, setup_future_usage: null })
      expect(customersOf(id)).toHaveLength(1)
      const [first, second] = intentParams(id)
      expect(first).toMatchObject({ customer: customer!.id, setup_future_usage: "off_session", payment_method: card, confirm: "true", capture_method: "manual" })
      expect(first!["off_session"]).toBeUndefined()
      expect(second).toMatchObject({ customer: customer!.id, off_session: "true", payment_method: card, confirm: "true", capture_method: "manual" })
      expect(second!["setup_future_usage"]).toBeUndefined()

      // The want is over: its card does not stay on file.
      yield* untilDetached(id)
      expect(fake.paymentMethod(card)?.customer).toBeNull()
      expect(yield* detachedAt(id)).not.toBeNull()
    }).pipe(Effect.provide(infrastructure()))
  )

  it.live("a card refused off-session when a copy is found ends the want failed with the reason; nothing held, nothing bought", () =>
    Effect.gen(function* () {
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      for (const [i, token, reason] of [
        [1, "pm_card_offSessionAuthenticationRequired", "authentication_required"],
        [2, "pm_card_offSessionDeclined", "expired_card"]
      ] as const) {
        const isbn = isbns[i]!
        const card = fake.createPaymentMethod(token)
        const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(2), paymentToken: card })
        expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")
        const seller = yield* listedSeller(`late-${i}`, isbn, 1000)
        expect((yield* wants.runOnce).woken).toBe(1)
        const view = yield* Harness.runUntilDone(worker, id)
        expect(view.status).toBe("failed")
        expect(view.reason).toBe(`payment_declined: ${reason}`)
        expect(seller.simulator.orders).toHaveLength(0)
        expect(seller.simulator.calls.hold).toBe(0)
        const intents = intentsOf(id)
        expect(intents.map((intent) => intent.status)).toEqual(["canceled", "requires_payment_method"])
        expect(intents.every((intent) => intent.amount_received === 0 && intent.amount_capturable === 0)).toBe(true)
        expect(intentParams(id)[1]).toMatchObject({ off_session: "true", customer: customersOf(id)[0]!.id })
        // Failed: the card stays for an operator's retry (a week), after several rounds of the detaching job.
        const detachCalls = () => fake.requests().filter((entry) => entry.path.endsWith("/detach")).length
        const before = detachCalls()
        yield* Effect.sleep(300)
        expect(detachCalls()).toBe(before)
        expect(fake.paymentMethod(card)?.customer).toBe(customersOf(id)[0]!.id)
        expect(yield* detachedAt(id)).toBeNull()
      }
    }).pipe(Effect.provide(infrastructure()))
  )

  it.live("a request without wait_until makes no Customer and is sent as before", () =>
    Effect.gen(function* () {
      const isbn = isbns[3]!
      const [shop] = yield* Harness.SimulatedSellers.startSellers([{ name: "shop", stock: [{ isbn, price: 1200, shipping: 0, quantity: 1 }] }])
      yield* Harness.register([shop!])
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const customers = fake.customers().length
      const card = fake.createPaymentMethod("pm_card_visa")
      const { id } = yield* Harness.submit(isbn, 2000, { paymentToken: card })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(fake.customers()).toHaveLength(customers)
      expect(intentsOf(id)).toEqual([expect.objectContaining({ customer: null, setup_future_usage: null, amount_received: 1200 })])
      const [params] = intentParams(id)
      expect(Object.keys(params!).sort()).toEqual(["amount", "automatic_payment_methods", "capture_method", "confirm", "currency", "metadata", "payment_method"])
      // That card was used without a Customer: Stripe would refuse it for any later round.
      expect(fake.paymentMethod(card)?.customer).toBeNull()
    }).pipe(Effect.provide(infrastructure()))
  )
})
