/**
 * What an operator's approval covers. An operator activates a seller for where its adapter
 * config points (base URLs, shop domains, modes) and for the credentials it holds. A seller
 * that changes either on its own is a seller nobody has looked at: back to `pending` until an
 * operator activates it again. Limits and the contact address change nothing an operator
 * approved, and neither does sending the same values again.
 */
import { Redacted } from "effect"
import type { Seller, SellerChanges } from "./SellerDirectory.js"

/** JSON with object keys sorted, so that key order is not a change. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) =>
    typeof item === "object" && item !== null && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item
  )

const reveal = (value: string | Redacted.Redacted<string>) => (typeof value === "string" ? value : Redacted.value(value))

/** True when the change touches the adapter config or the credentials. */
export const changesApprovedParts = (current: Seller, changes: SellerChanges): boolean => {
  if (changes.config !== undefined && canonical(changes.config) !== canonical(current.config)) return true
  if (changes.credentials === undefined) return false
  const next = changes.credentials
  const names = new Set([...Object.keys(current.credentials), ...Object.keys(next)])
  for (const name of names) {
    const before = current.credentials[name]
    const after = next[name]
    if (before === undefined || after === undefined || reveal(before) !== reveal(after)) return true
  }
  return false
}

/** True when this change, made by the seller itself, sends an active seller back to review. */
export const needsReview = (current: Seller, changes: SellerChanges): boolean => current.status === "active" && changesApprovedParts(current, changes)
