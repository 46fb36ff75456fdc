/** The fallback policy alone: which offer is bought from, what a failure leads to, how a request ends. No database. */
import { describe, expect, it } from "@effect/vitest"
import type { AttemptRow, QuoteProgress, QuoteRow } from "../src/purchases/store/PurchaseStore.js"
import * as FallbackPolicy from "../src/purchases/FallbackPolicy.js"

const quote = (seller: string, total: number, rank: number): QuoteRow => ({ seller_id: seller, seller_name: seller, rank, total, currency: "EUR", offer: {} })

const progress = (sellers: number, notAsked: number, failed = 0, failedFinal = false): QuoteProgress => ({
  sellers,
  answered: sellers - notAsked - failed,
  failed,
  notAsked: Array.from({ length: notAsked }, (_, i) => ({ sellerId: `busy-${i}`, sellerName: `busy-${i}`, reason: "rate_limited" })),
  ...(failedFinal ? { failedFinal: true } : {}),
  offers: 0,
  updatedAt: new Date(0).toISOString()
})

const request = (overrides: Partial<FallbackPolicy.PolicyRequest> = {}): FallbackPolicy.PolicyRequest => ({
  max_amount: 2000,
  currency: "EUR",
  counter_offer: null,
  quote_progress: progress(3, 0),
  round: 0,
  ...overrides
})

const attempt = (id: string, status: AttemptRow["status"], overrides: Partial<AttemptRow> = {}): AttemptRow =>
  ({ id, round: 0, status, tries: 0, seller_id: id, seller_name: id, rank: 0, ...overrides }) as AttemptRow

describe("FallbackPolicy.decide", () => {
  it("buys the offers within the maximum, cheapest first", () => {
    const decision = FallbackPolicy.decide(request(), [quote("a", 1500, 0), quote("b", 1900, 1), quote("c", 2500, 2)])
    expect(decision).toMatchObject({ _tag: "Purchase", reason: "2 offers within the maximum" })
    expect(decision._tag === "Purchase" && decision.within.map((q) => q.seller_id)).toEqual(["a", "b"])
  })

  it("never says not available or price not met while sellers were not asked: sellers_busy", () => {
    expect(FallbackPolicy.decide(request({ quote_progress: progress(5, 2) }), [])).toMatchObject({ _tag: "SellersBusy" })
    expect(FallbackPolicy.decide(request({ quote_progress: progress(5, 0, 1) }), [quote("a", 2500, 0)])).toMatchObject({ _tag: "SellersBusy" })
    // A failure that is final (the retry window closed) no longer holds the answer back.
    expect(FallbackPolicy.decide(request({ quote_progress: progress(5, 0, 1, true) }), [])).toMatchObject({ _tag: "NotAvailable", reason: "no_offers" })
    // Offers within the maximum are bought even while some sellers did not answer; the reason says so.
    expect(FallbackPolicy.decide(request({ quote_progress: progress(5, 2) }), [quote("a", 1500, 0)])).toMatchObject({
      _tag: "Purchase",
      reason: "1 offers within the maximum; 2 sellers could not be asked or did not answer in time"
    })
  })

  it("no offer: not_available; offers only above the maximum: price_not_met with the cheapest as the counter-offer", () => {
    expect(FallbackPolicy.decide(request(), [])).toEqual({ _tag: "NotAvailable", reason: "no_offers" })
    const above = FallbackPolicy.decide(request(), [quote("a", 2100, 0), quote("b", 2600, 1)])
    expect(above).toMatchObject({ _tag: "PriceNotMet", reason: "cheapest_offer_above_max", cheapest: { seller_id: "a" } })
  })

  it("an accepted counter-offer buys what the customer saw: sellers not asked then do not hold it back", () => {
    const accepted = request({ counter_offer: { round: 0, seller_id: "a", seller_name: "a", total: 2100, currency: "EUR", expires_at: "" }, round: 1, quote_progress: progress(5, 3) })
    expect(FallbackPolicy.offersRound(accepted)).toBe(0)
    expect(FallbackPolicy.decide({ ...accepted, max_amount: 2100 }, [quote("a", 2100, 0)])).toMatchObject({ _tag: "Purchase" })
  })
})

describe("FallbackPolicy.nextAttempt", () => {
  it("captures a confirmed order (from any round) before anything else", () => {
    expect(FallbackPolicy.nextAttempt([attempt("a", "failed"), attempt("b", "confirmed", { round: 0 }), attempt("c", "pending", { round: 1 })], 1)).toMatchObject({
      _tag: "Capture",
      attempt: { id: "b" }
    })
  })

  it("carries on the open attempt before any pending one: nothing else is bought while an order may exist", () => {
    const next = FallbackPolicy.nextAttempt([attempt("a", "pending"), attempt("b", "unknown"), attempt("c", "pending")], 0)
    expect(next).toMatchObject({ _tag: "Try", attempt: { id: "b" }, nextInLine: { id: "a" } })
  })

  it("then the cheapest pending one, with the one after it in line; none left: every offer failed", () => {
    expect(FallbackPolicy.nextAttempt([attempt("a", "failed"), attempt("b", "pending"), attempt("c", "pending")], 0)).toMatchObject({
      _tag: "Try",
      attempt: { id: "b" },
      nextInLine: { id: "c" }
    })
    expect(FallbackPolicy.nextAttempt([attempt("a", "failed"), attempt("b", "pending", { round: 0 })], 1)).toEqual({ _tag: "EveryOfferFailed" })
  })

  it("an attempt may have ordered once a purchase could have been sent", () => {
    expect(FallbackPolicy.mayHaveOrdered({ status: "pending", tries: 0 })).toBe(false)
    expect(FallbackPolicy.mayHaveOrdered({ status: "held", tries: 0 })).toBe(false)
    expect(FallbackPolicy.mayHaveOrdered({ status: "held", tries: 1 })).toBe(true)
    expect(FallbackPolicy.mayHaveOrdered({ status: "purchasing", tries: 0 })).toBe(true)
    expect(FallbackPolicy.mayHaveOrdered({ status: "unknown", tries: 0 })).toBe(true)
  })
})

describe("FallbackPolicy.heldPriceRefusal", () => {
  const held = (amount: number, currency = "EUR", nextInLine?: { sellerName: string; total: number }) =>
    FallbackPolicy.heldPriceRefusal({ total: { amount, currency }, currency: "EUR", maxAmount: 2000, quotedTotal: 1500, nextInLine })

  it("buys a hold at or below the quote, or dearer while still the cheapest in line", () => {
    expect(held(1500)).toBeUndefined()
    expect(held(1400)).toBeUndefined()
    expect(held(1700, "EUR", { sellerName: "b", total: 1800 })).toBeUndefined()
    expect(held(1700)).toBeUndefined()
  })

  it("refuses a hold in another currency, above the maximum, or dearer than quoted and than the next offer", () => {
    expect(held(1500, "USD")).toBe("hold_currency_mismatch: USD")
    expect(held(2001)).toBe("held_price_above_max")
    expect(held(1700, "EUR", { sellerName: "b", total: 1600 })).toBe("held_price_above_next_offer: held at 1700, quoted 1500, b offers 1600")
  })
})

describe("FallbackPolicy.afterEveryOfferFailed", () => {
  it("sellers_busy while sellers were not asked; then price_not_met with the cheapest above the maximum; not_available otherwise", () => {
    expect(FallbackPolicy.afterEveryOfferFailed(request({ quote_progress: progress(4, 1) }), [quote("a", 1500, 0)])).toMatchObject({ _tag: "SellersBusy" })
    expect(FallbackPolicy.afterEveryOfferFailed(request(), [quote("a", 1500, 0), quote("b", 2200, 1), quote("c", 2900, 2)])).toMatchObject({
      _tag: "PriceNotMet",
      reason: "offers_within_max_failed",
      cheapest: { seller_id: "b" }
    })
    expect(FallbackPolicy.afterEveryOfferFailed(request(), [quote("a", 1500, 0)])).toEqual({ _tag: "NotAvailable", reason: "all_offers_failed" })
  })

  it("after an accepted counter-offer failed, no second counter-offer: not_available", () => {
    const accepted = request({ counter_offer: { round: 0, seller_id: "b", seller_name: "b", total: 2200, currency: "EUR", expires_at: "" }, round: 1 })
    expect(FallbackPolicy.afterEveryOfferFailed(accepted, [quote("b", 2200, 0), quote("c", 2900, 1)])).toEqual({ _tag: "NotAvailable", reason: "all_offers_failed" })
  })
})

describe("FallbackPolicy.counterOffer", () => {
  it("is the cheapest offer above the maximum, for the request's round, until the offer expires", () => {
    expect(FallbackPolicy.counterOffer(2, quote("b", 2200, 1), new Date("2026-12-04T12:00:00Z"))).toEqual({
      round: 2,
      seller_id: "b",
      seller_name: "b",
      total: 2200,
      currency: "EUR",
      expires_at: "2026-12-04T12:00:00.000Z"
    })
  })
})

describe("FallbackPolicy.leadsToConfirm", () => {
  const lead = (seller: string, total: number) => ({ sellerId: seller, sellerName: seller, total })
  const withLeads = (leads: ReadonlyArray<ReturnType<typeof lead>>, overrides: Partial<FallbackPolicy.PolicyRequest> = {}) =>
    request({ quote_progress: { ...progress(5, 0), leads }, ...overrides })

  it("asks the leads within the maximum first, skipping sellers already tried", () => {
    const leads = [lead("a", 1200), lead("b", 1500), lead("c", 2600)]
    expect(FallbackPolicy.leadsToConfirm(withLeads(leads), [], new Set(["a"])).map((l) => l.sellerId)).toEqual(["b"])
  })

  it("asks leads above the maximum only while the round has no counter-offer to make", () => {
    const leads = [lead("c", 2600), lead("d", 2700)]
    expect(FallbackPolicy.leadsToConfirm(withLeads(leads), [quote("x", 1500, 0)], new Set()).map((l) => l.sellerId)).toEqual(["c", "d"])
    expect(FallbackPolicy.leadsToConfirm(withLeads(leads), [quote("x", 1500, 0), quote("y", 3000, 1)], new Set())).toEqual([])
  })

  it("asks none for an accepted counter-offer's round, or without leads", () => {
    const counter = { round: 0, seller_id: "y", seller_name: "y", total: 3000, currency: "EUR", expires_at: new Date(0).toISOString() }
    expect(FallbackPolicy.leadsToConfirm(withLeads([lead("a", 1200)], { counter_offer: counter, round: 1 }), [], new Set())).toEqual([])
    expect(FallbackPolicy.leadsToConfirm(request(), [], new Set())).toEqual([])
  })
})

describe("FallbackPolicy.notAvailableReason", () => {
  const other = (currency: string, total: number, sellers: number, sellerName = "Libreria") => ({ currency, sellers, cheapest: { sellerId: sellerName, sellerName, total } })

  it("says no_offers when nobody offered the book", () => {
    expect(FallbackPolicy.decide(request({ quote_progress: progress(3, 0) }), [])).toEqual({ _tag: "NotAvailable", reason: "no_offers" })
  })

  it("names the other currencies the book is offered in, never plain not-available", () => {
    const offered = request({ currency: "USD", quote_progress: { ...progress(4, 0), otherCurrencies: [other("EUR", 1250, 3), other("JPY", 1800, 1, "Kinokuni")] } })
    expect(FallbackPolicy.decide(offered, [])).toEqual({
      _tag: "NotAvailable",
      reason: "offered_in_other_currency: 12.50 EUR from Libreria (3 sellers); 1800 JPY from Kinokuni; not comparable with USD prices"
    })
    expect(FallbackPolicy.afterEveryOfferFailed(offered, [])).toMatchObject({ _tag: "NotAvailable", reason: expect.stringMatching(/^offered_in_other_currency: 12.50 EUR/) })
  })
})
