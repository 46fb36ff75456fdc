/**
 * Every schema migration, in order. Add a file `NNNN_name.ts` and list it here; never edit one
 * that has shipped.
 */
import sellers from "./0001_sellers.js"
import purchases from "./0002_purchases.js"

export const migrations = {
  "0001_sellers": sellers,
  "0002_purchases": purchases
}
