/** When an operator may run a request again: the rule alone, no database. */
import { describe, expect, it } from "@effect/vitest"
import * as RetryRule from "../src/purchases/RetryRule.js"

const facts = (overrides: Partial<RetryRule.RetryFacts> = {}, request: Partial<RetryRule.RetryFacts["request"]> = {}): RetryRule.RetryFacts => ({
  request: { status: "failed", attention: null, reason: "payment_declined: card_declined", payment_token: null, ...request },
  leased: false,
  providerLookedUp: false,
  attempts: [{ status: "failed", seller_name: "A", order_id: null }],
  payments: [{ kind: "authorize", status: "declined", live: false }],
  ...overrides
})

describe("RetryRule.decide", () => {
  it("a failed request with nothing of its round left open starts a new round with the new token, and needs one", () => {
    expect(RetryRule.decide(facts({ paymentToken: "tok_new" }))).toEqual({ _tag: "NewRound", paymentToken: "tok_new" })
    expect(RetryRule.decide(facts())).toEqual({ _tag: "TokenRequired" })
  })

  it("a request set aside after internal errors is resumed where it stopped, even without a token", () => {
    expect(RetryRule.decide(facts({}, { status: "purchasing", attention: "dead_letter" }))).toEqual({ _tag: "Resume" })
  })

  it("refuses whatever could buy twice or hold the customer's money twice, saying why", () => {
    const refusal = (f: RetryRule.RetryFacts) => {
      const decision = RetryRule.decide({ ...f, paymentToken: "tok_new" })
      return decision._tag === "Refused" ? decision.detail : decision._tag
    }
    expect(refusal(facts({}, { status: "purchased" }))).toContain("it is purchased; only failed requests")
    expect(refusal(facts({ leased: true }))).toContain("working on it right now")
    expect(refusal(facts({ attempts: [{ status: "confirmed", seller_name: "A", order_id: "o-1" }] }))).toBe("A confirmed order o-1 for it; settle that order instead of buying again")
    expect(refusal(facts({ attempts: [{ status: "purchasing", seller_name: "B", order_id: null }] }))).toContain("the attempt at B is purchasing")
    expect(refusal(facts({ payments: [{ kind: "authorize", status: "succeeded", live: true }] }))).toContain("an authorization still holds the customer's money")
    expect(refusal(facts({ payments: [{ kind: "void", status: "pending", live: false }] }))).toContain("its void payment operation is not known yet")
    expect(refusal(facts({ payments: [{ kind: "capture", status: "succeeded", live: false }] }))).toBe("money was captured for it")
  })

  it("after a payment the provider never answered, waits until the sweeper has asked the provider", () => {
    const unanswered = facts({ paymentToken: "tok_new" }, { reason: "payment_unavailable: timeout" })
    expect(RetryRule.decide(unanswered)._tag).toBe("Refused")
    expect(RetryRule.decide({ ...unanswered, providerLookedUp: true })).toEqual({ _tag: "NewRound", paymentToken: "tok_new" })
  })
})
