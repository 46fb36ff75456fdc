import { describe, expect, it } from "@effect/vitest"
import * as Money from "../src/Money.js"
import {
  decode,
  encode,
  hasSellerErrorTag,
  isRetryable,
  isSellerError,
  MalformedSellerResponse,
  OutcomeUnknown,
  SellerRejected,
  SellerUnavailable,
  type SellerError
} from "../src/SellerError.js"

const examples: ReadonlyArray<SellerError> = [
  new SellerUnavailable({ operation: "quote", reason: "transport", detail: "connect ECONNREFUSED" }),
  new SellerUnavailable({ operation: "purchase", reason: "server_error", detail: "503", status: 503, mayHaveBeenProcessed: true }),
  new SellerUnavailable({ operation: "hold", reason: "rate_limited", detail: "slow down", status: 429, retryAfterMillis: 1500 }),
  new SellerRejected({ operation: "hold", reason: "out_of_stock", detail: "none left", status: 409 }),
  new SellerRejected({ operation: "purchase", reason: "price_changed", detail: "up", currentPrice: Money.make(1499, "EUR") }),
  new MalformedSellerResponse({ operation: "lookupOrder", detail: "orderId is missing" }),
  new OutcomeUnknown({ operation: "purchase", idempotencyKey: "req-1:seller-1", detail: "socket hang up" })
]

describe("SellerError", () => {
  it("makes SellerUnavailable retryable, except for an adapter's own error", () => {
    for (const reason of ["transport", "timeout", "server_error", "rate_limited", "conflict"] as const) {
      const error = new SellerUnavailable({ operation: "quote", reason, detail: "x" })
      expect(error.retryable).toBe(true)
      expect(isRetryable(error)).toBe(true)
    }
    expect(new SellerUnavailable({ operation: "quote", reason: "adapter_error", detail: "TypeError" }).retryable).toBe(false)
  })

  it("never retries rejections and malformed answers; retries an unknown outcome (same key)", () => {
    expect(new SellerRejected({ operation: "quote", reason: "auth_failed", detail: "401" }).retryable).toBe(false)
    expect(new MalformedSellerResponse({ operation: "quote", detail: "x" }).retryable).toBe(false)
    expect(isRetryable(new OutcomeUnknown({ operation: "purchase", idempotencyKey: "k", detail: "x" }))).toBe(true)
  })

  it("defaults mayHaveBeenProcessed to false", () => {
    expect(new SellerUnavailable({ operation: "quote", reason: "transport", detail: "x" }).mayHaveBeenProcessed).toBe(false)
  })

  it("says in SellerUnavailable's message what failed, the status and how long to wait", () => {
    const error = new SellerUnavailable({ operation: "hold", reason: "rate_limited", detail: "slow down", status: 429, retryAfterMillis: 1500 })
    expect(error.message).toBe("seller unavailable for hold (rate_limited 429): slow down; the seller asks to wait 1500 ms")
    expect(new SellerUnavailable({ operation: "quote", reason: "timeout", detail: "no answer" }).message).toBe(
      "seller unavailable for quote (timeout): no answer"
    )
  })

  it("tells the reader what to do in SellerRejected's message", () => {
    const auth = new SellerRejected({ operation: "quote", reason: "auth_failed", detail: "401", status: 401 })
    expect(auth.message).toContain("seller rejected quote (auth_failed): 401")
    expect(auth.message).toMatch(/check the seller's credentials/)
    const invalid = new SellerRejected({ operation: "purchase", reason: "invalid_request", detail: "400" })
    expect(invalid.message).toMatch(/check the adapter config/)
    const stock = new SellerRejected({ operation: "hold", reason: "out_of_stock", detail: "gone" })
    expect(stock.message).toBe("seller rejected hold (out_of_stock): gone")
  })

  it("names the operation in MalformedSellerResponse's message and the resolution in OutcomeUnknown's", () => {
    expect(new MalformedSellerResponse({ operation: "quote", detail: "price is a string" }).message).toBe(
      "seller answered quote with something outside the contract: price is a string"
    )
    const unknown = new OutcomeUnknown({ operation: "purchase", idempotencyKey: "req-9:s-2", detail: "timeout" })
    expect(unknown.message).toContain("purchase req-9:s-2 may or may not have been placed (timeout)")
    expect(unknown.message).toMatch(/same idempotency key or an order lookup/)
  })

  it("round-trips every error through encode → JSON → decode as an equal error of the same class", () => {
    for (const error of examples) {
      const wire: unknown = JSON.parse(JSON.stringify(encode(error)))
      expect(wire).toMatchObject({ _tag: error._tag })
      const back = decode(wire)
      expect(back.constructor).toBe(error.constructor)
      expect(back).toStrictEqual(error)
      expect(back.message).toBe(error.message)
      expect(back.retryable).toBe(error.retryable)
    }
  })

  it("keeps Money a Money and the defaults across a round trip", () => {
    const priced = decode(JSON.parse(JSON.stringify(encode(examples[4]!))))
    expect(priced).toBeInstanceOf(SellerRejected)
    expect((priced as SellerRejected).currentPrice).toBeInstanceOf(Money.Money)
    expect((priced as SellerRejected).currentPrice).toEqual(Money.make(1499, "EUR"))
    const plain = decode({ _tag: "SellerUnavailable", operation: "quote", reason: "timeout", detail: "x" })
    expect(plain).toMatchObject({ _tag: "SellerUnavailable", mayHaveBeenProcessed: false })
  })

  it("refuses to decode something that is not a seller error", () => {
    expect(() => decode({ _tag: "SellerRejected", operation: "quote", reason: "bored", detail: "x" })).toThrow()
    expect(() => decode({ _tag: "OutcomeUnknown", operation: "quote", idempotencyKey: "k", detail: "x" })).toThrow()
    expect(() => decode({ _tag: "Other", detail: "x" })).toThrow()
  })

  it("isSellerError recognises instances only", () => {
    for (const error of examples) expect(isSellerError(error)).toBe(true)
    expect(isSellerError(encode(examples[0]!))).toBe(false)
    expect(isSellerError(new Error("seller unavailable"))).toBe(false)
    expect(isSellerError(null)).toBe(false)
    expect(isSellerError("SellerRejected")).toBe(false)
  })

  it("hasSellerErrorTag recognises serialised errors by their tag", () => {
    expect(hasSellerErrorTag({ _tag: "SellerRejected", operation: "quote", reason: "out_of_stock", detail: "x" })).toBe(true)
    expect(hasSellerErrorTag(encode(examples[6]!))).toBe(true)
    expect(hasSellerErrorTag(examples[1])).toBe(true)
    expect(hasSellerErrorTag({ _tag: "NoSuchElementException" })).toBe(false)
    expect(hasSellerErrorTag({ _tag: 42 })).toBe(false)
    expect(hasSellerErrorTag({ tag: "SellerRejected" })).toBe(false)
    expect(hasSellerErrorTag(null)).toBe(false)
    expect(hasSellerErrorTag("SellerRejected")).toBe(false)
  })
})
