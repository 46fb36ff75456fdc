/** `authorized` / `quoting`: ask the sellers, until the request's answer time, and save the offers ranked. */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { Clock, Effect } from "effect"
import type * as QuoteEngine from "../../quotes/QuoteEngine.js"
import * as QuoteProgress from "../../quotes/QuoteProgress.js"
import { encodeOffer, next, type RunContext } from "./Run.js"

/**
 * Offers as bought from: prices from the offer index or pushed by sellers are never bought
 * from; the best few are confirmed with their sellers first (`QuoteEngine.confirm`).
 */
export const confirmedOffers = (ctx: RunContext, isbn: Isbn.Isbn13, book: QuoteEngine.OfferBook, deadlineMillis: number) =>
  Effect.gen(function* () {
    if (book.offers.every((offer) => offer.source === "live")) return { offers: book.offers, outcomes: book.outcomes }
    const confirmed = yield* ctx.quoteEngine.confirm(isbn, book.offers, { currency: ctx.currency, tenant: ctx.row.customer_id, deadlineMillis, best: ctx.confirmBest })
    const again = new Map(confirmed.outcomes.map((outcome) => [outcome.sellerId, outcome]))
    return { offers: confirmed.offers, outcomes: book.outcomes.map((outcome) => again.get(outcome.sellerId) ?? outcome) }
  })

/**
 * Asks every seller, then — until the request's answer time — again the ones whose limits
 * had no room for it yet (`not_asked`) and the ones that did not answer (an error, a
 * refused connection, no answer by the fan-out's deadline): a seller that never answered is
 * never read as "no offer". Progress (asked, answered, not asked and why) is kept on the
 * request.
 */
export const quote = (ctx: RunContext) =>
  Effect.gen(function* () {
    if (ctx.row.status === "authorized") yield* ctx.transition("quoting", null)
    if (ctx.row.round > 0 && ctx.row.counter_offer !== null) {
      // An accepted counter-offer buys from the offers of the round it came from (a
      // retried request has none: it quotes afresh, for its new round).
      yield* ctx.transition("deciding", null)
      return next
    }
    const isbn = ctx.row.isbn as Isbn.Isbn13
    const answerBy = ctx.row.created_at.getTime() + (ctx.row.answer_within_millis ?? ctx.answerWithinMillis)
    const offers = new Map<string, QuoteEngine.RankedOffer>()
    const outcomes = new Map<string, QuoteEngine.SellerOutcome>()
    let sellerIds: ReadonlyArray<string> | undefined
    const retryFailedUntil = (yield* Clock.currentTimeMillis) + ctx.retryFailedForMillis
    for (let pass = 0; ; pass++) {
      const now = yield* Clock.currentTimeMillis
      const left = Math.max(ctx.minQuoteMillis, answerBy - now)
      // The first pass as any fan-out; later ones wait in the sellers' queues for the rest of the answer time.
      const book = yield* ctx.quoteEngine.quotes(isbn, {
        currency: ctx.currency,
        tenant: ctx.row.customer_id,
        deadlineMillis: pass === 0 ? Math.min(left, ctx.quoteDeadlineMillis) : left,
        ...(sellerIds === undefined ? {} : { sellerIds })
      })
      const confirmed = yield* confirmedOffers(ctx, isbn, book, Math.min(left, ctx.quoteDeadlineMillis))
      for (const offer of confirmed.offers) offers.set(offer.sellerId, offer)
      for (const outcome of confirmed.outcomes) outcomes.set(outcome.sellerId, outcome)
      const progress = QuoteProgress.summarize(outcomes.values(), offers.size, new Date(yield* Clock.currentTimeMillis))
      // With an offer within the maximum the request can buy: sellers that failed are not
      // waited for (as stragglers are not); without one, they are asked again for a while
      // (a refused connection is often a blip), then their failure is final.
      const canBuy = [...offers.values()].some((offer) => offer.total.amount <= Number(ctx.row.max_amount))
      const retryFailed = !canBuy && (yield* Clock.currentTimeMillis) < retryFailedUntil
      const unanswered = retryFailed ? QuoteProgress.unanswered(outcomes.values()) : progress.notAsked.map((seller) => seller.sellerId)
      if (unanswered.length === 0 || (yield* Clock.currentTimeMillis) >= answerBy) break
      // Say how far it got (the status shows it), then ask the rest.
      yield* ctx.commit({ progress: { progress, waiting: `${QuoteProgress.describe(progress)}; answer by ${new Date(answerBy).toISOString()} at the latest` } })
      // Sellers waiting for room in their limits wait in their queues; sellers that failed
      // are asked again after a pause, not in a tight loop.
      if (progress.notAsked.length === 0) {
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Math.max(0, Math.min(ctx.retryFailedMillis, answerBy - now, retryFailedUntil - now)))
      }
      sellerIds = unanswered
    }
    yield* ctx.crash("quote", ctx.row.id)
    const ranked = [...offers.values()].sort((a, b) => a.total.amount - b.total.amount || b.reliability - a.reliability)
    const quotedAt = yield* Clock.currentTimeMillis
    const progress = { ...QuoteProgress.summarize(outcomes.values(), ranked.length, new Date(quotedAt)), ...(quotedAt >= retryFailedUntil ? { failedFinal: true } : {}) }
    const quotes = ranked.map((offer, rank) => ({
      seller_id: offer.sellerId,
      seller_name: offer.sellerName,
      rank,
      total: offer.total.amount,
      currency: offer.total.currency,
      offer: encodeOffer(offer.offer)
    }))
    const round = ctx.row.round
    yield* ctx.transition("deciding", `${ranked.length} offers from ${outcomes.size} sellers`, { quote_progress: progress }, [ctx.writes.saveQuotes(round, quotes)])
    ctx.saved = { round, quotes: quotes.map((quote) => ({ ...quote, total: String(quote.total) })) }
    return next
  })
