import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import * as Money from "../src/Money.js"

describe("Money", () => {
  it("converts seller decimals to minor units exactly, per currency", () => {
    expect(Money.fromDecimal(12.99, "EUR")).toEqual(Result.succeed(Money.make(1299, "EUR")))
    expect(Money.fromDecimal("12.9", "EUR")).toEqual(Result.succeed(Money.make(1290, "EUR")))
    expect(Money.fromDecimal(0.1 + 0.2, "EUR")._tag).toBe("Failure") // float noise is refused, not rounded
    expect(Money.fromDecimal(1500, "JPY")).toEqual(Result.succeed(Money.make(1500, "JPY")))
    expect(Money.fromDecimal("1.234", "KWD")).toEqual(Result.succeed(Money.make(1234, "KWD")))
    expect(Money.fromDecimal("12.999", "EUR")).toEqual(Result.fail('"12.999" has more than 2 decimals for EUR'))
    expect(Money.fromDecimal("1.5", "JPY")._tag).toBe("Failure")
    expect(Money.fromDecimal(-1, "EUR")._tag).toBe("Failure")
    expect(Money.fromDecimal("1e3", "EUR")._tag).toBe("Failure")
    expect(Money.fromDecimal("12.00", "CHF")).toEqual(Result.succeed(Money.make(1200, "CHF")))
  })

  it("round-trips any minor amount through its decimal text", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.constantFrom("EUR", "USD", "JPY", "KWD", "GBP"), (amount, currency) => {
        const money = Money.make(amount, currency)
        expect(Money.fromDecimal(Money.toDecimal(money), currency)).toEqual(Result.succeed(money))
      })
    )
  })

  it("refuses unknown currencies and fractional or negative amounts", () => {
    expect(() => Money.make(100, "EURO")).toThrow(/unknown ISO 4217/)
    expect(Schema.decodeUnknownExit(Money.Money)({ amount: 12.5, currency: "EUR" })._tag).toBe("Failure")
    expect(Schema.decodeUnknownExit(Money.Money)({ amount: -1, currency: "EUR" })._tag).toBe("Failure")
  })

  it("formats for people and adds within one currency", () => {
    expect(Money.format(Money.make(1299, "EUR"))).toBe("€12.99")
    expect(Money.toDecimal(Money.make(5, "EUR"))).toBe("0.05")
    expect(Money.add(Money.make(1299, "EUR"), Money.make(350, "EUR"))).toEqual(Money.make(1649, "EUR"))
    expect(() => Money.add(Money.make(1, "EUR"), Money.make(1, "USD"))).toThrow(/cannot add EUR and USD/)
  })
})
