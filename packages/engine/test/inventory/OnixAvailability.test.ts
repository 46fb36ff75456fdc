/** How ONIX availability and stock become a quantity, alone: no parser, no database. */
import { describe, expect, it } from "@effect/vitest"
import * as OnixAvailability from "../../src/inventory/OnixAvailability.js"

describe("OnixAvailability", () => {
  it("orderable: List 65 codes 20–23 can be ordered now; every other code it knows cannot; the rest it does not know", () => {
    expect(["20", "21", "22", "23"].map(OnixAvailability.orderable)).toEqual([true, true, true, true])
    const notNow = ["01", "09", "10", "11", "12", "30", "31", "32", "33", "34", "40", "41", "45", "46", "50", "51", "52", "97", "98", "99"]
    expect(notNow.filter((code) => OnixAvailability.orderable(code) !== false)).toEqual([])
    expect(["53", "39", "02", "24", "2", "400", "", "ab"].map(OnixAvailability.orderable)).toEqual(Array(8).fill(undefined))
  })

  it("quantityOf: orderable codes list the stock (or 1), every other List 65 code retires", () => {
    expect(OnixAvailability.quantityOf({ availability: "21", onHand: ["3", "4"] })).toBe(7)
    expect(OnixAvailability.quantityOf({ availability: "21", onHand: ["5000"] })).toBe(999)
    expect(OnixAvailability.quantityOf({ availability: "21", onHand: ["0"] })).toBe(0)
    expect(OnixAvailability.quantityOf({ availability: "23", onHand: [] })).toBe(1)
    for (const code of ["01", "09", "10", "11", "12", "30", "31", "32", "33", "34", "40", "46", "51", "52", "97", "98", "99"]) {
      expect(OnixAvailability.quantityOf({ availability: code, onHand: ["5"] })).toBe(0)
    }
    // Not orderable: stock on hand is not read (even when it is not a number).
    expect(OnixAvailability.quantityOf({ availability: "10", onHand: ["lots"] })).toBe(0)
  })

  it("quantityOf: without availability, stock alone says; what cannot be read names its element", () => {
    expect(OnixAvailability.quantityOf({ availability: null, onHand: ["2"] })).toBe(2)
    expect(OnixAvailability.quantityOf({ availability: null, onHand: [] })).toEqual({ field: "ProductAvailability", reason: "ProductAvailability is missing (and no Stock/OnHand says how many)" })
    expect(OnixAvailability.quantityOf({ availability: "53", onHand: [] })).toEqual({ field: "ProductAvailability", reason: `ProductAvailability "53" is not a List 65 code bookbroker knows` })
    for (const text of ["-1", "1.5", "", "1e3", "1234567890"]) {
      expect(OnixAvailability.quantityOf({ availability: "21", onHand: ["1", text] })).toEqual({ field: "OnHand", reason: `OnHand "${text}" must be a whole number` })
    }
  })
})
