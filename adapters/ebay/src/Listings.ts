/**
 * The rules that decide which eBay listing bookbroker may quote for an ISBN. eBay is a
 * marketplace: one ISBN has many listings by many sellers, found by keyword (`q=<isbn>`: the
 * `gtin` parameter takes UPCs only), so a search hit is only a candidate. Candidates are ranked
 * on the search summary (fixed price, marketplace currency, known shipping, condition, seller
 * feedback), then the cheapest are re-read with getItem, which alone says whether the listing
 * is this book (`gtin`), in stock (`estimatedAvailabilities`) and buyable through the Order API.
 * Pure functions, tested without eBay.
 */
import { type Contract, Isbn, Money } from "@bookbroker/adapter-sdk"
import { Option, Result } from "effect"
import type { WireConvertedAmount, WireItem, WireItemSummary, WireSeller, WireShippingOption } from "./Wire.js"

/** eBay book condition ids (1000 New, 2750 Like New, 4000 Very Good, 5000 Good, 6000 Acceptable, 3000 Used). */
const conditionIds: ReadonlyArray<readonly [string, Contract.Condition]> = [
  ["1000", "new"],
  ["2750", "like_new"],
  ["4000", "very_good"],
  ["5000", "good"],
  ["6000", "acceptable"],
  // Plain "Used" says nothing about wear: quoted as the lowest grade.
  ["3000", "acceptable"]
]

export const conditionOf = (conditionId: string | undefined): Contract.Condition | undefined =>
  conditionIds.find(([id]) => id === conditionId)?.[1]

export interface Rules {
  readonly currency: string
  readonly conditions: ReadonlyArray<Contract.Condition>
  readonly minFeedbackPercentage: number
  readonly minFeedbackScore: number
  readonly sellers?: ReadonlyArray<string> | undefined
}

/** The search `filter`: Buy It Now, delivered to our country, from the marketplace's country, in our conditions. */
export const searchFilter = (rules: Rules & { readonly deliveryCountry: string; readonly itemLocationCountry: string }): string => {
  const ids = conditionIds.filter(([, condition]) => rules.conditions.includes(condition)).map(([id]) => id)
  return [
    "buyingOptions:{FIXED_PRICE}",
    `deliveryCountry:${rules.deliveryCountry}`,
    `itemLocationCountry:${rules.itemLocationCountry}`,
    `conditionIds:{${ids.join("|")}}`,
    ...(rules.sellers === undefined || rules.sellers.length === 0 ? [] : [`sellers:{${rules.sellers.join("|")}}`])
  ].join(",")
}

/** An amount in the marketplace currency as eBay priced it (a converted amount is not what checkout charges). */
export const amountOf = (amount: WireConvertedAmount | undefined, currency: string): Money.Money | undefined => {
  if (amount === undefined || amount.currency !== currency || amount.convertedFromCurrency !== undefined) return undefined
  const money = Money.fromDecimal(amount.value, currency)
  return Result.isSuccess(money) ? money.success : undefined
}

/** The cheapest shipping option with a stated cost in our currency. */
export const shippingOf = (options: ReadonlyArray<WireShippingOption> | undefined, currency: string): Money.Money | undefined =>
  (options ?? [])
    .map((option) => amountOf(option.shippingCost, currency))
    .filter((money): money is Money.Money => money !== undefined)
    .reduce<Money.Money | undefined>((cheapest, money) => (cheapest === undefined || money.amount < cheapest.amount ? money : cheapest), undefined)

const sellerOk = (seller: WireSeller | undefined, rules: Rules): boolean => {
  if (rules.sellers !== undefined && rules.sellers.length > 0 && !rules.sellers.includes(seller?.username ?? "")) return false
  const percentage = Number(seller?.feedbackPercentage ?? "NaN")
  return Number.isFinite(percentage) && percentage >= rules.minFeedbackPercentage && (seller?.feedbackScore ?? -1) >= rules.minFeedbackScore
}

export interface Candidate {
  readonly itemId: string
  readonly total: number
}

/** Search hits worth a getItem, cheapest (price + shipping) first. */
export const rank = (summaries: ReadonlyArray<WireItemSummary>, rules: Rules): ReadonlyArray<Candidate> =>
  summaries
    .flatMap((summary) => {
      const price = amountOf(summary.price, rules.currency)
      const shipping = shippingOf(summary.shippingOptions, rules.currency)
      const condition = conditionOf(summary.conditionId)
      const ok =
        price !== undefined &&
        shipping !== undefined &&
        (summary.buyingOptions ?? []).includes("FIXED_PRICE") &&
        condition !== undefined &&
        rules.conditions.includes(condition) &&
        sellerOk(summary.seller, rules)
      return ok ? [{ itemId: summary.itemId, total: price.amount + shipping.amount }] : []
    })
    .sort((a, b) => a.total - b.total)

export type Assessment =
  | {
      readonly _tag: "Sellable"
      readonly price: Money.Money
      readonly shipping: Money.Money
      readonly condition: Contract.Condition
      /** Copies eBay estimates; `null` when it only says "more than N" or nothing. */
      readonly quantity: number | null
    }
  | { readonly _tag: "Unsellable"; readonly reason: "out_of_stock" | "not_carried"; readonly detail: string }

const unsellable = (reason: "out_of_stock" | "not_carried", detail: string): Assessment => ({ _tag: "Unsellable", reason, detail })

/** Is this live listing the book, buyable through the Order API, in stock, and within the rules? */
export const assess = (item: WireItem, isbn: string, rules: Rules): Assessment => {
  const gtin = item.gtin === undefined ? Option.none() : Isbn.parse(item.gtin)
  if (Option.getOrUndefined(gtin) !== isbn) return unsellable("not_carried", `item ${item.itemId} has GTIN ${item.gtin ?? "none"}, not ${isbn}`)
  if (!item.buyingOptions.includes("FIXED_PRICE")) return unsellable("not_carried", `item ${item.itemId} is not Buy It Now`)
  if (item.eligibleForInlineCheckout === false || item.enabledForGuestCheckout === false) {
    return unsellable("not_carried", `item ${item.itemId} cannot be bought through the Order API's guest checkout`)
  }
  const condition = conditionOf(item.conditionId)
  if (condition === undefined || !rules.conditions.includes(condition)) return unsellable("not_carried", `item ${item.itemId} has condition ${item.conditionId ?? "none"}`)
  if (!sellerOk(item.seller, rules)) return unsellable("not_carried", `item ${item.itemId}'s seller is outside the feedback or seller rules`)
  const price = amountOf(item.price, rules.currency)
  const shipping = shippingOf(item.shippingOptions, rules.currency)
  if (price === undefined) return unsellable("not_carried", `item ${item.itemId} is not priced in ${rules.currency} (${item.price.value} ${item.price.currency})`)
  if (shipping === undefined) return unsellable("not_carried", `item ${item.itemId} states no shipping cost in ${rules.currency}`)
  const availability = item.estimatedAvailabilities?.[0]
  const status = availability?.estimatedAvailabilityStatus
  if (status === "OUT_OF_STOCK") return unsellable("out_of_stock", `item ${item.itemId} is out of stock`)
  const estimate = availability?.estimatedAvailableQuantity
  const quantity = availability?.availabilityThresholdType === undefined && estimate !== undefined && estimate > 0 ? estimate : null
  return { _tag: "Sellable", price, shipping, condition, quantity }
}

/** eBay has no quotes: the quote id names the listing and eBay's clock (seconds) when it was read. */
export const quoteIdOf = (itemId: string, ebayTimeMillis: number): string => `ebay:${Math.floor(ebayTimeMillis / 1000)}:${itemId}`

export const parseQuoteId = (quoteId: string): { readonly itemId: string; readonly quotedAtSeconds: number } | undefined => {
  const match = /^ebay:(\d+):(v1\|\d+\|\d+)$/.exec(quoteId)
  return match === null ? undefined : { quotedAtSeconds: Number(match[1]), itemId: match[2]! }
}
