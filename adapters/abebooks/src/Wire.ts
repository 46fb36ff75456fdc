/**
 * The AbeBooks Purchase API wire format, as far as the adapter reads and writes it. Confirmed:
 * the endpoints (`POST /orders`, `GET /orders`, `GET /orders/{orderId}`), JSON bodies, the
 * four-digit response codes and the two-digit order statuses. Not confirmed (AbeBooks' page ends
 * before the schema), and so chosen here in one place to adjust once the schema is in hand: every
 * field name below — the order request, the `{ code, message }` envelope, the order and its items.
 * Money stays a decimal here; it becomes minor units in one place, with its currency.
 */
import { Schema } from "effect"

/** What `POST /orders` is sent: one listing, the card token, the price guard, no dry run. */
export interface OrderRequestBody {
  readonly referenceId: string
  readonly buyerReference: string
  readonly dryRun: false
  readonly ccToken: string
  /** The most AbeBooks may charge for the whole order (items + shipping), a decimal in `currency`. */
  readonly maxPrice: string
  readonly currency: string
  readonly items: ReadonlyArray<{ readonly listingId: string; readonly quantity: number }>
}

const Decimal = Schema.Union([Schema.String, Schema.Finite])

export const WireOrderItem = Schema.Struct({
  orderItemId: Schema.optional(Schema.String),
  listingId: Schema.String,
  isbn: Schema.optional(Schema.NullOr(Schema.String)),
  quantity: Schema.Int,
  price: Decimal,
  shipping: Decimal,
  /** Two-digit order status; `null` while AbeBooks is still processing the order. */
  status: Schema.NullOr(Schema.String),
  statusDescription: Schema.optional(Schema.NullOr(Schema.String))
})
export type WireOrderItem = typeof WireOrderItem.Type

export const WireOrder = Schema.Struct({
  orderId: Schema.Trimmed.check(Schema.isNonEmpty()),
  referenceId: Schema.optional(Schema.NullOr(Schema.String)),
  currency: Schema.String,
  items: Schema.Array(WireOrderItem)
})
export type WireOrder = typeof WireOrder.Type

/** Every answer: a four-digit code, a message, and (on success) the order or orders. */
export const WireEnvelope = Schema.Struct({
  code: Schema.Int,
  message: Schema.optional(Schema.NullOr(Schema.String))
})

export const WireOrderAnswer = Schema.Struct({ code: Schema.Int, order: WireOrder })
export const WireOrdersAnswer = Schema.Struct({ code: Schema.Int, orders: Schema.Array(WireOrder) })
