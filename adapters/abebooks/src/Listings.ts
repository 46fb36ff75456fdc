/**
 * From AbeBooks Search Web Services listings to one answer per ISBN. The Purchase API has no
 * quote or availability call; AbeBooks designs it to be used with the Search Web Services
 * (`GET /search?clientkey=…&isbn=…&currency=…&destinationcountry=…`), which answer every
 * copy on offer from every bookseller. The adapter offers the cheapest copy (price + first-book
 * shipping) in at least the configured condition. Element names: `firstBookShipCost` is from
 * AbeBooks' guide; `bookId`, `isbn13`, `isbn10`, `listingPrice`, `quantity`,
 * `listingCondition`, `itemCondition` are from published client code, not AbeBooks' own text.
 */
import { type Contract, Money } from "@bookbroker/adapter-sdk"
import { Result } from "effect"
import type { BookRecord } from "./internal/searchXml.js"

export const conditionRank: Readonly<Record<Contract.Condition, number>> = { new: 4, like_new: 3, very_good: 2, good: 1, acceptable: 0 }

/**
 * AbeBooks condition words (the upload format's `New`, `As New`, `Fine`, `Very Good`, `Good`,
 * `Fair`, `Poor`) in contract v1. A used copy described in words not listed here is taken as
 * `acceptable`: never better than the bookseller said.
 */
export const conditionOf = (record: BookRecord): Contract.Condition => {
  if ((record["listingCondition"] ?? "").trim().toUpperCase() === "NEW BOOK") return "new"
  const words = (record["itemCondition"] ?? "").trim().toLowerCase().replace(/^used\s*[-:]\s*/, "")
  switch (words) {
    case "new":
      return "new"
    case "as new":
    case "like new":
    case "fine":
      return "like_new"
    case "very good":
    case "near fine":
      return "very_good"
    case "good":
      return "good"
    default:
      return "acceptable"
  }
}

export interface Listing {
  readonly listingId: string
  readonly isbn: string
  readonly price: Money.Money
  readonly shipping: Money.Money
  readonly quantity: number
  readonly condition: Contract.Condition
}

/** One `<Book>` as a listing in `currency` (the currency the search asked for), or why it cannot be one. */
export const listingOf = (record: BookRecord, currency: string): Result.Result<Listing, string> => {
  const listingId = record["bookId"]?.trim() ?? ""
  if (listingId === "") return Result.fail("a <Book> without bookId")
  const price = Money.fromDecimal(record["listingPrice"] ?? "", currency)
  if (Result.isFailure(price)) return Result.fail(`listing ${listingId} listingPrice: ${price.failure}`)
  const shipping = Money.fromDecimal(record["firstBookShipCost"] ?? "", currency)
  if (Result.isFailure(shipping)) return Result.fail(`listing ${listingId} firstBookShipCost: ${shipping.failure}`)
  const quantityText = (record["quantity"] ?? "").trim()
  // The guide's quantity semantics for uploads: empty means one copy.
  const quantity = quantityText === "" ? 1 : /^\d+$/.test(quantityText) ? Number(quantityText) : NaN
  if (!Number.isSafeInteger(quantity)) return Result.fail(`listing ${listingId} quantity "${quantityText}" is not a whole number`)
  return Result.succeed({
    listingId,
    isbn: (record["isbn13"] ?? "").trim(),
    price: price.success,
    shipping: shipping.success,
    quantity,
    condition: conditionOf(record)
  })
}

/**
 * The answer for one ISBN: the cheapest copy in stock in at least `minimumCondition`; no listing
 * at all is `not_carried`, listings none of which can be offered are `out_of_stock`.
 */
export const choose = (
  isbn: string,
  listings: ReadonlyArray<Listing>,
  minimumCondition: Contract.Condition
): { readonly _tag: "Offer"; readonly listing: Listing } | { readonly _tag: "Unavailable"; readonly reason: Contract.UnavailableReason } => {
  // A listing that names another ISBN-13 is another book (SWS also matches ISBN-10 and related editions).
  const forBook = listings.filter((listing) => listing.isbn === "" || listing.isbn === isbn)
  if (forBook.length === 0) return { _tag: "Unavailable", reason: "not_carried" }
  const eligible = forBook.filter((listing) => listing.quantity > 0 && conditionRank[listing.condition] >= conditionRank[minimumCondition])
  const best = eligible.reduce<Listing | undefined>(
    (cheapest, listing) =>
      cheapest === undefined || listing.price.amount + listing.shipping.amount < cheapest.price.amount + cheapest.shipping.amount ? listing : cheapest,
    undefined
  )
  return best === undefined ? { _tag: "Unavailable", reason: "out_of_stock" } : { _tag: "Offer", listing: best }
}
