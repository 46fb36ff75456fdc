/**
 * Money as integer minor units plus an ISO 4217 currency code. Never a float: amounts from
 * sellers that speak decimals are converted through their decimal string, and the number of
 * minor digits comes from the runtime's ISO 4217 data (`Intl`), not from a hand-kept table.
 */
import { Result, Schema } from "effect"

const knownCurrencies: ReadonlySet<string> = new Set(Intl.supportedValuesOf("currency"))

/** An ISO 4217 alphabetic code the runtime knows, e.g. `"EUR"`. */
export const CurrencyCode = Schema.String.check(
  Schema.makeFilter((code: string) => knownCurrencies.has(code) || `unknown ISO 4217 currency code "${code}"`)
).pipe(Schema.brand("CurrencyCode"))
export type CurrencyCode = typeof CurrencyCode.Type

/** Whether `code` is a {@link CurrencyCode}: the check the schema makes. */
export const isCurrencyCode = (code: string): code is CurrencyCode => knownCurrencies.has(code)

/** A non-negative whole number of minor units (cents for EUR, yen for JPY). */
export const MinorUnits = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER))

/**
 * An amount of money.
 *
 * @example
 * const price = Money.make(1299, "EUR") // €12.99
 */
export class Money extends Schema.Class<Money>("Money")({
  amount: MinorUnits,
  currency: CurrencyCode
}) {}

/** The JSON shape of {@link Money}: `{ amount: 1299, currency: "EUR" }`. */
export type MoneyInput = typeof Money.Encoded

/** Builds a Money, throwing on a non-integer amount or an unknown currency (programming errors). */
export const make = (amount: number, currency: string): Money => new Money({ amount, currency: decodeCurrency(currency) })
const decodeCurrency = Schema.decodeSync(CurrencyCode)

/** How many minor digits a currency has (2 for EUR, 0 for JPY, 3 for KWD). */
export const minorDigits = (currency: string): number => {
  let digits = digitsByCurrency.get(currency)
  if (digits === undefined) {
    // Building an Intl.NumberFormat costs ~100 µs; every seller answer needs this, so remember it.
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2
    digitsByCurrency.set(currency, digits)
  }
  return digits
}
const digitsByCurrency = new Map<string, number>()

/**
 * Converts a decimal amount as a seller sends it (`12.99`, `"12.9"`, `"1e1"` is refused) into
 * minor units, exactly. Fails when the value has more decimals than the currency allows or is
 * not a plain non-negative decimal.
 */
export const fromDecimal = (value: number | string, currency: string): Result.Result<Money, string> => {
  const text = typeof value === "number" ? decimalText(value) : value.trim()
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text)
  if (match === null) return Result.fail(`"${String(value)}" is not a non-negative decimal amount`)
  const digits = minorDigits(currency)
  const fraction = (match[2] ?? "").replace(/0+$/, "")
  if (fraction.length > digits) {
    return Result.fail(`"${String(value)}" has more than ${digits} decimals for ${currency}`)
  }
  const amount = Number(match[1]! + fraction.padEnd(digits, "0"))
  if (!Number.isSafeInteger(amount)) return Result.fail(`"${String(value)}" is too large`)
  if (!knownCurrencies.has(currency)) return Result.fail(`unknown currency "${currency}"`)
  return Result.succeed(new Money({ amount, currency: currency as CurrencyCode }))
}

/** Renders minor units as a decimal string without rounding: `toDecimal(make(1299, "EUR"))` is `"12.99"`. */
export const toDecimal = (money: Money): string => {
  const digits = minorDigits(money.currency)
  if (digits === 0) return String(money.amount)
  const text = String(money.amount).padStart(digits + 1, "0")
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`
}

/** Formats for people, e.g. `€12.99`. */
export const format = (money: Money, locale = "en"): string =>
  new Intl.NumberFormat(locale, { style: "currency", currency: money.currency }).format(
    Number(toDecimal(money))
  )

/** Adds two amounts of the same currency; a currency mismatch is a programming error. */
export const add = (a: Money, b: Money): Money => {
  if (a.currency !== b.currency) throw new Error(`cannot add ${a.currency} and ${b.currency}`)
  return new Money({ amount: a.amount + b.amount, currency: a.currency })
}

const decimalText = (value: number): string => {
  if (!Number.isFinite(value) || value < 0) return String(value)
  // Shortest round-trip representation: 12.99 → "12.99"; exponent forms are refused above.
  return String(value)
}
