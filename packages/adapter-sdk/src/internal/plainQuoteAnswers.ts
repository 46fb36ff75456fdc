/**
 * A quote call's raw answer checked against contract v1 without the schema interpreter, for the
 * plain shape nearly every adapter hands over: an array of plain objects with exactly the
 * contract's fields, money as plain `{ amount, currency }` objects, `expiresAt` an ISO string or
 * a `Date`. Each field is checked by the same rule as the schema's (the same ISBN and currency
 * predicates), and the answers are built as the schema builds them (`Offer`, `Unavailable`,
 * `Money`). Anything else — another shape, an extra field, a value the rules refuse — is
 * `undefined`, and the caller decodes with the schema, which also names what is wrong. So this
 * may refuse what the schema accepts, never the other way round.
 *
 * Every seller call decodes an answer: the interpreter's generic walk was about 3 µs of it.
 */
import { Offer, Unavailable, type QuoteResult } from "../Contract.js"
import { isValidIsbn13, type Isbn13 } from "../Isbn.js"
import { isCurrencyCode, Money } from "../Money.js"

const conditions: ReadonlySet<unknown> = new Set(["new", "like_new", "very_good", "good", "acceptable"])
const unavailableReasons: ReadonlySet<unknown> = new Set(["out_of_stock", "not_carried"])
/** Fields checked and built by hand: no interpreter pass. */
const trusted = { disableChecks: true } as const

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** Exactly `count` own keys (the contract's fields are all required: an extra one means another shape). */
const hasKeys = (value: Record<string, unknown>, count: number): boolean => {
  let keys = 0
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) return false
    keys += 1
  }
  return keys === count
}

const isIsbn = (value: unknown): value is Isbn13 => typeof value === "string" && isValidIsbn13(value)

/** `Money`: `MinorUnits` (a safe integer, 0 or more) and a known ISO 4217 code. */
const money = (value: unknown): Money | undefined => {
  if (!isPlainObject(value) || !hasKeys(value, 2)) return undefined
  const { amount, currency } = value
  if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount < 0) return undefined
  if (typeof currency !== "string" || !isCurrencyCode(currency)) return undefined
  return new Money({ amount, currency }, trusted)
}

/** `Schema.Date` (a valid `Date`, kept as it is) or `Schema.DateFromString` (a string that makes a valid `Date`). */
const instant = (value: unknown): Date | undefined => {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value
  if (typeof value !== "string") return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date
}

const offer = (value: Record<string, unknown>): Offer | undefined => {
  if (!hasKeys(value, 8)) return undefined
  const { isbn, quoteId, condition, quantity } = value
  if (!isIsbn(isbn)) return undefined
  // `NonEmptyTrimmedString`.
  if (typeof quoteId !== "string" || quoteId.length === 0 || quoteId.trim() !== quoteId) return undefined
  if (!conditions.has(condition)) return undefined
  if (quantity !== null && (typeof quantity !== "number" || !Number.isSafeInteger(quantity) || quantity <= 0)) return undefined
  const price = money(value["price"])
  const shipping = money(value["shipping"])
  const expiresAt = instant(value["expiresAt"])
  if (price === undefined || shipping === undefined || expiresAt === undefined) return undefined
  return new Offer({ available: true, isbn, quoteId, price, shipping, condition: condition as Offer["condition"], quantity, expiresAt }, trusted)
}

const unavailable = (value: Record<string, unknown>): Unavailable | undefined => {
  if (!hasKeys(value, 3)) return undefined
  const { isbn, reason } = value
  if (!isIsbn(isbn) || !unavailableReasons.has(reason)) return undefined
  return new Unavailable({ available: false, isbn, reason: reason as Unavailable["reason"] }, trusted)
}

/** The answers as the schema decodes them, or `undefined`: decode with the schema instead. */
export const decode = (raw: unknown): ReadonlyArray<QuoteResult> | undefined => {
  if (!Array.isArray(raw)) return undefined
  const answers: Array<QuoteResult> = []
  for (const value of raw as ReadonlyArray<unknown>) {
    if (!isPlainObject(value)) return undefined
    const answer = value["available"] === true ? offer(value) : value["available"] === false ? unavailable(value) : undefined
    if (answer === undefined) return undefined
    answers.push(answer)
  }
  return answers
}
