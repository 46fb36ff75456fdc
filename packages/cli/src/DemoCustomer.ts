/**
 * The sandbox's demo customer, used by \`buy\` and \`simulate\` unless flags say otherwise. Its own
 * module: the commands' help texts show it without loading the command's service.
 */
import type { BuyOptions } from "./services/Buy.js"

export const demoCustomer: BuyOptions["customer"] = {
  name: "Demo Customer",
  email: "demo@bookbroker.local",
  shippingAddress: { line1: "1 Demo Street", city: "Paris", postalCode: "75001", country: "FR" }
}
