/**
 * When a purchase attempt is closed (the rule behind "at most one seller order per request"), and
 * what the customer reads about it: our words, never the seller's bytes.
 */
import { Money, SellerError } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { Option, Result } from "effect"
import * as AttemptResolution from "../src/purchases/AttemptResolution.js"

const order = { orderId: "o-1", total: Money.make(1500, "EUR") } as never
const sellerBytes = "<html>Internal error at db-7.internal:5432 (user=shop_admin)</html>"

const unavailable = (reason: SellerError.UnavailableReason, mayHaveBeenProcessed: boolean) =>
  new SellerError.SellerUnavailable({ operation: "purchase", reason, detail: `POST /orders answered 502: ${sellerBytes}`, mayHaveBeenProcessed })
const rejected = (reason: SellerError.RejectedReason) => new SellerError.SellerRejected({ operation: "purchase", reason, detail: sellerBytes })

describe("AttemptResolution.afterPurchase", () => {
  it("an order confirms the attempt", () => {
    expect(AttemptResolution.afterPurchase(Result.succeed(order), true)).toEqual({ _tag: "Confirmed", order })
  })

  it("a try that may have been processed leaves the attempt unresolved, whatever came before", () => {
    for (const error of [
      new SellerError.OutcomeUnknown({ operation: "purchase", idempotencyKey: "k", detail: sellerBytes }),
      new SellerError.MalformedSellerResponse({ operation: "purchase", detail: sellerBytes }),
      unavailable("server_error", true),
      unavailable("timeout", true)
    ]) {
      for (const maybeSentBefore of [false, true]) {
        expect(AttemptResolution.afterPurchase(Result.fail(error), maybeSentBefore)._tag).toBe("Unresolved")
      }
    }
  })

  it("a business rejection of the key closes it; any other refusal closes it only when nothing was sent before", () => {
    expect(AttemptResolution.afterPurchase(Result.fail(rejected("out_of_stock")), true)).toEqual({ _tag: "Failed", reason: "rejected:out_of_stock" })
    expect(AttemptResolution.afterPurchase(Result.fail(rejected("auth_failed")), false)).toEqual({ _tag: "Failed", reason: "rejected:auth_failed" })
    expect(AttemptResolution.afterPurchase(Result.fail(rejected("auth_failed")), true)).toMatchObject({ _tag: "Unresolved", reason: "replay_refused: rejected:auth_failed" })
    expect(AttemptResolution.afterPurchase(Result.fail(unavailable("transport", false)), false)).toEqual({ _tag: "Failed", reason: "unavailable:transport" })
    expect(AttemptResolution.afterPurchase(Result.fail(unavailable("rate_limited", false)), true)).toMatchObject({ _tag: "Unresolved", reason: "replay_not_processed: unavailable:rate_limited" })
  })

  it("the reason a customer reads is ours; the seller's own answer is kept for operators in `detail` only", () => {
    const cases = [
      { error: new SellerError.MalformedSellerResponse({ operation: "purchase", detail: sellerBytes }), reason: "outcome_unknown: malformed_response" },
      { error: new SellerError.OutcomeUnknown({ operation: "purchase", idempotencyKey: "k", detail: sellerBytes }), reason: "outcome_unknown: no_answer" },
      { error: unavailable("server_error", true), reason: "outcome_unknown: unavailable:server_error" }
    ]
    for (const { error, reason } of cases) {
      const resolution = AttemptResolution.afterPurchase(Result.fail(error), false)
      expect(resolution).toMatchObject({ _tag: "Unresolved", reason })
      expect(JSON.stringify(resolution._tag === "Unresolved" ? resolution.reason : "")).not.toContain("db-7")
      expect(resolution._tag === "Unresolved" ? resolution.detail : undefined).toContain(sellerBytes)
    }
    for (const error of [rejected("invalid_request"), unavailable("transport", false)]) {
      expect(AttemptResolution.describe(error)).not.toContain("db-7")
    }
  })
})

describe("AttemptResolution.afterLookup", () => {
  it("found, not found (the key is free) or no answer", () => {
    expect(AttemptResolution.afterLookup(Result.succeed(Option.some(order)))).toEqual({ _tag: "Found", order })
    expect(AttemptResolution.afterLookup(Result.succeed(Option.none()))).toEqual({ _tag: "NotFound" })
    expect(AttemptResolution.afterLookup(Result.fail(unavailable("timeout", true)))).toEqual({ _tag: "NoAnswer", reason: "unavailable:timeout" })
  })
})

describe("AttemptResolution.holdMayExist", () => {
  it("a hold call that may have reached the seller is asked again under its key; a refusal took nothing", () => {
    const may = (error: SellerError.SellerError) => AttemptResolution.holdMayExist(error)
    expect(may(new SellerError.SellerUnavailable({ operation: "hold", reason: "timeout", detail: "3 s", mayHaveBeenProcessed: true }))).toBe(true)
    expect(may(new SellerError.MalformedSellerResponse({ operation: "hold", detail: "not JSON" }))).toBe(true)
    expect(may(new SellerError.SellerUnavailable({ operation: "hold", reason: "server_error", detail: "500", mayHaveBeenProcessed: true }))).toBe(true)
    expect(may(new SellerError.SellerUnavailable({ operation: "hold", reason: "transport", detail: "ECONNREFUSED" }))).toBe(false)
    expect(may(new SellerError.SellerUnavailable({ operation: "hold", reason: "rate_limited", detail: "429" }))).toBe(false)
    expect(may(new SellerError.SellerRejected({ operation: "hold", reason: "out_of_stock", detail: "none left" }))).toBe(false)
  })
})
