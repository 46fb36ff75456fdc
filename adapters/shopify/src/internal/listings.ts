/**
 * From a page of Shopify variants to bookbroker's offer index, so a shop joins it without
 * uploading files. A listing must be what a quote for its ISBN would answer, so the rules are the
 * quotes' own: the barcode is an ISBN in a spelling quotes search for, the product is on sale
 * (`ACTIVE` or `UNLISTED`), and stock is judged by `isSellable` / `sellableQuantity`. Each variant
 * is its own listing (its GID); a shop with several variants of one book lists each, and a quote
 * answers with the cheapest.
 */
import { type Contract, type Money } from "@bookbroker/adapter-sdk"
import { Option, Result } from "effect"
import type { WireListedVariant } from "./documents.js"
import { barcodeForms, isbnOfBarcode } from "./identifiers.js"
import { isSellable, priceOf, sellableQuantity, sellingStatuses } from "./variants.js"

/**
 * Variants asked per page. A connection costs about 2 + `first` × the objects per node, and one
 * query may cost at most 1000 points; 100 keeps a page well under that and takes a modest bite of
 * the shop's bucket (2000 restoring 100 a second on the Standard plan).
 */
export const shopifyMaxInventoryPageSize = 100

/** The search that narrows the listing to products on sale; the statuses are checked again on each variant. */
export const listingSearch = "product_status:ACTIVE,UNLISTED"

export interface ListingOptions {
  readonly currency: string
  readonly shipping: Money.Money
  readonly condition: Contract.Condition
}

/**
 * The listing a variant makes, none (no ISBN barcode, product not on sale, or sold out without a
 * price), or an error message (a variant on sale whose price is no amount).
 */
export const listingOf = (variant: WireListedVariant, options: ListingOptions): Result.Result<Contract.InventoryListingInput | undefined, string> => {
  const isbn = Option.getOrUndefined(isbnOfBarcode(variant.barcode))
  if (isbn === undefined || !barcodeForms(isbn).includes(variant.barcode ?? "")) return Result.succeed(undefined)
  if (!sellingStatuses.has(variant.product.status)) return Result.succeed(undefined)
  const quantity = isSellable(variant) ? (sellableQuantity(variant) ?? 1) : 0
  const price = priceOf(variant, options.currency)
  if (Result.isFailure(price)) return quantity === 0 ? Result.succeed(undefined) : Result.fail(price.failure)
  return Result.succeed({
    listingId: variant.id,
    isbn,
    price: { amount: price.success.amount, currency: options.currency },
    shipping: { amount: options.shipping.amount, currency: options.shipping.currency },
    condition: options.condition,
    quantity,
    title: variant.product.title
  })
}
