/**
 * Draft orders carrying a purchase's idempotency key, and what they mean. Shopify keeps no
 * idempotency for draft orders, so this is where "at most one order per key" is decided: a
 * completed draft with our key is the order (every replay returns it); an open one is finished,
 * never duplicated; only when there is none is a draft created. If several exist (a create whose
 * answer was lost, then retried), the oldest is the one, and only it is ever completed.
 */
import { type Contract, Isbn, Money, type SellerError } from "@bookbroker/adapter-sdk"
import { Effect, Option, Result } from "effect"
import { malformed } from "./adminApi.js"
import type { WireDraftOrder } from "./documents.js"
import { attributes } from "./identifiers.js"

export const attributeOf = (draft: WireDraftOrder, key: string): string | undefined =>
  draft.customAttributes.find((attribute) => attribute.key === key)?.value ?? undefined

/** Numeric part of a GID, for age order (Shopify ids grow). */
const serial = (gid: string): bigint => {
  const digits = /(\d+)$/.exec(gid)?.[1]
  return digits === undefined ? 0n : BigInt(digits)
}

const oldestFirst = (a: WireDraftOrder, b: WireDraftOrder) => {
  const left = serial(a.id)
  const right = serial(b.id)
  return left < right ? -1 : left > right ? 1 : 0
}

export interface KeyedDrafts {
  /** The draft already turned into an order for this key. */
  readonly completed: WireDraftOrder | undefined
  /** The draft to finish when none is completed. */
  readonly open: WireDraftOrder | undefined
}

/** Drafts whose key attribute is exactly this idempotency key (the tag only finds them). */
export const keyedDrafts = (drafts: ReadonlyArray<WireDraftOrder>, idempotencyKey: string): KeyedDrafts => {
  const mine = drafts.filter((draft) => attributeOf(draft, attributes.idempotencyKey) === idempotencyKey).sort(oldestFirst)
  return {
    completed: mine.find((draft) => draft.status === "COMPLETED"),
    open: mine.find((draft) => draft.status === "OPEN" || draft.status === "INVOICE_SENT")
  }
}

export interface DraftMoney {
  /** Everything but shipping: the items, and any tax the shop adds on top. */
  readonly price: Money.Money
  readonly shipping: Money.Money
  readonly total: Money.Money
}

/** A draft's totals in minor units; the price is the total less shipping, so it is what the shop bills. */
export const moneyOf = (draft: WireDraftOrder): Result.Result<DraftMoney, string> => {
  const total = draft.totalPriceSet.shopMoney
  const shipping = draft.totalShippingPriceSet.shopMoney
  const totalMoney = Money.fromDecimal(total.amount, total.currencyCode)
  const shippingMoney = Money.fromDecimal(shipping.amount, shipping.currencyCode)
  if (Result.isFailure(totalMoney)) return Result.fail(`totalPriceSet of ${draft.id}: ${totalMoney.failure}`)
  if (Result.isFailure(shippingMoney)) return Result.fail(`totalShippingPriceSet of ${draft.id}: ${shippingMoney.failure}`)
  if (totalMoney.success.currency !== shippingMoney.success.currency || shippingMoney.success.amount > totalMoney.success.amount) {
    return Result.fail(`draft ${draft.id} totals ${total.amount} ${total.currencyCode} with shipping ${shipping.amount} ${shipping.currencyCode}`)
  }
  return Result.succeed({
    price: Money.make(totalMoney.success.amount - shippingMoney.success.amount, totalMoney.success.currency),
    shipping: shippingMoney.success,
    total: totalMoney.success
  })
}

/** The order a completed draft became, checked to be for this book. */
export const toOrder = (
  operation: Contract.Operation,
  draft: WireDraftOrder,
  isbn: Isbn.Isbn13
): Effect.Effect<Contract.OrderInput, SellerError.SellerError> => {
  if (draft.status !== "COMPLETED" || draft.order === null) {
    return Effect.fail(malformed(operation, `draft order ${draft.id} is ${draft.status} without an order`))
  }
  const draftIsbn = Option.fromNullishOr(attributeOf(draft, attributes.isbn)).pipe(Option.flatMap(Isbn.parse))
  if (!Option.contains(draftIsbn, isbn)) {
    return Effect.fail(malformed(operation, `draft order ${draft.id} is for ${attributeOf(draft, attributes.isbn) ?? "no ISBN"}, not ${isbn}`))
  }
  const money = moneyOf(draft)
  if (Result.isFailure(money)) return Effect.fail(malformed(operation, money.failure))
  return Effect.succeed({
    orderId: draft.order.id,
    isbn,
    status: "confirmed" as const,
    price: { amount: money.success.price.amount, currency: money.success.price.currency },
    shipping: { amount: money.success.shipping.amount, currency: money.success.shipping.currency }
  })
}
