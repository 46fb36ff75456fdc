/**
 * What every inventory format holds a listing to, whatever the file looks like: the limits of a
 * listing (its id, its texts, its quantity), the currency test, the checks on a file's first bytes,
 * and how a whole file is refused (`FileRefused`, which sticks: once refused, a parser only repeats
 * it). `InventoryFile` (TSV, JSON Lines) and `OnixFile` both read through these, so a TSV row and
 * an ONIX Product meet the same limits and a seller reads the same words whichever format it sends.
 * Pure; imports neither parser.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { Schema } from "effect"

/** A listing id (the seller's own, or ONIX's RecordReference) is at most this long. */
export const maxListingId = 100
/**
 * Listing ids bookbroker keeps for itself: a price a seller pushes (`POST /v1/sellers/me/offers`)
 * is kept in the offer index under `push:<isbn>`, so no file's listing may take such an id (an
 * upload would otherwise overwrite a pushed price, or fail whole when a push for that book landed
 * while it was applied).
 */
export const pushListingPrefix = "push:"

/** Why a listing id cannot be used, or `undefined` when it can (`field` names it as the format does). */
export const listingIdRefusal = (listingId: string, field: string): string | undefined =>
  listingId.length > maxListingId
    ? `${field} is longer than ${maxListingId} characters`
    : listingId.toLowerCase().startsWith(pushListingPrefix)
      ? `${field} "${listingId.slice(0, 40)}" starts with "${pushListingPrefix}", which bookbroker keeps for the prices sellers push: use another id`
      : undefined

/** Title, author and publisher are cut to this many characters. */
export const maxText = 750
/** The most copies a listing states (AbeBooks' ceiling): a larger TSV / JSON Lines quantity is a row error, larger ONIX stock is listed as this. */
export const maxQuantity = 999

/** The file as a whole cannot be read: nothing of it may be applied. `reason` says what is wrong in words a seller understands. */
export class FileRefused extends Schema.TaggedError<FileRefused>()("FileRefused", {
  reason: Schema.String,
  line: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return this.line === undefined ? this.reason : `line ${this.line}: ${this.reason}`
  }
}

/** One file's refusal: the first one is kept and thrown again by every later call. */
export interface Refusals {
  /** Refuses the file: throws `FileRefused`. */
  readonly refuse: (reason: string, line?: number) => never
  /** Throws the file's refusal again, if it was refused. */
  readonly rethrow: () => void
}

export const refusals = (): Refusals => {
  let refusal: FileRefused | undefined
  return {
    refuse: (reason, line) => {
      refusal = new FileRefused(line === undefined ? { reason } : { reason, line })
      throw refusal
    },
    rethrow: () => {
      if (refusal !== undefined) throw refusal
    }
  }
}

const currencies = new Map<string, boolean>()

/**
 * An ISO 4217 code bookbroker can price in (upper case). Asked once a row, so answers are
 * remembered — only for three capital letters, so what a file says cannot grow the memo past 26³.
 */
export const isKnownCurrency = (code: string): boolean => {
  let known = currencies.get(code)
  if (known === undefined) {
    if (!/^[A-Z]{3}$/.test(code)) return false
    known = Schema.is(Money.CurrencyCode)(code)
    currencies.set(code, known)
  }
  return known
}

/** Why a currency a file names (or the header's default) is refused. */
export const unknownCurrency = (text: string): string => `currency "${text}" is not an ISO 4217 currency code (e.g. EUR, USD, GBP)`

/**
 * The checks on a file's first chunk, before any of it is read: UTF-16 (a byte-order mark; Excel's
 * "Unicode Text") is not UTF-8, and prices without a currency of their own need a known default.
 * Refuses through `refuse`.
 */
export const checkFirstChunk = (chunk: Uint8Array, defaultCurrency: string, refuse: Refusals["refuse"]): void => {
  if (chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))) {
    refuse("the file is UTF-16 text, not UTF-8: save it as UTF-8 text", 1)
  }
  if (!isKnownCurrency(defaultCurrency.trim().toUpperCase())) {
    refuse(`the prices' currency "${defaultCurrency}" is not an ISO 4217 currency code (e.g. EUR, USD, GBP)`)
  }
}

/** Empty → null; longer than `maxText` characters → cut (never inside a surrogate pair). */
export const cut = (text: string | null): string | null => {
  if (text === null || text.length === 0) return null
  if (text.length <= maxText) return text
  const code = text.charCodeAt(maxText - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? maxText - 1 : maxText)
}
