/** `authorized` / `quoting`: ask the sellers, until the request's answer time, and save the offers ranked. */
import type { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Clock, Effect } from "effect"
import * as Conversion from "../../exchange/Conversion.js"
import type { Lead } from "../store/PurchaseStore.js"
import type * as QuoteEngine from "../../quotes/QuoteEngine.js"
import * as QuoteProgress from "../../quotes/QuoteProgress.js"
import * as FallbackPolicy from "../FallbackPolicy.js"
import { encodeOffer, next, type RunContext } from "./Run.js"

/**
 * Offers as bought from: prices from the offer index or pushed by sellers are never bought
 * from; the best few are confirmed with their sellers first (`QuoteEngine.confirm`).
 */
export const confirmedOffers = (ctx: RunContext, isbn: Isbn.Isbn13, book: QuoteEngine.OfferBook, deadlineMillis: number, converting: Converting) =>
  Effect.gen(function* () {
    if (book.offers.every((offer) => offer.source === "live")) return { offers: book.offers, outcomes: book.outcomes }
    const confirmed = yield* ctx.quoteEngine.confirm(isbn, book.offers, { currency: ctx.currency, tenant: ctx.row.customer_id, deadlineMillis, best: ctx.confirmBest, ...converting.option })
    const again = new Map(confirmed.outcomes.map((outcome) => [outcome.sellerId, outcome]))
    return { offers: confirmed.offers, outcomes: book.outcomes.map((outcome) => again.get(outcome.sellerId) ?? outcome) }
  })

/**
 * Offers in other currencies priced in the request's: at the rates the request kept (`locked`,
 * or none for a new round's quotes) and, for other currencies, at the operator's current rates
 * (`ExchangeRates`). `option` is what the quote engine is given: nothing without any rate, so
 * those offers stay excluded and are named on the outcome.
 */
interface Converting {
  readonly converter: Conversion.Converter
  readonly option: { readonly convert?: (total: Money.Money) => Money.Money | undefined }
}

const converting = (ctx: RunContext, locked: Conversion.Locked | null) =>
  Effect.map(ctx.pricing, (pricing): Converting => {
    const converter = Conversion.make(ctx.currency, locked, pricing)
    return { converter, option: pricing === undefined && locked === null ? {} : { convert: converter.convert } }
  })

/** How many leads a request keeps for later (`QuoteProgress.leads`): enough to walk far down a long list. */
const maxLeads = 64

const notNeeded = (outcome: QuoteEngine.SellerOutcome | undefined) => outcome?.status === "skipped" && outcome.reason === "not_needed"

/**
 * The indexed or pushed offers that `confirm` left unconfirmed (enough cheaper live offers were
 * found), cheapest first: asked if every offer bought from fails.
 */
const leadsOf = (indexed: Iterable<QuoteEngine.RankedOffer>, outcomes: ReadonlyMap<string, QuoteEngine.SellerOutcome>): Array<Lead> =>
  [...indexed]
    .filter((offer) => notNeeded(outcomes.get(offer.sellerId)))
    .sort((a, b) => a.total.amount - b.total.amount)
    .slice(0, maxLeads)
    .map((offer) => ({ sellerId: offer.sellerId, sellerName: offer.sellerName, total: offer.total.amount }))

/**
 * Before a request ends without a purchase while the offer index knew of more (the fallback
 * policy's `leadsToConfirm`): those leads are confirmed with their sellers (as in quoting,
 * cheapest first) and their live offers become quotes of the round, those within the maximum
 * attempts. The leads asked leave the list; sellers among them that could not be asked or did
 * not answer count as unanswered (so the request ends `sellers_busy`, never a false
 * `not_available`). Each run either adds offers or uses up leads, so the walk ends.
 * `attempted`: sellers with an attempt already. Answers false when there is nothing to ask.
 */
export const confirmLeads = (ctx: RunContext, attempted: ReadonlySet<string>) =>
  Effect.gen(function* () {
    const progress = ctx.row.quote_progress
    const round = ctx.row.round
    const saved = yield* ctx.store.quotes(ctx.row.id, round)
    const ask = FallbackPolicy.leadsToConfirm(ctx.row, saved, attempted)
    if (progress === null || ask.length === 0) return false
    const open = (progress.leads ?? []).filter((lead) => !attempted.has(lead.sellerId))
    const maxAmount = ctx.row.max_amount
    const isbn = ctx.row.isbn as Isbn.Isbn13
    const rates = yield* converting(ctx, ctx.row.exchange)
    const book = yield* ctx.quoteEngine.quotes(isbn, {
      currency: ctx.currency,
      tenant: ctx.row.customer_id,
      deadlineMillis: ctx.quoteDeadlineMillis,
      sellerIds: ask.map((lead) => lead.sellerId),
      ...rates.option
    })
    const confirmed = yield* confirmedOffers(ctx, isbn, book, ctx.quoteDeadlineMillis, rates)
    const outcomes = new Map(confirmed.outcomes.map((outcome) => [outcome.sellerId, outcome]))
    // A lead stays one while its seller was not needed (or not in this batch).
    const remaining = open.filter((lead) => !outcomes.has(lead.sellerId) || notNeeded(outcomes.get(lead.sellerId)))
    const now = new Date(yield* Clock.currentTimeMillis)
    const asked = QuoteProgress.summarize([...outcomes.values()].filter((outcome) => !notNeeded(outcome)), 0, now)
    const offers = confirmed.offers.filter((offer) => !attempted.has(offer.sellerId))
    const firstRank = saved.reduce((max, quote) => Math.max(max, quote.rank + 1), 0)
    const quotes = offers.map((offer, i) => ({
      seller_id: offer.sellerId,
      seller_name: offer.sellerName,
      rank: firstRank + i,
      total: offer.total.amount,
      currency: offer.total.currency,
      offer: encodeOffer(offer.offer)
    }))
    const buyable = quotes.filter((quote) => quote.total <= maxAmount)
    yield* ctx.commit({
      progress: {
        progress: {
          ...progress,
          answered: progress.answered + asked.answered,
          failed: progress.failed + asked.failed,
          notAsked: [...progress.notAsked, ...asked.notAsked],
          offers: progress.offers + offers.length,
          leads: remaining,
          updatedAt: now.toISOString()
        },
        waiting: null
      },
      ...(rates.converter.locked() === ctx.row.exchange ? {} : { exchange: rates.converter.locked() }),
      writes: [
        ...(quotes.length === 0 ? [] : [ctx.writes.saveQuotes(round, quotes)]),
        ...(buyable.length === 0 ? [] : [ctx.writes.createAttempts(ctx.row.id, round, buyable.map(({ seller_id, seller_name, rank, offer }) => ({ seller_id, seller_name, rank, offer })))])
      ]
    })
    yield* Effect.logDebug(`request ${ctx.row.id}: every offer failed; confirmed ${open.length - remaining.length} more from the offer index, ${buyable.length} within the maximum`)
    return true
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
    // Counted from the round's start: a want woken days later, a retried request get their whole answer time.
    const answerBy = (ctx.row.round_started_at ?? ctx.row.created_at).getTime() + (ctx.row.answer_within_millis ?? ctx.answerWithinMillis)
    const offers = new Map<string, QuoteEngine.RankedOffer>()
    const outcomes = new Map<string, QuoteEngine.SellerOutcome>()
    /** Indexed and pushed offers seen, for the leads kept for later. */
    const indexed = new Map<string, QuoteEngine.RankedOffer>()
    let sellerIds: ReadonlyArray<string> | undefined
    // A new round is priced at today's rates: what an earlier round kept is not reused.
    const rates = yield* converting(ctx, null)
    const retryFailedUntil = (yield* Clock.currentTimeMillis) + ctx.retryFailedForMillis
    for (let pass = 0; ; pass++) {
      const now = yield* Clock.currentTimeMillis
      const left = Math.max(ctx.minQuoteMillis, answerBy - now)
      // The first pass as any fan-out; later ones wait in the sellers' queues for the rest of the answer time.
      const book = yield* ctx.quoteEngine.quotes(isbn, {
        currency: ctx.currency,
        tenant: ctx.row.customer_id,
        deadlineMillis: pass === 0 ? Math.min(left, ctx.quoteDeadlineMillis) : left,
        ...(sellerIds === undefined ? {} : { sellerIds }),
        ...rates.option
      })
      for (const offer of book.offers) if (offer.source !== "live") indexed.set(offer.sellerId, offer)
      const confirmed = yield* confirmedOffers(ctx, isbn, book, Math.min(left, ctx.quoteDeadlineMillis), rates)
      for (const offer of confirmed.offers) offers.set(offer.sellerId, offer)
      for (const outcome of confirmed.outcomes) outcomes.set(outcome.sellerId, outcome)
      const progress = QuoteProgress.summarize(outcomes.values(), offers.size, new Date(yield* Clock.currentTimeMillis))
      // With an offer within the maximum the request can buy: sellers that failed are not
      // waited for (as stragglers are not); without one, they are asked again for a while
      // (a refused connection is often a blip), then their failure is final.
      const canBuy = [...offers.values()].some((offer) => offer.total.amount <= ctx.row.max_amount)
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
    const leads = leadsOf(indexed.values(), outcomes)
    const progress = {
      ...QuoteProgress.summarize(outcomes.values(), ranked.length, new Date(quotedAt)),
      ...(quotedAt >= retryFailedUntil ? { failedFinal: true } : {}),
      ...(leads.length === 0 ? {} : { leads })
    }
    const quotes = ranked.map((offer, rank) => ({
      seller_id: offer.sellerId,
      seller_name: offer.sellerName,
      rank,
      total: offer.total.amount,
      currency: offer.total.currency,
      offer: encodeOffer(offer.offer)
    }))
    const round = ctx.row.round
    const exchange = rates.converter.locked()
    yield* ctx.commit({
      transition: { to: "deciding", reason: `${ranked.length} offers from ${outcomes.size} sellers`, changes: { quote_progress: progress } },
      writes: [ctx.writes.saveQuotes(round, quotes)],
      // The rates its offers were priced at, for the hold, the order and the capture (cleared when none were).
      ...(exchange === null && ctx.row.exchange === null ? {} : { exchange })
    })
    ctx.saved = { round, quotes }
    return next
  })
