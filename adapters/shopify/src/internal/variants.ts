/**
 * From Shopify variants to contract answers. A shop may hold several variants with one book's
 * barcode (new and used copies, a duplicate listing) and may spell the barcode as ISBN-13,
 * ISBN-10 or with hyphens; the search may also return near matches. So variants are matched to
 * the asked ISBNs here, exactly, and the cheapest sellable one is offered.
 */
import { type Contract, type Isbn, Money } from "@bookbroker/adapter-sdk"
import { Option, Result } from "effect"
import type { WireVariant } from "./documents.js"
import { isbnOfBarcode } from "./identifiers.js"

/** Product statuses whose variants are for sale (UNLISTED: sold, just not listed; 2026-07). */
export const sellingStatuses: ReadonlySet<string> = new Set(["ACTIVE", "UNLISTED"])

/** How many the shop says it can sell; `null` when it does not count (untracked, or may oversell). */
export const sellableQuantity = (variant: WireVariant): number | null =>
  variant.inventoryItem.tracked && variant.inventoryPolicy === "DENY" ? Math.max(0, variant.inventoryQuantity ?? 0) : null

export const isSellable = (variant: WireVariant, quantity = 1): boolean => {
  if (!variant.availableForSale || !sellingStatuses.has(variant.product.status)) return false
  const stock = sellableQuantity(variant)
  return stock === null || stock >= quantity
}

/** The variant's price in minor units of the shop's currency; a string that is not one is an error message. */
export const priceOf = (variant: WireVariant, currency: string): Result.Result<Money.Money, string> =>
  Result.mapError(Money.fromDecimal(variant.price, currency), (error) => `price of ${variant.id}: ${error}`)

/** Variants of one book, whatever the barcode spelling. */
export const variantsOf = (variants: ReadonlyArray<WireVariant>, isbn: Isbn.Isbn13): ReadonlyArray<WireVariant> =>
  variants.filter((variant) => Option.contains(isbnOfBarcode(variant.barcode), isbn))

export interface Pick {
  readonly variant: WireVariant
  readonly price: Money.Money
}

/**
 * The answer for one ISBN: the cheapest sellable variant (ties: the one with more stock), or
 * out of stock when the shop sells the book but has none, or nothing (not carried) when no
 * variant of a product on sale has the barcode.
 */
export const choose = (
  variants: ReadonlyArray<WireVariant>,
  isbn: Isbn.Isbn13,
  currency: string
): Result.Result<Pick | "out_of_stock" | "not_carried", string> => {
  const carried = variantsOf(variants, isbn).filter((variant) => sellingStatuses.has(variant.product.status))
  if (carried.length === 0) return Result.succeed("not_carried")
  let best: Pick | undefined
  for (const variant of carried.filter((candidate) => isSellable(candidate))) {
    const price = priceOf(variant, currency)
    if (Result.isFailure(price)) return Result.fail(price.failure)
    const better =
      best === undefined ||
      price.success.amount < best.price.amount ||
      (price.success.amount === best.price.amount && (sellableQuantity(variant) ?? Infinity) > (sellableQuantity(best.variant) ?? Infinity))
    if (better) best = { variant, price: price.success }
  }
  return Result.succeed(best ?? "out_of_stock")
}

/** A contract offer for a chosen variant. */
export const toOffer = (
  isbn: Isbn.Isbn13,
  pick: Pick,
  options: { readonly quoteId: string; readonly shipping: Money.Money; readonly condition: Contract.Condition; readonly expiresAt: Date }
): Contract.QuoteResultInput => {
  const quantity = sellableQuantity(pick.variant)
  return {
    available: true,
    isbn,
    quoteId: options.quoteId,
    price: { amount: pick.price.amount, currency: pick.price.currency },
    shipping: { amount: options.shipping.amount, currency: options.shipping.currency },
    condition: options.condition,
    quantity: quantity === null || quantity === 0 ? null : quantity,
    expiresAt: options.expiresAt
  }
}
