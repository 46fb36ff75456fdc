/**
 * How an ONIX SupplyDetail's availability (ProductAvailability, List 65) and stock (Stock/OnHand)
 * become a listing's quantity. A listing says "orderable now, this many" or nothing: pre-orders,
 * temporarily unavailable, "contact supplier" and stale records all retire it, because bookbroker
 * cannot tell they can be bought today. Pure, tested alone; the table in docs/publish-inventory.md
 * ("Availability") says the same to sellers. Reading the codes this way is bookbroker's choice.
 */
import { maxQuantity } from "./ListingRules.js"

/** ProductAvailability (List 65) → can the book be ordered now. Pre-orders, "contact supplier" and stale records are not. */
export const orderable = (code: string): boolean | undefined => {
  switch (code) {
    case "20":
    case "21":
    case "22":
    case "23":
      return true
    case "01":
    case "09":
    case "10":
    case "11":
    case "12":
    case "30":
    case "31":
    case "32":
    case "33":
    case "34":
    case "97":
    case "98":
    case "99":
      return false
    default: {
      const value = Number(code)
      return code.length === 2 && value >= 40 && value <= 52 ? false : undefined
    }
  }
}

/**
 * A SupplyDetail's quantity: 0 when its availability says it cannot be ordered now; else the
 * OnHand stock (summed over Stock locations, at most `maxQuantity`) when given, else 1. What
 * cannot be read (an unknown code; OnHand not a whole number; neither availability nor stock) is
 * the element at fault and why.
 */
export const quantityOf = (supply: { readonly availability: string | null; readonly onHand: ReadonlyArray<string> }): number | { readonly field: string; readonly reason: string } => {
  const availability = supply.availability
  const can = availability === null ? undefined : orderable(availability)
  if (availability !== null && can === undefined) {
    return { field: "ProductAvailability", reason: `ProductAvailability "${availability}" is not a List 65 code bookbroker knows` }
  }
  if (can === false) return 0
  let stock: number | undefined
  for (const text of supply.onHand) {
    if (!/^\d{1,9}$/.test(text)) return { field: "OnHand", reason: `OnHand "${text}" must be a whole number` }
    stock = (stock ?? 0) + Number(text)
  }
  if (stock !== undefined) return Math.min(stock, maxQuantity)
  if (can === undefined) return { field: "ProductAvailability", reason: "ProductAvailability is missing (and no Stock/OnHand says how many)" }
  return 1
}
