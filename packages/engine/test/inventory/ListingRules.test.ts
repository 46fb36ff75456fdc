/** The rules every inventory format shares, alone: pure functions, no parser, no database. */
import { describe, expect, it } from "@effect/vitest"
import * as InventoryFile from "../../src/inventory/InventoryFile.js"
import * as ListingRules from "../../src/inventory/ListingRules.js"

const refusalOf = (run: () => unknown): ListingRules.FileRefused => {
  try {
    run()
  } catch (error) {
    if (error instanceof ListingRules.FileRefused) return error
    throw error
  }
  throw new Error("not refused")
}

describe("ListingRules", () => {
  it("isKnownCurrency: ISO 4217 codes in capitals; anything else, however long, is not one", () => {
    expect(["EUR", "GBP", "JPY", "KWD"].map(ListingRules.isKnownCurrency)).toEqual([true, true, true, true])
    expect(["XYZ", "eur", "EURO", "", "E U", "€"].map(ListingRules.isKnownCurrency)).toEqual([false, false, false, false, false, false])
    expect(ListingRules.isKnownCurrency("EUR".repeat(1_000))).toBe(false)
    // Asked again (remembered), the same answers.
    expect([ListingRules.isKnownCurrency("EUR"), ListingRules.isKnownCurrency("XYZ")]).toEqual([true, false])
  })

  it("refusals: the first refusal is thrown, then thrown again by rethrow; none, rethrow is quiet", () => {
    const { refuse, rethrow } = ListingRules.refusals()
    expect(rethrow()).toBeUndefined()
    const refused = refusalOf(() => refuse("the file is empty", 3))
    expect({ reason: refused.reason, line: refused.line, message: refused.message }).toEqual({ reason: "the file is empty", line: 3, message: "line 3: the file is empty" })
    expect(refusalOf(rethrow)).toBe(refused)
    // The same class the parsers' callers know, whichever module they take it from.
    expect(refused).toBeInstanceOf(InventoryFile.FileRefused)
  })

  it("checkFirstChunk: UTF-16 (either byte order) and an unknown default currency refuse the file", () => {
    const { refuse } = ListingRules.refusals()
    expect(refusalOf(() => ListingRules.checkFirstChunk(new Uint8Array([0xff, 0xfe, 0x3c, 0x00]), "EUR", refuse))).toMatchObject({ line: 1, reason: expect.stringMatching(/UTF-16/) })
    expect(refusalOf(() => ListingRules.checkFirstChunk(new Uint8Array([0xfe, 0xff, 0x00, 0x3c]), "EUR", refuse)).reason).toMatch(/UTF-16/)
    expect(refusalOf(() => ListingRules.checkFirstChunk(new Uint8Array([0x3c]), "euro", refuse)).reason).toBe(
      `the prices' currency "euro" is not an ISO 4217 currency code (e.g. EUR, USD, GBP)`
    )
    // A default currency in lower case or with spaces is still that currency; a UTF-8 byte-order mark is UTF-8.
    expect(ListingRules.checkFirstChunk(new Uint8Array([0xef, 0xbb, 0xbf, 0x3c]), " gbp ", refuse)).toBeUndefined()
  })

  it("cut: empty is null; past 750 characters cut, never inside a surrogate pair", () => {
    expect(ListingRules.cut("")).toBeNull()
    expect(ListingRules.cut(null)).toBeNull()
    expect(ListingRules.cut("Dune")).toBe("Dune")
    expect(ListingRules.cut("x".repeat(800))).toBe("x".repeat(ListingRules.maxText))
    // A four-byte character (two UTF-16 units) straddling the limit is dropped whole.
    expect(ListingRules.cut("x".repeat(749) + "𝄞" + "y")).toBe("x".repeat(749))
  })
})
