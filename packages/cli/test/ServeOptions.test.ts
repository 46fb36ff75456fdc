import { describe, expect, it } from "@effect/vitest"
import { marginBasisPoints } from "../src/commands/serve.js"
import { banner, type Running } from "../src/services/Serve.js"

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

  it("the banner of one role of several without Redis says each process keeps its own seller limits", () => {
    const running = (sharedState: string): Running => ({
      baseUrl: undefined,
      operatorToken: "bb_op_test",
      operatorTokenConfigured: true,
      webhookSecretSource: undefined,
      mode: { database: "postgres", sharedState, payments: "sandbox", exchangeRates: "none" },
      demo: undefined
    })
    const hint = /each process keeps its own seller limits: with more than one process, set REDIS_URL/
    expect(banner(running("in-process"), "worker")).toMatch(hint)
    expect(banner(running("in-process"), "api")).toMatch(hint)
    expect(banner(running("in-process"), "all")).not.toMatch(hint)
    expect(banner(running("Redis at redis://127.0.0.1:6379"), "worker")).not.toMatch(hint)
  })
})
