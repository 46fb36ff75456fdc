/** The rules of wants, alone: what `wait_until` may be, which endings watch, when the next live look is. */
import { describe, expect, it } from "vitest"
import * as WantPolicy from "../src/purchases/WantPolicy.js"

const now = Date.parse("2026-12-04T12:00:00Z")
const day = 86_400_000

describe("WantPolicy", () => {
  it("takes a wait_until in the future, at most 30 days away", () => {
    expect(WantPolicy.waitUntilRefusal(new Date(now + day), now)).toBeUndefined()
    expect(WantPolicy.waitUntilRefusal(new Date(now + 30 * day), now)).toBeUndefined()
    expect(WantPolicy.waitUntilRefusal(new Date(now + 30 * day + 1), now)).toBe("is more than 30 days away")
    expect(WantPolicy.waitUntilRefusal(new Date(now), now)).toBe("is not in the future")
    expect(WantPolicy.waitUntilRefusal(new Date(Number.NaN), now)).toBe("is not a date and time")
  })

  it("watches instead of the endings that bought nothing for want of a copy, while wait_until is ahead", () => {
    const ahead = new Date(now + day)
    expect(WantPolicy.watches("price_not_met", ahead, now)).toBe(true)
    expect(WantPolicy.watches("not_available", ahead, now)).toBe(true)
    expect(WantPolicy.watches("sellers_busy", ahead, now)).toBe(true)
    // A failure (a declined card) still ends it; so does a purchase.
    expect(WantPolicy.watches("failed", ahead, now)).toBe(false)
    expect(WantPolicy.watches("purchased", ahead, now)).toBe(false)
    // Not a want, or its time is up.
    expect(WantPolicy.watches("not_available", null, now)).toBe(false)
    expect(WantPolicy.watches("not_available", new Date(now), now)).toBe(false)
  })

  it("looks live again after the recheck interval, never after wait_until", () => {
    expect(WantPolicy.nextLook(now, new Date(now + day), 3_600_000).getTime()).toBe(now + 3_600_000)
    expect(WantPolicy.nextLook(now, new Date(now + 60_000), 3_600_000).getTime()).toBe(now + 60_000)
  })
})
