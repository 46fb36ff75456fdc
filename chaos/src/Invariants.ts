/**
 * The invariant checker: reads bookbroker's database (purchase requests), the payment
 * provider's own records — the sandbox's `sandbox_payments`, or a fake Stripe's PaymentIntents
 * (`fromStripe`) — and the simulated sellers' own order books, and counts every way money or
 * books could have gone wrong. `check` is pure (unit-tested against hand-made violating data);
 * `readDatabase` gathers its input from a database URL.
 *
 * How a Stripe PaymentIntent links back to its purchase request: the gateway creates it with
 * `metadata.request_id` (what its `lookup` searches on) under the idempotency key
 * `{requestId}:authorize:{round}`, and bookbroker records the intent id as `provider_ref` of the
 * request's `payment_operations` row. The checker takes the metadata as the link and bookbroker's
 * own record as the cross-check: an intent without the metadata, naming a request that doesn't
 * exist, or recorded by bookbroker under another request is `paymentUnlinked`.
 *
 * Wants (requests with `wait_until`) may end `expired` or `cancelled`, or still be `watching` when
 * the records are read — only before their `wait_until`, and saying why. Given the requests' moves
 * (`state_transitions`), the live authorizations bookbroker counts and the customers' cancels, the
 * checker also counts wants that hold money or a book while not bought, wants that ended twice,
 * cancels answered one way and recorded another, and webhooks out of step with the moves.
 */
import type { FleetAsked, FleetHistory, FleetOrder } from "./Fleet.js"
import { connect } from "./Pg.js"

export interface RequestRecord {
  readonly id: string
  readonly status: string
  readonly isbn?: string
  /** Epoch ms: when it was accepted, and when it reached its terminal status. */
  readonly createdAt?: number
  readonly completedAt?: number | null
  /** The most the customer agreed to pay (minor units), after any accepted counter-offer. */
  readonly maxAmount: number
  readonly finalAmount: number | null
  readonly orderId: string | null
  /** A want: until when it may watch (epoch ms); null or absent for a request that answers now. */
  readonly waitUntil?: number | null
  /** Why it waits, as its status says (a watching want must say). */
  readonly waiting?: string | null
}

/** One payment in the provider's own records (sandbox ledger, or a fake Stripe's). */
export interface PaymentRecord {
  readonly id: string
  readonly requestId: string
  readonly authorized: number
  readonly captured: number
  /** `authorized` means money still held: an open authorization. */
  readonly status: string
  /** Why the payment can't be tied to exactly one purchase request, when it can't. */
  readonly linkProblem?: string
  /**
   * When the authorization held money (epoch ms): from its creation until it was captured or
   * voided (`liveUntil` undefined while it still holds). Known for the sandbox ledger.
   */
  readonly liveFrom?: number
  readonly liveUntil?: number
  /** The provider ended the authorization itself (it expired: Stripe cancels it after 7 days), not bookbroker. */
  readonly lapsed?: boolean
}

/** A PaymentIntent in a (fake) Stripe's own records: the fields the checker reads (`FakeStripe.FakeIntent` fits). */
export interface StripeIntent {
  readonly id: string
  readonly amount: number
  readonly amount_capturable: number
  readonly amount_received: number
  readonly status: string
  readonly metadata: Readonly<Record<string, string>>
  readonly latest_charge: string | null
  /** `"automatic"` when Stripe canceled it itself (the authorization expired). */
  readonly cancellation_reason?: string | null
}

/** A Charge in a (fake) Stripe's own records (`FakeStripe.FakeCharge` fits): what was refunded of a capture. */
export interface StripeCharge {
  readonly id: string
  readonly payment_intent: string
  readonly amount_refunded: number
}

/** An order from a simulated seller's own book. */
export type SellerOrder = FleetOrder

export interface CheckInput {
  readonly requests: ReadonlyArray<RequestRecord>
  readonly payments: ReadonlyArray<PaymentRecord>
  readonly orders: ReadonlyArray<SellerOrder>
  /** Calls the simulated sellers received over their rate or concurrency limits. */
  readonly sellerViolations?: { readonly rate: number; readonly concurrency: number }
  /** Every purchase call the sellers processed, with when and the fault injected (the history). */
  readonly purchaseCalls?: ReadonlyArray<PurchaseCall>
  /** Holds still open at the sellers at the end (neither used, released nor expired), from the fleet's history. */
  readonly openHolds?: ReadonlyArray<{ readonly seller: string; readonly holdId: string }>
  /** Every hold bookbroker recorded on a purchase attempt: hold id → request id. */
  readonly recordedHolds?: ReadonlyMap<string, string>
  /** Reconciliation findings nobody has fixed or settled. */
  readonly openFindings?: ReadonlyArray<{ readonly requestId: string; readonly kind: string; readonly detail: string }>
  /** Payment operations still without an outcome. */
  readonly pendingPayments?: ReadonlyArray<{ readonly requestId: string; readonly kind: string }>
  /** The webhook side: what the outbox holds and what the customer's receiver got. */
  readonly webhooks?: WebhookInput
  /** What each seller had at the start and which ISBNs it was asked to quote, when (the fleet's `asked`). */
  readonly asked?: FleetAsked
  /** When the records were read (epoch ms): a want may still be watching if its `wait_until` is later. Default now. */
  readonly at?: number
  /** Each request's moves, in order (`state_transitions`): `from` is null for the first. */
  readonly transitions?: ReadonlyMap<string, ReadonlyArray<Move>>
  /** Requests with an authorization bookbroker still counts live (`payment_operations.live`). */
  readonly liveAuthorizations?: ReadonlySet<string>
  /** The customers' cancels of wants and their answers: accepted (200) or refused (409). */
  readonly cancels?: ReadonlyArray<{ readonly requestId: string; readonly accepted: boolean }>
}

export interface Move {
  readonly from: string | null
  readonly to: string
}

/** A quote answered within this long before a request may have served it from the cache. */
const cacheWindowMillis = 120_000

export interface WebhookInput {
  /** Outbox rows that have a `notify_url`. */
  readonly outbox: ReadonlyArray<{ readonly id: string; readonly requestId: string; readonly event: string; readonly delivered: boolean }>
  /** Terminal requests that asked to be notified, with their final status. */
  readonly notified: ReadonlyArray<{ readonly id: string; readonly status: string }>
  /** `webhook-id`s the receiver accepted with a valid signature. */
  readonly received: ReadonlySet<string>
  readonly badSignatures: number
  /**
   * What the receiver accepted, in arrival order, with each body's `timestamp`: ordered by it (as
   * the dispatcher tells receivers to), one request's events must come as the outbox has them.
   */
  readonly deliveries?: ReadonlyArray<{ readonly msgId: string; readonly requestId: string; readonly timestamp: string }>
}

/** One purchase call a seller processed. */
export interface PurchaseCall {
  readonly seller: string
  /** The purchase request it was for (the buyer reference). */
  readonly buyer: string
  readonly at: number
  /** `lost_response` / `commit_then_hang`: the seller placed an order whose answer never came back. */
  readonly fault: string | null
  /** The call placed a new order (a replay answers with the key's first outcome). Default true. */
  readonly placed?: boolean
}

const lostAnswers = new Set(["lost_response", "commit_then_hang"])

export const invariants = [
  /** More than one seller order for one purchase request (a double purchase). */
  "ordersPerRequest",
  /** Money captured for a request no seller has an order for. */
  "captureWithoutOrder",
  /** A seller order whose request captured nothing (a book given away). */
  "orderWithoutCapture",
  /** Captured amount differs from the seller's order total. */
  "captureNotOrderTotal",
  /** A capture above its authorization, or above the customer's maximum. */
  "capturedOverAuthorized",
  /** An authorization still holding the customer's money after the run. */
  "authorizationOpen",
  /** A request not in a terminal status after the run. */
  "requestNotTerminal",
  /** bookbroker's outcome disagrees with the seller's book: purchased without an order (or with another order id, or at another price than the order's total), an order for a request not purchased or unknown. */
  "outcomeMismatch",
  /** Calls over a seller's declared rate or concurrency limit. */
  "sellerLimitViolations",
  /** A provider payment not tied to exactly one known purchase request (no request id, an unknown one, or bookbroker recorded it under another). */
  "paymentUnlinked",
  /**
   * History: a purchase sent to seller B after seller A placed an order for the same request
   * whose answer was lost — moving on while A's attempt was unresolved (even when B refused).
   */
  "purchaseWhileUnresolved",
  /** A reconciliation finding left open after the run (something a person would have to repair). */
  "openFindings",
  /** A payment operation without an outcome after the run. */
  "paymentPending",
  /** Two authorizations of one request holding money at the same time (history of the provider's ledger). */
  "authorizationsOverlap",
  /**
   * A customer not told: a terminal request with a `notify_url` and no event for its final
   * status, an event not delivered, or one the outbox calls delivered that the receiver never got.
   */
  "webhookUndelivered",
  /** A delivery whose Standard Webhooks signature did not verify. */
  "webhookBadSignature",
  /** A seller confirmed above the agreed price (the history says so) and no `order_above_agreed_price` finding says it. */
  "overchargeUnreported",
  /**
   * A false answer: `not_available` while a seller had the book in stock and was never asked
   * about it (from a little before the request until it ended), or `price_not_met` while one had
   * it within the maximum and was never asked. From the sellers' own stock and call records.
   */
  "falseAnswer",
  /**
   * A hold bookbroker knew of (recorded on an attempt) still open at the seller after every
   * request ended: it blocks the seller's copy until it expires. (Holds whose answer never reached
   * bookbroker are reported by the scenario, not counted: nobody can know of them.)
   */
  "holdLeaked",
  /** A seller's orders of an ISBN above the copies it ever had of it (its stock at the start plus every copy added since). */
  "oversold",
  /** A want watching, expired or cancelled that has a seller order, a capture, or an authorization still holding money (the provider's or bookbroker's record). */
  "wantHoldsMoney",
  /** A want that ended (purchased, expired, cancelled) more than once, or moved on after it ended. */
  "wantEndedTwice",
  /** A cancel answered 200 for a want that is not cancelled, or refused (409) for one that is (and no other cancel of it was accepted). */
  "cancelMismatch",
  /**
   * Webhooks out of step with the moves: the outbox's events of a request not in the order of its
   * moves (every move to a final status or `watching`, and out of `watching`), or a receiver that
   * orders by the body's `timestamp` seeing them in another order.
   */
  "webhookOutOfOrder"
] as const
export type Invariant = (typeof invariants)[number]

export interface Report {
  readonly requests: number
  readonly orders: number
  readonly payments: number
  readonly statuses: Readonly<Record<string, number>>
  readonly counts: Readonly<Record<Invariant, number>>
  /** Up to five examples per broken invariant. */
  readonly examples: Readonly<Record<Invariant, ReadonlyArray<string>>>
  /** The sum of all counts: 0 when everything holds. */
  readonly violations: number
}

const terminal = new Set(["purchased", "price_not_met", "not_available", "sellers_busy", "failed", "expired", "cancelled"])
/** A want at rest without a book: it may hold no money and no order. */
const unbought = new Set(["watching", "expired", "cancelled"])
/** Endings a want can never leave. */
const finalEndings = new Set(["purchased", "expired", "cancelled"])
/** A move the outbox tells (`purchaseStore`): to a final status or `watching`, or out of `watching`. */
const told = (move: Move) => terminal.has(move.to) || move.to === "watching" || move.from === "watching"

export const check = (input: CheckInput): Report => {
  const counts = Object.fromEntries(invariants.map((name) => [name, 0])) as Record<Invariant, number>
  const examples = Object.fromEntries(invariants.map((name) => [name, [] as Array<string>])) as Record<Invariant, Array<string>>
  const flag = (name: Invariant, example: string, by = 1) => {
    counts[name] += by
    if (examples[name].length < 5) examples[name].push(example)
  }

  const requests = new Map(input.requests.map((request) => [request.id, request]))
  const ordersBy = new Map<string, Array<SellerOrder>>()
  for (const order of input.orders) ordersBy.set(order.buyerReference, [...(ordersBy.get(order.buyerReference) ?? []), order])
  const paymentsBy = new Map<string, Array<PaymentRecord>>()
  for (const payment of input.payments) paymentsBy.set(payment.requestId, [...(paymentsBy.get(payment.requestId) ?? []), payment])

  // Requests a seller overcharged (its history says so): capturing other than the order total is
  // then right (never above the customer's maximum), and the finding that says so is expected.
  // Only a call that placed the order can have overcharged it (a replay returns the first order).
  const overcharged = new Set((input.purchaseCalls ?? []).filter((call) => call.fault === "overcharge" && call.placed !== false).map((call) => call.buyer))
  const reportedOvercharge = new Set((input.openFindings ?? []).filter((finding) => finding.kind === "order_above_agreed_price").map((finding) => finding.requestId))
  // Requests whose authorization the provider let lapse (expired) before the capture: the seller's
  // order then cannot be paid for, and the `order_without_capture` finding for a person is expected.
  const lapsed = new Set(input.payments.filter((payment) => payment.lapsed === true).map((payment) => payment.requestId))
  const reportedUncaptured = new Set((input.openFindings ?? []).filter((finding) => finding.kind === "order_without_capture").map((finding) => finding.requestId))

  const at = input.at ?? Date.now()
  const statuses: Record<string, number> = {}
  for (const request of input.requests) {
    statuses[request.status] = (statuses[request.status] ?? 0) + 1
    if (request.status === "watching") {
      const waitUntil = request.waitUntil ?? null
      if (waitUntil === null || waitUntil <= at) flag("requestNotTerminal", `${request.id} is watching ${waitUntil === null ? "without a wait_until" : "past its wait_until"}`)
      else if ((request.waiting ?? "").trim() === "") flag("requestNotTerminal", `${request.id} is watching without saying why`)
    } else if (!terminal.has(request.status)) flag("requestNotTerminal", `${request.id} is ${request.status}`)
    const orders = ordersBy.get(request.id) ?? []
    if (orders.length > 1) flag("ordersPerRequest", `${request.id}: ${orders.length} orders (${orders.map((o) => `${o.seller}/${o.orderId}`).join(", ")})`)
    const payments = paymentsBy.get(request.id) ?? []
    const captured = payments.reduce((sum, payment) => sum + payment.captured, 0)
    if (captured > 0 && orders.length === 0) flag("captureWithoutOrder", `${request.id}: captured ${captured}, no seller order`)
    const lapsedAndReported = lapsed.has(request.id) && reportedUncaptured.has(request.id) && captured === 0
    if (orders.length > 0 && captured === 0 && !lapsedAndReported) {
      flag("orderWithoutCapture", `${request.id}: order ${orders[0]!.seller}/${orders[0]!.orderId}, nothing captured${lapsed.has(request.id) ? " (the authorization lapsed, and no finding says so)" : ""}`)
    }
    const overchargedOrder = overcharged.has(request.id) && orders.length === 1
    if (overchargedOrder && !reportedOvercharge.has(request.id)) {
      flag("overchargeUnreported", `${request.id}: ${orders[0]!.seller} confirmed order ${orders[0]!.orderId} above the agreed price, no finding says so`)
    }
    if (orders.length === 1 && captured > 0 && captured !== orders[0]!.total && !overchargedOrder) {
      flag("captureNotOrderTotal", `${request.id}: captured ${captured}, order total ${orders[0]!.total}`)
    }
    if (captured > request.maxAmount) flag("capturedOverAuthorized", `${request.id}: captured ${captured} > customer maximum ${request.maxAmount}`)
    if (request.status === "purchased" && orders.length === 0) flag("outcomeMismatch", `${request.id}: purchased, but no seller has an order`)
    if (request.status === "purchased" && orders.length > 0 && request.orderId !== null && !orders.some((o) => o.orderId === request.orderId)) {
      flag("outcomeMismatch", `${request.id}: purchased as order ${request.orderId}, sellers hold ${orders.map((o) => o.orderId).join(", ")}`)
    }
    if (request.status === "purchased" && orders.length > 0 && request.orderId === null) flag("outcomeMismatch", `${request.id}: purchased without an order id`)
    const [only] = orders.length === 1 ? orders : []
    if (
      request.status === "purchased" &&
      only !== undefined &&
      only.orderId === request.orderId &&
      request.finalAmount !== null &&
      request.finalAmount !== only.total &&
      !overchargedOrder
    ) {
      flag("outcomeMismatch", `${request.id}: purchased at ${request.finalAmount}, but order ${only.seller}/${only.orderId} totals ${only.total}`)
    }
    if (request.status !== "purchased" && orders.length > 0 && !lapsedAndReported) flag("outcomeMismatch", `${request.id}: ${request.status}, but ${orders[0]!.seller} has order ${orders[0]!.orderId}`)
    if (unbought.has(request.status)) {
      const held = [
        ...(orders.length > 0 ? [`order ${orders[0]!.seller}/${orders[0]!.orderId}`] : []),
        ...(captured > 0 ? [`captured ${captured}`] : []),
        ...payments.filter((payment) => payment.status === "authorized").map((payment) => `${payment.id} still authorized`),
        ...(input.liveAuthorizations?.has(request.id) === true ? ["an authorization bookbroker counts live"] : [])
      ]
      if (held.length > 0) flag("wantHoldsMoney", `${request.id} is ${request.status} with ${held.join(", ")}`)
    }
    const moves = input.transitions?.get(request.id)
    if (moves !== undefined && request.waitUntil != null) {
      const ended = moves.map((move, index) => ({ move, index })).filter(({ move }) => finalEndings.has(move.to))
      const left = ended.find(({ index }) => index < moves.length - 1)
      if (ended.length > 1 || left !== undefined) {
        flag("wantEndedTwice", `${request.id}: ${moves.map((move) => move.to).join(" → ")}`)
      }
    }
  }
  const cancelsBy = new Map<string, Array<boolean>>()
  for (const cancel of input.cancels ?? []) cancelsBy.set(cancel.requestId, [...(cancelsBy.get(cancel.requestId) ?? []), cancel.accepted])
  for (const [requestId, answers] of cancelsBy) {
    const status = requests.get(requestId)?.status ?? "unknown"
    if (answers.includes(true) && status !== "cancelled") flag("cancelMismatch", `${requestId}: cancel accepted, but it is ${status}`)
    if (!answers.includes(true) && status === "cancelled") flag("cancelMismatch", `${requestId}: every cancel refused, but it is cancelled`)
  }
  for (const [reference, orders] of ordersBy) {
    if (!requests.has(reference)) flag("outcomeMismatch", `order ${orders[0]!.seller}/${orders[0]!.orderId} for unknown request ${reference}`)
  }
  for (const payment of input.payments) {
    if (payment.linkProblem !== undefined) flag("paymentUnlinked", `payment ${payment.id}: ${payment.linkProblem}`)
    else if (!requests.has(payment.requestId)) flag("paymentUnlinked", `payment ${payment.id}: for unknown request ${payment.requestId}`)
    if (!requests.has(payment.requestId) && payment.captured > 0) {
      flag("captureWithoutOrder", `payment ${payment.id} (${payment.requestId || "no request"}): captured ${payment.captured} for no known request`)
    }
    if (payment.captured > payment.authorized) flag("capturedOverAuthorized", `payment ${payment.id} (${payment.requestId}): captured ${payment.captured} > authorized ${payment.authorized}`)
    if (payment.status === "authorized") flag("authorizationOpen", `payment ${payment.id} (${payment.requestId}): ${payment.authorized} still authorized`)
  }
  const callsBy = new Map<string, Array<PurchaseCall>>()
  for (const call of input.purchaseCalls ?? []) callsBy.set(call.buyer, [...(callsBy.get(call.buyer) ?? []), call])
  for (const [buyer, calls] of callsBy) {
    const sorted = [...calls].sort((a, b) => a.at - b.at)
    const lost = sorted.find((call) => call.fault !== null && lostAnswers.has(call.fault))
    if (lost === undefined) continue
    const elsewhere = sorted.filter((call) => call.at >= lost.at && call.seller !== lost.seller)
    if (elsewhere.length > 0) {
      flag("purchaseWhileUnresolved", `${buyer}: ${lost.seller} placed an order (${lost.fault}), then a purchase went to ${elsewhere.map((call) => call.seller).join(", ")}`, elsewhere.length)
    }
  }
  for (const finding of input.openFindings ?? []) {
    if (finding.kind === "order_above_agreed_price" && overcharged.has(finding.requestId)) continue
    if (finding.kind === "order_without_capture" && lapsed.has(finding.requestId)) continue
    flag("openFindings", `${finding.requestId} ${finding.kind}: ${finding.detail}`)
  }
  for (const [requestId, payments] of paymentsBy) {
    const live = payments
      .filter((payment) => payment.liveFrom !== undefined && payment.authorized > 0 && payment.status !== "declined")
      .sort((a, b) => a.liveFrom! - b.liveFrom!)
    for (let i = 1; i < live.length; i++) {
      const before = live[i - 1]!
      const after = live[i]!
      if (before.liveUntil === undefined || after.liveFrom! < before.liveUntil) {
        flag("authorizationsOverlap", `${requestId}: ${after.id} authorized while ${before.id} still held ${before.authorized}`)
      }
    }
  }
  for (const payment of input.pendingPayments ?? []) flag("paymentPending", `${payment.requestId}: ${payment.kind} still pending`)
  if (input.webhooks !== undefined) {
    const { outbox, notified, received, badSignatures } = input.webhooks
    const events = new Set(outbox.map((row) => `${row.requestId} ${row.event}`))
    for (const request of notified) {
      if (terminal.has(request.status) && !events.has(`${request.id} purchase_request.${request.status}`)) {
        flag("webhookUndelivered", `${request.id}: ${request.status}, but no event for it in the outbox`)
      }
    }
    for (const row of outbox) {
      if (!row.delivered) flag("webhookUndelivered", `outbox ${row.id} (${row.requestId} ${row.event}) not delivered`)
      else if (!received.has(`msg_${row.id}`)) flag("webhookUndelivered", `outbox ${row.id} (${row.requestId} ${row.event}) marked delivered, never received`)
    }
    if (badSignatures > 0) flag("webhookBadSignature", `${badSignatures} deliveries with a signature that did not verify`, badSignatures)
    const byId = (a: { readonly id: string }, b: { readonly id: string }) => Number(a.id) - Number(b.id)
    const outboxBy = new Map<string, Array<(typeof outbox)[number]>>()
    for (const row of [...outbox].sort(byId)) outboxBy.set(row.requestId, [...(outboxBy.get(row.requestId) ?? []), row])
    if (input.transitions !== undefined) {
      for (const request of notified) {
        const expected = (input.transitions.get(request.id) ?? []).filter(told).map((move) => `purchase_request.${move.to}`)
        const events = (outboxBy.get(request.id) ?? []).map((row) => row.event)
        const missing = [...expected]
        for (const event of events) {
          const index = missing.indexOf(event)
          if (index >= 0) missing.splice(index, 1)
        }
        if (missing.length > 0) flag("webhookUndelivered", `${request.id}: moved to ${missing.join(", ")}, no event for it in the outbox`)
        else if (expected.join() !== events.join()) flag("webhookOutOfOrder", `${request.id}: moved ${expected.join(" → ")}, the outbox says ${events.join(" → ")}`)
      }
    }
    if (input.webhooks.deliveries !== undefined) {
      const first = new Map<string, { readonly msgId: string; readonly requestId: string; readonly timestamp: string }>()
      for (const delivery of input.webhooks.deliveries) if (!first.has(delivery.msgId)) first.set(delivery.msgId, delivery)
      const seen = new Map<string, Array<{ readonly msgId: string; readonly timestamp: string }>>()
      for (const delivery of first.values()) seen.set(delivery.requestId, [...(seen.get(delivery.requestId) ?? []), delivery])
      const sequence = (msgId: string) => Number(msgId.replace(/^msg_/, ""))
      for (const [requestId, rows] of outboxBy) {
        const sent = rows.filter((row) => first.has(`msg_${row.id}`)).map((row) => `msg_${row.id}`)
        const ordered = (seen.get(requestId) ?? [])
          .filter((delivery) => sent.includes(delivery.msgId))
          .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || sequence(a.msgId) - sequence(b.msgId))
          .map((delivery) => delivery.msgId)
        if (ordered.join() !== sent.join()) flag("webhookOutOfOrder", `${requestId}: the outbox sent ${sent.join(", ")}, ordered by timestamp the receiver has ${ordered.join(", ")}`)
      }
    }
  }
  if (input.asked !== undefined) {
    const sold = new Map<string, Array<{ at: number; quantity: number }>>()
    for (const order of input.orders) {
      if (order.isbn === undefined) continue
      const key = `${order.seller} ${order.isbn}`
      sold.set(key, [...(sold.get(key) ?? []), { at: order.placedAt ?? 0, quantity: order.quantity ?? 1 }])
    }
    for (const seller of input.asked.sellers) {
      if (seller.supplied === undefined) continue
      const had = new Map(seller.supplied)
      for (const [key, sales] of sold) {
        const [name, isbn] = key.split(" ") as [string, string]
        if (name !== seller.name) continue
        const total = sales.reduce((sum, sale) => sum + sale.quantity, 0)
        if (total > (had.get(isbn) ?? 0)) flag("oversold", `${seller.name} sold ${total} of ${isbn}, it had ${had.get(isbn) ?? 0}`, total - (had.get(isbn) ?? 0))
      }
    }
    const sellers = input.asked.sellers.map((seller) => {
      const askedAt = new Map<string, Array<number>>()
      for (const [isbn, at] of seller.asked) askedAt.set(isbn, [...(askedAt.get(isbn) ?? []), at])
      return { name: seller.name, askedAt, stock: new Map((seller.stock ?? []).map(([isbn, quantity, total]) => [isbn, { quantity, total }])) }
    })
    for (const request of input.requests) {
      if ((request.status !== "not_available" && request.status !== "price_not_met") || request.isbn === undefined || request.createdAt === undefined) continue
      const from = request.createdAt - cacheWindowMillis
      const until = request.completedAt ?? Number.POSITIVE_INFINITY
      for (const seller of sellers) {
        const item = seller.stock.get(request.isbn)
        if (item === undefined) continue
        const soldBefore = (sold.get(`${seller.name} ${request.isbn}`) ?? []).filter((sale) => sale.at <= request.createdAt!).reduce((sum, sale) => sum + sale.quantity, 0)
        if (item.quantity - soldBefore <= 0) continue
        if (request.status === "price_not_met" && item.total > request.maxAmount) continue
        const asked = (seller.askedAt.get(request.isbn) ?? []).some((at) => at >= from && at <= until)
        if (!asked) {
          flag("falseAnswer", `${request.id}: ${request.status}, but ${seller.name} had ${request.isbn} at ${item.total} and was never asked`)
          break
        }
      }
    }
  }
  for (const hold of input.openHolds ?? []) {
    const requestId = input.recordedHolds?.get(hold.holdId)
    if (requestId !== undefined) flag("holdLeaked", `${hold.seller} still holds ${hold.holdId} for ${requestId}, which ended ${requests.get(requestId)?.status ?? "unknown"}`)
  }
  const sellerViolations = (input.sellerViolations?.rate ?? 0) + (input.sellerViolations?.concurrency ?? 0)
  if (sellerViolations > 0) {
    flag("sellerLimitViolations", `rate ${input.sellerViolations?.rate ?? 0}, concurrency ${input.sellerViolations?.concurrency ?? 0}`, sellerViolations)
  }
  return {
    requests: input.requests.length,
    orders: input.orders.length,
    payments: input.payments.length,
    statuses,
    counts,
    examples,
    violations: Object.values(counts).reduce((sum, count) => sum + count, 0)
  }
}

/** Stripe statuses in which the intent never held money (declined, authentication or confirmation missing). */
const neverAuthorized = new Set(["requires_payment_method", "requires_action", "requires_confirmation"])

/**
 * A fake Stripe's own records as payments: `requires_capture` (and `processing`, which may still
 * become one) is an open authorization; `succeeded` captured `amount_received` less what its
 * charge refunded; `canceled` voided. `providerRefs` is bookbroker's own record (intent id →
 * request id, from `payment_operations`), used to cross-check the `metadata.request_id` link.
 */
export const fromStripe = (
  intents: ReadonlyArray<StripeIntent>,
  charges: ReadonlyArray<StripeCharge> = [],
  providerRefs: ReadonlyMap<string, string> = new Map()
): ReadonlyArray<PaymentRecord> => {
  const refunded = new Map<string, number>()
  for (const charge of charges) refunded.set(charge.id, (refunded.get(charge.id) ?? 0) + charge.amount_refunded)
  return intents.map((intent): PaymentRecord => {
    const metadataId = intent.metadata["request_id"]
    const recordedId = providerRefs.get(intent.id)
    const requestId = metadataId ?? recordedId ?? ""
    const linkProblem =
      metadataId === undefined || metadataId === ""
        ? `PaymentIntent ${intent.id} has no metadata.request_id${recordedId === undefined ? "" : ` (bookbroker recorded it for ${recordedId})`}`
        : recordedId !== undefined && recordedId !== metadataId
          ? `PaymentIntent ${intent.id} is for ${metadataId} by its metadata, for ${recordedId} by bookbroker's payment operations`
          : undefined
    const refund = intent.latest_charge === null ? 0 : (refunded.get(intent.latest_charge) ?? 0)
    const captured = Math.max(0, intent.amount_received - refund)
    const status =
      intent.status === "requires_capture" || intent.status === "processing"
        ? "authorized"
        : intent.status === "succeeded"
          ? captured === 0 && refund > 0
            ? "refunded"
            : "captured"
          : intent.status === "canceled"
            ? "voided"
            : "declined"
    return {
      id: intent.id,
      requestId,
      authorized: neverAuthorized.has(intent.status) ? 0 : intent.amount,
      captured,
      status,
      ...(intent.status === "canceled" && intent.cancellation_reason === "automatic" ? { lapsed: true } : {}),
      ...(linkProblem === undefined ? {} : { linkProblem })
    }
  })
}

/** Where the checker reads the payment side: the sandbox ledger in the database, or a fake Stripe's own records. */
export type PaymentSource =
  | { readonly _tag: "Sandbox" }
  | { readonly _tag: "Stripe"; readonly intents: ReadonlyArray<StripeIntent>; readonly charges?: ReadonlyArray<StripeCharge> }

/** Requests and the sandbox payment ledger, as the database holds them. */
export const readDatabase = async (url: string): Promise<Pick<CheckInput, "requests" | "payments" | "openFindings" | "pendingPayments">> => {
  const client = await connect(url)
  try {
    const requests = await client.query<{
      id: string
      status: string
      max_amount: string
      final_amount: string | null
      order_id: string | null
      isbn: string
      created_at: Date
      completed_at: Date | null
      wait_until: Date | null
      waiting: string | null
    }>("SELECT id, status, max_amount, final_amount, order_id, isbn, created_at, completed_at, wait_until, waiting FROM purchase_requests")
    const payments = await client.query<{ id: string; request_id: string; authorized: string; captured: string; status: string; created_at: Date; updated_at: Date }>(
      "SELECT id, request_id, authorized, captured, status, created_at, updated_at FROM sandbox_payments"
    )
    const findings = await client.query<{ request_id: string; kind: string; detail: string }>(
      "SELECT request_id::text AS request_id, kind, detail FROM reconciliation_findings WHERE NOT fixed"
    )
    const pending = await client.query<{ request_id: string; kind: string }>("SELECT request_id::text AS request_id, kind FROM payment_operations WHERE status = 'pending'")
    return {
      requests: requests.rows.map((row) => ({
        id: row.id,
        status: row.status,
        maxAmount: Number(row.max_amount),
        finalAmount: row.final_amount === null ? null : Number(row.final_amount),
        orderId: row.order_id,
        isbn: row.isbn.trim(),
        createdAt: row.created_at.getTime(),
        completedAt: row.completed_at === null ? null : row.completed_at.getTime(),
        waitUntil: row.wait_until === null ? null : row.wait_until.getTime(),
        waiting: row.waiting
      })),
      payments: payments.rows.map((row) => ({
        id: row.id,
        requestId: row.request_id,
        authorized: Number(row.authorized),
        captured: Number(row.captured),
        status: row.status,
        liveFrom: row.created_at.getTime(),
        ...(row.status === "authorized" ? {} : { liveUntil: row.updated_at.getTime() })
      })),
      openFindings: findings.rows.map((row) => ({ requestId: row.request_id, kind: row.kind, detail: row.detail })),
      pendingPayments: pending.rows.map((row) => ({ requestId: row.request_id, kind: row.kind }))
    }
  } finally {
    await client.end()
  }
}

/** The outbox rows with a `notify_url`, and the requests that asked to be notified. */
export const readOutbox = async (url: string): Promise<Pick<WebhookInput, "outbox" | "notified">> => {
  const client = await connect(url)
  try {
    const outbox = await client.query<{ id: string; request_id: string; event: string; delivered: boolean }>(
      "SELECT id::text AS id, request_id::text AS request_id, event, delivered_at IS NOT NULL AS delivered FROM outbox WHERE notify_url IS NOT NULL"
    )
    const notified = await client.query<{ id: string; status: string }>("SELECT id::text AS id, status FROM purchase_requests WHERE notify_url IS NOT NULL")
    return {
      outbox: outbox.rows.map((row) => ({ id: row.id, requestId: row.request_id, event: row.event, delivered: row.delivered })),
      notified: notified.rows
    }
  } finally {
    await client.end()
  }
}

/** The holds bookbroker recorded on purchase attempts: hold id → request id. */
export const readRecordedHolds = async (url: string): Promise<ReadonlyMap<string, string>> => {
  const client = await connect(url)
  try {
    const rows = await client.query<{ hold_id: string; request_id: string }>(
      "SELECT hold->>'holdId' AS hold_id, request_id::text AS request_id FROM purchase_attempts WHERE hold IS NOT NULL"
    )
    return new Map(rows.rows.map((row) => [row.hold_id, row.request_id]))
  } finally {
    await client.end()
  }
}

/** Every request's moves in order (`state_transitions`), and the requests with an authorization bookbroker counts live. */
export const readMoves = async (url: string): Promise<{ transitions: ReadonlyMap<string, ReadonlyArray<Move>>; liveAuthorizations: ReadonlySet<string> }> => {
  const client = await connect(url)
  try {
    const moves = await client.query<{ request_id: string; from_status: string | null; to_status: string }>(
      "SELECT request_id::text AS request_id, from_status, to_status FROM state_transitions ORDER BY id"
    )
    const live = await client.query<{ request_id: string }>("SELECT DISTINCT request_id::text AS request_id FROM payment_operations WHERE kind = 'authorize' AND live")
    const transitions = new Map<string, Array<Move>>()
    for (const row of moves.rows) transitions.set(row.request_id, [...(transitions.get(row.request_id) ?? []), { from: row.from_status, to: row.to_status }])
    return { transitions, liveAuthorizations: new Set(live.rows.map((row) => row.request_id)) }
  } finally {
    await client.end()
  }
}

/** bookbroker's own record of which provider payment belongs to which request (`payment_operations.provider_ref`). */
export const readProviderRefs = async (url: string): Promise<ReadonlyMap<string, string>> => {
  const client = await connect(url)
  try {
    const rows = await client.query<{ provider_ref: string; request_id: string }>(
      "SELECT DISTINCT provider_ref, request_id::text AS request_id FROM payment_operations WHERE provider_ref IS NOT NULL"
    )
    const refs = new Map<string, string>()
    for (const row of rows.rows) {
      // One provider reference recorded under two requests: keep both visible to the cross-check.
      const known = refs.get(row.provider_ref)
      refs.set(row.provider_ref, known === undefined ? row.request_id : `${known}+${row.request_id}`)
    }
    return refs
  } finally {
    await client.end()
  }
}

/** Reads everything (the payment side from the sandbox ledger unless told otherwise) and checks it. */
export const checkAll = async (options: {
  readonly databaseUrl: string
  readonly orders: ReadonlyArray<SellerOrder>
  readonly sellerViolations?: { readonly rate: number; readonly concurrency: number }
  readonly payments?: PaymentSource
  /** The fleet's history (`fleet.history()`): the purchase calls the sellers processed. */
  readonly history?: FleetHistory
  /** The customer's webhook receiver (`Webhooks.startReceiver`): the outbox is checked against it (and, with `moves`, its order). */
  readonly webhooks?: {
    readonly received: ReadonlyArray<{ readonly msgId: string; readonly requestId?: string; readonly timestamp?: string }>
    readonly badSignatures: number
  }
  /** The fleet's stock and quote calls (`fleet.asked()`): every answer is checked for truth. */
  readonly asked?: FleetAsked
  /**
   * Read every request's moves and live authorizations too (wants: nothing held while not
   * bought, no second ending, webhooks in the order of the moves), with the customers' cancels.
   */
  readonly moves?: { readonly cancels?: ReadonlyArray<{ readonly requestId: string; readonly accepted: boolean }> }
}): Promise<Report> => {
  const at = Date.now()
  const database = await readDatabase(options.databaseUrl)
  const moves = options.moves === undefined ? undefined : await readMoves(options.databaseUrl)
  const deliveries = options.webhooks?.received.flatMap((d) => (d.requestId === undefined || d.timestamp === undefined ? [] : [{ msgId: d.msgId, requestId: d.requestId, timestamp: d.timestamp }]))
  const webhooks =
    options.webhooks === undefined
      ? undefined
      : {
          ...(await readOutbox(options.databaseUrl)),
          received: new Set(options.webhooks.received.map((d) => d.msgId)),
          badSignatures: options.webhooks.badSignatures,
          ...(moves === undefined || deliveries === undefined ? {} : { deliveries })
        }
  const recordedHolds = options.history === undefined ? undefined : await readRecordedHolds(options.databaseUrl)
  const source = options.payments ?? { _tag: "Sandbox" }
  const payments = source._tag === "Sandbox" ? database.payments : fromStripe(source.intents, source.charges, await readProviderRefs(options.databaseUrl))
  return check({
    at,
    requests: database.requests,
    payments,
    orders: options.orders,
    ...(moves === undefined ? {} : { transitions: moves.transitions, liveAuthorizations: moves.liveAuthorizations, cancels: options.moves?.cancels ?? [] }),
    ...(options.sellerViolations === undefined ? {} : { sellerViolations: options.sellerViolations }),
    ...(database.openFindings === undefined ? {} : { openFindings: database.openFindings }),
    ...(database.pendingPayments === undefined ? {} : { pendingPayments: database.pendingPayments }),
    ...(webhooks === undefined ? {} : { webhooks }),
    ...(options.asked === undefined ? {} : { asked: options.asked }),
    ...(options.history === undefined
      ? {}
      : {
          openHolds: options.history.sellers.flatMap((seller) => seller.openHolds.map((holdId) => ({ seller: seller.name, holdId }))),
          ...(recordedHolds === undefined ? {} : { recordedHolds }),
          purchaseCalls: options.history.sellers.flatMap((seller) =>
            seller.purchases.map((call) => ({ seller: seller.name, buyer: call.buyer, at: call.at, fault: call.fault, placed: call.placed }))
          )
        })
  })
}

/** One line per broken invariant (or "0 violations"), for test output. */
export const describe = (report: Report): string => {
  const broken = invariants.filter((name) => report.counts[name] > 0)
  const head = `${report.requests} requests ${JSON.stringify(report.statuses)}, ${report.orders} seller orders, ${report.payments} payments: ${report.violations} violations`
  return [head, ...broken.map((name) => `  ${name}: ${report.counts[name]} — ${report.examples[name].join("; ")}`)].join("\n")
}
