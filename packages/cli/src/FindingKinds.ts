/**
 * The kinds of finding a person may settle. Its own module: \`findings settle --help\` lists them
 * without loading the command's service.
 */
import type * as Api from "./Api.js"

export const kinds: ReadonlyArray<Api.FindingKind> = [
  "attempt_unresolved",
  "seller_order_unknown",
  "order_above_agreed_price",
  "order_currency_mismatch",
  "capture_without_order",
  "order_without_capture",
  "captured_above_authorized",
  "authorization_left_open",
  "provider_mismatch",
  "duplicate_orders"
]
