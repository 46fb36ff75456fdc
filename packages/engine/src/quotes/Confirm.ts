/**
 * Offers as they may be bought: the indexed and pushed ones are confirmed with their sellers,
 * cheapest first (which, and when it is enough: `ConfirmWalk.ts`), and every live answer about a
 * listing corrects the offer index — sold elsewhere removes it, a new price is written.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Clock, Effect } from "effect"
import * as ConfirmWalk from "./ConfirmWalk.js"
import type { QuoteContext } from "./QuoteContext.js"
import type { ConfirmOptions, Confirmed, QuoteEngineService, RankedOffer, SellerOutcome } from "./QuoteTypes.js"

export const confirm = (ctx: QuoteContext, quotes: QuoteEngineService["quotes"]) => (isbn: Isbn.Isbn13, offers: ReadonlyArray<RankedOffer>, options: ConfirmOptions): Effect.Effect<Confirmed> =>
  Effect.gen(function* () {
    const deadlineAt = (yield* Clock.currentTimeMillis) + options.deadlineMillis
    const live = offers.filter((offer) => offer.source === "live")
    const leads = offers.filter((offer) => offer.source !== "live").map((offer) => ({ sellerId: offer.sellerId, total: offer.total.amount, offer }))
    // Which leads are asked, and when it is enough: `ConfirmWalk.ts`.
    const walk = ConfirmWalk.make(leads, live.map((offer) => offer.total.amount), options.best ?? 2, { margin: ctx.confirmMargin })
    const outcomes = new Map<string, SellerOutcome>()
    while (true) {
      const left = deadlineAt - (yield* Clock.currentTimeMillis)
      if (left <= 0) break
      const batch = walk.next()
      if (batch.length === 0) break
      const asked = yield* quotes(isbn, {
        currency: options.currency,
        sellerIds: batch.map((lead) => lead.sellerId),
        cache: false,
        deadlineMillis: left,
        ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
        ...(options.convert === undefined ? {} : { convert: options.convert })
      })
      for (const outcome of asked.outcomes) outcomes.set(outcome.sellerId, outcome)
      for (const offer of asked.offers) live.push(offer)
      for (const lead of batch) {
        const offered = asked.offers.find((offer) => offer.sellerId === lead.sellerId)
        const status = outcomes.get(lead.sellerId)?.status
        walk.answered(
          lead,
          offered !== undefined
            ? { _tag: "Offered", total: offered.total.amount }
            : status === "unavailable" || status === "excluded"
              ? { _tag: "NoOffer" }
              : { _tag: "Failed" }
        )
      }
      const index = ctx.index
    if (index === undefined) continue
      // Every answer about a listing corrects the index: sold elsewhere removes it, a new price is written.
      yield* Effect.forEach(
        batch,
        ({ offer: lead }) => {
          if (lead.listingId === undefined) return Effect.void
          const offer = asked.offers.find((candidate) => candidate.sellerId === lead.sellerId)
          if (offer !== undefined) {
            return index.learn(lead.sellerId, lead.listingId, {
              _tag: "Offered",
              price: offer.offer.price.amount,
              shipping: offer.offer.shipping.amount,
              currency: offer.offer.price.currency,
              condition: offer.offer.condition,
              quantity: offer.offer.quantity
            })
          }
          return outcomes.get(lead.sellerId)?.status === "unavailable" ? index.learn(lead.sellerId, lead.listingId, { _tag: "Gone" }) : Effect.void
        },
        { concurrency: 4, discard: true }
      )
    }
    for (const { offer: lead } of walk.unasked()) {
      if (outcomes.has(lead.sellerId)) continue
      outcomes.set(lead.sellerId, { sellerId: lead.sellerId, sellerName: lead.sellerName, status: "skipped", reason: "not_needed", cached: true, latencyMillis: 0 })
    }
    // A seller asked twice (its first call failed) offers once.
    const offered = new Map(live.map((offer) => [offer.sellerId, offer]))
    const ranked = [...offered.values()].sort((a, b) => a.total.amount - b.total.amount || b.reliability - a.reliability)
    return { offers: ranked, outcomes: [...outcomes.values()] }
  }).pipe(Effect.withSpan("QuoteEngine.confirm", { attributes: { isbn, offers: offers.length } }, { captureStackTrace: false }))

