import { describe as group, expect, it } from "vitest"
import { check, describe, fromStripe, type CheckInput, type StripeCharge, type StripeIntent } from "../src/Invariants.js"

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
      sellerLimitViolations: 3,
      paymentUnlinked: 0,
      purchaseWhileUnresolved: 0,
      openFindings: 0,
      paymentPending: 0,
      authorizationsOverlap: 0,
      webhookUndelivered: 0,
      webhookBadSignature: 0,
      overchargeUnreported: 0,
      falseAnswer: 0,
      holdLeaked: 0,
      oversold: 0,
      wantHoldsMoney: 0,
      wantEndedTwice: 0,
      cancelMismatch: 0,
      webhookOutOfOrder: 0
    })
    expect(report.violations).toBe(14)
    for (const name of ["ordersPerRequest", "captureWithoutOrder", "orderWithoutCapture", "captureNotOrderTotal", "capturedOverAuthorized", "authorizationOpen", "requestNotTerminal", "outcomeMismatch", "sellerLimitViolations"] as const) {
      expect(report.examples[name].length).toBeGreaterThan(0)
    }
    expect(describe(report)).toContain("ordersPerRequest: 1")
  })

  it("reads the history: a purchase sent elsewhere after a seller placed an order whose answer was lost", () => {
    const consistent = { requests: [request("r1", "purchased", "o1")], payments: [payment("p1", "r1", 3_000, 1_000, "captured")], orders: [order("r1", "o1")] }
    const calls = [
      { seller: "seller-a", buyer: "r1", at: 1, fault: null },
      // A rejects (out of stock: authoritative), then B is tried: fine.
      { seller: "seller-b", buyer: "r1", at: 2, fault: null },
      // C places an order and loses the answer; its own replay is fine, D's purchase is not.
      { seller: "seller-c", buyer: "r2", at: 3, fault: "lost_response" },
      { seller: "seller-c", buyer: "r2", at: 4, fault: null },
      { seller: "seller-d", buyer: "r2", at: 5, fault: null }
    ]
    const report = check({ ...consistent, purchaseCalls: calls })
    expect(report.counts.purchaseWhileUnresolved).toBe(1)
    expect(report.examples.purchaseWhileUnresolved[0]).toMatch(/seller-c placed an order \(lost_response\), then a purchase went to seller-d/)
    expect(check({ ...consistent, purchaseCalls: calls.slice(0, 4) }).violations).toBe(0)
  })

  it("counts open findings and payment operations left pending", () => {
    const report = check({
      requests: [request("r1", "not_available")],
      payments: [],
      orders: [],
      openFindings: [{ requestId: "r1", kind: "seller_order_unknown", detail: "seller-a has order o9 under r1's key" }],
      pendingPayments: [{ requestId: "r1", kind: "void" }]
    })
    expect(report.counts).toMatchObject({ openFindings: 1, paymentPending: 1 })
    expect(report.violations).toBe(2)
  })

  it("reads the ledger's history: two authorizations of one request may not hold money at once", () => {
    const base = { requests: [request("r1", "purchased", "o1")], orders: [order("r1", "o1")] }
    const voidedThenCaptured = [
      { ...payment("p1", "r1", 3_000, 0, "voided"), liveFrom: 1_000, liveUntil: 2_000 },
      { ...payment("p2", "r1", 3_000, 1_000, "captured"), liveFrom: 2_500, liveUntil: 3_000 }
    ]
    expect(check({ ...base, payments: voidedThenCaptured }).violations).toBe(0)
    const overlapping = [
      { ...payment("p1", "r1", 3_000, 0, "voided"), liveFrom: 1_000, liveUntil: 2_600 },
      { ...payment("p2", "r1", 3_000, 1_000, "captured"), liveFrom: 2_500, liveUntil: 3_000 }
    ]
    const report = check({ ...base, payments: overlapping })
    expect(report.counts.authorizationsOverlap).toBe(1)
    expect(report.examples.authorizationsOverlap[0]).toMatch(/p2 authorized while p1 still held 3000/)
  })

  it("checks the outbox against the customer's receiver: every final status told, delivered, signed", () => {
    const base = { requests: [request("r1", "not_available"), request("r2", "not_available")], payments: [], orders: [] }
    const told = {
      outbox: [{ id: "1", requestId: "r1", event: "purchase_request.not_available", delivered: true }],
      notified: [{ id: "r1", status: "not_available" }],
      received: new Set(["msg_1"]),
      badSignatures: 0
    }
    expect(check({ ...base, webhooks: told }).violations).toBe(0)
    const report = check({
      ...base,
      webhooks: {
        outbox: [
          { id: "1", requestId: "r1", event: "purchase_request.not_available", delivered: true },
          { id: "2", requestId: "r2", event: "purchase_request.price_not_met", delivered: false }
        ],
        notified: [
          { id: "r1", status: "not_available" },
          { id: "r2", status: "not_available" }
        ],
        received: new Set<string>(),
        badSignatures: 2
      }
    })
    // r1 marked delivered but never received; r2's event not delivered and none for its final status.
    expect(report.counts).toMatchObject({ webhookUndelivered: 3, webhookBadSignature: 2 })
  })

  it("a seller that overcharged (by its history) explains a capture below the order total — when a finding reports it", () => {
    const input = {
      requests: [{ ...request("r1", "purchased", "o1", 1_200), finalAmount: 1_200 }],
      payments: [payment("p1", "r1", 1_200, 1_200, "captured")],
      orders: [order("r1", "o1", 1_500)],
      purchaseCalls: [{ seller: "seller-a", buyer: "r1", at: 1, fault: "overcharge" }]
    }
    const reported = check({ ...input, openFindings: [{ requestId: "r1", kind: "order_above_agreed_price", detail: "confirmed at 1500 above 1000; charged the maximum" }] })
    expect(reported.violations).toBe(0)
    const silent = check(input)
    expect(silent.counts.overchargeUnreported).toBe(1)
    expect(silent.violations).toBe(1)
    // An overcharge on a replay changes nothing: the replay answers with the first order.
    expect(check({ ...input, purchaseCalls: [{ seller: "seller-a", buyer: "r1", at: 1, fault: "overcharge", placed: false }] }).counts).toMatchObject({
      captureNotOrderTotal: 1,
      overchargeUnreported: 0,
      falseAnswer: 0
    })
    // Without the seller's own record of overcharging, the same data is a plain mismatch.
    expect(check({ ...input, purchaseCalls: [] }).counts).toMatchObject({ captureNotOrderTotal: 1, outcomeMismatch: 1 })
  })

  it("flags a false answer: not available while a seller had the book and was never asked", () => {
    const at = 1_000_000
    const asked = (isbnAskedAt: ReadonlyArray<readonly [string, number]>) => ({
      sellers: [
        { name: "seller-a", asked: isbnAskedAt, answered: [], stock: [["9780000000001", 1, 1_500] as const] },
        { name: "seller-b", asked: [], answered: [], stock: [] }
      ]
    })
    const notAvailable = { ...request("r1", "not_available"), isbn: "9780000000001", createdAt: at, completedAt: at + 2_000 }
    const base = { requests: [notAvailable], payments: [], orders: [] }
    expect(check({ ...base, asked: asked([["9780000000001", at + 100]]) }).violations).toBe(0)
    const never = check({ ...base, asked: asked([]) })
    expect(never.counts.falseAnswer).toBe(1)
    expect(never.examples.falseAnswer[0]).toMatch(/seller-a had 9780000000001 at 1500 and was never asked/)
    // Sold out before the request came: true.
    const soldOut = [{ seller: "seller-a", orderId: "o1", buyerReference: "r0", total: 1_500, isbn: "9780000000001", quantity: 1, placedAt: at - 10 }]
    expect(check({ ...base, requests: [...base.requests, request("r0", "purchased", "o1")], payments: [payment("p0", "r0", 3_000, 1_500, "captured")], orders: soldOut, asked: asked([]) }).counts.falseAnswer).toBe(0)
    // price_not_met is false only when the unasked seller was within the maximum.
    const notMet = { ...notAvailable, status: "price_not_met", maxAmount: 1_000 }
    expect(check({ ...base, requests: [notMet], asked: asked([]) }).counts.falseAnswer).toBe(0)
    expect(check({ ...base, requests: [{ ...notMet, maxAmount: 2_000 }], asked: asked([]) }).counts.falseAnswer).toBe(1)
  })

  it("flags a seller order for a request that did not end purchased", () => {
    const report = check({ requests: [request("r1", "failed")], payments: [payment("p1", "r1", 3_000, 0, "voided")], orders: [order("r1", "o1")] })
    expect(report.counts.outcomeMismatch).toBe(1)
    expect(report.counts.orderWithoutCapture).toBe(1)
    expect(report.violations).toBe(2)
  })

  it("flags a purchase whose recorded order or price differs from the seller's book", () => {
    const report = check({
      requests: [
        { ...request("right", "purchased", "o1"), finalAmount: 1_000 },
        { ...request("other-price", "purchased", "o2"), finalAmount: 1_100 },
        { ...request("other-order", "purchased", "o-wrong"), finalAmount: 1_000 },
        request("no-order-id", "purchased", null)
      ],
      payments: [
        payment("p1", "right", 3_000, 1_000, "captured"),
        payment("p2", "other-price", 3_000, 1_000, "captured"),
        payment("p3", "other-order", 3_000, 1_000, "captured"),
        payment("p4", "no-order-id", 3_000, 1_000, "captured")
      ],
      orders: [order("right", "o1"), order("other-price", "o2"), order("other-order", "o3"), order("no-order-id", "o4")]
    })
    expect(report.counts.outcomeMismatch).toBe(3)
    expect(report.examples.outcomeMismatch.join(" ")).toContain("other-price: purchased at 1100, but order seller-a/o2 totals 1000")
    expect(report.violations).toBe(3)
  })

  group("wants", () => {
    const at = 1_000_000
    const want = (id: string, status: string, extra: { waitUntil?: number | null; waiting?: string | null } = {}) => ({
      ...request(id, status),
      waitUntil: at + 60_000,
      waiting: status === "watching" ? "watching for a copy within the maximum until …" : null,
      ...extra
    })

    it("a want may still be watching before its wait_until, saying why; not after it, nor silently", () => {
      const base = { at, payments: [], orders: [] }
      expect(check({ ...base, requests: [want("w1", "watching"), want("w2", "expired"), want("w3", "cancelled")] }).violations).toBe(0)
      const report = check({
        ...base,
        requests: [want("late", "watching", { waitUntil: at - 1 }), want("mute", "watching", { waiting: null }), want("plain", "watching", { waitUntil: null })]
      })
      expect(report.counts.requestNotTerminal).toBe(3)
      expect(report.examples.requestNotTerminal.join("; ")).toMatch(/late is watching past its wait_until; mute is watching without saying why; plain is watching without a wait_until/)
    })

    it("flags a want at rest without a book that holds an order, a capture or an authorization", () => {
      const report = check({
        at,
        requests: [want("ordered", "cancelled"), want("charged", "expired"), want("held", "watching"), want("live", "watching"), want("clean", "cancelled")],
        payments: [payment("p1", "charged", 600, 500, "captured"), payment("p2", "held", 600, 0, "authorized"), payment("p3", "clean", 600, 0, "voided")],
        orders: [order("ordered", "o1", 500)],
        liveAuthorizations: new Set(["live"])
      })
      expect(report.counts.wantHoldsMoney).toBe(4)
      expect(report.examples.wantHoldsMoney.join("; ")).toContain("ordered is cancelled with order seller-a/o1")
      expect(report.examples.wantHoldsMoney.join("; ")).toContain("live is watching with an authorization bookbroker counts live")
    })

    it("flags a want that ended twice or moved on after it ended", () => {
      const moves = (...statuses: Array<string>) => statuses.map((to, i) => ({ from: i === 0 ? null : statuses[i - 1]!, to }))
      const base = { at, payments: [], orders: [] }
      const fine = new Map([
        ["w1", moves("received", "authorized", "quoting", "watching", "received", "authorized", "quoting", "watching", "cancelled")],
        ["w2", moves("received", "quoting", "watching", "expired")]
      ])
      expect(check({ ...base, requests: [want("w1", "cancelled"), want("w2", "expired")], transitions: fine }).violations).toBe(0)
      const twice = new Map([
        ["w1", moves("received", "watching", "cancelled", "received", "purchased")],
        ["w2", moves("received", "watching", "expired", "expired")]
      ])
      const report = check({ ...base, requests: [{ ...want("w1", "purchased"), orderId: null }, want("w2", "expired")], transitions: twice })
      expect(report.counts.wantEndedTwice).toBe(2)
      expect(report.examples.wantEndedTwice[0]).toBe("w1: received → watching → cancelled → received → purchased")
    })

    it("flags a cancel answered one way and recorded another", () => {
      const base = { at, payments: [], orders: [] }
      const requests = [want("yes", "cancelled"), want("no", "purchased"), want("lied", "watching"), want("hid", "cancelled"), want("retried", "cancelled")]
      const report = check({
        ...base,
        requests: requests.map((r) => (r.status === "purchased" ? { ...r, status: "watching" } : r)),
        cancels: [
          { requestId: "yes", accepted: true },
          { requestId: "no", accepted: false },
          { requestId: "lied", accepted: true },
          { requestId: "hid", accepted: false },
          // Refused once ("already cancelled") after an accepted one: fine.
          { requestId: "retried", accepted: true },
          { requestId: "retried", accepted: false }
        ]
      })
      expect(report.counts.cancelMismatch).toBe(2)
      expect(report.examples.cancelMismatch).toEqual(["lied: cancel accepted, but it is watching", "hid: every cancel refused, but it is cancelled"])
    })

    it("flags a seller selling more copies of a book than it ever had", () => {
      const isbn = "9780000000001"
      const sold = (buyer: string, orderId: string) => ({ ...order(buyer, orderId, 500), isbn, quantity: 1 })
      const asked = (supplied: number) => ({ sellers: [{ name: "seller-a", asked: [], answered: [], stock: [], supplied: [[isbn, supplied] as const] }] })
      const base = {
        at,
        requests: [{ ...want("w1", "purchased"), orderId: "o1" }, { ...want("w2", "purchased"), orderId: "o2" }],
        payments: [payment("p1", "w1", 600, 500, "captured"), payment("p2", "w2", 600, 500, "captured")],
        orders: [sold("w1", "o1"), sold("w2", "o2")]
      }
      expect(check({ ...base, asked: asked(2) }).violations).toBe(0)
      const report = check({ ...base, asked: asked(1) })
      expect(report.counts.oversold).toBe(1)
      expect(report.examples.oversold[0]).toBe(`seller-a sold 2 of ${isbn}, it had 1`)
    })

    it("checks webhooks against the moves: each told, in order, and in order by timestamp at the receiver", () => {
      const moves = new Map([["w1", [{ from: null, to: "received" }, { from: "received", to: "watching" }, { from: "watching", to: "received" }, { from: "received", to: "purchased" }]]])
      const row = (id: string, event: string) => ({ id, requestId: "w1", event: `purchase_request.${event}`, delivered: true })
      const delivery = (id: string, second: number) => ({ msgId: `msg_${id}`, requestId: "w1", timestamp: new Date(at + second * 1_000).toISOString() })
      const base = {
        at,
        requests: [{ ...want("w1", "purchased"), orderId: "o1" }],
        payments: [payment("p1", "w1", 600, 500, "captured")],
        orders: [order("w1", "o1", 500)],
        transitions: moves
      }
      const webhooks = (outbox: ReadonlyArray<ReturnType<typeof row>>, deliveries: ReadonlyArray<ReturnType<typeof delivery>>) => ({
        outbox,
        notified: [{ id: "w1", status: "purchased" }],
        received: new Set(deliveries.map((d) => d.msgId)),
        badSignatures: 0,
        deliveries
      })
      const inOrder = [row("1", "watching"), row("2", "received"), row("3", "purchased")]
      // Arrived out of order (a retried first delivery), but ordered by timestamp they are right.
      expect(check({ ...base, webhooks: webhooks(inOrder, [delivery("2", 2), delivery("3", 3), delivery("1", 1), delivery("1", 1)]) }).violations).toBe(0)
      const missing = check({ ...base, webhooks: webhooks([row("1", "watching"), row("3", "purchased")], [delivery("1", 1), delivery("3", 3)]) })
      expect(missing.counts).toMatchObject({ webhookUndelivered: 1, webhookOutOfOrder: 0 })
      expect(missing.examples.webhookUndelivered[0]).toBe("w1: moved to purchase_request.received, no event for it in the outbox")
      const swapped = check({ ...base, webhooks: webhooks([row("1", "received"), row("2", "watching"), row("3", "purchased")], [delivery("1", 1), delivery("2", 2), delivery("3", 3)]) })
      expect(swapped.counts.webhookOutOfOrder).toBe(1)
      const stamped = check({ ...base, webhooks: webhooks(inOrder, [delivery("1", 2), delivery("2", 1), delivery("3", 3)]) })
      expect(stamped.counts.webhookOutOfOrder).toBe(1)
      expect(stamped.examples.webhookOutOfOrder[0]).toBe("w1: the outbox sent msg_1, msg_2, msg_3, ordered by timestamp the receiver has msg_2, msg_1, msg_3")
    })
  })

  it("flags a ledger payment for a request that doesn't exist, and money captured for it", () => {
    const report = check({ requests: [], payments: [payment("p1", "nobody", 3_000, 1_000, "captured")], orders: [] })
    expect(report.counts.paymentUnlinked).toBe(1)
    expect(report.counts.captureWithoutOrder).toBe(1)
    expect(report.violations).toBe(2)
  })
})

/** A PaymentIntent as the fake Stripe holds it, after the gateway's authorize (and maybe capture or cancel). */
const intent = (
  id: string,
  requestId: string | undefined,
  status: string,
  amounts: { amount?: number; received?: number; capturable?: number } = {}
): StripeIntent => {
  const amount = amounts.amount ?? 3_000
  return {
    id,
    amount,
    amount_capturable: amounts.capturable ?? (status === "requires_capture" ? amount : 0),
    amount_received: amounts.received ?? 0,
    status,
    metadata: requestId === undefined ? {} : { request_id: requestId },
    latest_charge: `ch_${id}`
  }
}

group("Invariants.check over a fake Stripe's PaymentIntents", () => {
  it("maps intent statuses onto payments: requires_capture open, succeeded captured less refunds, canceled voided, declined never authorized", () => {
    const charges: Array<StripeCharge> = [{ id: "ch_pi_refunded", payment_intent: "pi_refunded", amount_refunded: 1_000 }]
    const payments = fromStripe(
      [
        intent("pi_open", "r1", "requires_capture"),
        intent("pi_processing", "r1", "processing"),
        intent("pi_captured", "r2", "succeeded", { received: 1_200 }),
        intent("pi_refunded", "r3", "succeeded", { received: 1_000 }),
        intent("pi_canceled", "r4", "canceled"),
        intent("pi_declined", "r5", "requires_payment_method")
      ],
      charges
    )
    expect(payments.map((p) => [p.id, p.requestId, p.status, p.authorized, p.captured])).toEqual([
      ["pi_open", "r1", "authorized", 3_000, 0],
      ["pi_processing", "r1", "authorized", 3_000, 0],
      ["pi_captured", "r2", "captured", 3_000, 1_200],
      ["pi_refunded", "r3", "refunded", 3_000, 0],
      ["pi_canceled", "r4", "voided", 3_000, 0],
      ["pi_declined", "r5", "declined", 0, 0]
    ])
  })

  it("reports nothing for a consistent run (one round voided, the next captured)", () => {
    const report = check({
      requests: [request("r1", "purchased", "o1"), request("r2", "price_not_met"), request("r3", "failed")],
      payments: fromStripe(
        [
          intent("pi_1a", "r1", "canceled"),
          intent("pi_1b", "r1", "succeeded", { received: 1_000 }),
          intent("pi_2", "r2", "canceled"),
          intent("pi_3", "r3", "requires_payment_method")
        ],
        [],
        new Map([
          ["pi_1b", "r1"],
          ["pi_2", "r2"]
        ])
      ),
      orders: [order("r1", "o1")]
    })
    expect(describe(report)).toContain("0 violations")
    expect(report.violations).toBe(0)
  })

  it("detects every payment-side violation in hand-made intents", () => {
    const report = check({
      requests: [
        request("no-order", "failed"),
        request("no-capture", "purchased", "o2"),
        request("refunded", "purchased", "o3"),
        request("wrong-total", "purchased", "o4"),
        request("over-auth", "purchased", "o5", 5_000),
        request("over-max", "purchased", "o6", 1_000),
        request("left-open", "not_available"),
        request("processing", "price_not_met"),
        request("twice", "purchased", "o7"),
        request("relinked", "failed")
      ],
      payments: fromStripe(
        [
          intent("pi_no_order", "no-order", "succeeded", { received: 900 }),
          intent("pi_no_capture", "no-capture", "canceled"),
          intent("pi_refunded", "refunded", "succeeded", { received: 1_000 }),
          intent("pi_wrong_total", "wrong-total", "succeeded", { received: 999 }),
          intent("pi_over_auth", "over-auth", "succeeded", { amount: 1_000, received: 1_500 }),
          intent("pi_over_max", "over-max", "succeeded", { amount: 3_000, received: 1_200 }),
          intent("pi_left_open", "left-open", "requires_capture"),
          intent("pi_processing", "processing", "processing"),
          intent("pi_twice_a", "twice", "succeeded", { received: 1_000 }),
          intent("pi_twice_b", "twice", "succeeded", { received: 1_000 }),
          intent("pi_orphan", undefined, "succeeded", { received: 700 }),
          intent("pi_stranger", "nobody", "requires_capture"),
          intent("pi_relinked", "relinked", "canceled")
        ],
        [{ id: "ch_pi_refunded", payment_intent: "pi_refunded", amount_refunded: 1_000 }],
        new Map([["pi_relinked", "no-order"]])
      ),
      orders: [
        order("no-capture", "o2"),
        order("refunded", "o3"),
        order("wrong-total", "o4"),
        order("over-auth", "o5", 1_500),
        order("over-max", "o6", 1_200),
        order("twice", "o7")
      ]
    })
    expect(report.counts).toEqual({
      ordersPerRequest: 0,
      captureWithoutOrder: 2, // no-order; the orphan intent's capture (no request at all)
      orderWithoutCapture: 2, // no-capture (canceled), refunded (the capture was given back)
      captureNotOrderTotal: 2, // wrong-total; twice (two captures: 2 000 for a 1 000 order)
      capturedOverAuthorized: 2, // over-auth above its intent's amount; over-max above the customer's maximum
      authorizationOpen: 3, // requires_capture at the end (left-open, the stranger's), processing
      requestNotTerminal: 0,
      outcomeMismatch: 0,
      sellerLimitViolations: 0,
      paymentUnlinked: 3, // no metadata; an unknown request; metadata and bookbroker's record disagree
      purchaseWhileUnresolved: 0,
      openFindings: 0,
      paymentPending: 0,
      authorizationsOverlap: 0,
      webhookUndelivered: 0,
      webhookBadSignature: 0,
      overchargeUnreported: 0,
      falseAnswer: 0,
      holdLeaked: 0,
      oversold: 0,
      wantHoldsMoney: 0,
      wantEndedTwice: 0,
      cancelMismatch: 0,
      webhookOutOfOrder: 0
    })
    expect(report.examples.capturedOverAuthorized.join(" ")).toContain("pi_over_auth")
    expect(report.examples.capturedOverAuthorized.join(" ")).toContain("customer maximum 1000")
    expect(report.examples.authorizationOpen.join(" ")).toContain("pi_left_open")
    expect(report.examples.paymentUnlinked.join(" ")).toContain("pi_relinked is for relinked by its metadata, for no-order")
    expect(report.violations).toBe(14)
  })

  it("an authorization Stripe let lapse before the capture: the seller's order without a capture is expected only with an open order_without_capture finding", () => {
    const lapsed = { ...intent("pi_lapsed", "r1", "canceled"), cancellation_reason: "automatic" }
    const input = { requests: [request("r1", "failed")], payments: fromStripe([lapsed], [], new Map([["pi_lapsed", "r1"]])), orders: [order("r1", "o1")] }
    expect(input.payments[0]).toMatchObject({ status: "voided", lapsed: true })
    const reported = check({ ...input, openFindings: [{ requestId: "r1", kind: "order_without_capture", detail: "order o1 confirmed, but the request is failed (capture_rejected)" }] })
    expect(describe(reported)).toContain("0 violations")
    const silent = check(input)
    expect(silent.counts).toMatchObject({ orderWithoutCapture: 1, outcomeMismatch: 1 })
    expect(silent.examples.orderWithoutCapture[0]).toMatch(/the authorization lapsed, and no finding says so/)
    // Canceled by bookbroker (no cancellation reason from Stripe itself): the finding does not excuse it.
    const voided = check({ ...input, payments: fromStripe([intent("pi_voided", "r1", "canceled")], [], new Map([["pi_voided", "r1"]])), openFindings: [{ requestId: "r1", kind: "order_without_capture", detail: "" }] })
    expect(voided.counts).toMatchObject({ orderWithoutCapture: 1, outcomeMismatch: 1, openFindings: 1 })
  })

  it("flags a hold bookbroker recorded that is still open at the seller; one it never learned of is not counted", () => {
    const base = { requests: [request("r1", "not_available")], payments: [payment("p1", "r1", 3_000, 0, "voided")], orders: [] }
    const openHolds = [{ seller: "seller-a", holdId: "h-1" }, { seller: "seller-a", holdId: "h-lost" }]
    const report = check({ ...base, openHolds, recordedHolds: new Map([["h-1", "r1"]]) })
    expect(report.counts.holdLeaked).toBe(1)
    expect(report.examples.holdLeaked[0]).toBe("seller-a still holds h-1 for r1, which ended not_available")
    expect(check({ ...base, openHolds: [openHolds[1]!], recordedHolds: new Map([["h-1", "r1"]]) }).violations).toBe(0)
  })
})
