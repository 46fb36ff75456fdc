/**
 * `deciding`: the fallback policy ranks the offers against the maximum; the attempts are written
 * in one go — once the requests for the same scarce copies that arrived earlier had their turn
 * (`purchases/ScarceCopies.ts`).
 */
import { Clock, Effect } from "effect"
import * as FallbackPolicy from "../FallbackPolicy.js"
import * as ScarceCopies from "../ScarceCopies.js"
import { end } from "./finish.js"
import { decodeOffer, next, park, type RunContext } from "./Run.js"

/** How often a request waiting for earlier ones looks again. */
const lookAgainMillis = 200

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
    const offered = ScarceCopies.copiesOffered(decision.within.map((quote) => decodeOffer(quote.offer).quantity))
    const quotedAt = Date.parse(ctx.row.quote_progress?.updatedAt ?? "")
    if (offered !== undefined && Number.isFinite(quotedAt)) {
      const now = yield* Clock.currentTimeMillis
      // The copies the quotes counted, less those other requests bought there since.
      const sold = yield* ctx.store.soldSince(ctx.row.id, ctx.row.isbn, decision.within.map((quote) => quote.seller_id), new Date(quotedAt))
      const copies = Math.max(0, offered - sold)
      const earlier = copies === 0 ? 0 : yield* ctx.store.earlierInProgress(ctx.row, copies)
      if (ScarceCopies.waitsForEarlier({ earlier, copies, waitedMillis: now - quotedAt, maxWaitMillis: ctx.scarceCopyWaitMillis })) {
        return park(lookAgainMillis, `${earlier} requests for this book arrived earlier and are served first: the offers within your maximum have ${copies} ${copies === 1 ? "copy" : "copies"}`)
      }
    }
    yield* ctx.transition("purchasing", decision.reason, undefined, [
      ctx.writes.createAttempts(ctx.row.id, ctx.row.round, decision.within.map((quote) => ({ seller_id: quote.seller_id, seller_name: quote.seller_name, rank: quote.rank, offer: quote.offer })))
    ])
    return next
  })
