/**
 * Which of an ONIX Product's prices becomes the listing's price. ONIX sends many (per supplier,
 * per market, consumer and trade, with and without tax); a listing has one, and it must be what a
 * customer pays. The choice decides money, so it is a pure function of its own, tested without a
 * parser; docs/publish-inventory.md ("Which price") says the same to sellers. The order is
 * bookbroker's choice, not an ONIX rule.
 */

/**
 * Consumer prices, most wanted first: tax included (RRP 02, fixed retail 04, agency 42), then tax
 * excluded (RRP 01, fixed retail 03, agency 41). Trade prices (supplier's net 05/07 and others)
 * are not what a customer pays: never used.
 */
export const retailPriceTypes: ReadonlyArray<string> = ["02", "04", "42", "01", "03", "41"]

export interface ChosenPrice {
  readonly supply: number
  readonly amount: string
  /** Null: neither the price nor the header says (the upload's currency applies). */
  readonly currency: string | null
}

/**
 * The price a listing gets from a Product's SupplyDetails: among the consumer prices that have an
 * amount, those in the upload's currency first, then by `retailPriceTypes`, then the first in the
 * message. Territories are not compared (bookbroker has no market per seller).
 */
export const choosePrice = (
  supplies: ReadonlyArray<{ readonly prices: ReadonlyArray<{ readonly type: string | null; readonly amount: string | null; readonly currency: string | null }> }>,
  defaults: { readonly priceType: string | null; readonly currency: string | null; readonly uploadCurrency: string }
): ChosenPrice | undefined => {
  let best: ChosenPrice | undefined
  let bestRank = Number.POSITIVE_INFINITY
  supplies.forEach((supply, index) => {
    for (const price of supply.prices) {
      if (price.amount === null) continue
      const typeRank = retailPriceTypes.indexOf(price.type ?? defaults.priceType ?? "")
      if (typeRank === -1) continue
      const currency = price.currency ?? defaults.currency
      const rank = ((currency ?? defaults.uploadCurrency) === defaults.uploadCurrency ? 0 : retailPriceTypes.length) + typeRank
      if (rank < bestRank) {
        bestRank = rank
        best = { supply: index, amount: price.amount, currency }
      }
    }
  })
  return best
}
