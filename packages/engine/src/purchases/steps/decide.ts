/** `deciding`: the fallback policy ranks the offers against the maximum; the attempts are written in one go. */
import { Effect } from "effect"
import * as FallbackPolicy from "../FallbackPolicy.js"
import { end } from "./finish.js"
import { next, type RunContext } from "./Run.js"

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
    yield* ctx.transition("purchasing", decision.reason, undefined, [
      ctx.writes.createAttempts(ctx.row.id, ctx.row.round, decision.within.map((quote) => ({ seller_id: quote.seller_id, seller_name: quote.seller_name, rank: quote.rank, offer: quote.offer })))
    ])
    return next
  })
