/**
 * `deciding`: the fallback policy ranks the offers against the maximum; the attempts are written
 * in one go — once the requests for the same scarce copies that arrived earlier had their turn
 * (`purchases/ScarceCopies.ts`). When they took every copy within the maximum, the request ends
 * here, as it would once each attempt had been closed without a call.
 */
import { Clock, Effect } from "effect"
import * as FallbackPolicy from "../FallbackPolicy.js"
import * as ScarceCopies from "../ScarceCopies.js"
import { end } from "./finish.js"
import { decodeOffer, next, park, type RunContext } from "./Run.js"

/**
 * How soon a request waiting for earlier ones looks again: soon when it is next in line, later the
 * further back it is (a surge's last requests would otherwise ask the database five times a second
 * each, slowing the ones ahead of them).
 */
const lookAgainMillis = (earlier: number, copies: number) => Math.min(2_000, 150 + Math.floor((200 * Math.max(0, earlier - Math.max(0, copies))) / Math.max(1, copies)))
/** How far back in line a waiting request counts. */
const countAtMost = 1_000

export const decide = (ctx: RunContext) =>
  Effect.gen(function* () {
    const round = FallbackPolicy.offersRound(ctx.row)
    const quotes = ctx.saved?.round === round ? ctx.saved.quotes : yield* ctx.store.quotes(ctx.row.id, round)
    const decision = FallbackPolicy.decide(ctx.row, quotes)
    if (decision._tag !== "Purchase") {
      // The index knows of offers nobody confirmed (confirming ran out of time): asked before any ending.
      if (FallbackPolicy.leadsToConfirm(ctx.row, quotes, new Set()).length > 0) {
        yield* ctx.transition("purchasing", "confirming offers the offer index knows of")
        return next
      }
      return yield* end(ctx, decision)
    }
    const quantities = decision.within.map((quote) => decodeOffer(quote.offer).quantity)
    const offered = ScarceCopies.copiesOffered(quantities)
    const quotedAt = Date.parse(ctx.row.quote_progress?.updatedAt ?? "")
    if (offered !== undefined && Number.isFinite(quotedAt)) {
      const now = yield* Clock.currentTimeMillis
      // Nobody earlier at it (the common case): nothing to wait for, one statement.
      const earlier = yield* ctx.store.earlierInProgress(ctx.row, countAtMost)
      if (earlier > 0) {
        // One statement: the copies other requests bought at these sellers lately (a quote may
        // come from the cache), and what each seller told them since this request's quotes.
        const gone = yield* ctx.store.copiesGone({
          requestId: ctx.row.id,
          isbn: ctx.row.isbn,
          sellerIds: decision.within.map((quote) => quote.seller_id),
          windowStart: new Date(quotedAt - ScarceCopies.soldWindowMillis),
          quotedAt: new Date(quotedAt),
          outOfStockAnswer: ScarceCopies.outOfStockAnswer
        })
        const copies = offered - gone.sold
        const offers = decision.within.map((quote, i) => ({ quantity: quantities[i]!, since: gone.since.get(quote.seller_id) ?? ScarceCopies.nothingLearnt }))
        // Every copy known gone: the answer is known — unless the offer index has leads nobody confirmed yet.
        if (copies <= 0 && ScarceCopies.everyCopyKnownGone(offers) && FallbackPolicy.leadsToConfirm(ctx.row, quotes, new Set()).length === 0) {
          return yield* end(ctx, FallbackPolicy.afterEveryOfferFailed(ctx.row, quotes, ScarceCopies.everyCopyGoneReason))
        }
        if (ScarceCopies.waitsForEarlier({ earlier, copies, waitedMillis: now - quotedAt, maxWaitMillis: ctx.scarceCopyWaitMillis })) {
          const left = Math.max(0, copies)
          return park(lookAgainMillis(earlier, copies), `${earlier} requests for this book arrived earlier and are served first: the offers within your maximum have ${left} ${left === 1 ? "copy" : "copies"} left`)
        }
      }
    }
    yield* ctx.transition("purchasing", decision.reason, undefined, [
      ctx.writes.createAttempts(ctx.row.id, ctx.row.round, decision.within.map((quote) => ({ seller_id: quote.seller_id, seller_name: quote.seller_name, rank: quote.rank, offer: quote.offer })))
    ])
    return next
  })
