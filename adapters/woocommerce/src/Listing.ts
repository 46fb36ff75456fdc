/**
 * The rules that turn a WooCommerce shop's product list into bookbroker's offer index, so a shop
 * joins the index without uploading files. A listing must be what a quote for its ISBN would
 * answer, so the rules are the quotes' own: the SKU is the ISBN exactly as quotes search for it
 * (`sku=` matches exactly), and stock and purchasability are judged by `assess`. WooCommerce pages
 * by number; the cursor carries the page and its size, readable in logs. Pure functions, tested
 * without a shop.
 */
import { Isbn } from "@bookbroker/adapter-sdk"
import { Option, Result } from "effect"
import { assess, type AssessOptions } from "./Availability.js"
import type { WireProduct } from "./Wire.js"

/** The most products WooCommerce returns per page (`per_page`). */
export const wooCommerceMaxPageSize = 100

/** A page of the products list: `page` (from 1) of pages of `perPage`. */
export interface PagePosition {
  readonly page: number
  readonly perPage: number
}

/** `page=2&per_page=100`: the query that reads the page, as the cursor that names it. */
export const formatCursor = (position: PagePosition): string => `page=${position.page}&per_page=${position.perPage}`

export const parseCursor = (cursor: string): PagePosition | undefined => {
  const match = /^page=(\d{1,9})&per_page=(\d{1,3})$/.exec(cursor)
  if (match === null) return undefined
  const position = { page: Number(match[1]), perPage: Number(match[2]) }
  return position.page >= 2 && position.perPage >= 1 && position.perPage <= wooCommerceMaxPageSize ? position : undefined
}

/**
 * The page to read: the first, in pages of the asked size (at most WooCommerce's 100), or the
 * cursor's. A cursor keeps its page size — page 3 of pages of 100 is not page 3 of pages of 50 —
 * so a walk asking for fewer listings than its cursor's pages hold cannot go on from it.
 */
export const positionOf = (cursor: string | null, pageSize: number): Result.Result<PagePosition, string> => {
  if (cursor === null) return Result.succeed({ page: 1, perPage: Math.min(pageSize, wooCommerceMaxPageSize) })
  const position = parseCursor(cursor)
  if (position === undefined) return Result.fail(`cursor ${JSON.stringify(cursor)} was not made by the WooCommerce adapter`)
  if (position.perPage > pageSize) {
    return Result.fail(`cursor ${JSON.stringify(cursor)} walks pages of ${position.perPage} products, more than the ${pageSize} asked for: start the walk again`)
  }
  return Result.succeed(position)
}

/**
 * The page after this one, if any: below the shop's page count (`X-WP-TotalPages`); without it
 * (a proxy may drop headers), when the `Link` header has `rel="next"`; without either, when the
 * page was full.
 */
export const nextPosition = (
  position: PagePosition,
  productsOnPage: number,
  headers: { readonly totalPages?: string | undefined; readonly link?: string | undefined }
): PagePosition | undefined => {
  const totalPages = Number(headers.totalPages ?? "")
  const more =
    headers.totalPages !== undefined && Number.isInteger(totalPages)
      ? position.page < totalPages
      : headers.link !== undefined
        ? /rel="?next"?/.test(headers.link)
        : productsOnPage >= position.perPage
  return more && productsOnPage > 0 ? { page: position.page + 1, perPage: position.perPage } : undefined
}

/** What one product lists as: a book and how many copies are for sale (0: sold out). */
export interface Listed {
  readonly isbn: Isbn.Isbn13
  readonly quantity: number
}

/**
 * The listing a product makes, or none: the SKU must be a valid ISBN-13 spelled as quotes search
 * for it, and the product one a quote would answer for (published, one book: not a variable
 * parent, a group or an external link). Sellable → its counted stock, 1 when the shop does not
 * count; out of stock or not purchasable → 0.
 */
export const listingOf = (product: WireProduct, options: AssessOptions): Listed | undefined => {
  const isbn = Option.getOrUndefined(Option.filter(Isbn.parse(product.sku), (parsed) => parsed === product.sku))
  if (isbn === undefined) return undefined
  const assessment = assess(product, options)
  if (assessment._tag === "Sellable") return { isbn, quantity: assessment.quantity ?? 1 }
  return assessment.reason === "out_of_stock" ? { isbn, quantity: 0 } : undefined
}
