/**
 * StripeGateway with the real `stripe` SDK against FakeStripe over real HTTP on 127.0.0.1:
 * Stripe's answers, idempotent replays and lost connections, mapped onto the gateway's errors.
 * Time really passes (`it.scopedLive`): timeouts and delays are real.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import type { SqlClient } from "effect/sql"
import { type Context, Effect, Fiber, ManagedRuntime } from "effect"
import type { PaymentError, PaymentGatewayService } from "../src/payments/PaymentGateway.js"
import * as SavedCards from "../src/payments/internal/savedCards.js"
import * as StripeGateway from "../src/payments/StripeGateway.js"
import Stripe from "stripe"
import { FakeStripe, TestDatabase } from "../src/testing/index.js"

const secretKey = `sk_test_${randomUUID().replaceAll("-", "")}`
const eur = (amount: number) => Money.make(amount, "EUR")
const key = (label: string) => `${label}-${randomUUID()}`
const requestId = () => `req-${randomUUID()}`

let fake: FakeStripe.FakeStripeServer
/** The gateway keeps wants' Customers in PostgreSQL: one throw-away database for the file. */
const database = ManagedRuntime.make(TestDatabase.layer)
let databaseContext: Context.Context<SqlClient.SqlClient>
beforeAll(async () => {
  fake = await FakeStripe.start({ secretKey })
  databaseContext = await database.context()
}, 60_000)
afterAll(async () => {
  await fake.close()
  await database.dispose()
})

/** A gateway over `server`'s options, with the test database. */
const gatewayOver = (options: StripeGateway.StripeGatewayOptions) => StripeGateway.make(options).pipe(Effect.provide(databaseContext))

/** Every error any test saw: none may carry the secret key. */
const seen: Array<PaymentError> = []

const gateway = (overrides: Parameters<FakeStripe.FakeStripeServer["gatewayOptions"]>[1] = {}) => gatewayOver(fake.gatewayOptions(secretKey, overrides))

/** The failure of an effect that must fail, recorded for the secret-key check. */
const failureOf = <A>(self: Effect.Effect<A, PaymentError>) =>
  Effect.flip(self).pipe(Effect.tap((error) => Effect.sync(() => seen.push(error))))

const expectTag = <T extends PaymentError["_tag"]>(error: PaymentError, tag: T): Extract<PaymentError, { readonly _tag: T }> => {
  expect(error._tag, error.message).toBe(tag)
  return error as Extract<PaymentError, { readonly _tag: T }>
}

const intentsFor = (request: string) => fake.intents().filter((intent) => intent.metadata["request_id"] === request)

const requestsTo = (path: string) => fake.requests().filter((entry) => entry.path === path)

const authorize = (service: PaymentGatewayService, options: { request?: string; amount?: number; token?: string; idempotencyKey?: string } = {}) => {
  const request = options.request ?? requestId()
  const idempotencyKey = options.idempotencyKey ?? key("auth")
  return service
    .authorize({ idempotencyKey, requestId: request, amount: eur(options.amount ?? 5_000), paymentToken: options.token ?? "pm_card_visa" })
    .pipe(Effect.map((authorization) => ({ ...authorization, request, idempotencyKey })))
}

describe("StripeGateway against FakeStripe", () => {
  it.live("authorizes with manual capture, our idempotency key and the request id in metadata", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const auth = yield* authorize(service, { amount: 4_250 })
      const intent = fake.intent(auth.providerRef)!
      expect(intent.status).toBe("requires_capture")
      expect(intent.capture_method).toBe("manual")
      expect(intent.amount).toBe(4_250)
      expect(intent.amount_capturable).toBe(4_250)
      expect(intent.amount_received).toBe(0)
      expect(intent.currency).toBe("eur")
      expect(intent.metadata).toEqual({ request_id: auth.request })
      expect(intent.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: "never" })
      expect(auth.amount).toEqual(eur(4_250))
      const sent = fake.requests().filter((entry) => entry.idempotencyKey === auth.idempotencyKey)
      expect(sent.map((entry) => `${entry.method} ${entry.path}`)).toEqual(["POST /v1/payment_intents"])
    })
  )

  it.live("authorizing twice with the same key gives the same intent, once", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const first = yield* authorize(service)
      const second = yield* authorize(service, { request: first.request, idempotencyKey: first.idempotencyKey })
      expect(second.providerRef).toBe(first.providerRef)
      expect(intentsFor(first.request)).toHaveLength(1)
      const sent = fake.requests().filter((entry) => entry.idempotencyKey === first.idempotencyKey)
      expect(sent.map((entry) => entry.replayed)).toEqual([false, true])
    })
  )

  it.live("the same key with other parameters is PaymentRejected, and nothing new is authorized", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const first = yield* authorize(service, { amount: 1_000 })
      const error = yield* failureOf(authorize(service, { request: first.request, idempotencyKey: first.idempotencyKey, amount: 2_000 }))
      expect(expectTag(error, "PaymentRejected").detail).toContain("idempotency_error")
      expect(intentsFor(first.request)).toHaveLength(1)
    })
  )

  it.live("a declined card is PaymentDeclined with Stripe's decline code; the replay declines again", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const idempotencyKey = key("auth")
      const declined = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey, token: "pm_card_chargeDeclined" })), "PaymentDeclined")
      expect(declined.reason).toBe("generic_decline")
      expect(declined.detail).toContain("Your card was declined")
      const [intent] = intentsFor(request)
      expect(intent?.status).toBe("requires_payment_method")
      expect(intent?.last_payment_error?.decline_code).toBe("generic_decline")

      const again = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey, token: "pm_card_chargeDeclined" })), "PaymentDeclined")
      expect(again.reason).toBe("generic_decline")
      expect(intentsFor(request)).toHaveLength(1)

      const poor = expectTag(yield* failureOf(authorize(service, { token: "pm_card_insufficient_funds" })), "PaymentDeclined")
      expect(poor.reason).toBe("insufficient_funds")
    })
  )

  it.live("a card that needs 3-D Secure is declined as authentication_required", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const error = expectTag(yield* failureOf(authorize(service, { token: "pm_card_authenticationRequired" })), "PaymentDeclined")
      expect(error.reason).toBe("authentication_required")
    })
  )

  it.live("captures exactly a smaller amount; a replay and a re-run with a new key are success", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const auth = yield* authorize(service, { amount: 5_000 })
      const capture = { idempotencyKey: key("capture"), providerRef: auth.providerRef, amount: eur(3_199) }
      yield* service.capture(capture)
      const intent = fake.intent(auth.providerRef)!
      expect(intent.status).toBe("succeeded")
      expect(intent.amount_received).toBe(3_199)
      expect(intent.amount_capturable).toBe(0)

      yield* service.capture(capture)
      const path = `/v1/payment_intents/${auth.providerRef}/capture`
      expect(requestsTo(path).map((entry) => [entry.idempotencyKey, entry.replayed])).toEqual([
        [capture.idempotencyKey, false],
        [capture.idempotencyKey, true]
      ])
      // A re-run that lost its key: Stripe refuses (already succeeded), the intent shows it's done.
      yield* service.capture({ ...capture, idempotencyKey: key("capture") })
      expect(fake.intent(auth.providerRef)?.amount_received).toBe(3_199)
      // ...but not for another amount.
      const other = expectTag(yield* failureOf(service.capture({ ...capture, idempotencyKey: key("capture"), amount: eur(3_000) })), "PaymentRejected")
      expect(other.detail).toContain("succeeded with 3199 received, not 3000")
    })
  )

  it.live("a capture above the authorization is PaymentRejected and captures nothing", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const auth = yield* authorize(service, { amount: 2_000 })
      const error = expectTag(
        yield* failureOf(service.capture({ idempotencyKey: key("capture"), providerRef: auth.providerRef, amount: eur(2_001) })),
        "PaymentRejected"
      )
      expect(error.operation).toBe("capture")
      expect(error.detail).toContain("amount_too_large")
      expect(error.authorizationEnded).toBeUndefined()
      const intent = fake.intent(auth.providerRef)!
      expect(intent.status).toBe("requires_capture")
      expect(intent.amount_received).toBe(0)
    })
  )

  it.live("void cancels; a replay and a re-run with a new key are success; a captured intent is PaymentRejected", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const auth = yield* authorize(service)
      const voidRequest = { idempotencyKey: key("void"), providerRef: auth.providerRef }
      yield* service.void(voidRequest)
      expect(fake.intent(auth.providerRef)?.status).toBe("canceled")
      yield* service.void(voidRequest)
      yield* service.void({ ...voidRequest, idempotencyKey: key("void") })
      const path = `/v1/payment_intents/${auth.providerRef}/cancel`
      expect(requestsTo(path).map((entry) => [entry.outcome, entry.replayed])).toEqual([
        [200, false],
        [200, true],
        [400, false]
      ])

      const captured = yield* authorize(service)
      yield* service.capture({ idempotencyKey: key("capture"), providerRef: captured.providerRef, amount: eur(100) })
      const error = expectTag(yield* failureOf(service.void({ idempotencyKey: key("void"), providerRef: captured.providerRef })), "PaymentRejected")
      expect(error.detail).toContain("refund it instead")
      expect(fake.intent(captured.providerRef)?.status).toBe("succeeded")
    })
  )

  it.live("an authorization that lapsed (Stripe cancels it after its lifetime) is PaymentRejected on capture, voided in lookup, and voiding it is success", () =>
    Effect.gen(function* () {
      // A fake whose authorizations live 300 ms (Stripe: 7 days for cards).
      const short = yield* Effect.acquireRelease(
        Effect.promise(() => FakeStripe.start({ secretKey, authorizationLifetimeMillis: 300 })),
        (server) => Effect.promise(() => server.close())
      )
      const service = yield* gatewayOver(short.gatewayOptions(secretKey))
      const auth = yield* authorize(service, { amount: 2_000 })
      expect(short.intent(auth.providerRef)?.status).toBe("requires_capture")
      yield* Effect.sleep(400)
      const error = expectTag(
        yield* failureOf(service.capture({ idempotencyKey: key("capture"), providerRef: auth.providerRef, amount: eur(2_000) })),
        "PaymentRejected"
      )
      expect(error.detail).toMatch(/is canceled \(the authorization lapsed at Stripe\): nothing left to capture/)
      expect(error.authorizationEnded).toBe(true)
      expect(short.intent(auth.providerRef)).toMatchObject({ status: "canceled", cancellation_reason: "automatic", amount_received: 0 })
      expect(short.charges().find((charge) => charge.payment_intent === auth.providerRef)).toMatchObject({ captured: false, refunded: true })
      expect((yield* service.lookup(auth.request)).map((record) => [record.status, record.captured.amount])).toEqual([["voided", 0]])
      yield* service.void({ idempotencyKey: key("void"), providerRef: auth.providerRef })
      // One captured in time is not touched by its lifetime.
      const captured = yield* authorize(service, { amount: 1_000 })
      yield* service.capture({ idempotencyKey: key("capture"), providerRef: captured.providerRef, amount: eur(1_000) })
      yield* Effect.sleep(400)
      expect(short.intent(captured.providerRef)).toMatchObject({ status: "succeeded", amount_received: 1_000 })
      // And `expireAuthorization` lets one lapse at once.
      const held = yield* authorize(service)
      expect(short.expireAuthorization(held.providerRef)).toBe(true)
      expect(short.intent(held.providerRef)?.status).toBe("canceled")
      expect(short.expireAuthorization(held.providerRef)).toBe(false)
    })
  )

  it.live("refunds what was captured, once per key, never more than captured", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const auth = yield* authorize(service, { amount: 5_000 })
      yield* service.capture({ idempotencyKey: key("capture"), providerRef: auth.providerRef, amount: eur(4_000) })
      const refund = { idempotencyKey: key("refund"), providerRef: auth.providerRef, amount: eur(1_500) }
      yield* service.refund(refund)
      yield* service.refund(refund)
      const refunds = () => fake.refunds().filter((entry) => entry.payment_intent === auth.providerRef)
      expect(refunds().map((entry) => entry.amount)).toEqual([1_500])
      expect((yield* service.lookup(auth.request)).map((record) => record.status)).toEqual(["captured"])

      const tooMuch = expectTag(yield* failureOf(service.refund({ ...refund, idempotencyKey: key("refund"), amount: eur(2_501) })), "PaymentRejected")
      expect(tooMuch.detail).toContain("greater than unrefunded amount")
      yield* service.refund({ ...refund, idempotencyKey: key("refund"), amount: eur(2_500) })
      expect(refunds().map((entry) => entry.amount)).toEqual([1_500, 2_500])
      expect((yield* service.lookup(auth.request)).map((record) => record.status)).toEqual(["refunded"])

      const uncaptured = yield* authorize(service)
      const error = expectTag(yield* failureOf(service.refund({ ...refund, idempotencyKey: key("refund"), providerRef: uncaptured.providerRef })), "PaymentRejected")
      expect(error.operation).toBe("refund")
    })
  )

  it.live("lookup finds every intent of a request id (and only those) with their state", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = `req-'quoted'\\-${randomUUID()}`
      const held = yield* authorize(service, { request, amount: 1_000 })
      const captured = yield* authorize(service, { request, amount: 2_000 })
      yield* service.capture({ idempotencyKey: key("capture"), providerRef: captured.providerRef, amount: eur(1_500) })
      const voided = yield* authorize(service, { request, amount: 3_000 })
      yield* service.void({ idempotencyKey: key("void"), providerRef: voided.providerRef })
      yield* failureOf(authorize(service, { request, amount: 4_000, token: "pm_card_chargeDeclined" }))
      yield* authorize(service) // another request

      // Oldest first by Stripe's `created` (whole seconds), so compare without the order.
      const records = [...(yield* service.lookup(request))].sort((a, b) => a.authorized.amount - b.authorized.amount)
      expect(records.map((record) => [record.status, record.authorized.amount, record.captured.amount])).toEqual([
        ["authorized", 1_000, 0],
        ["captured", 2_000, 1_500],
        ["voided", 3_000, 0],
        ["declined", 4_000, 0]
      ])
      expect(records[0]).toMatchObject({ providerRef: held.providerRef, requestId: request })
      expect(records.every((record) => record.authorized.currency === "EUR")).toBe(true)
      expect(yield* service.lookup(requestId())).toEqual([])
      const searches = requestsTo("/v1/payment_intents/search")
      expect(searches.every((entry) => entry.method === "GET")).toBe(true)
    })
  )

  it.live("lookup follows Search's pages", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      yield* Effect.forEach(Array.from({ length: 101 }), () => authorize(service, { request, amount: 100 }), { concurrency: 8 })
      const before = requestsTo("/v1/payment_intents/search").length
      const records = yield* service.lookup(request)
      expect(records).toHaveLength(101)
      expect(new Set(records.map((record) => record.providerRef)).size).toBe(101)
      expect(requestsTo("/v1/payment_intents/search").length - before).toBe(2)
    })
  )

  it.live("a 500 is PaymentUnavailable; the retry with the same key authorizes once", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const idempotencyKey = key("auth")
      fake.inject({ path: "/v1/payment_intents", method: "POST", fault: "500" })
      const error = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey })), "PaymentUnavailable")
      expect(error.operation).toBe("authorize")
      expect(error.detail).toContain("500")
      expect(intentsFor(request)).toHaveLength(0)
      const auth = yield* authorize(service, { request, idempotencyKey })
      expect(intentsFor(request).map((intent) => intent.id)).toEqual([auth.providerRef])
      const sent = fake.requests().filter((entry) => entry.idempotencyKey === idempotencyKey)
      expect(sent.map((entry) => entry.outcome)).toEqual([500, 200])
    })
  )

  it.live("an answer lost after the authorization committed: PaymentUnavailable, then the retry gets the same intent", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const idempotencyKey = key("auth")
      fake.inject({ path: "/v1/payment_intents", method: "POST", fault: "drop_after_commit" })
      const error = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey })), "PaymentUnavailable")
      expect(error.detail).toContain("StripeConnectionError")
      // Stripe has it already; the SDK did not retry on its own.
      expect(intentsFor(request)).toHaveLength(1)
      expect(fake.requests().filter((entry) => entry.idempotencyKey === idempotencyKey)).toHaveLength(1)

      const auth = yield* authorize(service, { request, idempotencyKey })
      expect(intentsFor(request).map((intent) => intent.id)).toEqual([auth.providerRef])
      const sent = fake.requests().filter((entry) => entry.idempotencyKey === idempotencyKey)
      expect(sent.map((entry) => [entry.outcome, entry.replayed])).toEqual([
        ["dropped", false],
        [200, true]
      ])
    })
  )

  it.live("a connection dropped before anything happened: PaymentUnavailable, and the retry authorizes once", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const idempotencyKey = key("auth")
      fake.inject({ path: "/v1/payment_intents", method: "POST", fault: "drop_before_commit" })
      expectTag(yield* failureOf(authorize(service, { request, idempotencyKey })), "PaymentUnavailable")
      expect(intentsFor(request)).toHaveLength(0)
      yield* authorize(service, { request, idempotencyKey })
      expect(intentsFor(request)).toHaveLength(1)
    })
  )

  it.live("a capture whose answer was lost is captured once; the retry is success", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const auth = yield* authorize(service, { amount: 5_000 })
      const capture = { idempotencyKey: key("capture"), providerRef: auth.providerRef, amount: eur(2_500) }
      fake.inject({ path: `/v1/payment_intents/${auth.providerRef}/capture`, fault: "drop_after_commit" })
      expectTag(yield* failureOf(service.capture(capture)), "PaymentUnavailable")
      expect(fake.intent(auth.providerRef)?.amount_received).toBe(2_500)
      yield* service.capture(capture)
      expect(fake.intent(auth.providerRef)?.amount_received).toBe(2_500)
    })
  )

  it.live("a 429 is PaymentUnavailable with Retry-After in milliseconds", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const idempotencyKey = key("auth")
      fake.inject({ path: "/v1/payment_intents", method: "POST", fault: "429", retryAfterSeconds: 2 })
      const error = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey })), "PaymentUnavailable")
      expect(error.retryAfterMillis).toBe(2_000)
      expect(intentsFor(request)).toHaveLength(0)
      yield* authorize(service, { request, idempotencyKey })
      expect(intentsFor(request)).toHaveLength(1)
    })
  )

  it.live("a timeout is PaymentUnavailable; a retry while Stripe still works on it is told so (409); later it gets the intent", () =>
    Effect.gen(function* () {
      const service = yield* gateway({ timeoutMillis: 300 })
      const request = requestId()
      const idempotencyKey = key("auth")
      fake.inject({ path: "/v1/payment_intents", method: "POST", fault: "delay", delayMillis: 900 })
      const timedOut = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey })), "PaymentUnavailable")
      expect(timedOut.detail).toContain("timeout")
      const busy = expectTag(yield* failureOf(authorize(service, { request, idempotencyKey })), "PaymentUnavailable")
      expect(busy.detail).toContain("409")
      yield* Effect.sleep("900 millis")
      const auth = yield* authorize(service, { request, idempotencyKey })
      expect(intentsFor(request).map((intent) => intent.id)).toEqual([auth.providerRef])
    })
  )

  it.live("concurrent authorizations under one key make one intent", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const idempotencyKey = key("auth")
      fake.inject({ path: "/v1/payment_intents", method: "POST", fault: "delay", delayMillis: 200 })
      const first = yield* Effect.forkChild(Effect.result(authorize(service, { request, idempotencyKey })))
      yield* Effect.sleep("50 millis")
      const second = yield* Effect.result(authorize(service, { request, idempotencyKey }))
      const firstResult = yield* Fiber.join(first)
      expect(firstResult._tag).toBe("Success")
      expect(second._tag === "Failure" && second.failure._tag).toBe("PaymentUnavailable")
      expect(intentsFor(request)).toHaveLength(1)
    })
  )

  it.live("with a search lag (as Stripe's), lookup does not see a fresh intent yet; retrieve-by-key replays still find it", () =>
    Effect.gen(function* () {
      const lagging = yield* Effect.acquireRelease(
        Effect.promise(() => FakeStripe.start({ secretKey, searchLagMillis: 400 })),
        (server) => Effect.promise(() => server.close())
      )
      const service = yield* gatewayOver(lagging.gatewayOptions(secretKey))
      const request = requestId()
      const idempotencyKey = key("auth")
      const first = yield* authorize(service, { request, idempotencyKey })
      expect(yield* service.lookup(request)).toEqual([])
      // The same key answers with the same intent at once: the pipeline never relies on search.
      expect((yield* authorize(service, { request, idempotencyKey })).providerRef).toBe(first.providerRef)
      yield* Effect.sleep(500)
      expect((yield* service.lookup(request)).map((record) => record.providerRef)).toEqual([first.providerRef])
    })
  )

  it.live("a wrong secret key is PaymentRejected, and no error repeats the key", () =>
    Effect.gen(function* () {
      const strict = yield* Effect.acquireRelease(
        Effect.promise(() => FakeStripe.start({ secretKey, revealInvalidKeys: true })),
        (server) => Effect.promise(() => server.close())
      )
      const wrongKey = `sk_test_wrong_${randomUUID()}`
      const service = yield* gatewayOver(strict.gatewayOptions(wrongKey))
      const error = expectTag(yield* failureOf(authorize(service)), "PaymentRejected")
      expect(error.detail).toContain("Invalid API Key provided")
      expect(error.detail).toContain("[redacted secret key]")
      for (const text of [error.message, error.detail, JSON.stringify(error), String(error)]) expect(text).not.toContain(wrongKey)
      const lookup = yield* Effect.flip(service.lookup(requestId()))
      seen.push(lookup)
      expect(lookup.detail).not.toContain(wrongKey)
      expect(strict.requests().length).toBe(2)
    })
  )

  // Wants: a request with wait_until authorizes again later, off-session, with its saved card.
  const want = (request: string, token: string, idempotencyKey: string, service: PaymentGatewayService) =>
    service.authorize({ idempotencyKey, requestId: request, amount: eur(2_000), paymentToken: token, saveForLater: { idempotencyKey: `${request}:customer` } })
  const customersOf = (request: string) => fake.customers().filter((customer) => customer.metadata["request_id"] === request)
  const customerPosts = () => requestsTo("/v1/customers").filter((entry) => entry.method === "POST").length

  it.live("a want's first authorization saves its card (one Customer, the PaymentMethod attached); the next round is off-session with it", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const card = fake.createPaymentMethod("pm_card_visa")
      const first = yield* want(request, card, key("auth-1"), service)
      const [customer, ...others] = customersOf(request)
      expect(others).toHaveLength(0)
      const firstIntent = fake.intent(first.providerRef)!
      expect(firstIntent).toMatchObject({ status: "requires_capture", customer: customer!.id, setup_future_usage: "off_session", payment_method: card })
      expect(fake.paymentMethod(card)?.customer).toBe(customer!.id)
      // Watching: the authorization is voided; the card stays attached.
      yield* service.void({ idempotencyKey: key("void"), providerRef: first.providerRef })
      expect(fake.paymentMethod(card)?.customer).toBe(customer!.id)

      const posts = customerPosts()
      const second = yield* want(request, card, key("auth-2"), service)
      const secondIntent = fake.intent(second.providerRef)!
      expect(secondIntent).toMatchObject({ status: "requires_capture", customer: customer!.id, setup_future_usage: null, payment_method: card, amount_capturable: 2_000 })
      expect(customerPosts()).toBe(posts)
      expect(customersOf(request)).toHaveLength(1)
      yield* service.capture({ idempotencyKey: key("capture"), providerRef: second.providerRef, amount: eur(1_450) })
      expect(fake.intent(second.providerRef)?.amount_received).toBe(1_450)
    })
  )

  it.live("a want's saving authorization replayed under its key after the card was saved gets the same intent (sent with the same parameters)", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const card = fake.createPaymentMethod("pm_card_visa")
      const saving = key("auth-1")
      const first = yield* want(request, card, saving, service)
      // The worker died before storing the answer: its retry repeats the call under the same key.
      const replay = yield* want(request, card, saving, service)
      expect(replay.providerRef).toBe(first.providerRef)
      const later = key("auth-2")
      const second = yield* want(request, card, later, service)
      expect((yield* want(request, card, later, service)).providerRef).toBe(second.providerRef)
      expect(intentsFor(request)).toHaveLength(2)
      expect(fake.requests().filter((entry) => entry.idempotencyKey === saving || entry.idempotencyKey === later).map((entry) => entry.replayed)).toEqual([
        false,
        true,
        false,
        true
      ])
    })
  )

  it.live("a crash between creating the Customer and keeping it: the retry finds the same Customer under its key", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const request = requestId()
      const card = fake.createPaymentMethod("pm_card_visa")
      fake.inject({ path: "/v1/customers", method: "POST", fault: "drop_after_commit" })
      const lost = expectTag(yield* failureOf(want(request, card, key("auth-1"), service)), "PaymentUnavailable")
      expect(lost.operation).toBe("authorize")
      expect(customersOf(request)).toHaveLength(1)
      expect(intentsFor(request)).toHaveLength(0)
      const auth = yield* want(request, card, key("auth-1"), service)
      expect(customersOf(request)).toHaveLength(1)
      expect(fake.intent(auth.providerRef)?.customer).toBe(customersOf(request)[0]!.id)
    })
  )

  it.live("off-session, a card declined since, or a bank asking for authentication, is PaymentDeclined with the reason; nothing is held", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      for (const [token, reason] of [
        ["pm_card_offSessionDeclined", "expired_card"],
        ["pm_card_offSessionAuthenticationRequired", "authentication_required"]
      ] as const) {
        const request = requestId()
        const card = fake.createPaymentMethod(token)
        const first = yield* want(request, card, key("auth-1"), service)
        yield* service.void({ idempotencyKey: key("void"), providerRef: first.providerRef })
        const declined = expectTag(yield* failureOf(want(request, card, key("auth-2"), service)), "PaymentDeclined")
        expect(declined.reason).toBe(reason)
        const [, later] = intentsFor(request)
        expect(later).toMatchObject({ status: "requires_payment_method", amount_capturable: 0, customer: customersOf(request)[0]!.id })
        expect(later?.last_payment_error?.code).toBe(reason === "expired_card" ? "expired_card" : "authentication_required")
      }
    })
  )

  it.live("without wait_until no Customer is made; that PaymentMethod is then used up, as Stripe refuses to reuse one never attached", () =>
    Effect.gen(function* () {
      const service = yield* gateway()
      const posts = customerPosts()
      const card = fake.createPaymentMethod("pm_card_visa")
      const once = yield* authorize(service, { token: card })
      expect(fake.intent(once.providerRef)).toMatchObject({ customer: null, setup_future_usage: null, payment_method: card })
      expect(customerPosts()).toBe(posts)
      expect(fake.paymentMethod(card)?.customer).toBeNull()
      yield* service.void({ idempotencyKey: key("void"), providerRef: once.providerRef })
      // What a want would meet without the attachment: a second authorization with the same card.
      const refused = expectTag(yield* failureOf(authorize(service, { request: once.request, token: card })), "PaymentRejected")
      expect(refused.detail).toContain("previously used with a PaymentIntent without Customer attachment")
      // Off-session with a Customer the card is not attached to is refused too.
      const stripe = new Stripe(secretKey, { host: fake.host, port: fake.port, protocol: "http", maxNetworkRetries: 0 })
      const customer = yield* Effect.promise(() => stripe.customers.create({}, { idempotencyKey: key("customer") }))
      const other = fake.createPaymentMethod("pm_card_visa")
      const error = yield* Effect.flip(
        Effect.tryPromise(() =>
          stripe.paymentIntents.create(
            {
              amount: 100,
              currency: "eur",
              confirm: true,
              off_session: true,
              customer: customer.id,
              payment_method: other,
              automatic_payment_methods: { enabled: true, allow_redirects: "never" }
            },
            { idempotencyKey: key("off-session") }
          )
        )
      )
      expect(String((error as { cause?: unknown }).cause)).toContain("The payment method must be attached to the customer")
    })
  )

  it("never sent the SDK's own idempotency keys, and no error carried the secret key", () => {
    const posts = fake.requests().filter((entry) => entry.method === "POST")
    expect(posts.length).toBeGreaterThan(20)
    for (const post of posts) {
      expect(post.idempotencyKey).toBeDefined()
      expect(post.idempotencyKey).not.toMatch(/^stripe-node-retry-/)
    }
    expect(seen.length).toBeGreaterThan(15)
    for (const error of seen) {
      for (const text of [error.message, JSON.stringify(error), String(error)]) expect(text).not.toContain(secretKey)
    }
    // The fake's records agree with themselves: nothing captured above its authorization.
    for (const intent of fake.intents()) {
      expect(intent.amount_received).toBeLessThanOrEqual(intent.amount)
      expect(intent.amount_capturable).toBeLessThanOrEqual(intent.amount)
    }
  })
})

describe("SavedCards.confirmation: how a want's authorization is sent", () => {
  const saved = { customer: "cus_1", payment_token: "pm_given", payment_method: "pm_attached", saved_by: "r:authorize:1" }
  it("saves the card when nothing is kept yet, or only the Customer is", () => {
    expect(SavedCards.confirmation(undefined, { paymentToken: "pm_given", idempotencyKey: "r:authorize:1" })).toEqual({ _tag: "Save", customer: undefined })
    const customerOnly = { ...saved, payment_token: null, payment_method: null, saved_by: null }
    expect(SavedCards.confirmation(customerOnly, { paymentToken: "pm_given", idempotencyKey: "r:authorize:1" })).toEqual({ _tag: "Save", customer: "cus_1" })
  })
  it("goes off-session with the attached PaymentMethod once saved, but replays the saving call as it was sent", () => {
    expect(SavedCards.confirmation(saved, { paymentToken: "pm_given", idempotencyKey: "r:authorize:2" })).toEqual({
      _tag: "OffSession",
      customer: "cus_1",
      paymentMethod: "pm_attached"
    })
    expect(SavedCards.confirmation(saved, { paymentToken: "pm_given", idempotencyKey: "r:authorize:1" })).toEqual({ _tag: "Save", customer: "cus_1" })
  })
  it("saves a new token again, with the same Customer", () => {
    expect(SavedCards.confirmation(saved, { paymentToken: "pm_new", idempotencyKey: "r:authorize:3" })).toEqual({ _tag: "Save", customer: "cus_1" })
  })
})
