import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { defineAdapter, defineEffectAdapter, type EffectOperations, type Operations } from "../src/Adapter.js"
import {
  Capabilities,
  InventoryListing,
  InventoryPage,
  type CapabilitiesInput,
  type InventoryListingInput,
  type InventoryPageInput
} from "../src/Contract.js"
import type { Isbn13 } from "../src/Isbn.js"
import * as Money from "../src/Money.js"
import * as SellerClient from "../src/SellerClient.js"
import { MalformedSellerResponse, SellerRejected, SellerUnavailable } from "../src/SellerError.js"
import { generateIsbns } from "../src/testing/Catalog.js"

const [a, b] = generateIsbns({ size: 2, seed: 4711 }) as [Isbn13, Isbn13]

const Config = Schema.Struct({ currency: Money.CurrencyCode })
/** What every adapter declared before inventory existed: no `inventory` key at all. */
const before: CapabilitiesInput = { batchQuotes: null, holds: false, orderLookup: false, pricePush: false }
const withInventory: CapabilitiesInput = { ...before, inventory: true }

const listing = (listingId: string, isbn: string, overrides: Partial<Record<keyof InventoryListingInput, unknown>> = {}): InventoryListingInput =>
  ({
    listingId,
    isbn,
    price: { amount: 1299, currency: "EUR" },
    shipping: { amount: 350, currency: "EUR" },
    condition: "good",
    quantity: 2,
    ...overrides
  }) as InventoryListingInput

const page = (listings: ReadonlyArray<InventoryListingInput>, nextCursor: string | null = null): InventoryPageInput => ({ listings, nextCursor })

const promiseAdapter = (inventory: Operations["inventory"], capabilities: CapabilitiesInput = withInventory) =>
  defineAdapter({
    kind: "lister",
    version: "1.0.0",
    config: Config,
    capabilities,
    create: () => ({
      quote: async () => [],
      purchase: async () => {
        throw new Error("not in these tests")
      },
      ...(inventory === undefined ? {} : { inventory })
    })
  })

const effectAdapter = (inventory: EffectOperations["inventory"]) =>
  defineEffectAdapter({
    kind: "lister-effect",
    version: "1.0.0",
    config: Config,
    capabilities: withInventory,
    make: () =>
      Effect.succeed({
        quote: () => Effect.succeed([]),
        purchase: () => Effect.die("not in these tests"),
        ...(inventory === undefined ? {} : { inventory })
      })
  })

const makeClient = (adapter: ReturnType<typeof promiseAdapter>, timeoutMillis = 1_000) =>
  SellerClient.make(adapter, { sellerId: "seller-1", config: { currency: "EUR" }, limits: { timeoutMillis } })

const first = { cursor: null, pageSize: 500 }

/** The typed failure of an effect that must fail. */
const failure = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) return yield* Effect.die(new Error(`expected a failure, got ${JSON.stringify(exit.value)}`))
    const reason = exit.cause.reasons.find(Cause.isFailReason)
    if (reason === undefined) return yield* Effect.die(new Error(`expected a typed failure, got ${String(exit.cause)}`))
    return reason.error
  })

/** The message of the defect an effect must die with. */
const defect = (effect: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit) || !Cause.hasDies(exit.cause)) return yield* Effect.die(new Error("expected a defect"))
    return String(Cause.squash(exit.cause))
  })

/** A client whose one inventory page is `answer`, whatever is asked. */
const answering = (answer: unknown) => makeClient(promiseAdapter(async () => answer as InventoryPageInput))

describe("Capabilities.inventory", () => {
  it("is false when an adapter's declaration leaves it out, as every declaration before it did", () => {
    expect(Schema.decodeUnknownSync(Capabilities)(before).inventory).toBe(false)
    expect(Schema.decodeUnknownSync(Capabilities)({ ...before, inventory: undefined }).inventory).toBe(false)
    expect(new Capabilities({ batchQuotes: null, holds: false, orderLookup: false, pricePush: false }).inventory).toBe(false)
    expect(Schema.decodeUnknownSync(Capabilities)(withInventory).inventory).toBe(true)
    expect(() => Schema.decodeUnknownSync(Capabilities)({ ...before, inventory: "yes" })).toThrow(/inventory/)
  })
})

describe("SellerClient inventory", () => {
  it.effect("refuses an adapter that declares inventory without the operation", () =>
    Effect.gen(function* () {
      const error = yield* failure(makeClient(promiseAdapter(undefined)))
      expect(error).toBeInstanceOf(SellerClient.InvalidSellerConfig)
      expect(error.detail).toBe("the adapter declares inventory but has no inventory operation")
    })
  )

  it.effect("dies without the capability, never calling an operation the adapter did not declare", () =>
    Effect.gen(function* () {
      let calls = 0
      const client = yield* makeClient(
        promiseAdapter(async () => {
          calls += 1
          return page([])
        }, before)
      )
      expect(client.capabilities.inventory).toBe(false)
      expect(yield* defect(client.inventory(first))).toMatch(/seller seller-1 \(lister\) does not support inventory listing/)
      expect(calls).toBe(0)
    })
  )

  it.effect("dies on a page size outside 1..1000: the caller's mistake, not the seller's", () =>
    Effect.gen(function* () {
      const client = yield* answering(page([]))
      for (const pageSize of [0, 1001, 2.5]) {
        expect(yield* defect(client.inventory({ cursor: null, pageSize }))).toMatch(/pageSize must be a whole number from 1 to 1000/)
      }
    })
  )

  it.effect("passes the cursor and page size on, and decodes the page into contract classes", () =>
    Effect.gen(function* () {
      const asked: Array<{ readonly cursor: string | null; readonly pageSize: number }> = []
      const client = yield* makeClient(
        promiseAdapter(async (request) => {
          asked.push(request)
          return request.cursor === null
            ? page([listing("sku-1", a, { title: "Dune", author: null }), listing("sku-2", b, { shipping: null, quantity: 0 })], "page-2")
            : page([])
        })
      )
      const one = yield* client.inventory({ cursor: null, pageSize: 2 })
      expect(one).toBeInstanceOf(InventoryPage)
      expect(one.nextCursor).toBe("page-2")
      expect(one.listings[0]).toBeInstanceOf(InventoryListing)
      expect(one.listings[0]).toMatchObject({ listingId: "sku-1", isbn: a, price: Money.make(1299, "EUR"), shipping: Money.make(350, "EUR"), title: "Dune", author: null })
      expect(one.listings[1]).toMatchObject({ listingId: "sku-2", shipping: null, quantity: 0 })
      const two = yield* client.inventory({ cursor: "page-2", pageSize: 2 })
      expect(two.nextCursor).toBeNull()
      expect(asked).toEqual([{ cursor: null, pageSize: 2 }, { cursor: "page-2", pageSize: 2 }])
    })
  )

  it.effect("refuses pages outside the contract as MalformedSellerResponse, naming the field", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [{ listings: "none", nextCursor: null }, /listings/],
        [{ listings: [] }, /nextCursor/],
        [page([], ""), /nextCursor/],
        [page([listing("", a)]), /listingId/],
        [page([listing("x".repeat(101), a)]), /listingId/],
        [page([listing("sku-1", "9780306406158")]), /isbn/],
        [page([listing("sku-1", a, { quantity: -1 })]), /quantity/],
        [page([listing("sku-1", a, { quantity: 1.5 })]), /quantity/],
        [page([listing("sku-1", a, { price: { amount: 12.99, currency: "EUR" } })]), /price/],
        [page([listing("sku-1", a, { condition: "mint" })]), /condition/],
        [undefined, /./]
      ]
      for (const [answer, field] of cases) {
        const error = yield* failure((yield* answering(answer)).inventory(first))
        expect(error).toBeInstanceOf(MalformedSellerResponse)
        expect(error).toMatchObject({ operation: "inventory" })
        expect(error.message).toMatch(field)
      }
    })
  )

  it.effect("refuses a page that lists one listing id twice", () =>
    Effect.gen(function* () {
      const client = yield* answering(page([listing("sku-1", a), listing("sku-1", b)]))
      const error = yield* failure(client.inventory(first))
      expect(error).toBeInstanceOf(MalformedSellerResponse)
      expect(error.message).toContain("listing sku-1 appears twice on one page")
    })
  )

  it.effect("refuses a listing whose shipping is in another currency than its price", () =>
    Effect.gen(function* () {
      const client = yield* answering(page([listing("sku-1", a, { shipping: { amount: 350, currency: "USD" } })]))
      const error = yield* failure(client.inventory(first))
      expect(error).toBeInstanceOf(MalformedSellerResponse)
      expect(error.message).toContain("listing sku-1 mixes EUR and USD")
    })
  )

  it.effect("refuses more listings than asked for, and a next cursor that is the one asked with", () =>
    Effect.gen(function* () {
      const tooMany = yield* failure((yield* answering(page([listing("sku-1", a), listing("sku-2", b)]))).inventory({ cursor: null, pageSize: 1 }))
      expect(tooMany.message).toContain("a page of 2 listings, but 1 were asked for")
      const stuck = yield* failure((yield* answering(page([listing("sku-1", a)], "same"))).inventory({ cursor: "same", pageSize: 10 }))
      expect(stuck).toBeInstanceOf(MalformedSellerResponse)
      expect(stuck.message).toContain("would never end")
    })
  )

  it.effect("maps what the adapter throws like any call: seller errors pass, anything else is adapter_error", () =>
    Effect.gen(function* () {
      const rejected = new SellerRejected({ operation: "inventory", reason: "auth_failed", detail: "401" })
      const passed = yield* failure(
        (yield* makeClient(
          promiseAdapter(async () => {
            throw rejected
          })
        )).inventory(first)
      )
      expect(passed).toBeInstanceOf(SellerRejected)
      expect(passed).toMatchObject({ operation: "inventory", reason: "auth_failed" })
      const thrown = yield* failure(
        (yield* makeClient(
          promiseAdapter(async () => {
            throw new TypeError("cannot read listings of undefined")
          })
        )).inventory(first)
      )
      expect(thrown).toBeInstanceOf(SellerUnavailable)
      expect(thrown).toMatchObject({ operation: "inventory", reason: "adapter_error", detail: "TypeError: cannot read listings of undefined" })
      // An Effect adapter that dies, too; and never OutcomeUnknown outside a purchase.
      const died = yield* failure((yield* SellerClient.make(effectAdapter(() => Effect.die(new Error("boom"))), { sellerId: "s", config: { currency: "EUR" } })).inventory(first))
      expect(died).toMatchObject({ _tag: "SellerUnavailable", operation: "inventory", reason: "adapter_error" })
    })
  )
})

describe("SellerClient inventory timeouts (real time)", () => {
  it.live("times out a page that never comes, aborting the adapter's signal", () =>
    Effect.gen(function* () {
      const signals: Array<AbortSignal> = []
      const client = yield* makeClient(
        promiseAdapter((_request, { signal }) => {
          signals.push(signal)
          return new Promise<never>(() => {})
        }),
        50
      )
      const error = yield* failure(client.inventory(first))
      expect(error).toBeInstanceOf(SellerUnavailable)
      expect(error).toMatchObject({ operation: "inventory", reason: "timeout", detail: "no answer within 50 ms" })
      expect(signals[0]!.aborted).toBe(true)
    })
  )

  it.live("times out an Effect adapter's page by interrupting it", () =>
    Effect.gen(function* () {
      let interrupted = false
      const client = yield* SellerClient.make(
        effectAdapter(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))),
        { sellerId: "s", config: { currency: "EUR" }, limits: { timeoutMillis: 50 } }
      )
      expect(yield* failure(client.inventory(first))).toMatchObject({ _tag: "SellerUnavailable", operation: "inventory", reason: "timeout" })
      expect(interrupted).toBe(true)
    })
  )
})
