/**
 * The rules that decide whether bookbroker may buy a WooCommerce product. WooCommerce's order
 * creation checks nothing (stock, publication, purchasability), so everything the shop would
 * refuse at its checkout has to be refused here, from the product as the REST API shows it.
 * Pure functions, tested without a shop.
 */
import type { WireProduct } from "./Wire.js"

export type Assessment =
  | { readonly _tag: "Sellable"; /** Copies the shop says it has; `null` when it does not count. */ readonly quantity: number | null }
  | { readonly _tag: "Unsellable"; readonly reason: "out_of_stock" | "not_carried"; readonly detail: string }

export interface AssessOptions {
  /** Buy books the shop sells on backorder (it has none now and ships later). */
  readonly acceptBackorders: boolean
}

/** Product types one line item can buy: a simple product or one variation (variable parents, groups and external links cannot). */
const orderableTypes: ReadonlySet<string | undefined> = new Set(["simple", "variation", undefined])

const backorderable = (product: WireProduct, options: AssessOptions) =>
  options.acceptBackorders && product.backorders !== undefined && product.backorders !== "no"

/**
 * Can one copy be ordered? `published && orderable type && purchasable && priced`, then stock:
 * `instock` (with at least one counted copy when stock is managed), or `onbackorder` when
 * backorders are accepted. Any stock status WooCommerce does not document counts as out of stock.
 */
export const assess = (product: WireProduct, options: AssessOptions): Assessment => {
  if (product.status !== "publish") return { _tag: "Unsellable", reason: "not_carried", detail: `product ${product.id} is ${product.status}` }
  if (!orderableTypes.has(product.type)) {
    return { _tag: "Unsellable", reason: "not_carried", detail: `product ${product.id} is a ${product.type} product, not one book` }
  }
  if (!product.purchasable || product.price.trim() === "") {
    return { _tag: "Unsellable", reason: "out_of_stock", detail: `product ${product.id} is not purchasable` }
  }
  const counted = product.manage_stock && product.stock_quantity !== null ? Math.floor(product.stock_quantity) : null
  switch (product.stock_status) {
    case "instock":
      if (counted === null) return { _tag: "Sellable", quantity: null }
      if (counted >= 1) return { _tag: "Sellable", quantity: counted }
      return backorderable(product, options)
        ? { _tag: "Sellable", quantity: null }
        : { _tag: "Unsellable", reason: "out_of_stock", detail: `product ${product.id} has ${counted} in stock` }
    case "onbackorder":
      return backorderable(product, options)
        ? { _tag: "Sellable", quantity: null }
        : { _tag: "Unsellable", reason: "out_of_stock", detail: `product ${product.id} is on backorder` }
    default:
      return { _tag: "Unsellable", reason: "out_of_stock", detail: `product ${product.id} is ${product.stock_status}` }
  }
}

/** Which shop product a quote is for: WooCommerce has no quotes, so the quote id carries it. */
export interface ProductRef {
  readonly productId: number
  /** The variable product of a variation; 0 for a simple product. */
  readonly parentId: number
}

/** `wc:{productId}:{parentId}:{shop time in seconds}`: readable in logs, unique per quote second. */
export const quoteIdOf = (product: WireProduct, shopTimeMillis: number): string =>
  `wc:${product.id}:${product.parent_id ?? 0}:${Math.floor(shopTimeMillis / 1000)}`

export const parseQuoteId = (quoteId: string): ProductRef | undefined => {
  const match = /^wc:(\d+):(\d+):\d+$/.exec(quoteId)
  if (match === null) return undefined
  const productId = Number(match[1])
  return productId > 0 ? { productId, parentId: Number(match[2]) } : undefined
}

/**
 * The product id the orders list filters by (`GET /orders?product=`): WooCommerce matches the
 * line item's `_product_id`, which for a variation is its parent.
 */
export const orderFilterId = (ref: ProductRef): number => (ref.parentId > 0 ? ref.parentId : ref.productId)

/** The product route that shows one product or variation. */
export const productPath = (ref: ProductRef): string =>
  ref.parentId > 0 ? `/products/${ref.parentId}/variations/${ref.productId}` : `/products/${ref.productId}`
