import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted, Result, Schema, Tracer } from "effect"
import { defineAdapter, defineEffectAdapter, type AdapterContext, type EffectOperations, type Operations } from "../src/Adapter.js"
import {
  defaultLimits,
  Hold,
  Offer,
  Order,
  Unavailable,
  type CapabilitiesInput,
  type OrderInput,
  type PurchaseRequest,
  type QuoteResult,
  type QuoteResultInput
} from "../src/Contract.js"
import type { Isbn13 } from "../src/Isbn.js"
import * as Money from "../src/Money.js"
import * as SellerClient from "../src/SellerClient.js"
import { encode, MalformedSellerResponse, OutcomeUnknown, SellerRejected, SellerUnavailable, type SellerError } from "../src/SellerError.js"
import { generateIsbns } from "../src/testing/Catalog.js"

const isbns = generateIsbns({ size: 6, seed: 99 })
const [a, b, c, d, e, f] = isbns as [Isbn13, Isbn13, Isbn13, Isbn13, Isbn13, Isbn13]

const Config = Schema.Struct({
  currency: Money.CurrencyCode,
  region: Schema.Literals(["eu", "us"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("eu" as const)))
})
type Config = typeof Config.Type

const capabilities: CapabilitiesInput = { batchQuotes: null, holds: false, orderLookup: false, pricePush: false }
const expiresAt = "2099-01-01T00:00:00.000Z"

const offer = (isbn: string, overrides: Partial<Record<string, unknown>> = {}): QuoteResultInput =>
  ({
    available: true,
    isbn,
    quoteId: `q-${isbn}`,
    price: { amount: 1299, currency: "EUR" },
    shipping: { amount: 350, currency: "EUR" },
    condition: "good",
    quantity: 2,
    expiresAt,
    ...overrides
  }) as QuoteResultInput

const order = (isbn: string, overrides: Partial<OrderInput> = {}): OrderInput => ({
  orderId: `o-${isbn}`,
  isbn,
  status: "confirmed",
  price: { amount: 1299, currency: "EUR" },
  shipping: { amount: 350, currency: "EUR" },
  ...overrides
})

const offerOf = (isbn: Isbn13) => Schema.decodeUnknownSync(Offer)(offer(isbn))

const purchaseRequest = (isbn: Isbn13, idempotencyKey = "req-1:seller-1"): PurchaseRequest => ({
  isbn,
  source: { _tag: "Offer", offer: offerOf(isbn) },
  idempotencyKey,
  maxTotal: Money.make(2000, "EUR"),
  buyerReference: "req-1"
})

/** Answers every ISBN asked for with an offer. */
const offersFor = (request: { readonly isbns: ReadonlyArray<string> }) => request.isbns.map((isbn) => offer(isbn))

interface PromiseSpec {
  readonly operations?: Partial<Operations>
  readonly capabilities?: CapabilitiesInput | ((config: Config) => CapabilitiesInput)
  readonly credentials?: ReadonlyArray<string>
  readonly limits?: Parameters<typeof defineAdapter>[0]["limits"]
  readonly onCreate?: (context: AdapterContext<Config>) => void
}

const promiseAdapter = (spec: PromiseSpec = {}) =>
  defineAdapter({
    kind: "canned",
    version: "2.3.4",
    config: Config,
    capabilities: spec.capabilities ?? capabilities,
    ...(spec.credentials === undefined ? {} : { credentials: spec.credentials }),
    ...(spec.limits === undefined ? {} : { limits: spec.limits }),
    create: (context) => {
      spec.onCreate?.(context)
      return {
        quote: async (request) => offersFor(request),
        purchase: async (request) => order(request.isbn),
        ...spec.operations
      }
    }
  })

const effectAdapter = (operations: Partial<EffectOperations>, caps: CapabilitiesInput = capabilities) =>
  defineEffectAdapter({
    kind: "canned-effect",
    version: "1.0.0",
    config: Config,
    capabilities: caps,
    make: () =>
      Effect.succeed({
        quote: (request) => Effect.succeed(offersFor(request)),
        purchase: (request) => Effect.succeed(order(request.isbn)),
        ...operations
      })
  })

type MakeOptions = Partial<SellerClient.MakeOptions>
const makeClient = (adapter: ReturnType<typeof promiseAdapter>, options: MakeOptions = {}) =>
  SellerClient.make(adapter, { sellerId: "seller-1", config: { currency: "EUR" }, ...options })

/** The typed failure of an effect that must fail (a defect or a success fails the test). */
const failure = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) return yield* Effect.die(new Error(`expected a failure, got ${JSON.stringify(exit.value)}`))
    const reason = exit.cause.reasons.find(Cause.isFailReason)
    if (reason === undefined) return yield* Effect.die(new Error(`expected a typed failure, got ${String(exit.cause)}`))
    return reason.error
  })

/**
 * The same error as thrown: same class and data. (Effect hands failures back wrapped to carry
 * the span they failed in, so identity is not kept.)
 */
const expectSameError = (actual: unknown, expected: SellerError) => {
  expect(actual).toBeInstanceOf(expected.constructor)
  expect(encode(actual as SellerError)).toEqual(encode(expected))
}

/** Rejects when the signal aborts; never settles otherwise. */
const untilAborted = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))

describe("SellerClient.make", () => {
  it.effect("describes the seller: kind, version, capabilities from the config and merged limits", () =>
    Effect.gen(function* () {
      const adapter = promiseAdapter({
        capabilities: (config) => ({ ...capabilities, batchQuotes: config.region === "us" ? { maxBatchSize: 10 } : null }),
        limits: { requestsPerSecond: 5, burst: 7, timeoutMillis: 900 }
      })
      const client = yield* makeClient(adapter, { config: { currency: "EUR", region: "us" }, limits: { burst: 9, timeoutMillis: 1234 } })
      expect(client.sellerId).toBe("seller-1")
      expect(client.kind).toBe("canned")
      expect(client.adapterVersion).toBe("2.3.4")
      expect(client.capabilities.batchQuotes).toEqual({ maxBatchSize: 10 })
      // default < adapter default < per-seller override
      expect(client.limits).toMatchObject({
        requestsPerSecond: 5,
        burst: 9,
        maxConcurrency: defaultLimits.maxConcurrency,
        timeoutMillis: 1234
      })
      const plain = yield* makeClient(promiseAdapter())
      expect(plain.limits).toEqual(defaultLimits)
      expect(plain.capabilities.batchQuotes).toBeNull()
    })
  )

  it.effect("refuses a config that does not fit the adapter, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* failure(makeClient(promiseAdapter(), { config: { currency: "EURO" } }))
      expect(error).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(error).toMatchObject({ sellerId: "seller-1", kind: "canned" })
      expect(error.detail).toMatch(/^config: /)
      expect(error.detail).toContain("currency")
      expect(error.message).toContain('seller seller-1 cannot use adapter "canned"')
      const missing = yield* failure(makeClient(promiseAdapter(), { config: { region: "eu" } }))
      expect(missing.detail).toContain("currency")
    })
  )

  it.effect("refuses missing credentials, listing them, and hands the rest over redacted", () =>
    Effect.gen(function* () {
      let seen: AdapterContext<Config> | undefined
      const adapter = promiseAdapter({ credentials: ["apiKey", "secret"], onCreate: (context) => (seen = context) })
      const error = yield* failure(makeClient(adapter, { credentials: { other: "x" } }))
      expect(error).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(error.detail).toBe("missing credentials: apiKey, secret")
      const partly = yield* failure(makeClient(adapter, { credentials: { apiKey: "k" } }))
      expect(partly.detail).toBe("missing credentials: secret")
      expect(seen).toBeUndefined()

      yield* makeClient(adapter, { credentials: { apiKey: "plain-key", secret: Redacted.make("already-redacted") } })
      expect(seen?.credentials["apiKey"] !== undefined && Redacted.isRedacted(seen.credentials["apiKey"])).toBe(true)
      expect(Redacted.value(seen!.credentials["apiKey"]!)).toBe("plain-key")
      expect(Redacted.value(seen!.credentials["secret"]!)).toBe("already-redacted")
      expect(String(seen!.credentials["apiKey"])).not.toContain("plain-key")
      expect(seen!.config).toEqual({ currency: "EUR", region: "eu" })
    })
  )

  it.effect("refuses capabilities promising operations the adapter lacks, or out of range", () =>
    Effect.gen(function* () {
      const holds = yield* failure(makeClient(promiseAdapter({ capabilities: { ...capabilities, holds: true } })))
      expect(holds).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(holds.detail).toMatch(/declares holds but has no hold operation/)
      const lookup = yield* failure(makeClient(promiseAdapter({ capabilities: { ...capabilities, orderLookup: true } })))
      expect(lookup.detail).toMatch(/order lookup but has no lookupOrder/)
      const batch = yield* failure(makeClient(promiseAdapter({ capabilities: { ...capabilities, batchQuotes: { maxBatchSize: 1 } } })))
      expect(batch.detail).toMatch(/^capabilities: /)
      const withHold = yield* makeClient(
        promiseAdapter({ capabilities: { ...capabilities, holds: true }, operations: { hold: async () => ({ holdId: "h", isbn: a, price: { amount: 1, currency: "EUR" }, shipping: { amount: 0, currency: "EUR" }, expiresAt }) } })
      )
      expect(withHold.capabilities.holds).toBe(true)
    })
  )

  it.effect("refuses limits out of range", () =>
    Effect.gen(function* () {
      const error = yield* failure(makeClient(promiseAdapter(), { limits: { timeoutMillis: 0 } }))
      expect(error).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(error.detail).toMatch(/^limits: /)
      expect(error.detail).toContain("timeoutMillis")
    })
  )

  it.effect("turns a create() that throws or rejects into InvalidSellerConfig", () =>
    Effect.gen(function* () {
      const throwing = defineAdapter({
        kind: "broken",
        version: "1.0.0",
        config: Config,
        capabilities,
        create: () => {
          throw new TypeError("baseUrl is required")
        }
      })
      const error = yield* failure(makeClient(throwing))
      expect(error).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(error.detail).toBe("create() failed: TypeError: baseUrl is required")
      const rejecting = defineAdapter({ kind: "broken", version: "1.0.0", config: Config, capabilities, create: () => Promise.reject(new Error("no")) })
      expect((yield* failure(makeClient(rejecting))).detail).toBe("create() failed: Error: no")
    })
  )
})

describe("SellerClient quotes", () => {
  it.effect("answers in request order, decoded, with silence as not carried", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          capabilities: { ...capabilities, batchQuotes: { maxBatchSize: 10 } },
          operations: { quote: async () => [{ available: false, isbn: c, reason: "out_of_stock" }, offer(a)] }
        })
      )
      const answers = yield* client.quote([a, b, c])
      expect(answers.map((answer) => answer.isbn)).toEqual([a, b, c])
      expect(answers[0]).toBeInstanceOf(Offer)
      const first = answers[0] as Offer
      expect(first.expiresAt).toEqual(new Date(expiresAt))
      expect(first.total).toEqual(Money.make(1649, "EUR"))
      expect(answers[1]).toEqual(new Unavailable({ available: false, isbn: b, reason: "not_carried" }))
      expect(answers[2]).toEqual(new Unavailable({ available: false, isbn: c, reason: "out_of_stock" }))
    })
  )

  it.effect("refuses answers for ISBNs that were not asked for, or answered twice", () =>
    Effect.gen(function* () {
      const batch = { ...capabilities, batchQuotes: { maxBatchSize: 10 } }
      const extra = yield* makeClient(promiseAdapter({ capabilities: batch, operations: { quote: async () => [offer(a), offer(d)] } }))
      const unasked = yield* failure(extra.quote([a, b]))
      expect(unasked).toBeInstanceOf(MalformedSellerResponse)
      expect(unasked).toMatchObject({ operation: "quote" })
      expect((unasked as MalformedSellerResponse).detail).toBe(`answer for ${d}, which was not asked for`)

      const twice = yield* makeClient(promiseAdapter({ capabilities: batch, operations: { quote: async () => [offer(a), offer(a, { quoteId: "other" })] } }))
      const duplicate = yield* failure(twice.quote([a, b]))
      expect(duplicate).toBeInstanceOf(MalformedSellerResponse)
      expect((duplicate as MalformedSellerResponse).detail).toBe(`answer for ${a}, which was answered twice`)
    })
  )

  it.effect("refuses an offer whose price and shipping are in different currencies", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(promiseAdapter({ operations: { quote: async () => [offer(a, { shipping: { amount: 350, currency: "USD" } })] } }))
      const error = yield* failure(client.quote([a]))
      expect(error).toBeInstanceOf(MalformedSellerResponse)
      expect((error as MalformedSellerResponse).detail).toContain("mixes EUR and USD")
    })
  )

  it.effect("refuses payloads outside the contract, naming the field", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<[QuoteResultInput | unknown, string]> = [
        [offer(a, { price: { amount: 12.99, currency: "EUR" } }), "amount"],
        [offer(a, { quoteId: undefined }), "quoteId"],
        [offer(a, { expiresAt: "tomorrow-ish" }), "expiresAt"],
        [offer(a, { condition: "mint" }), "condition"],
        [offer(a, { isbn: "9780306406158" }), "isbn"]
      ]
      for (const [answer, field] of cases) {
        const client = yield* makeClient(promiseAdapter({ operations: { quote: async () => [answer as QuoteResultInput] } }))
        const error = yield* failure(client.quote([a]))
        expect(error).toBeInstanceOf(MalformedSellerResponse)
        expect((error as MalformedSellerResponse).detail).toContain(field)
      }
      const notArray = yield* makeClient(promiseAdapter({ operations: { quote: async () => ({ quotes: [] }) as never } }))
      expect(yield* failure(notArray.quote([a]))).toBeInstanceOf(MalformedSellerResponse)
    })
  )

  it.effect("turns a thrown plain Error into a non-retryable SellerUnavailable(adapter_error)", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            quote: async () => {
              throw new RangeError("index out of range")
            }
          }
        })
      )
      const error = yield* failure(client.quote([a]))
      expect(error).toBeInstanceOf(SellerUnavailable)
      expect(error).toMatchObject({ operation: "quote", reason: "adapter_error", detail: "RangeError: index out of range" })
      expect(error.retryable).toBe(false)
    })
  )

  it.effect("catches a synchronous throw from an operation too", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            quote: () => {
              throw new Error("sync")
            }
          }
        })
      )
      const error = yield* failure(client.quote([a]))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "adapter_error", detail: "Error: sync" })
    })
  )

  it.effect("passes thrown seller errors through and decodes serialised ones into their class", () =>
    Effect.gen(function* () {
      const thrown = new SellerUnavailable({ operation: "quote", reason: "rate_limited", detail: "429", status: 429, retryAfterMillis: 2000 })
      const client = yield* makeClient(promiseAdapter({ operations: { quote: () => Promise.reject(thrown) } }))
      expectSameError(yield* failure(client.quote([a])), thrown)

      const serialised = yield* makeClient(
        promiseAdapter({
          operations: { quote: () => Promise.reject({ _tag: "SellerRejected", operation: "quote", reason: "out_of_stock", detail: "x" }) }
        })
      )
      const error = yield* failure(serialised.quote([a]))
      expect(error).toBeInstanceOf(SellerRejected)
      expect(error).toMatchObject({ reason: "out_of_stock", detail: "x" })
      expect(error.retryable).toBe(false)

      // A tag with a body that does not decode is just something thrown.
      const bogus = yield* makeClient(
        promiseAdapter({ operations: { quote: () => Promise.reject({ _tag: "SellerRejected", reason: "bored" }) } })
      )
      expect(yield* failure(bogus.quote([a]))).toMatchObject({ _tag: "SellerUnavailable", reason: "adapter_error" })
    })
  )

  it.effect("never reports OutcomeUnknown for anything but a purchase", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          operations: { quote: () => Promise.reject(new OutcomeUnknown({ operation: "purchase", idempotencyKey: "k", detail: "lost" })) }
        })
      )
      const error = yield* failure(client.quote([a]))
      expect(error).toBeInstanceOf(SellerUnavailable)
      expect(error).toMatchObject({ operation: "quote", reason: "transport", detail: "lost", mayHaveBeenProcessed: true })
    })
  )

  it.effect("works the same for Effect adapters: failures pass through, defects become adapter_error", () =>
    Effect.gen(function* () {
      const rejected = new SellerRejected({ operation: "quote", reason: "auth_failed", detail: "401" })
      const failing = yield* makeClient(effectAdapter({ quote: () => Effect.fail(rejected) }))
      expectSameError(yield* failure(failing.quote([a])), rejected)

      const dying = yield* makeClient(effectAdapter({ quote: () => Effect.die(new TypeError("undefined is not a function")) }))
      const error = yield* failure(dying.quote([a]))
      expect(error).toBeInstanceOf(SellerUnavailable)
      expect(error).toMatchObject({ reason: "adapter_error", detail: "TypeError: undefined is not a function" })
      expect(error.retryable).toBe(false)

      const fine = yield* makeClient(effectAdapter({}))
      const [answer] = yield* fine.quote([b])
      expect(answer).toBeInstanceOf(Offer)
      expect(fine.kind).toBe("canned-effect")
    })
  )

  it.effect("splits a quote into batches of maxBatchSize, one after the other, and keeps request order", () =>
    Effect.gen(function* () {
      const calls: Array<ReadonlyArray<string>> = []
      const client = yield* makeClient(
        promiseAdapter({
          capabilities: { ...capabilities, batchQuotes: { maxBatchSize: 2 } },
          operations: {
            quote: async (request) => {
              calls.push(request.isbns)
              return offersFor(request).reverse()
            }
          }
        })
      )
      const answers = yield* client.quote([e, a, d, b, c])
      expect(calls).toEqual([[e, a], [d, b], [c]])
      expect(answers.map((answer) => answer.isbn)).toEqual([e, a, d, b, c])
    })
  )

  it.effect("asks one ISBN per call without batch quotes", () =>
    Effect.gen(function* () {
      const calls: Array<ReadonlyArray<string>> = []
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            quote: async (request) => {
              calls.push(request.isbns)
              return offersFor(request)
            }
          }
        })
      )
      const answers = yield* client.quote([a, b, c])
      expect(calls).toEqual([[a], [b], [c]])
      expect(answers).toHaveLength(3)
    })
  )

  it.effect("asks for each ISBN once when the request repeats one", () =>
    Effect.gen(function* () {
      const calls: Array<ReadonlyArray<string>> = []
      const client = yield* makeClient(
        promiseAdapter({
          capabilities: { ...capabilities, batchQuotes: { maxBatchSize: 10 } },
          operations: {
            quote: async (request) => {
              calls.push(request.isbns)
              return offersFor(request)
            }
          }
        })
      )
      const answers = yield* client.quote([a, b, a, f, b])
      expect(calls).toEqual([[a, b, f]])
      expect(answers.map((answer) => answer.isbn)).toEqual([a, b, f])
    })
  )
})

describe("SellerClient purchases", () => {
  it.effect("returns the decoded order", () =>
    Effect.gen(function* () {
      let received: PurchaseRequest | undefined
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            purchase: async (request) => {
              received = request
              return order(request.isbn)
            }
          }
        })
      )
      const request = purchaseRequest(a)
      const placed = yield* client.purchase(request)
      expect(received).toBe(request)
      expect(placed).toBeInstanceOf(Order)
      expect(placed).toMatchObject({ orderId: `o-${a}`, isbn: a, status: "confirmed" })
      expect(placed.total).toEqual(Money.make(1649, "EUR"))
    })
  )

  it.effect("turns a thrown plain Error into OutcomeUnknown carrying the request's idempotency key", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            purchase: async () => {
              throw new Error("socket hang up")
            }
          }
        })
      )
      const error = yield* failure(client.purchase(purchaseRequest(a, "req-42:seller-1")))
      expect(error).toBeInstanceOf(OutcomeUnknown)
      expect(error).toMatchObject({ operation: "purchase", idempotencyKey: "req-42:seller-1" })
      expect((error as OutcomeUnknown).detail).toContain("socket hang up")
      expect(error.retryable).toBe(true)
    })
  )

  it.effect("treats an order for another ISBN, or a malformed order, as OutcomeUnknown", () =>
    Effect.gen(function* () {
      const wrong = yield* makeClient(promiseAdapter({ operations: { purchase: async () => order(b) } }))
      const error = yield* failure(wrong.purchase(purchaseRequest(a, "k-wrong")))
      expect(error).toBeInstanceOf(OutcomeUnknown)
      expect(error).toMatchObject({ idempotencyKey: "k-wrong" })
      expect((error as OutcomeUnknown).detail).toContain(b)

      const mixed = yield* makeClient(promiseAdapter({ operations: { purchase: async (request) => order(request.isbn, { shipping: { amount: 1, currency: "GBP" } }) } }))
      expect(yield* failure(mixed.purchase(purchaseRequest(a, "k-mixed")))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "k-mixed" })

      const malformed = yield* makeClient(promiseAdapter({ operations: { purchase: async (request) => ({ ...order(request.isbn), status: "pending" }) as never } }))
      expect(yield* failure(malformed.purchase(purchaseRequest(a, "k-bad")))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "k-bad" })
    })
  )

  it.effect("keeps clear answers as they are: a rejection, or a call that never left", () =>
    Effect.gen(function* () {
      const rejected = new SellerRejected({ operation: "purchase", reason: "price_changed", detail: "up", currentPrice: Money.make(1500, "EUR") })
      const rejecting = yield* makeClient(promiseAdapter({ operations: { purchase: () => Promise.reject(rejected) } }))
      expectSameError(yield* failure(rejecting.purchase(purchaseRequest(a))), rejected)

      const refused = new SellerUnavailable({ operation: "purchase", reason: "transport", detail: "ECONNREFUSED", mayHaveBeenProcessed: false })
      const down = yield* makeClient(promiseAdapter({ operations: { purchase: () => Promise.reject(refused) } }))
      expectSameError(yield* failure(down.purchase(purchaseRequest(a))), refused)

      const processed = new SellerUnavailable({ operation: "purchase", reason: "server_error", detail: "502", status: 502, mayHaveBeenProcessed: true })
      const flaky = yield* makeClient(promiseAdapter({ operations: { purchase: () => Promise.reject(processed) } }))
      expect(yield* failure(flaky.purchase(purchaseRequest(a, "k-502")))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "k-502" })
    })
  )

  it.effect("rewrites an adapter's OutcomeUnknown to the request's idempotency key", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          operations: { purchase: () => Promise.reject(new OutcomeUnknown({ operation: "purchase", idempotencyKey: "stale", detail: "lost" })) }
        })
      )
      const error = yield* failure(client.purchase(purchaseRequest(a, "fresh")))
      expect(error).toBeInstanceOf(OutcomeUnknown)
      expect(error).toMatchObject({ idempotencyKey: "fresh", detail: "lost" })
    })
  )

  it.effect("turns a dying Effect purchase into OutcomeUnknown", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(effectAdapter({ purchase: () => Effect.die(new Error("boom")) }))
      expect(yield* failure(client.purchase(purchaseRequest(a, "k-die")))).toMatchObject({ _tag: "OutcomeUnknown", idempotencyKey: "k-die" })
    })
  )
})

describe("SellerClient holds and order lookup", () => {
  const holdInput = (isbn: string, overrides: Record<string, unknown> = {}) => ({
    holdId: `h-${isbn}`,
    isbn,
    price: { amount: 1399, currency: "EUR" },
    shipping: { amount: 350, currency: "EUR" },
    expiresAt,
    ...overrides
  })

  it.effect("holds an offer and checks the hold is for it", () =>
    Effect.gen(function* () {
      const quantities: Array<number> = []
      const caps = { ...capabilities, holds: true }
      const client = yield* makeClient(
        promiseAdapter({
          capabilities: caps,
          operations: {
            hold: async (request) => {
              quantities.push(request.quantity)
              return holdInput(request.offer.isbn)
            }
          }
        })
      )
      const hold = yield* client.hold(offerOf(a))
      expect(hold).toBeInstanceOf(Hold)
      expect(hold.total).toEqual(Money.make(1749, "EUR"))
      yield* client.hold(offerOf(a), 3)
      expect(quantities).toEqual([1, 3])

      const wrong = yield* makeClient(promiseAdapter({ capabilities: caps, operations: { hold: async () => holdInput(b) } }))
      expect(yield* failure(wrong.hold(offerOf(a)))).toMatchObject({ _tag: "MalformedSellerResponse", operation: "hold" })
      const mixed = yield* makeClient(
        promiseAdapter({ capabilities: caps, operations: { hold: async (request) => holdInput(request.offer.isbn, { shipping: { amount: 0, currency: "USD" } }) } })
      )
      expect(yield* failure(mixed.hold(offerOf(a)))).toBeInstanceOf(MalformedSellerResponse)
    })
  )

  it.effect("dies on hold or lookup without the capability, and releases without a call", () =>
    Effect.gen(function* () {
      let released = 0
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            release: async () => {
              released += 1
            }
          }
        })
      )
      const holdExit = yield* Effect.exit(client.hold(offerOf(a)))
      expect(Exit.isFailure(holdExit) && Cause.hasDies(holdExit.cause)).toBe(true)
      const lookupExit = yield* Effect.exit(client.lookupOrder({ idempotencyKey: "k", isbn: a }))
      expect(Exit.isFailure(lookupExit) && Cause.hasDies(lookupExit.cause)).toBe(true)
      yield* client.release(Schema.decodeUnknownSync(Hold)(holdInput(a)))
      expect(released).toBe(0)
    })
  )

  it.effect("releases through the adapter when the seller holds", () =>
    Effect.gen(function* () {
      const released: Array<string> = []
      const client = yield* makeClient(
        promiseAdapter({
          capabilities: { ...capabilities, holds: true },
          operations: {
            hold: async (request) => holdInput(request.offer.isbn),
            release: async (request) => {
              released.push(request.hold.holdId)
            }
          }
        })
      )
      yield* client.release(yield* client.hold(offerOf(a)))
      expect(released).toEqual([`h-${a}`])
    })
  )

  it.effect("looks up orders: null is none, an order is some", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({
          capabilities: { ...capabilities, orderLookup: true },
          operations: { lookupOrder: async (request) => (request.idempotencyKey === "known" ? order(request.isbn) : null) }
        })
      )
      expect(yield* client.lookupOrder({ idempotencyKey: "unknown", isbn: a })).toEqual(Option.none())
      const found = yield* client.lookupOrder({ idempotencyKey: "known", isbn: a })
      expect(Option.map(found, (placed) => placed.orderId)).toEqual(Option.some(`o-${a}`))
      expect(Option.getOrNull(found)).toBeInstanceOf(Order)
    })
  )
})

describe("SellerClient timeouts (real time)", () => {
  it.live("times out a quote that never answers with SellerUnavailable(timeout), aborting the adapter's signal", () =>
    Effect.gen(function* () {
      const signals: Array<AbortSignal> = []
      const client = yield* makeClient(
        promiseAdapter({
          limits: { timeoutMillis: 10_000 },
          operations: {
            quote: (_request, { signal }) => {
              signals.push(signal)
              return new Promise<never>(() => {})
            }
          }
        }),
        { limits: { timeoutMillis: 50 } }
      )
      expect(client.limits.timeoutMillis).toBe(50)
      const error = yield* failure(client.quote([a]))
      expect(error).toBeInstanceOf(SellerUnavailable)
      expect(error).toMatchObject({ operation: "quote", reason: "timeout", detail: "no answer within 50 ms" })
      expect(error.retryable).toBe(true)
      expect(signals).toHaveLength(1)
      expect(signals[0]!.aborted).toBe(true)
    })
  )

  it.live("times out a purchase that never answers as OutcomeUnknown", () =>
    Effect.gen(function* () {
      const signals: Array<AbortSignal> = []
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            purchase: (_request, { signal }) => {
              signals.push(signal)
              return untilAborted(signal)
            }
          }
        }),
        { limits: { timeoutMillis: 50 } }
      )
      const error = yield* failure(client.purchase(purchaseRequest(a, "k-slow")))
      expect(error).toBeInstanceOf(OutcomeUnknown)
      expect(error).toMatchObject({ idempotencyKey: "k-slow" })
      expect((error as OutcomeUnknown).detail).toContain("50 ms")
      expect(signals[0]!.aborted).toBe(true)
    })
  )

  it.live("times out an Effect adapter by interrupting it", () =>
    Effect.gen(function* () {
      let interrupted = false
      const client = yield* SellerClient.make(
        effectAdapter({ quote: () => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))) }),
        { sellerId: "seller-2", config: { currency: "EUR" }, limits: { timeoutMillis: 50 } }
      )
      const error = yield* failure(client.quote([a]))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "timeout" })
      expect(interrupted).toBe(true)
    })
  )

  it.live("uses the adapter's default timeout when the seller sets none", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({ limits: { timeoutMillis: 40 }, operations: { quote: (_request, { signal }) => untilAborted(signal) } })
      )
      const error = yield* failure(client.quote([a]))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "timeout", detail: "no answer within 40 ms" })
    })
  )

  it.live("lets an answer inside the timeout through, and does not abort its signal", () =>
    Effect.gen(function* () {
      const signals: Array<AbortSignal> = []
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            quote: async (request, { signal }) => {
              signals.push(signal)
              await new Promise((resolve) => setTimeout(resolve, 5))
              return offersFor(request)
            }
          }
        }),
        { limits: { timeoutMillis: 5_000 } }
      )
      const [answer] = yield* client.quote([a])
      expect(answer).toBeInstanceOf(Offer)
      expect(signals[0]!.aborted).toBe(false)
    })
  )
})

describe("SellerClient guards added after the second adapter", () => {
  it.effect("refuses an order lookup that answers for another ISBN", () =>
    Effect.gen(function* () {
      const client = yield* makeClient(
        promiseAdapter({ capabilities: { ...capabilities, orderLookup: true }, operations: { lookupOrder: async () => order(b) } })
      )
      expect(yield* failure(client.lookupOrder({ idempotencyKey: "k", isbn: a }))).toMatchObject({
        _tag: "MalformedSellerResponse",
        operation: "lookupOrder"
      })
    })
  )

  it.effect("turns an Effect adapter whose make() dies into InvalidSellerConfig", () =>
    Effect.gen(function* () {
      const broken = defineEffectAdapter({
        kind: "broken-effect",
        version: "1.0.0",
        config: Config,
        capabilities,
        make: () => Effect.die(new Error("no base URL"))
      })
      const error = yield* failure(SellerClient.make(broken, { sellerId: "s", config: { currency: "EUR" } }))
      expect(error).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(error.message).toMatch(/make\(\) failed: .*no base URL/)
    })
  )
})

describe("SellerClient spans", () => {
  it.effect("a span per call with the seller's attributes when tracing is on, none when it is off", () =>
    Effect.gen(function* () {
      const started: Array<{ readonly name: string; readonly attributes: Record<string, unknown> }> = []
      const native = yield* Effect.tracer
      const recording = Tracer.make({
        span(options) {
          const span = native.span(options)
          const attributes: Record<string, unknown> = {}
          started.push({ name: options.name, attributes })
          return Object.assign(Object.create(span), {
            attribute: (key: string, value: unknown) => {
              attributes[key] = value
              span.attribute(key, value)
            }
          })
        }
      })
      const client = yield* makeClient(promiseAdapter())
      yield* client.quote([a]).pipe(Effect.withTracer(recording))
      yield* client.quote([a, b]).pipe(Effect.withTracer(recording))
      expect(started).toEqual([
        { name: "SellerClient.quote", attributes: { "seller.id": "seller-1", "seller.kind": "canned", "quote.isbns": 1 } },
        { name: "SellerClient.quote", attributes: { "seller.id": "seller-1", "seller.kind": "canned", "quote.isbns": 2 } }
      ])
      const answers = yield* client.quote([a]).pipe(Effect.withTracer(recording), Effect.withTracerEnabled(false))
      yield* client.purchase(purchaseRequest(a)).pipe(Effect.withTracer(recording), Effect.withTracerEnabled(false))
      expect(answers).toHaveLength(1)
      expect(started).toHaveLength(2)
    })
  )

  it.effect("with tracing off, the adapter runs under no span of the client's (not even a no-op one)", () =>
    Effect.gen(function* () {
      const seen: Array<string | undefined> = []
      const adapter = effectAdapter({
        quote: (request) =>
          Effect.map(Effect.option(Effect.currentSpan), (span) => {
            seen.push(Option.getOrUndefined(span)?.name)
            return offersFor(request)
          })
      })
      const client = yield* SellerClient.make(adapter, { sellerId: "seller-1", config: { currency: "EUR" } })
      yield* client.quote([a]).pipe(Effect.withTracerEnabled(false))
      yield* client.quote([a])
      expect(seen).toEqual([undefined, "SellerClient.quote"])
    })
  )
})

describe("SellerClient.startQuote (the callback quote)", () => {
  /** Starts a callback quote and waits for its one answer (a second call of `done` fails the test). */
  const started = (client: SellerClient.SellerClient, isbn: Isbn13) =>
    Effect.callback<Result.Result<ReadonlyArray<QuoteResult>, SellerError>>((resume) => {
      let calls = 0
      client.startQuote!(isbn, (result) => {
        calls += 1
        if (calls > 1) throw new Error("done called twice")
        resume(Effect.succeed(result))
      })
    })

  it.effect("answers what quote answers: the checked offer, the seller's error, the contract breach", () =>
    Effect.gen(function* () {
      const fine = yield* makeClient(promiseAdapter())
      const answer = yield* started(fine, a)
      expect(Result.isSuccess(answer)).toBe(true)
      const [viaCallback] = Result.getOrThrow(answer)
      const [viaEffect] = yield* fine.quote([a])
      expect(viaCallback).toBeInstanceOf(Offer)
      expect(viaCallback).toEqual(viaEffect)

      const rejected = new SellerRejected({ operation: "quote", reason: "auth_failed", status: 401, detail: "bad key" })
      const refusing = yield* makeClient(promiseAdapter({ operations: { quote: () => Promise.reject(rejected) } }))
      expectSameError(Result.merge(yield* started(refusing, a)), rejected)

      const malformed = yield* makeClient(promiseAdapter({ operations: { quote: async (request) => [offer(request.isbns[0]!, { price: { amount: -1, currency: "EUR" } })] } }))
      const breach = Result.merge(yield* started(malformed, a))
      expect(breach).toBeInstanceOf(MalformedSellerResponse)
      expect(breach).toEqual(yield* failure(malformed.quote([a])))

      const unasked = yield* makeClient(promiseAdapter({ operations: { quote: async () => [offer(b)] } }))
      expect(Result.merge(yield* started(unasked, a))).toMatchObject({ _tag: "MalformedSellerResponse", detail: `answer for ${b}, which was not asked for` })
    })
  )

  it.live("times out like quote, aborting the adapter's signal; aborted by the caller, it stops the adapter and never answers", () =>
    Effect.gen(function* () {
      const signals: Array<AbortSignal> = []
      const client = yield* makeClient(
        promiseAdapter({
          operations: {
            quote: (_request, { signal }) => {
              signals.push(signal)
              return untilAborted(signal)
            }
          }
        }),
        { limits: { timeoutMillis: 50 } }
      )
      const timedOut = Result.merge(yield* started(client, a))
      expect(timedOut).toMatchObject({ _tag: "SellerUnavailable", reason: "timeout", detail: "no answer within 50 ms" })
      expect(signals[0]!.aborted).toBe(true)

      let answered = 0
      const abort = client.startQuote!(a, () => {
        answered += 1
      })
      yield* Effect.sleep("10 millis")
      abort()
      expect(signals[1]!.aborted).toBe(true)
      // Past the timeout: an aborted call never answers, not even with its timeout.
      yield* Effect.sleep("120 millis")
      expect(answered).toBe(0)
    })
  )

  it.effect("only Promise-style adapters have it: an Effect adapter's quote is an Effect anyway", () =>
    Effect.gen(function* () {
      const client = yield* SellerClient.make(effectAdapter({}), { sellerId: "seller-2", config: { currency: "EUR" } })
      expect(client.startQuote).toBeUndefined()
      expect((yield* makeClient(promiseAdapter())).startQuote).toBeTypeOf("function")
    })
  )
})
