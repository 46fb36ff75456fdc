/** Which ONIX price a listing gets, alone: no parser, no database. */
import { describe, expect, it } from "@effect/vitest"
import * as OnixPrice from "../../src/inventory/OnixPrice.js"

const defaults = { priceType: null, currency: null, uploadCurrency: "EUR" }
const price = (type: string | null, amount: string | null, currency: string | null) => ({ type, amount, currency })

describe("OnixPrice.choosePrice", () => {
  it("the upload's currency first, then tax-included consumer prices; never a trade price", () => {
    expect(
      OnixPrice.choosePrice(
        [{ prices: [price("01", "9", "USD")] }, { prices: [price("05", "4", "EUR"), price("01", "8", "EUR"), price("02", "10", "EUR")] }],
        defaults
      )
    ).toEqual({ supply: 1, amount: "10", currency: "EUR" })
    expect(OnixPrice.choosePrice([{ prices: [price("01", "9", "USD"), price("02", "11", "CAD")] }], defaults)).toEqual({ supply: 0, amount: "11", currency: "CAD" })
    // A tax-excluded price in the upload's currency beats a tax-included one in another.
    expect(OnixPrice.choosePrice([{ prices: [price("02", "11", "USD")] }, { prices: [price("41", "7", "EUR")] }], defaults)).toEqual({ supply: 1, amount: "7", currency: "EUR" })
  })

  it("consumer price types in order 02, 04, 42, 01, 03, 41; among equals, the first in the message", () => {
    for (let better = 0; better < OnixPrice.retailPriceTypes.length; better++) {
      for (let worse = better + 1; worse < OnixPrice.retailPriceTypes.length; worse++) {
        const prices = [price(OnixPrice.retailPriceTypes[worse]!, "2", "EUR"), price(OnixPrice.retailPriceTypes[better]!, "1", "EUR")]
        expect(OnixPrice.choosePrice([{ prices }], defaults)?.amount).toBe("1")
      }
    }
    expect(OnixPrice.choosePrice([{ prices: [price("02", "5", "EUR")] }, { prices: [price("02", "6", "EUR")] }], defaults)).toEqual({ supply: 0, amount: "5", currency: "EUR" })
  })

  it("trade prices, prices without an amount and prices of no known type are never chosen", () => {
    for (const type of ["05", "07", "06", "08", "11", "13", "99"]) {
      expect(OnixPrice.choosePrice([{ prices: [price(type, "9", "EUR")] }], defaults)).toBeUndefined()
    }
    expect(OnixPrice.choosePrice([{ prices: [price("02", null, "EUR")] }], defaults)).toBeUndefined()
    // No PriceType and no header DefaultPriceType: not known to be a consumer price.
    expect(OnixPrice.choosePrice([{ prices: [price(null, "3", "EUR")] }], defaults)).toBeUndefined()
    expect(OnixPrice.choosePrice([], defaults)).toBeUndefined()
  })

  it("the header's DefaultPriceType and DefaultCurrencyCode fill in what a price leaves out; with neither currency, the upload's applies (null)", () => {
    expect(OnixPrice.choosePrice([{ prices: [price(null, "3", null)] }], { ...defaults, priceType: "02", currency: "GBP" })).toEqual({ supply: 0, amount: "3", currency: "GBP" })
    expect(OnixPrice.choosePrice([{ prices: [price("01", "4", "USD"), price("01", "3", null)] }], defaults)).toEqual({ supply: 0, amount: "3", currency: null })
    // The header's currency is not the upload's: a price in the upload's currency still comes first.
    expect(OnixPrice.choosePrice([{ prices: [price("02", "3", null), price("41", "2", "EUR")] }], { ...defaults, currency: "GBP" })).toEqual({
      supply: 0,
      amount: "2",
      currency: "EUR"
    })
  })
})
