/**
 * The customer-facing side of purchases: accept a request durably (idempotent per customer and
 * `Idempotency-Key`), show it, list a customer's requests, accept a counter-offer. The work
 * itself is done by `PurchaseWorker` running `PurchasePipeline`.
 */
import { Money, type Isbn } from "@bookbroker/adapter-sdk"
import { SqlClient } from "@effect/sql"
import { createHash, randomUUID } from "node:crypto"
import { Context, Effect, Layer, Schema } from "effect"
import { eventPayload, isTerminal, type AttemptRow, type PurchaseStatus, type RequestRow } from "./internal/purchaseStore.js"
import { orDie } from "./internal/sql.js"

export interface NewPurchase {
  readonly customerId: string
  readonly idempotencyKey: string
  readonly isbn: Isbn.Isbn13
  readonly maxPrice: Money.Money
  readonly paymentToken: string
  readonly customer: { readonly name: string; readonly email: string; readonly shippingAddress: unknown }
  readonly notifyUrl?: string
}

export interface Accepted {
  readonly id: string
  readonly status: PurchaseStatus
  /** False when the idempotency key had already created this request. */
  readonly created: boolean
}

export interface AttemptView {
  readonly sellerId: string
  readonly sellerName: string
  readonly rank: number
  readonly status: AttemptRow["status"]
  readonly reason: string | null
  readonly orderId: string | null
  readonly total: Money.Money | null
}

export interface PurchaseView {
  readonly id: string
  readonly customerId: string
  readonly status: PurchaseStatus
  readonly terminal: boolean
  readonly isbn: string
  readonly maxPrice: Money.Money
  readonly reason: string | null
  readonly finalPrice: Money.Money | null
  readonly sellerId: string | null
  readonly orderId: string | null
  readonly counterOffer: { readonly sellerId: string; readonly sellerName: string; readonly price: Money.Money; readonly expiresAt: string } | null
  readonly attempts: ReadonlyArray<AttemptView>
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly completedAt: Date | null
}

export class PurchaseNotFound extends Schema.TaggedError<PurchaseNotFound>()("PurchaseNotFound", { id: Schema.String }) {
  override get message(): string {
    return `no purchase request ${this.id}`
  }
}

/** The same Idempotency-Key came back with a different body (IETF draft: 422). */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  idempotencyKey: Schema.String,
  existingId: Schema.String
}) {
  override get message(): string {
    return `Idempotency-Key "${this.idempotencyKey}" was already used for a different request (${this.existingId}); use a new key for a new request`
  }
}

export class CounterOfferNotAvailable extends Schema.TaggedError<CounterOfferNotAvailable>()("CounterOfferNotAvailable", {
  id: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `purchase request ${this.id} has no counter-offer to accept: ${this.detail}`
  }
}

export interface ListOptions {
  readonly status?: PurchaseStatus
  readonly cursor?: string
  readonly limit?: number
}

export interface PurchasesService {
  readonly submit: (purchase: NewPurchase) => Effect.Effect<Accepted, IdempotencyKeyReused>
  /** A request; with `customerId`, only that customer's (others are not found). */
  readonly get: (id: string, customerId?: string) => Effect.Effect<PurchaseView, PurchaseNotFound>
  readonly list: (customerId: string | undefined, options?: ListOptions) => Effect.Effect<{ readonly items: ReadonlyArray<PurchaseView>; readonly nextCursor: string | null }>
  readonly acceptCounterOffer: (id: string, customerId: string | undefined, paymentToken: string) => Effect.Effect<PurchaseView, PurchaseNotFound | CounterOfferNotAvailable>
}

export class Purchases extends Context.Tag("@bookbroker/engine/Purchases")<Purchases, PurchasesService>() {}

const hashOf = (purchase: NewPurchase) =>
  createHash("sha256")
    .update(
      JSON.stringify([
        purchase.isbn,
        purchase.maxPrice.amount,
        purchase.maxPrice.currency,
        purchase.paymentToken,
        purchase.customer.name,
        purchase.customer.email,
        purchase.customer.shippingAddress,
        purchase.notifyUrl ?? null
      ])
    )
    .digest("hex")

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const view = (row: RequestRow, attempts: ReadonlyArray<AttemptRow>): PurchaseView => {
    const currency = row.currency.trim()
    const payload = eventPayload(row)
    return {
      id: row.id,
      customerId: row.customer_id,
      status: row.status,
      terminal: isTerminal(row.status),
      isbn: row.isbn,
      maxPrice: Money.make(Number(row.max_amount), currency),
      reason: row.reason,
      finalPrice: payload.final_price === null ? null : Money.make(payload.final_price.amount, currency),
      sellerId: row.seller_id,
      orderId: row.order_id,
      counterOffer:
        row.counter_offer === null
          ? null
          : {
              sellerId: row.counter_offer.seller_id,
              sellerName: row.counter_offer.seller_name,
              price: Money.make(row.counter_offer.total, row.counter_offer.currency),
              expiresAt: row.counter_offer.expires_at
            },
      attempts: attempts.map((attempt) => ({
        sellerId: attempt.seller_id,
        sellerName: attempt.seller_name,
        rank: attempt.rank,
        status: attempt.status,
        reason: attempt.reason,
        orderId: attempt.order_id,
        total: attempt.order_total === null ? null : Money.make(Number(attempt.order_total), currency)
      })),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      completedAt: row.completed_at
    }
  }

  const load = (id: string, customerId?: string) =>
    Effect.gen(function* () {
      if (!uuidPattern.test(id)) return yield* new PurchaseNotFound({ id })
      const [row] = yield* sql<RequestRow>`SELECT * FROM purchase_requests WHERE id = ${id}`
      if (row === undefined || (customerId !== undefined && row.customer_id !== customerId)) return yield* new PurchaseNotFound({ id })
      const attempts = yield* sql<AttemptRow>`SELECT * FROM purchase_attempts WHERE request_id = ${id} ORDER BY round, rank`
      return view(row, attempts)
    })

  const service: PurchasesService = {
    submit: (purchase) =>
      orDie(
        Effect.gen(function* () {
          const hash = hashOf(purchase)
          const id = randomUUID()
          const inserted = yield* sql<{ id: string; status: PurchaseStatus }>`
            WITH created AS (
              INSERT INTO purchase_requests (id, customer_id, idempotency_key, request_hash, isbn, currency, original_max, max_amount,
                                             payment_token, customer, notify_url, status)
              VALUES (${id}, ${purchase.customerId}, ${purchase.idempotencyKey}, ${hash}, ${purchase.isbn}, ${purchase.maxPrice.currency},
                      ${purchase.maxPrice.amount}, ${purchase.maxPrice.amount}, ${purchase.paymentToken},
                      ${JSON.stringify({ name: purchase.customer.name, email: purchase.customer.email, shipping_address: purchase.customer.shippingAddress })}::jsonb,
                      ${purchase.notifyUrl ?? null}, 'received')
              ON CONFLICT (customer_id, idempotency_key) DO NOTHING
              RETURNING id, status
            ), transition AS (
              INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
              SELECT id, NULL, 'received', 'intake', NULL FROM created
            )
            SELECT id, status FROM created`
          if (inserted[0] !== undefined) return { id: inserted[0].id, status: inserted[0].status, created: true }
          const [existing] = yield* sql<{ id: string; status: PurchaseStatus; request_hash: string }>`
            SELECT id, status, request_hash FROM purchase_requests
            WHERE customer_id = ${purchase.customerId} AND idempotency_key = ${purchase.idempotencyKey}`
          if (existing!.request_hash !== hash) {
            return yield* new IdempotencyKeyReused({ idempotencyKey: purchase.idempotencyKey, existingId: existing!.id })
          }
          return { id: existing!.id, status: existing!.status, created: false }
        })
      ).pipe(Effect.withSpan("Purchases.submit", { attributes: { isbn: purchase.isbn } })),

    get: (id, customerId) => orDie(load(id, customerId)).pipe(Effect.withSpan("Purchases.get", { attributes: { "purchase.request_id": id } })),

    list: (customerId, options = {}) =>
      orDie(
        Effect.gen(function* () {
          const limit = Math.min(Math.max(options.limit ?? 20, 1), 100)
          const [cursorAt, cursorId] = options.cursor === undefined ? [null, null] : (Buffer.from(options.cursor, "base64url").toString("utf8").split("|") as [string, string])
          const rows = yield* sql<RequestRow>`
            SELECT * FROM purchase_requests
            WHERE ${customerId === undefined ? sql`TRUE` : sql`customer_id = ${customerId}`}
              AND ${options.status === undefined ? sql`TRUE` : sql`status = ${options.status}`}
              AND ${cursorAt === null ? sql`TRUE` : sql`(created_at, id) < (${cursorAt}::timestamptz, ${cursorId}::uuid)`}
            ORDER BY created_at DESC, id DESC
            LIMIT ${limit + 1}`
          const page = rows.slice(0, limit)
          const last = page.at(-1)
          return {
            items: page.map((row) => view(row, [])),
            nextCursor: rows.length > limit && last !== undefined ? Buffer.from(`${last.created_at.toISOString()}|${last.id}`).toString("base64url") : null
          }
        })
      ).pipe(Effect.withSpan("Purchases.list")),

    acceptCounterOffer: (id, customerId, paymentToken) =>
      orDie(
        Effect.gen(function* () {
          yield* load(id, customerId)
          const outcome = yield* sql.withTransaction(
            Effect.gen(function* () {
              const [row] = yield* sql<RequestRow>`SELECT * FROM purchase_requests WHERE id = ${id} FOR UPDATE`
              if (row!.status !== "price_not_met" || row!.counter_offer === null) {
                return `it is ${row!.status}${row!.status === "received" || row!.status === "authorized" || row!.status === "purchasing" ? " (already accepted?)" : ""}`
              }
              if (Date.parse(row!.counter_offer.expires_at) <= Date.now()) return `the counter-offer expired at ${row!.counter_offer.expires_at}`
              yield* sql`
                UPDATE purchase_requests SET
                  status = 'received', round = round + 1, max_amount = ${row!.counter_offer.total}, payment_token = ${paymentToken},
                  reason = NULL, completed_at = NULL, next_run_at = now(), updated_at = now()
                WHERE id = ${id}`
              yield* sql`
                INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
                VALUES (${id}, 'price_not_met', 'received', 'customer', 'counter_offer_accepted')`
              return undefined
            })
          )
          if (outcome !== undefined) return yield* new CounterOfferNotAvailable({ id, detail: outcome })
          return yield* load(id, customerId)
        })
      ).pipe(Effect.withSpan("Purchases.acceptCounterOffer", { attributes: { "purchase.request_id": id } }))
  }
  return service
})

export const layer: Layer.Layer<Purchases, never, SqlClient.SqlClient> = Layer.effect(Purchases, make)
