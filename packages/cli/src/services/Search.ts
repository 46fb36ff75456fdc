/**
 * `bookbroker search <words…>`: books by title, author, publisher or ISBN, as a table with each
 * one's best current offer (from the sellers' inventory feeds and pushed prices) and how many
 * there are; a full page ends with the command for the next one.
 */
import { Effect } from "effect"
import type * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import * as Input from "../Input.js"
import { money } from "../ui/Format.js"
import type { Ui } from "../ui/Render.js"
import { tableView, type TableProps } from "../ui/Table.js"
import { age } from "./Offers.js"

const conditions = ["new", "like_new", "very_good", "good", "acceptable"] as const
type Condition = (typeof conditions)[number]

/** The command's options, as commander gives them. */
export interface SearchFlags {
  readonly currency: string
  readonly condition?: string
  readonly inStock?: boolean
  readonly max?: string
  readonly sort: string
  readonly limit: string
  readonly cursor?: string
}

export interface SearchOptions extends SearchFlags {
  readonly words: ReadonlyArray<string>
}

/** The next page's command, with the same filters. */
const nextCommand = (options: SearchOptions, query: Api.BookSearchQuery, cursor: string) =>
  [
    "bookbroker search",
    JSON.stringify(query.q),
    ...(query.currency === undefined || query.currency === "EUR" ? [] : [`--currency ${query.currency}`]),
    ...(query.condition === undefined ? [] : [`--condition ${query.condition}`]),
    ...(query.in_stock === true ? ["--in-stock"] : []),
    ...(options.max === undefined ? [] : [`--max ${options.max.trim()}`]),
    ...(query.sort === "price" ? ["--sort price"] : []),
    ...(options.limit.trim() === "20" ? [] : [`--limit ${options.limit.trim()}`]),
    `--cursor ${cursor}`
  ].join(" ")

/** Books offered only in currencies the server could not compare with the one asked: say so, and how to see their prices. */
const otherCurrenciesHint = (page: Api.BookSearchPage): ReadonlyArray<string> => {
  const others = [...new Set(page.hits.filter((hit) => hit.best_offer === null).flatMap((hit) => hit.other_currencies))].sort()
  return others.length === 0
    ? []
    : [`"in ${others.join(", ")}": offered only in ${others.length === 1 ? "that currency" : "those currencies"}, not comparable with ${page.currency} here (no exchange rate): search again with --currency ${others[0]}`]
}

export const table = (page: Api.BookSearchPage, next: string | null, filtered = false): TableProps => ({
  title: `${page.hits.length} book${page.hits.length === 1 ? "" : "s"}${page.isbn === null ? "" : ` for ISBN ${page.isbn}`}`,
  headers: ["#", "isbn", "title", "author", "year", "best offer", "condition", "seller", "offers", "age"],
  rows: page.hits.map((hit, index) => [
    String(index + 1),
    hit.isbn,
    hit.title ?? "(not in any seller's feed)",
    hit.author ?? "—",
    hit.year === null ? "—" : String(hit.year),
    hit.best_offer !== null ? money(hit.best_offer.total) : hit.other_currencies.length > 0 ? `in ${hit.other_currencies.join(", ")}` : "—",
    hit.best_offer === null ? "—" : hit.best_offer.condition.replaceAll("_", " "),
    hit.best_offer?.seller_name ?? "—",
    String(hit.offers),
    hit.best_offer === null ? "—" : age({ source: hit.best_offer.source, age_seconds: hit.best_offer.age_seconds })
  ]),
  empty: filtered ? "no book matches with these filters (condition, stock, maximum): try without them" : "no book matches",
  footer: [
    ...(page.hits.some((hit) => hit.best_offer !== null) ? ["offers are what the sellers' feeds say, as old as shown: buying confirms the price with the seller"] : []),
    ...otherCurrenciesHint(page),
    ...(page.hits.length === 1 && page.hits[0]!.best_offer === null ? [`ask every seller now: bookbroker offers ${page.hits[0]!.isbn}`] : []),
    ...(next === null ? [] : [`more: ${next}`])
  ]
})

export const search = (api: Api.Api, ui: Ui, options: SearchOptions): Effect.Effect<Api.BookSearchPage, CliError> =>
  Effect.gen(function* () {
    const q = options.words.join(" ").trim()
    if (q.length === 0 || q.length > 200) return yield* Effect.fail(fail("the search must be 1 to 200 characters", 'e.g. bookbroker search "dune herbert"'))
    const currency = yield* Input.currency(options.currency)
    const condition = options.condition?.trim().toLowerCase().replaceAll(" ", "_").replaceAll("-", "_")
    if (condition !== undefined && !conditions.includes(condition as Condition)) {
      return yield* Effect.fail(fail(`--condition "${options.condition}" is not a condition`, `use one of ${conditions.join(", ")}`))
    }
    const sort = options.sort.trim().toLowerCase()
    if (sort !== "relevance" && sort !== "price") return yield* Effect.fail(fail(`--sort "${options.sort}" is not an order`, "use relevance or price"))
    const limit = yield* Input.integer(options.limit, "--limit", 1, 50)
    const max = options.max === undefined ? undefined : yield* Input.price(options.max, currency, "--max")
    const query: Api.BookSearchQuery = {
      q,
      currency,
      ...(condition === undefined ? {} : { condition: condition as Condition }),
      ...(options.inStock === true ? { in_stock: true } : {}),
      ...(max === undefined ? {} : { max_total: options.max!.trim() }),
      sort,
      limit,
      ...(options.cursor === undefined ? {} : { cursor: options.cursor })
    }
    const page = yield* api.searchBooks(query)
    const filtered = condition !== undefined || options.inStock === true || max !== undefined || sort === "price"
    ui.result(page, tableView, table(page, page.next_cursor === null ? null : nextCommand(options, query, page.next_cursor), filtered))
    return page
  })
