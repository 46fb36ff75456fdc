/**
 * A seller's inventory file, read as it streams in: the AbeBooks-style tab-separated upload (a
 * header row of field names, then one listing a line) or JSON Lines with the same field names.
 * The file is never held whole — the caller pushes byte chunks split anywhere (inside a UTF-8
 * character, between CR and LF) and gets back the rows each chunk completes — and a line longer
 * than `maxLineBytes` is skipped without being kept, so a broken or hostile file costs bounded
 * memory. A bad row is a `RowError` and the rest of the file still counts; a file that cannot be
 * read at all (not UTF-8, not tab-separated, required columns missing) is `FileRefused`, so that
 * none of it is applied. Pure and synchronous: the upload job owns IO and the database. Written
 * for million-line files: a chunk is decoded once, fields are checked with char-code loops, and
 * amounts are read digit by digit into integer minor units, never through a float.
 */
import { type Contract, Isbn, Money } from "@bookbroker/adapter-sdk"
import { Option } from "effect"
import { checkFirstChunk, cut, isKnownCurrency, listingIdRefusal, maxQuantity, refusals, unknownCurrency } from "./ListingRules.js"

export { FileRefused } from "./ListingRules.js"

/** `tsv`: AbeBooks/Biblio tab-delimited text with a header row; `jsonl`: one JSON object a line. */
export type Format = "tsv" | "jsonl"

export type Binding = "hardcover" | "softcover" | "other"

/** One listing as the file states it, checked and normalised. */
export interface ListingRow {
  /** 1-based physical line number in the file (the header is line 1 of a TSV). */
  readonly line: number
  /** The seller's own id for the listing, trimmed, 1..100 characters. */
  readonly listingId: string
  readonly isbn: Isbn.Isbn13
  /** Integer minor units; null only when quantity is 0 (a retirement needs no price). */
  readonly price: number | null
  /** Integer minor units; null when the row does not say (the seller's default applies). */
  readonly shipping: number | null
  /** Upper-case ISO 4217 code from the row's `currency`; null: the file's default currency. */
  readonly currency: string | null
  /** 0..999; 0 retires the listing. An empty quantity is 1 (the AbeBooks rule). */
  readonly quantity: number
  /** Null only when quantity is 0. */
  readonly condition: Contract.Condition | null
  readonly binding: Binding | null
  /** Trimmed and cut to 750 characters, as are `author` and `publisher`. */
  readonly title: string | null
  readonly author: string | null
  /** From `publishername` (or `publisher`). */
  readonly publisher: string | null
  /** From `yearpublished` (or `year`): 1000..2100. */
  readonly year: number | null
}

/** A line that yields no listing, and why, in words a seller understands. */
export interface RowError {
  readonly line: number
  /** The field at fault (its canonical name, e.g. `yearpublished` for a `year` column); null: the line as a whole. */
  readonly field: string | null
  readonly reason: string
}

/** What one chunk (or the end of the file) completed. */
export interface Parsed {
  readonly rows: ReadonlyArray<ListingRow>
  readonly errors: ReadonlyArray<RowError>
}

export interface ParserOptions {
  /** The currency of prices on rows that do not name one (ISO 4217). */
  readonly defaultCurrency: string
  /** A longer line is a row error and is skipped unread; default 65,536. */
  readonly maxLineBytes?: number
}

/**
 * A parser for one file. Not reusable: after `end()` (or a `FileRefused`) it is done.
 *
 * @example
 * const file = InventoryFile.parser("tsv", { defaultCurrency: "EUR" })
 * for await (const chunk of body) take(file.push(chunk))
 * take(file.end())
 */
export interface Parser {
  /** Parses what the chunk completes; throws FileRefused when the file cannot be read. */
  readonly push: (chunk: Uint8Array) => Parsed
  /** The end of the file: parses the last line (no trailing newline needed); throws FileRefused (e.g. empty file, no header). */
  readonly end: () => Parsed
  /** Lines read so far (data lines, not the header; blank lines not counted). */
  readonly linesRead: () => number
}

/** Field names a TSV header may use, and the required ones — for docs and error messages. */
export const fields: { readonly required: ReadonlyArray<string>; readonly optional: ReadonlyArray<string> } = {
  required: ["listingid", "isbn", "price", "quantity", "bookcondition"],
  optional: ["title", "author", "publishername", "publisher", "yearpublished", "year", "bindingtext", "shipping", "currency"]
}

// A row's field texts live in one array indexed by these, in the order rows are checked (the first
// error in this order is the one reported).
const LISTING_ID = 0
const ISBN = 1
const QUANTITY = 2
const PRICE = 3
const SHIPPING = 4
const CURRENCY = 5
const CONDITION = 6
const BINDING = 7
const YEAR = 8
const TITLE = 9
const AUTHOR = 10
const PUBLISHER = 11
const fieldNames = ["listingid", "isbn", "quantity", "price", "shipping", "currency", "bookcondition", "bindingtext", "yearpublished", "title", "author", "publishername"]
const fieldCount = fieldNames.length

/** Lower-case field name (aliases included) → its index. */
const fieldIndex: ReadonlyMap<string, number> = new Map([...fieldNames.map((name, index) => [name, index] as const), ["publisher", PUBLISHER], ["year", YEAR]])
const requiredIndexes = [LISTING_ID, ISBN, PRICE, QUANTITY, CONDITION]

const conditionNames = "New, As New, Fine, Like New, Very Good (VG), Good, Fair, Poor, Acceptable"
const conditions: ReadonlyMap<string, Contract.Condition> = new Map([
  ["new", "new"],
  ["as new", "like_new"],
  ["fine", "like_new"],
  ["like new", "like_new"],
  ["like_new", "like_new"],
  ["very good", "very_good"],
  ["vg", "very_good"],
  ["very_good", "very_good"],
  ["good", "good"],
  ["fair", "acceptable"],
  ["poor", "acceptable"],
  ["acceptable", "acceptable"]
])

/** Half of a UTF-16 surrogate pair: with the `u` flag a whole pair is one code point above U+FFFF, so only a lone half matches. */
const loneSurrogate = /[\ud800-\udfff]/u

/** Text PostgreSQL refuses (a NUL) or cannot encode (a lone surrogate): what it is, or undefined. */
const unstorable = (text: string): string | undefined =>
  text.indexOf("\u0000") !== -1
    ? "a NUL character"
    : loneSurrogate.test(text)
      ? "an unpaired UTF-16 surrogate (a \\uD800–\\uDFFF escape without its pair)"
      : undefined

// Outcomes of `minorUnits` other than an amount.
const NOT_PLAIN = -1
const TOO_PRECISE = -2
const TOO_LARGE = -3

/**
 * Starts reading one file.
 *
 * @example
 * const file = InventoryFile.parser("tsv", { defaultCurrency: "EUR" })
 * file.push(new TextEncoder().encode("listingid\tisbn\tprice\tquantity\tbookcondition\nA1\t0-306-40615-2\t12.50\t\tVery Good\n"))
 * // { rows: [{ line: 2, listingId: "A1", isbn: "9780306406157", price: 1250, quantity: 1, condition: "very_good", … }], errors: [] }
 */
export const parser = (format: Format, options: ParserOptions): Parser => {
  const maxLineBytes = options.maxLineBytes ?? 65_536
  const defaultCurrency = options.defaultCurrency.trim().toUpperCase()
  const decoder = new TextDecoder("utf-8", { fatal: true })
  const { refuse, rethrow } = refusals()
  /** The field texts of the row being read, reused row after row. */
  const values: Array<string> = new Array<string>(fieldCount).fill("")
  /** TSV: the header column of each field, or -1. */
  const columnOf = new Int32Array(fieldCount).fill(-1)

  let headerColumns = 0
  /** TSV: the header row was read; JSON Lines: the first non-blank line was. */
  let started = false
  let lineNumber = 0
  let linesRead = 0
  let sawText = false
  let bytesSeen = 0
  /** The start of a line whose end has not arrived yet (at most ~maxLineBytes long). */
  let pending = ""
  /** Inside an overlong line: drop everything up to the next newline. */
  let skipping = false
  /** The last bytes pushed: where a character split across chunks began, to place a UTF-8 error. */
  let tail: Uint8Array = new Uint8Array(0)
  let ended = false
  /** JSON Lines: a field whose value has the wrong type (-1: none), reported in field order like any other error. */
  let badField = -1
  let badReason = ""
  let rowLine = 0
  /** The line may hold text PostgreSQL cannot store (a NUL; in JSON, an escape that can make a lone surrogate). */
  let suspect = false
  let rows: Array<ListingRow> = []
  let errors: Array<RowError> = []

  const rowError = (line: number, field: string | null, reason: string): void => {
    errors.push({ line, field, reason })
  }

  // ---- lines ---------------------------------------------------------------------------------

  /** Splits decoded text into lines, carrying an unfinished one over to the next chunk. */
  const consume = (text: string): void => {
    const length = text.length
    let start = 0
    while (start < length) {
      const newline = text.indexOf("\n", start)
      if (skipping) {
        if (newline === -1) return
        skipping = false
        lineNumber++
        start = newline + 1
        continue
      }
      if (newline === -1) {
        pending = start === 0 && pending === "" ? text : pending + text.slice(start)
        // One more than the limit: the line's CR may be waiting for its LF.
        if (pending.length > maxLineBytes + 1) {
          pending = ""
          skipping = true
          overlong(lineNumber + 1)
        }
        return
      }
      let line = text.slice(start, newline)
      if (pending !== "") {
        line = pending + line
        pending = ""
      }
      start = newline + 1
      lineNumber++
      readLine(line, lineNumber)
    }
  }

  const overlong = (line: number): void => {
    const reason = `longer than ${maxLineBytes} bytes`
    if (format === "tsv" && !started) refuse(`the header row is ${reason}`, line)
    started = true
    sawText = true
    linesRead++
    rowError(line, null, `the line is ${reason}: it was skipped`)
  }

  const readLine = (raw: string, line: number): void => {
    const text = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw
    if (isBlank(text)) return
    sawText = true
    // UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length: count bytes only when it could matter.
    if (text.length > maxLineBytes || (text.length * 3 > maxLineBytes && Buffer.byteLength(text, "utf8") > maxLineBytes)) {
      overlong(line)
      return
    }
    if (format === "tsv") {
      if (!started) {
        readHeader(text, line)
        started = true
        return
      }
      linesRead++
      readTsvRow(text, line)
    } else {
      linesRead++
      readJsonRow(text, line)
    }
  }

  // ---- TSV -----------------------------------------------------------------------------------

  const readHeader = (text: string, line: number): void => {
    const names = text.split("\t")
    if (names.length === 1) {
      const delimiter = [",", ";", "|"].find((candidate) => text.includes(candidate))
      if (delimiter !== undefined) {
        const seen = delimiter === "," ? "commas (a CSV file)" : delimiter === ";" ? "semicolons" : `"|" characters`
        refuse(
          `the file is not tab-separated: the header row has no tabs but is split by ${seen}. Export it as tab-delimited text (.txt): fields separated by tabs, not commas (CSV is not accepted)`,
          line
        )
      }
    }
    const columns = new Map<string, number>()
    for (let column = 0; column < names.length; column++) {
      const name = names[column]!.trim().toLowerCase()
      if (name === "") continue
      const earlier = columns.get(name)
      if (earlier !== undefined) refuse(`the column "${name}" appears twice in the header row (columns ${earlier + 1} and ${column + 1}): keep one`, line)
      columns.set(name, column)
      const field = fieldIndex.get(name)
      if (field === undefined) continue
      const other = columnOf[field]!
      if (other !== -1) {
        refuse(`the columns "${names[other]!.trim()}" and "${names[column]!.trim()}" are the same field (${fieldNames[field]}): keep one`, line)
      }
      columnOf[field] = column
    }
    const missing = requiredIndexes.filter((field) => columnOf[field] === -1).map((field) => fieldNames[field]!)
    if (missing.length > 0) {
      refuse(
        `the header row lacks the required column${missing.length === 1 ? "" : "s"} ${missing.join(", ")} (the first line must name the columns, separated by tabs; required: ${fields.required.join(", ")})`,
        line
      )
    }
    headerColumns = names.length
  }

  const readTsvRow = (text: string, line: number): void => {
    const parts = text.split("\t")
    const count = parts.length
    if (count > headerColumns) {
      rowError(line, null, `${count} fields where the header has ${headerColumns} (is there a tab inside a value?)`)
      return
    }
    for (let field = 0; field < fieldCount; field++) {
      const column = columnOf[field]!
      values[field] = column !== -1 && column < count ? parts[column]!.trim() : ""
    }
    badField = -1
    // Decoded UTF-8 has no lone surrogates; a NUL it may have (in a column bookbroker ignores, harmless).
    suspect = text.indexOf("\u0000") !== -1
    readListing(line)
  }

  // ---- JSON Lines ----------------------------------------------------------------------------

  const readJsonRow = (text: string, line: number, keepSource = false): void => {
    let value: unknown
    try {
      // A number is read through its decimal text, `String(number)`: the same value as written
      // (up to 15 significant digits). When that text has an exponent (1e21, 1e-7) the line is
      // parsed again, four times slower, keeping each number's source: the seller's own text is
      // judged and quoted.
      value = keepSource ? JSON.parse(text, keepNumberText) : JSON.parse(text)
    } catch {
      value = undefined
    }
    const first = !started
    started = true
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      if (first) refuse(`not JSON Lines: line ${line} is not a JSON object (is it a tab-separated file? Upload it as tsv)`, line)
      rowError(line, null, "not a JSON object")
      return
    }
    values.fill("")
    badField = -1
    // Only an escape makes a NUL or a lone surrogate in JSON text (a raw control character is not JSON).
    suspect = text.indexOf("\\u") !== -1
    const record = value as Record<string, unknown>
    for (const key in record) {
      const field = fieldIndex.get(key) ?? fieldIndex.get(key.toLowerCase())
      if (field === undefined) continue
      const item = record[key]
      if (typeof item === "string") {
        values[field] = item.trim()
      } else if (typeof item === "number" || item instanceof NumberText) {
        const decimal = typeof item === "number" ? String(item) : item.source
        if (decimal.includes("e") || decimal.includes("E")) {
          if (!keepSource) return readJsonRow(text, line, true)
          if (badField === -1 || field < badField) {
            badField = field
            badReason = `${fieldNames[field]} ${decimal} is a number with an exponent: write it as a plain decimal or a string`
          }
        } else {
          values[field] = decimal
        }
      } else if (item !== null && (badField === -1 || field < badField)) {
        badField = field
        badReason = `${fieldNames[field]} must be a string or a number`
      }
    }
    readListing(line)
  }

  // ---- one listing ---------------------------------------------------------------------------

  /**
   * Checks the field texts in `values` and yields a row or the first error in field order
   * (`badField`, a value the format already found unusable, is reported in its turn).
   */
  const readListing = (line: number): void => {
    rowLine = line
    if (suspect) {
      for (let field = 0; field < fieldCount; field++) {
        const problem = unstorable(values[field]!)
        if (problem !== undefined) return fail(field, `${fieldNames[field]} contains ${problem}, which cannot be stored`)
      }
    }
    const listingId = values[LISTING_ID]!
    if (listingId.length === 0) return fail(LISTING_ID, "listingid is empty: every listing needs the seller's own id")
    const listingIdRefused = listingIdRefusal(listingId, "listingid")
    if (listingIdRefused !== undefined) return fail(LISTING_ID, listingIdRefused)

    const isbnText = values[ISBN]!
    if (isbnText.length === 0) return fail(ISBN, "isbn is empty: bookbroker finds listings by ISBN")
    const isbn = readIsbn(isbnText)
    if (isbn === undefined) return fail(ISBN, `isbn "${isbnText}" is not a valid ISBN-10 or ISBN-13 (check the digits and the check digit)`)

    const quantityText = values[QUANTITY]!
    const quantity = quantityText.length === 0 ? 1 : readQuantity(quantityText)
    if (quantity < 0) return fail(QUANTITY, `quantity "${quantityText}" must be a whole number from 0 to ${maxQuantity} (0 removes the listing; empty means 1)`)

    // The currency decides how many decimals the amounts may have, but is reported after them.
    const currencyText = values[CURRENCY]!
    const currency = currencyText.length === 0 ? null : (readCurrency(currencyText) ?? null)
    const currencyValid = currencyText.length === 0 || currency !== null
    const amountCurrency = currency ?? defaultCurrency
    const digits = currencyValid ? Money.minorDigits(amountCurrency) : -1

    const priceText = values[PRICE]!
    let price: number | null = null
    if (priceText.length === 0) {
      if (quantity > 0) return fail(PRICE, "price is empty: a listing with stock needs a price")
    } else {
      price = minorUnits(priceText, digits)
      if (price < 0) return fail(PRICE, amountReason("price", priceText, price, digits, amountCurrency))
    }

    const shippingText = values[SHIPPING]!
    let shipping: number | null = null
    if (shippingText.length > 0) {
      shipping = minorUnits(shippingText, digits)
      if (shipping < 0) return fail(SHIPPING, amountReason("shipping", shippingText, shipping, digits, amountCurrency))
    }

    if (!currencyValid) return fail(CURRENCY, unknownCurrency(currencyText))

    const conditionText = values[CONDITION]!
    let condition: Contract.Condition | null = null
    if (conditionText.length === 0) {
      if (quantity > 0) return fail(CONDITION, `bookcondition is empty: a listing with stock needs one of ${conditionNames}`)
    } else {
      condition = conditions.get(conditionText) ?? conditions.get(conditionText.toLowerCase()) ?? null
      if (condition === null) return fail(CONDITION, `bookcondition "${conditionText}" is not one of ${conditionNames}`)
    }

    const binding = readBinding(values[BINDING]!)

    const yearText = values[YEAR]!
    const year = yearText.length === 0 ? null : readYear(yearText)
    if (year === undefined) return fail(YEAR, `yearpublished "${yearText}" must be a 4-digit year from 1000 to 2100`)

    if (badField !== -1) return rowError(line, fieldNames[badField]!, badReason)
    rows.push({
      line,
      listingId,
      isbn,
      price,
      shipping,
      currency,
      quantity,
      condition,
      binding,
      title: cut(values[TITLE]!),
      author: cut(values[AUTHOR]!),
      publisher: cut(values[PUBLISHER]!),
      year
    })
  }

  /** The row's error on `field`, unless the format found an earlier field unusable. */
  const fail = (field: number, reason: string): void => {
    if (badField !== -1 && badField <= field) rowError(rowLine, fieldNames[badField]!, badReason)
    else rowError(rowLine, fieldNames[field]!, reason)
  }

  const readCurrency = (text: string): string | undefined => {
    if (text.length !== 3) return undefined
    for (let i = 0; i < 3; i++) {
      const code = text.charCodeAt(i) | 0x20
      if (code < 97 || code > 122) return undefined
    }
    const code = text.toUpperCase()
    return isKnownCurrency(code) ? code : undefined
  }

  // ---- chunks --------------------------------------------------------------------------------

  const begin = (): void => {
    rethrow()
    if (ended) throw new Error("InventoryFile: the parser was used after end()")
    rows = []
    errors = []
  }

  const push = (chunk: Uint8Array): Parsed => {
    begin()
    if (bytesSeen === 0) checkFirstChunk(chunk, options.defaultCurrency, refuse)
    let text: string
    try {
      text = decoder.decode(chunk, { stream: true })
    } catch {
      const line = invalidUtf8Line(tail, chunk, lineNumber + 1)
      return refuse(notUtf8(line), line)
    }
    bytesSeen += chunk.length
    tail = lastBytes(tail, chunk)
    consume(text)
    return { rows, errors }
  }

  const end = (): Parsed => {
    begin()
    let text: string
    try {
      text = decoder.decode()
    } catch {
      // Only an unfinished character can be left, and it is on the last line.
      return refuse(notUtf8(lineNumber + 1), lineNumber + 1)
    }
    consume(text)
    ended = true
    if (skipping) {
      lineNumber++
    } else if (pending !== "") {
      lineNumber++
      readLine(pending, lineNumber)
      pending = ""
    }
    if (!sawText) refuse(lineNumber === 0 ? "the file is empty" : format === "tsv" ? "no header row: the file has only blank lines" : "the file is empty: it has only blank lines")
    return { rows, errors }
  }

  return { push, end, linesRead: () => linesRead }
}

// ---- field readers (pure) --------------------------------------------------------------------

const notUtf8 = (line: number): string => `the file is not UTF-8 text (at line ${line}): save or export it as UTF-8`

/** A JSON number as written in the file. */
class NumberText {
  constructor(readonly source: string) {}
}

const keepNumberText = (_key: string, value: unknown, context?: { readonly source?: string }): unknown =>
  typeof value === "number" && context?.source !== undefined ? new NumberText(context.source) : value

const isBlank = (text: string): boolean => {
  if (text.length === 0) return true
  // Nearly every line starts with a visible character.
  if (text.charCodeAt(0) > 32) return false
  return text.trim().length === 0
}

/** Hyphens and spaces dropped, then the shape checked before the ISBN library is asked. */
const readIsbn = (text: string): Isbn.Isbn13 | undefined => {
  const compact = text.includes("-") || text.includes(" ") ? text.replace(/[-\s]/g, "") : text
  const length = compact.length
  if (length !== 10 && length !== 13) return undefined
  for (let i = 0; i < length; i++) {
    const code = compact.charCodeAt(i)
    if (code >= 48 && code <= 57) continue
    // ISBN-10's check digit may be X.
    if (length === 10 && i === 9 && (code === 88 || code === 120)) continue
    return undefined
  }
  // Each line names its own ISBN: no memory of spellings (`parseOnce`).
  const parsed = Isbn.parseOnce(compact)
  return Option.isSome(parsed) ? parsed.value : undefined
}

/** Digits only, 0..999; -1 otherwise. */
const readQuantity = (text: string): number => {
  let value = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 48 || code > 57) return -1
    value = value * 10 + (code - 48)
    if (value > maxQuantity) return -1
  }
  return value
}

/** Four digits, 1000..2100; undefined otherwise. */
const readYear = (text: string): number | undefined => {
  if (text.length !== 4) return undefined
  let value = 0
  for (let i = 0; i < 4; i++) {
    const code = text.charCodeAt(i)
    if (code < 48 || code > 57) return undefined
    value = value * 10 + (code - 48)
  }
  return value >= 1000 && value <= 2100 ? value : undefined
}

const readBinding = (text: string): Binding | null => {
  if (text.length === 0) return null
  switch (text.toLowerCase()) {
    case "hardcover":
    case "hardback":
      return "hardcover"
    case "softcover":
    case "paperback":
      return "softcover"
    default:
      return "other"
  }
}

/**
 * A plain non-negative decimal (`12`, `12.5`, `0.29`) as integer minor units with `digits` minor
 * digits, or NOT_PLAIN / TOO_PRECISE / TOO_LARGE. Accepts exactly what `Money.fromDecimal` does
 * (trailing zeros beyond the currency's digits included) but costs no allocation: the digits are
 * accumulated as integers, so `0.29` is 29, never 0.29 × 100. `digits` -1: the shape alone.
 */
const minorUnits = (text: string, digits: number): number => {
  const length = text.length
  let whole = 0
  let i = 0
  for (; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code === 46) break
    if (code < 48 || code > 57) return NOT_PLAIN
    whole = whole * 10 + (code - 48)
  }
  if (i === 0) return NOT_PLAIN
  let fraction = 0
  let fractionDigits = 0
  if (i < length) {
    const from = i + 1
    if (from === length) return NOT_PLAIN
    let end = from
    for (let k = from; k < length; k++) {
      const code = text.charCodeAt(k)
      if (code < 48 || code > 57) return NOT_PLAIN
      if (code !== 48) end = k + 1
    }
    if (digits < 0) return 0
    fractionDigits = end - from
    if (fractionDigits > digits) return TOO_PRECISE
    for (let k = from; k < end; k++) fraction = fraction * 10 + (text.charCodeAt(k) - 48)
  }
  if (digits < 0) return 0
  // Exact while the result is a safe integer; past it, it stays past it.
  const amount = whole * 10 ** digits + fraction * 10 ** (digits - fractionDigits)
  return amount > Number.MAX_SAFE_INTEGER ? TOO_LARGE : amount
}

const amountReason = (field: string, text: string, outcome: number, digits: number, currency: string): string =>
  outcome === TOO_PRECISE
    ? digits === 0
      ? `${field} "${text}" has decimals, but ${currency} amounts have none`
      : `${field} "${text}" has more than ${digits} decimals for ${currency}`
    : outcome === TOO_LARGE
      ? `${field} "${text}" is too large`
      : `${field} "${text}" is not a plain amount: digits and one "." only, no currency symbol, no thousands separator (e.g. 1234.50)`

// ---- UTF-8 errors (rare: only when the file is refused) ----------------------------------------

/** The last (up to) three bytes pushed: enough to hold the start of a character split across chunks. */
const lastBytes = (previous: Uint8Array, chunk: Uint8Array): Uint8Array => {
  if (chunk.length >= 3) return chunk.slice(chunk.length - 3)
  const joined = new Uint8Array(previous.length + chunk.length)
  joined.set(previous)
  joined.set(chunk, previous.length)
  return joined.slice(Math.max(0, joined.length - 3))
}

/**
 * The line holding the first byte that is not UTF-8: the chunk is decoded again one line at a
 * time, after the unfinished character the previous chunk may have left.
 */
const invalidUtf8Line = (tail: Uint8Array, chunk: Uint8Array, firstLine: number): number => {
  const probe = new TextDecoder("utf-8", { fatal: true })
  let start = 0
  // Continuation bytes at the front of the tail end a character that was complete.
  while (start < tail.length && (tail[start]! & 0xc0) === 0x80) start++
  try {
    probe.decode(tail.subarray(start), { stream: true })
  } catch {
    return firstLine
  }
  let line = firstLine
  let from = 0
  while (from < chunk.length) {
    const newline = chunk.indexOf(10, from)
    const to = newline === -1 ? chunk.length : newline + 1
    try {
      probe.decode(chunk.subarray(from, to), { stream: true })
    } catch {
      return line
    }
    line++
    from = to
  }
  return line
}
