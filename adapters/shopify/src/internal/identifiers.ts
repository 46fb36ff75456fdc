/**
 * The identifiers the adapter writes into a shop and reads back: the barcode search for a set
 * of ISBNs, the tag that marks a draft order with bookbroker's idempotency key, and the quote id
 * (which variant was quoted, and when by the shop's clock). Rules that decide truth, so they are
 * plain functions, tested on their own.
 */
import { createHash } from "node:crypto"
import { Isbn } from "@bookbroker/adapter-sdk"
import { Option } from "effect"

/**
 * The ISBN-10 spelling of a 978 ISBN-13, or undefined (979 ISBNs have none). The SDK's ISBN
 * library has the last word: a spelling it does not read back as the same book is not used.
 */
export const isbn10Of = (isbn: Isbn.Isbn13): string | undefined => {
  if (!isbn.startsWith("978")) return undefined
  const body = isbn.slice(3, 12)
  const sum = [...body].reduce((total, digit, index) => total + (10 - index) * Number(digit), 0)
  const check = (11 - (sum % 11)) % 11
  const candidate = body + (check === 10 ? "X" : String(check))
  return Option.contains(Isbn.parse(candidate), isbn) ? candidate : undefined
}

/**
 * How merchants type an ISBN into the barcode field: ISBN-13, ISBN-10, ISBN-13 with hyphens.
 * Values with a hyphen are quoted (a leading `-` negates a search term).
 */
export const barcodeForms = (isbn: Isbn.Isbn13): ReadonlyArray<string> => {
  const forms = [isbn, isbn10Of(isbn), Isbn.hyphenate(isbn)].filter((form): form is string => form !== undefined)
  return [...new Set(forms)]
}

/** `barcode:… OR barcode:… OR barcode:"…"` over every form of every ISBN. */
export const barcodeQuery = (isbns: ReadonlyArray<Isbn.Isbn13>): string =>
  isbns
    .flatMap(barcodeForms)
    .map((form) => (/^[0-9Xx]+$/.test(form) ? `barcode:${form}` : `barcode:"${form}"`))
    .join(" OR ")

/** The book a barcode names, whatever spelling the merchant used; none for other barcodes. */
export const isbnOfBarcode = (barcode: string | null): Option.Option<Isbn.Isbn13> => (barcode === null ? Option.none() : Isbn.parse(barcode))

/**
 * The draft-order tag for an idempotency key: `bb-` and 32 hex digits of its SHA-256. Keys are
 * `{requestId}:{sellerId}`, longer than Shopify's tag limit (40 characters, unconfirmed) and
 * full of characters its search syntax treats specially; the hash is neither. The key itself
 * travels in a custom attribute, which the adapter checks, so a hash collision or a tag a person
 * copied cannot pass for our order.
 */
export const keyTag = (idempotencyKey: string): string => `bb-${createHash("sha256").update(idempotencyKey).digest("hex").slice(0, 32)}`

/** Custom attributes the adapter puts on every draft order. */
export const attributes = {
  idempotencyKey: "bookbroker_idempotency_key",
  buyerReference: "bookbroker_request",
  isbn: "bookbroker_isbn"
} as const

export interface QuoteId {
  readonly variantId: string
  /** The shop's clock when it answered the quote, in whole seconds. */
  readonly issuedAtSeconds: number
}

/** `gid://shopify/ProductVariant/4441#t=1767225600`. */
export const formatQuoteId = (quote: QuoteId): string => `${quote.variantId}#t=${quote.issuedAtSeconds}`

export const parseQuoteId = (quoteId: string): Option.Option<QuoteId> => {
  const match = /^(gid:\/\/shopify\/ProductVariant\/[^#\s]+)#t=(\d+)$/.exec(quoteId)
  return match === null ? Option.none() : Option.some({ variantId: match[1]!, issuedAtSeconds: Number(match[2]) })
}
