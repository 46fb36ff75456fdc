/**
 * The hand-checked decode of quote answers (`internal/plainQuoteAnswers.ts`) against the
 * schema's: for every input it either declines (the schema decodes instead) or answers exactly
 * what the schema answers. Valid plain answers must take it; every way of breaking one must not
 * get through it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Equal, Exit, Schema } from "effect"
import { Offer, QuoteResult, Unavailable } from "../src/Contract.js"
import * as PlainQuoteAnswers from "../src/internal/plainQuoteAnswers.js"
import * as Money from "../src/Money.js"
import { generateIsbns } from "../src/testing/Catalog.js"

const schemaDecode = Schema.decodeUnknownExit(Schema.Array(QuoteResult))
const [isbn, other] = generateIsbns({ size: 2, seed: 5 })

const offer = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  available: true,
  isbn,
  quoteId: "q-1",
  price: { amount: 1299, currency: "EUR" },
  shipping: { amount: 0, currency: "EUR" },
  condition: "good",
  quantity: null,
  expiresAt: "2099-01-01T00:00:00.000Z",
  ...overrides
})
const unavailable = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ available: false, isbn: other, reason: "out_of_stock", ...overrides })

/** Either declined, or exactly the schema's answer (same classes, same values, structurally equal). */
const agrees = (raw: unknown) => {
  const fast = PlainQuoteAnswers.decode(raw)
  if (fast === undefined) return undefined
  const slow = schemaDecode(raw)
  expect(Exit.isSuccess(slow), `the schema refuses what the fast path took: ${JSON.stringify(raw)}`).toBe(true)
  if (!Exit.isSuccess(slow)) return fast
  expect(fast).toEqual(slow.value)
  expect(fast.map((answer) => answer.constructor)).toEqual(slow.value.map((answer) => answer.constructor))
  fast.forEach((answer, i) => {
    expect(Equal.equals(answer, slow.value[i])).toBe(true)
    if (answer instanceof Offer) {
      expect(answer.price).toBeInstanceOf(Money.Money)
      expect(answer.shipping).toBeInstanceOf(Money.Money)
      expect(answer.total).toEqual((slow.value[i] as Offer).total)
    }
  })
  return fast
}

const valid: ReadonlyArray<readonly [string, unknown]> = [
  ["one offer", [offer()]],
  ["an offer with a count, new, yen, free", [offer({ quantity: 3, condition: "new", price: { amount: 0, currency: "JPY" }, shipping: { amount: 500, currency: "JPY" } })]],
  ["every condition", ["new", "like_new", "very_good", "good", "acceptable"].map((condition) => offer({ condition }))],
  ["expiresAt as a Date", [offer({ expiresAt: new Date("2099-01-01T00:00:00Z") })]],
  ["expiresAt as a date only", [offer({ expiresAt: "2099-01-01" })]],
  ["the largest amount", [offer({ price: { amount: Number.MAX_SAFE_INTEGER, currency: "EUR" } })]],
  ["both reasons of unavailable", [unavailable(), unavailable({ reason: "not_carried", isbn })]],
  ["offers and unavailables mixed", [offer(), unavailable()]],
  ["no answers", []]
]

const broken: ReadonlyArray<readonly [string, unknown]> = [
  ["not an array", offer()],
  ["null", null],
  ["an array-like object", { 0: offer(), length: 1 }],
  ["a null answer", [null]],
  ["a string answer", ["offer"]],
  ["an answer made by a class", [new (class Wire { available = true })()]],
  ["available as a string", [offer({ available: "true" })]],
  ["no available", [(({ available: _, ...rest }) => rest)(offer())]],
  ["an extra field", [offer({ note: "signed" })]],
  ["an extra field on unavailable", [unavailable({ quantity: 0 })]],
  ["a missing field", [(({ quantity: _, ...rest }) => rest)(offer())]],
  ["a missing expiresAt", [(({ expiresAt: _, ...rest }) => rest)(offer())]],
  ["an ISBN with a wrong check digit", [offer({ isbn: `${isbn!.slice(0, 12)}${(Number(isbn!.at(-1)) + 1) % 10}` })]],
  ["an ISBN with hyphens", [offer({ isbn: `${isbn!.slice(0, 3)}-${isbn!.slice(3)}` })]],
  ["an ISBN-10", [offer({ isbn: "0306406152" })]],
  ["an ISBN as a number", [offer({ isbn: Number(isbn) })]],
  ["an empty quote id", [offer({ quoteId: "" })]],
  ["a quote id with spaces around", [offer({ quoteId: " q-1 " })]],
  ["a quote id as a number", [offer({ quoteId: 1 })]],
  ["a negative price", [offer({ price: { amount: -1, currency: "EUR" } })]],
  ["a fractional price", [offer({ price: { amount: 12.99, currency: "EUR" } })]],
  ["a price above the safe integers", [offer({ price: { amount: Number.MAX_SAFE_INTEGER + 1, currency: "EUR" } })]],
  ["a price as a string", [offer({ price: { amount: "1299", currency: "EUR" } })]],
  ["NaN", [offer({ price: { amount: Number.NaN, currency: "EUR" } })]],
  ["an unknown currency", [offer({ price: { amount: 1299, currency: "XXY" } })]],
  ["a lower-case currency", [offer({ shipping: { amount: 0, currency: "eur" } })]],
  ["money with an extra field", [offer({ price: { amount: 1299, currency: "EUR", display: "€12.99" } })]],
  ["money without a currency", [offer({ price: { amount: 1299 } })]],
  ["money as a number", [offer({ price: 1299 })]],
  ["money already a Money", [offer({ price: Money.make(1299, "EUR") })]],
  ["an unknown condition", [offer({ condition: "used" })]],
  ["a quantity of 0", [offer({ quantity: 0 })]],
  ["a negative quantity", [offer({ quantity: -2 })]],
  ["a fractional quantity", [offer({ quantity: 1.5 })]],
  ["a quantity as a string", [offer({ quantity: "2" })]],
  ["an undefined quantity", [offer({ quantity: undefined })]],
  ["expiresAt that is not a date", [offer({ expiresAt: "soon" })]],
  ["expiresAt as epoch millis", [offer({ expiresAt: 4_070_908_800_000 })]],
  ["expiresAt an invalid Date", [offer({ expiresAt: new Date("soon") })]],
  ["an unknown reason", [unavailable({ reason: "discontinued" })]],
  ["unavailable with a bad ISBN", [unavailable({ isbn: "978" })]],
  ["one bad answer among good ones", [offer(), unavailable(), offer({ quantity: 0 })]]
]

describe("the plain quote answer decode", () => {
  it.each(valid)("takes %s, answering what the schema answers", (_, raw) => {
    const fast = agrees(raw)
    expect(fast).toBeDefined()
    expect(fast).toHaveLength((raw as ReadonlyArray<unknown>).length)
  })

  it.each(broken)("declines %s (or answers what the schema answers)", (_, raw) => {
    agrees(raw)
  })

  it("declines every answer the schema refuses", () => {
    let refused = 0
    for (const [, raw] of broken) {
      if (Exit.isFailure(schemaDecode(raw))) {
        refused += 1
        expect(PlainQuoteAnswers.decode(raw), JSON.stringify(raw)).toBeUndefined()
      }
    }
    // Nearly all of them are contract breaches.
    expect(refused).toBeGreaterThan(broken.length - 6)
  })

  it("keeps a Date it was given, and builds the classes the schema builds", () => {
    const expiresAt = new Date("2099-01-01T00:00:00Z")
    const [answer, none] = PlainQuoteAnswers.decode([offer({ expiresAt }), unavailable()])!
    expect(answer).toBeInstanceOf(Offer)
    expect((answer as Offer).expiresAt).toBe(expiresAt)
    expect(none).toBeInstanceOf(Unavailable)
  })
})
