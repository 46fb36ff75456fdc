/**
 * Every schema migration, in order. Add a file `NNNN_name.ts` and list it here; never edit one
 * that has shipped.
 */
import sellers from "./0001_sellers.js"

export const migrations = {
  "0001_sellers": sellers
}
