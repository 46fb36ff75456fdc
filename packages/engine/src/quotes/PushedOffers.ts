/**
 * Prices and stock that sellers push (the server's `POST /v1/sellers/me/offers`) instead of
 * waiting to be asked. A pushed answer goes into the quote cache like one the engine fetched (and
 * into the offer index, which outlives the cache), so offers show it at once and the fan-out
 * skips the seller meanwhile; it lives at most `maxValiditySeconds`. A pushed offer carries a
 * quote id of bookbroker's own (`push-…`) that the seller does not know, so it is never bought
 * from: before deciding, the purchase pipeline asks the sellers of the cheapest pushed or indexed
 * offers afresh (`QuoteEngine.confirm`), and their own answers replace them. */
import { Contract } from "@bookbroker/adapter-sdk"
import { randomUUID } from "node:crypto"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { OfferIndex, type OfferIndexService } from "../inventory/OfferIndex.js"
import { SharedState, type SharedStateService } from "../state/SharedState.js"

export const quoteIdPrefix = "push-"

/** Longest a pushed answer is believed. */
export const maxValiditySeconds = 300

export const isPushed = (offer: Contract.Offer): boolean => offer.quoteId.startsWith(quoteIdPrefix)

export type PushedAnswer =
  | {
      readonly isbn: Contract.Offer["isbn"]
      readonly available: true
      readonly price: Contract.Offer["price"]
      readonly shipping: Contract.Offer["shipping"]
      readonly condition: Contract.Condition
      readonly quantity: number | null
      /** Capped at `maxValiditySeconds`. */
      readonly validForSeconds: number
    }
  | {
      readonly isbn: Contract.Offer["isbn"]
      readonly available: false
      readonly reason: Contract.UnavailableReason
      readonly validForSeconds: number
    }

const encode = Schema.encodeSync(Contract.QuoteResult)

/**
 * Writes a seller's pushed answers into the quote cache (last one wins per ISBN) and, given the
 * offer index, there too: the cache alone loses them when Redis is away. Returns when they
 * expire, per answer.
 */
export const put = (
  state: SharedStateService,
  sellerId: string,
  answers: ReadonlyArray<PushedAnswer>,
  index?: OfferIndexService
): Effect.Effect<ReadonlyArray<Date>> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const byIsbn = new Map<string, Array<{ sellerId: string; value: string; ttlMillis: number }>>()
    const expiries: Array<Date> = []
    for (const answer of answers) {
      const validMillis = Math.max(1, Math.min(answer.validForSeconds, maxValiditySeconds)) * 1000
      const expiresAt = new Date(now + validMillis)
      expiries.push(expiresAt)
      const result: Contract.QuoteResult = answer.available
        ? new Contract.Offer({
            available: true,
            isbn: answer.isbn,
            quoteId: `${quoteIdPrefix}${randomUUID()}`,
            price: answer.price,
            shipping: answer.shipping,
            condition: answer.condition,
            quantity: answer.quantity,
            expiresAt
          })
        : new Contract.Unavailable({ available: false, isbn: answer.isbn, reason: answer.reason })
      // As for fetched offers, the cache forgets an offer a little before it expires.
      const ttlMillis = answer.available ? Math.floor(validMillis * 0.8) : validMillis
      const entries = byIsbn.get(answer.isbn) ?? []
      byIsbn.set(answer.isbn, [...entries.filter((entry) => entry.sellerId !== sellerId), { sellerId, value: JSON.stringify(encode(result)), ttlMillis }])
    }
    yield* Effect.forEach(byIsbn, ([isbn, entries]) => state.putQuotes(isbn, entries), { concurrency: 8, discard: true })
    if (index !== undefined) {
      yield* index.recordPushes(
        sellerId,
        answers.map((answer) =>
          answer.available
            ? {
                isbn: answer.isbn,
                available: true,
                price: answer.price.amount,
                shipping: answer.shipping.amount,
                currency: answer.price.currency,
                condition: answer.condition,
                quantity: answer.quantity,
                validForSeconds: Math.max(1, Math.min(answer.validForSeconds, maxValiditySeconds))
              }
            : { isbn: answer.isbn, available: false }
        )
      )
    }
    return expiries
  })

/** Pushing prices as a use case: the quote cache and the offer index it writes to, wired once (the server calls only this). */
export interface PushedOffersService {
  /** A seller's pushed answers into the quote cache and the offer index; when each expires. */
  readonly put: (sellerId: string, answers: ReadonlyArray<PushedAnswer>) => Effect.Effect<ReadonlyArray<Date>>
}

export class PushedOffers extends Context.Service<PushedOffers, PushedOffersService>()("@bookbroker/engine/PushedOffers") {}

export const layer: Layer.Layer<PushedOffers, never, SharedState | OfferIndex> = Layer.effect(
  PushedOffers,
  Effect.gen(function* () {
    const state = yield* SharedState
    const index = yield* OfferIndex
    return { put: (sellerId, answers) => put(state, sellerId, answers, index) }
  })
)
