/** The confirm walk alone: which indexed prices are asked, in what batches, and when it is enough. No sellers, no database. */
import { describe, expect, it } from "@effect/vitest"
import * as ConfirmWalk from "../src/quotes/ConfirmWalk.js"

const lead = (sellerId: string, total: number) => ({ sellerId, total })
const ids = (batch: ReadonlyArray<ConfirmWalk.Lead>) => batch.map((one) => one.sellerId)
const offered = (total: number): ConfirmWalk.Answer => ({ _tag: "Offered", total })
const noOffer: ConfirmWalk.Answer = { _tag: "NoOffer" }
const failed: ConfirmWalk.Answer = { _tag: "Failed" }

describe("ConfirmWalk", () => {
  it("asks the two cheapest at once, then stops once two live offers are at least as cheap as the next lead", () => {
    const walk = ConfirmWalk.make([lead("c", 1200), lead("a", 1000), lead("b", 1100), lead("d", 1300)], [])
    const first = walk.next()
    expect(ids(first)).toEqual(["a", "b"])
    walk.answered(first[0]!, offered(1000))
    walk.answered(first[1]!, offered(1150))
    expect(walk.next()).toEqual([])
    expect(ids(walk.unasked())).toEqual(["c", "d"])
  })

  it("walks down the list while leads turn out gone, one missing offer at a time", () => {
    const walk = ConfirmWalk.make([lead("a", 1000), lead("b", 1100), lead("c", 1200), lead("d", 1300)], [])
    const [a, b] = walk.next()
    walk.answered(a!, noOffer)
    walk.answered(b!, offered(1100))
    const second = walk.next()
    expect(ids(second)).toEqual(["c"])
    walk.answered(second[0]!, offered(1250))
    expect(walk.next()).toEqual([])
    expect(ids(walk.unasked())).toEqual(["d"])
  })

  it("asks a lead whose call failed once more, ahead of dearer leads, and not a third time", () => {
    const walk = ConfirmWalk.make([lead("a", 1000), lead("b", 1100), lead("c", 1200)], [], 1)
    const first = walk.next()
    expect(ids(first)).toEqual(["a"])
    walk.answered(first[0]!, failed)
    const again = walk.next()
    expect(ids(again)).toEqual(["a"])
    walk.answered(again[0]!, failed)
    const next = walk.next()
    expect(ids(next)).toEqual(["b"])
    walk.answered(next[0]!, offered(1100))
    expect(walk.next()).toEqual([])
  })

  it("counts live offers already known, and asks nothing when they are cheap enough", () => {
    expect(ConfirmWalk.make([lead("a", 1000)], [900, 950]).next()).toEqual([])
    const walk = ConfirmWalk.make([lead("a", 1000), lead("b", 1100)], [1050])
    // One live offer (dearer than a): one more is needed, the cheapest lead.
    expect(ids(walk.next())).toEqual(["a"])
  })

  it("ends when the leads run out", () => {
    const walk = ConfirmWalk.make([lead("a", 1000)], [])
    const [a] = walk.next()
    walk.answered(a!, noOffer)
    expect(walk.next()).toEqual([])
    expect(walk.unasked()).toEqual([])
  })

  it("with a margin, goes on asking leads whose price may have fallen below the live offers found", () => {
    const leads = [lead("a", 1000), lead("b", 1050), lead("c", 1100), lead("d", 1300)]
    const plain = ConfirmWalk.make(leads, [])
    for (const one of plain.next()) plain.answered(one, offered(one.total))
    expect(plain.next()).toEqual([])
    // 10 %: c (1100 → maybe 990) could still undercut b (1050); d (1300 → 1170) could not.
    const wide = ConfirmWalk.make(leads, [], 2, { margin: 0.1 })
    for (const one of wide.next()) wide.answered(one, offered(one.total))
    const more = wide.next()
    expect(ids(more)).toEqual(["c"])
    wide.answered(more[0]!, offered(1100))
    expect(wide.next()).toEqual([])
  })

  it("asks every lead within the margin in one round once enough live offers are in", () => {
    const leads = [lead("a", 1000), lead("b", 1010), lead("c", 1050), lead("d", 1080), lead("e", 1300)]
    const walk = ConfirmWalk.make(leads, [], 2, { margin: 0.1 })
    for (const one of walk.next()) walk.answered(one, offered(one.total))
    // a and b live at 1000 and 1010: c and d (≥ 945, 972 after 10 %) could still undercut them; e could not.
    expect(ids(walk.next())).toEqual(["c", "d"])
  })
})
