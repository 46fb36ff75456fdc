import { describe as group, expect, it } from "vitest"
import { check, describe, invariants, type CheckInput } from "../src/Invariants.js"

const request = (id: string, status: string, orderId: string | null = null, maxAmount = 3_000) => ({ id, status, maxAmount, finalAmount: null, orderId })
const order = (buyerReference: string, orderId: string, total = 1_000, seller = "seller-a") => ({ seller, orderId, buyerReference, total })
const payment = (id: string, requestId: string, authorized: number, captured: number, status: string) => ({ id, requestId, authorized, captured, status })

group("Invariants.check", () => {
  it("reports nothing for a consistent run", () => {
    const report = check({
      requests: [request("r1", "purchased", "o1"), request("r2", "price_not_met"), request("r3", "not_available")],
      payments: [payment("p1", "r1", 3_000, 1_000, "captured"), payment("p2", "r2", 3_000, 0, "voided"), payment("p3", "r3", 3_000, 0, "voided")],
      orders: [order("r1", "o1")],
      sellerViolations: { rate: 0, concurrency: 0 }
    })
    expect(report.violations).toBe(0)
    expect(report.statuses).toEqual({ purchased: 1, price_not_met: 1, not_available: 1 })
    expect(describe(report)).toContain("0 violations")
  })

  it("counts every invariant broken by hand-made data", () => {
    const input: CheckInput = {
      requests: [
        request("double", "purchased", "o1"),
        request("no-order", "failed"),
        request("no-capture", "purchased", "o4"),
        request("over", "purchased", "o5", 1_000),
        request("open", "quoting"),
        request("wrong-total", "purchased", "o6"),
        request("ghost", "purchased", "o-missing")
      ],
      payments: [
        payment("p1", "double", 3_000, 1_000, "captured"),
        payment("p2", "no-order", 3_000, 500, "captured"),
        payment("p3", "no-capture", 3_000, 0, "voided"),
        payment("p4", "over", 1_000, 1_200, "captured"),
        payment("p5", "open", 3_000, 0, "authorized"),
        payment("p6", "wrong-total", 3_000, 900, "captured"),
        payment("p7", "ghost", 3_000, 1_000, "captured")
      ],
      orders: [
        order("double", "o1"),
        order("double", "o2", 1_000, "seller-b"),
        order("no-capture", "o4"),
        order("over", "o5", 1_200),
        order("wrong-total", "o6"),
        order("stranger", "o7")
      ],
      sellerViolations: { rate: 2, concurrency: 1 }
    }
    const report = check(input)
    expect(report.counts).toEqual({
      ordersPerRequest: 1,
      captureWithoutOrder: 2, // no-order, ghost
      orderWithoutCapture: 1,
      captureNotOrderTotal: 1,
      capturedOverAuthorized: 2, // over the customer's maximum, over the authorization
      authorizationOpen: 1,
      requestNotTerminal: 1,
      outcomeMismatch: 2, // ghost purchased without an order, an order for an unknown request
      sellerLimitViolations: 3
    })
    expect(report.violations).toBe(14)
    for (const name of invariants) expect(report.examples[name].length).toBeGreaterThan(0)
    expect(describe(report)).toContain("ordersPerRequest: 1")
  })

  it("flags a seller order for a request that did not end purchased", () => {
    const report = check({ requests: [request("r1", "failed")], payments: [payment("p1", "r1", 3_000, 0, "voided")], orders: [order("r1", "o1")] })
    expect(report.counts.outcomeMismatch).toBe(1)
    expect(report.counts.orderWithoutCapture).toBe(1)
    expect(report.violations).toBe(2)
  })
})
