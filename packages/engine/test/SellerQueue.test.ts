/**
 * One fan-out's calls in one fiber (`SellerQueue.askAll`): a Promise-style adapter is called
 * through its callback quote, without a fiber per call. What must hold: the deadline aborts the
 * calls still out (the adapter's signal) and keeps their permits out until they expire; answers
 * that came are recorded and their permits given back before the request is answered; with
 * tracing on, each call still has its `SellerClient.quote` span under the request's; an
 * Effect-style adapter (no callback quote) is asked as before.
 */
import { defineAdapter, defineEffectAdapter, type Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema, Tracer } from "effect"
import * as AdapterRegistry from "../src/sellers/AdapterRegistry.js"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../src/quotes/QuoteEngine.js"
import * as SecretBox from "../src/sellers/SecretBox.js"
import * as SellerDirectory from "../src/sellers/SellerDirectory.js"
import * as SellerPool from "../src/sellers/SellerPool.js"
import * as SharedState from "../src/state/SharedState.js"
import { TestDatabase } from "../src/testing/index.js"

const [isbn] = generateIsbns({ size: 1, seed: 7 }) as ReadonlyArray<Isbn.Isbn13>

const capabilities = { batchQuotes: null, holds: false, orderLookup: false, pricePush: false }
const offer = (book: string, price: number) => ({
  available: true as const,
  isbn: book,
  quoteId: `q-${price}`,
  price: { amount: price, currency: "EUR" },
  shipping: { amount: 0, currency: "EUR" },
  condition: "new" as const,
  quantity: null,
  expiresAt: new Date(Date.now() + 600_000).toISOString()
})

/** The signals the hanging adapter was given, in call order. */
const signals: Array<AbortSignal> = []

/** `price` 0: never answers (until its signal aborts); otherwise an offer at once. */
const promised = defineAdapter({
  kind: "promised",
  version: "1.0.0",
  config: Schema.Struct({ price: Schema.Number }),
  capabilities,
  create: ({ config }) => ({
    quote: ({ isbns }, { signal }) => {
      if (config.price > 0) return Promise.resolve(isbns.map((book) => offer(book, config.price)))
      signals.push(signal)
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))))
    },
    purchase: () => Promise.reject(new Error("not in this test"))
  })
})

const effectful = defineEffectAdapter({
  kind: "effectful",
  version: "1.0.0",
  config: Schema.Struct({ price: Schema.Number }),
  capabilities,
  make: ({ config }) =>
    Effect.succeed({
      quote: ({ isbns }) => Effect.succeed(isbns.map((book) => offer(book, config.price))),
      purchase: () => Effect.die(new Error("not in this test"))
    })
})

const engineLayer = QuoteEngine.layer({ cache: false, coalesce: false, stragglers: false }).pipe(
  Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 60_000 }), SellerPool.layer(), SharedState.layerMemory())),
  Layer.provideMerge(
    Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([promised, effectful]), OutboundAddress.layerLoopback)
  ),
  Layer.provideMerge(TestDatabase.layer)
)

const limits = { requestsPerSecond: 100, burst: 100, maxConcurrency: 1, timeoutMillis: 5_000 }

const register = (name: string, kind: "promised" | "effectful", price: number) =>
  Effect.flatMap(SellerDirectory.SellerDirectory, (directory) => directory.register({ name, kind, config: { price }, limits, status: "active" }))

describe("SellerQueue: one fan-out, no fiber per call", () => {
  it.live("the deadline aborts a call still out and keeps its permit out; the answers that came are kept, their permits back", () =>
    Effect.gen(function* () {
      signals.length = 0
      const quick = yield* register("quick", "promised", 1200)
      const hanging = yield* register("hanging", "promised", 0)
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbn!, { currency: "EUR", deadlineMillis: 200 })
      expect(book.offers.map((o) => [o.sellerName, o.total.amount])).toEqual([["quick", 1200]])
      expect(book.outcomes.find((o) => o.sellerName === "hanging")).toMatchObject({ status: "deadline" })
      // The adapter was told to stop.
      expect(signals).toHaveLength(1)
      expect(signals[0]!.aborted).toBe(true)
      const state = yield* SharedState.SharedState
      // The answered call's permit is back (one call at a time: a second is admitted) …
      const again = yield* state.admit(quick.id, limits)
      expect(again._tag).toBe("Admitted")
      // … the aborted one's is not: the seller may still be at it.
      const refused = yield* state.admit(hanging.id, limits)
      expect(refused).toMatchObject({ _tag: "Denied", reason: "concurrency" })
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("with tracing on, every call has its SellerClient.quote span under the request's; an Effect-style adapter is asked as before", () =>
    Effect.gen(function* () {
      yield* register("promised-1", "promised", 1500)
      yield* register("promised-2", "promised", 1400)
      yield* register("effectful", "effectful", 1300)
      const spans: Array<{ readonly name: string; readonly parent: string | undefined; readonly attributes: Record<string, unknown>; ended: boolean }> = []
      const native = yield* Effect.tracer
      const recording = Tracer.make({
        span(options) {
          const span = native.span(options)
          const record = {
            name: options.name,
            parent: Option.match(options.parent, { onNone: () => undefined, onSome: (parent) => (parent._tag === "Span" ? parent.name : undefined) }),
            attributes: {} as Record<string, unknown>,
            ended: false
          }
          spans.push(record)
          return Object.assign(Object.create(span), {
            attribute: (key: string, value: unknown) => {
              record.attributes[key] = value
              span.attribute(key, value)
            },
            end: (endTime: bigint, exit: Parameters<typeof span.end>[1]) => {
              record.ended = true
              span.end(endTime, exit)
            }
          })
        }
      })
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbn!, { currency: "EUR" }).pipe(Effect.withTracer(recording), Effect.withTracerEnabled(true))
      expect(book.offers.map((o) => o.sellerName)).toEqual(["effectful", "promised-2", "promised-1"])
      const calls = spans.filter((span) => span.name === "SellerClient.quote")
      expect(calls).toHaveLength(3)
      for (const call of calls) {
        expect(call.parent).toBe("QuoteEngine.quotes")
        expect(call.ended).toBe(true)
        expect(call.attributes).toMatchObject({ "quote.isbns": 1 })
      }
      expect(calls.map((call) => call.attributes["seller.kind"]).sort()).toEqual(["effectful", "promised", "promised"])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )
})
