/**
 * `bookbroker offers <isbn>`: the book's current offers, cheapest total first, each with where
 * its price comes from (the seller now, its inventory feed, a price it pushed) and how old it is.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { Effect } from "effect"
import type * as Api from "../Api.js"
import type { CliError } from "../CliError.js"
import * as Input from "../Input.js"
import { money, millis } from "../ui/Format.js"
import type { Ui } from "../ui/Render.js"
import { tableView, type TableProps } from "../ui/Table.js"

export interface OffersOptions {
  readonly isbn: string
  readonly currency: string
}

const reasons: Record<string, string> = {
  not_carried: "does not carry it",
  out_of_stock: "out of stock",
  timeout: "timed out",
  straggler: "too slow, not waited for",
  deadline: "no answer by the deadline"
}

/** How old a feed or pushed price is (`45s`, `3m`, `2h`, `4d`); `—` for a live answer. */
export const age = (offer: Pick<Api.BookOffer, "source" | "age_seconds">): string => {
  const seconds = offer.age_seconds
  if (offer.source === "live" || seconds === null || seconds === undefined) return "—"
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}

export const table = (book: Api.BookOffers): TableProps => {
  const silent = book.sellers.filter((seller) => !book.offers.some((offer) => offer.seller_id === seller.seller_id))
  const cheapest = book.offers[0]
  return {
    title: `${book.offers.length} offer${book.offers.length === 1 ? "" : "s"} for ${book.isbn} (${book.sellers.length} sellers asked, ${millis(book.duration_ms)})`,
    headers: ["#", "seller", "price", "shipping", "total", "condition", "qty", "source", "age", "valid until"],
    rows: book.offers.map((offer, index) => [
      String(index + 1),
      offer.seller_name,
      money(offer.price),
      money(offer.shipping),
      money(offer.total),
      offer.condition.replaceAll("_", " "),
      offer.quantity === null ? "—" : String(offer.quantity),
      // A server older than the offer index does not say: its prices are all live.
      offer.source ?? "live",
      age(offer),
      new Date(offer.expires_at).toLocaleTimeString("en-GB")
    ]),
    highlight: [0],
    empty: "no seller offers this book right now",
    footer: [
      ...(book.offers.some((offer) => (offer.source ?? "live") !== "live") ? ["feed and push prices are what the seller stated, as old as shown: a purchase confirms them with the seller first"] : []),
      ...(silent.length === 0
        ? []
        : [`no offer from: ${silent.map((seller) => `${seller.seller_name} (${seller.reason === null ? seller.status.replaceAll("_", " ") : (reasons[seller.reason] ?? seller.reason)})`).join(", ")}`]),
      ...(cheapest === undefined ? [] : [`buy the cheapest: bookbroker buy ${book.isbn} --max ${roundedUp(cheapest.total)}${book.currency === "EUR" ? "" : ` --currency ${book.currency}`}`])
    ]
  }
}

/** The whole unit at or above an amount (`12.50` → `13.00`), a friendly maximum to suggest. */
const roundedUp = (value: Api.MoneyWire) => {
  const digits = Money.minorDigits(value.currency)
  const unit = 10 ** digits
  const whole = Math.ceil(value.amount / unit)
  return digits === 0 ? String(whole) : `${whole}.${"0".repeat(digits)}`
}

export const offers = (api: Api.Api, ui: Ui, options: OffersOptions): Effect.Effect<Api.BookOffers, CliError> =>
  Effect.gen(function* () {
    const isbn = yield* Input.isbn(options.isbn)
    const currency = yield* Input.currency(options.currency)
    const book = yield* api.offers(isbn, currency)
    ui.result(book, tableView, table(book))
    return book
  })
