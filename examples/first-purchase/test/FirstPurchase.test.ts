import { Money } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { firstPurchase } from "../src/FirstPurchase.js"

describe("first purchase walkthrough", () => {
  it.live("skips the hanging seller, moves past the sold-out cheapest, buys the next cheapest", () =>
    Effect.gen(function* () {
      const outcome = yield* firstPurchase(Money.make(2100, "EUR"))
      expect(outcome.offers.map((offer) => offer.seller)).toEqual(["dusty-shelf", "page-turner", "paper-moon", "book-barn"])
      expect(outcome.skipped.map((skip) => skip.seller)).toEqual(["slow-reads", "dusty-shelf"])
      expect(outcome.bought?.seller).toBe("page-turner")
      expect(outcome.bought?.total).toEqual(Money.make(2049, "EUR"))
    })
  )

  it.live("buys nothing when every offer is above the maximum", () =>
    Effect.gen(function* () {
      const outcome = yield* firstPurchase(Money.make(1000, "EUR"))
      expect(outcome.bought).toBeUndefined()
    })
  )
})
