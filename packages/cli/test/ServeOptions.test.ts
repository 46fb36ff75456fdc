import { describe, expect, it } from "@effect/vitest"
import { marginBasisPoints } from "../src/commands/serve.js"

describe("serve options", () => {
  it("the exchange margin is a percentage from 0 to 50 with at most two decimals, in basis points", () => {
    const name = "BOOKBROKER_EXCHANGE_MARGIN_PERCENT"
    expect(marginBasisPoints(name, undefined)).toBeUndefined()
    expect(marginBasisPoints(name, "")).toBeUndefined()
    expect(marginBasisPoints(name, "2")).toBe(200)
    expect(marginBasisPoints(name, "1.5")).toBe(150)
    expect(marginBasisPoints(name, "0.25")).toBe(25)
    expect(marginBasisPoints(name, "0")).toBe(0)
    expect(marginBasisPoints(name, 50)).toBe(5_000)
    for (const bad of ["abc", "-1", "2.555", "51", "1e1", "2 %", "100"]) {
      expect(() => marginBasisPoints(name, bad)).toThrow(/must be a percentage from 0 to 50 with at most two decimals/)
    }
  })
})
