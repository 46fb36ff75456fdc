/**
 * Exchange rates as an operator publishes them: one base currency, the day they are for, and
 * how many units of each other currency one unit of the base buys, as exact decimals. Two
 * formats are read:
 *
 * - the European Central Bank's daily reference rates (`eurofxref-daily.xml`: base EUR,
 *   `<Cube time="2026-12-04"><Cube currency="USD" rate="1.0842"/>…`), as published or saved;
 * - JSON: `{"base": "EUR", "date": "2026-12-04", "rates": {"USD": "1.0842", "GBP": 0.8571}}`.
 *
 * Rates stay decimal strings and become exact fractions (`Rate`): no float ever touches an
 * amount. Pure: text in, a table or a message saying what is wrong out.
 */
import { Result } from "effect"
import { SaxesParser } from "saxes"

export interface RateTable {
  readonly base: string
  /** The day the rates are for (YYYY-MM-DD), as the publisher says. */
  readonly date: string
  /** Where they came from (a file path or URL), for the status and the operator. */
  readonly source: string
  /** Units of each currency per one unit of `base` (the base itself is not listed). */
  readonly rates: ReadonlyMap<string, string>
}

/** An exact positive fraction: units of one currency per unit of another. */
export interface Rate {
  readonly numerator: bigint
  readonly denominator: bigint
}

const currencyPattern = /^[A-Z]{3}$/
const datePattern = /^\d{4}-\d{2}-\d{2}$/
/** A positive decimal as publishers write rates: digits, an optional fraction, nothing else. */
const decimalPattern = /^(\d{1,12})(?:\.(\d{1,12}))?$/

/** A decimal rate as an exact fraction, or `undefined` when it is not a positive decimal. */
export const fromDecimal = (text: string): Rate | undefined => {
  const match = decimalPattern.exec(text.trim())
  if (match === null) return undefined
  const fraction = match[2] ?? ""
  const numerator = BigInt(match[1]! + fraction)
  if (numerator === 0n) return undefined
  return reduce({ numerator, denominator: 10n ** BigInt(fraction.length) })
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b))
const reduce = (rate: Rate): Rate => {
  const divisor = gcd(rate.numerator, rate.denominator)
  return { numerator: rate.numerator / divisor, denominator: rate.denominator / divisor }
}

/** `"numerator/denominator"`, as a request keeps the rate it was priced with. */
export const encodeRate = (rate: Rate): string => `${rate.numerator}/${rate.denominator}`
export const decodeRate = (text: string): Rate | undefined => {
  const match = /^(\d{1,40})\/(\d{1,40})$/.exec(text)
  if (match === null) return undefined
  const rate = { numerator: BigInt(match[1]!), denominator: BigInt(match[2]!) }
  return rate.numerator === 0n || rate.denominator === 0n ? undefined : rate
}

/** How many units of `to` one unit of `from` buys, crossed through the table's base; `undefined` when either is missing. */
export const rate = (table: RateTable, from: string, to: string): Rate | undefined => {
  const of = (currency: string): Rate | undefined => (currency === table.base ? { numerator: 1n, denominator: 1n } : fromDecimal(table.rates.get(currency) ?? ""))
  const a = of(from)
  const b = of(to)
  if (a === undefined || b === undefined) return undefined
  // (b per base) / (a per base) = b per a
  return reduce({ numerator: b.numerator * a.denominator, denominator: b.denominator * a.numerator })
}

/** A rate as a decimal for people, rounded to `digits` decimals: `1.0842`. */
export const toDecimal = (rate: Rate, digits = 6): string => {
  const scale = 10n ** BigInt(digits)
  const scaled = (rate.numerator * scale * 2n + rate.denominator) / (rate.denominator * 2n)
  const text = scaled.toString().padStart(digits + 1, "0")
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`.replace(/\.?0+$/, "")
}

const checked = (base: string, date: string, source: string, entries: ReadonlyArray<readonly [string, string]>): Result.Result<RateTable, string> => {
  if (!currencyPattern.test(base)) return Result.fail(`the base currency "${base}" is not a three-letter ISO 4217 code`)
  if (!datePattern.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) return Result.fail(`the date "${date}" is not a YYYY-MM-DD day`)
  const rates = new Map<string, string>()
  for (const [currency, value] of entries) {
    if (!currencyPattern.test(currency)) return Result.fail(`"${currency}" is not a three-letter ISO 4217 code`)
    if (fromDecimal(value) === undefined) return Result.fail(`the rate for ${currency} ("${value}") is not a positive decimal number`)
    if (currency !== base) rates.set(currency, value.trim())
  }
  if (rates.size === 0) return Result.fail("no rates in it")
  return Result.succeed({ base, date, source, rates })
}

/** The ECB's `eurofxref` XML: the first day's cube (the daily file has one; the history files start with the latest). */
const parseEcb = (text: string, source: string): Result.Result<RateTable, string> => {
  let date: string | undefined
  let done = false
  const entries: Array<readonly [string, string]> = []
  const parser = new SaxesParser()
  let error: string | undefined
  parser.on("error", (cause) => {
    error ??= `not well-formed XML (${cause.message.split("\n")[0]})`
  })
  parser.on("opentag", (tag) => {
    // Without namespace processing a name keeps its prefix (`gesmes:Envelope`); the cubes have none in the ECB's files.
    if (done || tag.name.replace(/^.*:/, "") !== "Cube") return
    const attribute = (name: string): string | undefined => tag.attributes[name]
    const time = attribute("time")
    if (time !== undefined) {
      if (date !== undefined) done = true
      else date = time
      return
    }
    const currency = attribute("currency")
    const value = attribute("rate")
    if (date !== undefined && currency !== undefined && value !== undefined) entries.push([currency, value])
  })
  try {
    parser.write(text).close()
  } catch (cause) {
    error ??= `not well-formed XML (${String(cause).split("\n")[0]})`
  }
  if (error !== undefined) return Result.fail(error)
  if (date === undefined) return Result.fail('no <Cube time="…"> with rates in it (is it the ECB\'s eurofxref file?)')
  return checked("EUR", date, source, entries)
}

const parseJson = (text: string, source: string): Result.Result<RateTable, string> => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return Result.fail("neither the ECB's XML nor valid JSON")
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return Result.fail('JSON must be an object: {"base": "EUR", "date": "YYYY-MM-DD", "rates": {"USD": "1.0842"}}')
  const { base, date, rates } = value as Record<string, unknown>
  if (typeof base !== "string") return Result.fail('"base" (the currency the rates are per unit of) is missing')
  if (typeof date !== "string") return Result.fail('"date" (YYYY-MM-DD) is missing')
  if (typeof rates !== "object" || rates === null || Array.isArray(rates)) return Result.fail('"rates" must be an object of currency → rate')
  const entries: Array<readonly [string, string]> = []
  for (const [currency, rate] of Object.entries(rates)) {
    // A JSON number's shortest decimal form is what its author wrote (1.0842 stays "1.0842").
    if (typeof rate !== "string" && typeof rate !== "number") return Result.fail(`the rate for ${currency} must be a number or a decimal string`)
    entries.push([currency, String(rate)])
  }
  return checked(base, date, source, entries)
}

/** Reads a rates document (ECB XML or JSON, told apart by its first character). */
export const parse = (text: string, source: string): Result.Result<RateTable, string> => {
  const trimmed = text.replace(/^\uFEFF/, "").trimStart()
  return trimmed.startsWith("<") ? parseEcb(trimmed, source) : parseJson(trimmed, source)
}

/** Whole days from the table's date to `now` (UTC days; 0 on its own day). */
export const ageInDays = (table: RateTable, now: Date): number => Math.floor((now.getTime() - Date.parse(`${table.date}T00:00:00Z`)) / 86_400_000)
