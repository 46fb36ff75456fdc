/**
 * The findings of one reconciliation pass, one per request and kind: a second detail for the same
 * request and kind is appended to the first, and the finding counts as fixed only when every part
 * of it was.
 */
import { Schema } from "effect"

export const FindingKind = Schema.Literals(["capture_without_order", "order_without_capture", "captured_above_authorized", "authorization_left_open", "provider_mismatch", "duplicate_orders", "seller_order_unknown", "attempt_unresolved", "order_above_agreed_price", "order_currency_mismatch"])
export type FindingKind = typeof FindingKind.Type

/** One thing found about a request: what, and whether the reconciler repaired it (false: a person has to look). */
export interface Found {
  readonly kind: FindingKind
  readonly detail: string
  readonly fixed: boolean
}

/** Records a finding for the pass. */
export type Add = (requestId: string, kind: FindingKind, detail: string, fixed: boolean) => void

export interface Collected {
  readonly requestId: string
  readonly kind: FindingKind
  /** The details, joined into one. */
  readonly detail: string
  readonly fixed: boolean
}

export const make = (): { readonly add: Add; readonly collected: () => ReadonlyArray<Collected> } => {
  const found = new Map<string, { requestId: string; kind: FindingKind; details: Array<string>; fixed: boolean }>()
  const add: Add = (requestId, kind, detail, fixed) => {
    const key = `${requestId}|${kind}`
    const existing = found.get(key)
    if (existing === undefined) found.set(key, { requestId, kind, details: [detail], fixed })
    else {
      existing.details.push(detail)
      existing.fixed = existing.fixed && fixed
    }
  }
  const collected = () => [...found.values()].map(({ requestId, kind, details, fixed }) => ({ requestId, kind, detail: details.join("; "), fixed }))
  return { add, collected }
}
