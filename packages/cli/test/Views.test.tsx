import { describe, expect, it } from "@effect/vitest"
import { render } from "ink-testing-library"
import type * as Api from "../src/Api.js"
import { BuyView, buyLines, type BuyEvent, type BuyViewProps } from "../src/ui/BuyView.js"
import { DashboardView, type DashboardFrame } from "../src/ui/DashboardView.js"
import { DoctorView } from "../src/ui/DoctorView.js"
import { bar, SimulateView, type SimulateSummary } from "../src/ui/SimulateView.js"
import { Table } from "../src/ui/Table.js"

const eur = (amount: number) => ({ amount, currency: "EUR" })

const sellers: ReadonlyArray<Api.SellerOutcome> = [
  { seller_id: "s1", seller_name: "paper-moon", status: "offer", reason: null, cached: false, latency_ms: 42 },
  { seller_id: "s2", seller_name: "book-barn", status: "offer", reason: null, cached: false, latency_ms: 61 },
  { seller_id: "s3", seller_name: "page-turner", status: "unavailable", reason: "not_carried", cached: false, latency_ms: 12 }
]

const offers: ReadonlyArray<Api.BookOffer> = [
  { seller_id: "s1", seller_name: "paper-moon", price: eur(1250), shipping: eur(0), total: eur(1250), condition: "new", quantity: 3, expires_at: "2030-01-01T12:00:00Z", source: "live", as_of: null, age_seconds: null },
  { seller_id: "s2", seller_name: "book-barn", price: eur(1300), shipping: eur(143), total: eur(1443), condition: "new", quantity: null, expires_at: "2030-01-01T12:00:00Z", source: "live", as_of: null, age_seconds: null }
]

const request = (overrides: Partial<Api.PurchaseRequest>): Api.PurchaseRequest => ({
  id: "req-1",
  status: "purchased",
  terminal: true,
  isbn: "9784554076995",
  max_price: eur(3000),
  reason: null,
  final_price: eur(1250),
  seller_price: null,
  exchange_rates: [],
  seller_id: "s1",
  order_id: "order-77",
  counter_offer: null,
  attempts: [{ seller_id: "s1", seller_name: "paper-moon", rank: 0, status: "confirmed", reason: null, order_id: "order-77", total: eur(1250) }],
  waiting: null,
  quote_progress: null,
  wait_until: null,
  created_at: "2030-01-01T11:59:00Z",
  updated_at: "2030-01-01T11:59:01Z",
  completed_at: "2030-01-01T11:59:01Z",
  ...overrides
})

const props = (events: ReadonlyArray<BuyEvent>, elapsedMillis = 1200): BuyViewProps => ({ isbn: "9784554076995", maxPrice: eur(3000), events, elapsedMillis })

describe("BuyView", () => {
  it("while it runs: status so far, the sellers answering and their offers", () => {
    const view = render(
      <BuyView
        {...props([
          { _tag: "Submitted", id: "req-1" },
          { _tag: "Status", status: "received", atMillis: 100 },
          { _tag: "Status", status: "quoting", atMillis: 300 },
          { _tag: "Sellers", sellers, offers, durationMillis: 180 }
        ])}
      />
    )
    const frame = view.lastFrame()!
    expect(frame).toContain("buying 9784554076995 for at most €30.00 — request req-1")
    expect(frame).toMatch(/received → asking sellers/)
    expect(frame).toContain("3 answered in 180 ms, 2 with an offer")
    expect(frame).toMatch(/paper-moon\s+€12\.50 .*cheapest/)
    expect(frame).toMatch(/book-barn\s+€14\.43 \(incl\. €1\.43 shipping\)/)
    expect(frame).toMatch(/page-turner\s+does not carry it/)
    expect(frame).not.toContain("✓")
    view.unmount()
  })

  it("purchased: the attempt, the price, the seller and the order", () => {
    const final = request({})
    const view = render(
      <BuyView
        {...props([
          { _tag: "Submitted", id: "req-1" },
          { _tag: "Status", status: "received", atMillis: 100 },
          { _tag: "Sellers", sellers, offers, durationMillis: 180 },
          { _tag: "Status", status: "purchasing", atMillis: 500 },
          { _tag: "Attempt", attempt: final.attempts[0]! },
          { _tag: "Status", status: "purchased", atMillis: 900 },
          { _tag: "Outcome", request: final, sellerName: "paper-moon" }
        ])}
      />
    )
    const frame = view.lastFrame()!
    expect(frame).toContain("received → buying → purchased")
    expect(frame).toContain("attempt #1 paper-moon: order confirmed at €12.50")
    expect(frame).toContain("✓ purchased from paper-moon for €12.50 — order order-77")
    view.unmount()
  })

  it("price_not_met: the counter-offer and the exact command that accepts it", () => {
    const final = request({
      id: "req-9",
      status: "price_not_met",
      max_price: eur(1000),
      final_price: null,
      seller_id: null,
      order_id: null,
      attempts: [],
      counter_offer: { seller_id: "s1", seller_name: "paper-moon", price: eur(1250), expires_at: "2030-01-01T12:05:00Z", accept_url: "/v1/purchase-requests/req-9/accept" }
    })
    const view = render(<BuyView {...props([{ _tag: "Submitted", id: "req-9" }, { _tag: "Outcome", request: final, sellerName: "paper-moon" }])} />)
    const frame = view.lastFrame()!
    expect(frame).toContain("✗ price not met: the best offer is €12.50 from paper-moon, above your €10.00")
    expect(frame).toContain("counter-offer: €12.50 from paper-moon")
    expect(frame).toContain("accept it with: bookbroker requests accept req-9")
    view.unmount()
  })

  it("says a book offered only in another currency is offered, and in which", () => {
    const final = request({
      status: "not_available",
      max_price: { amount: 3000, currency: "USD" },
      reason: "offered_in_other_currency: 12.50 EUR from paper-moon (2 sellers); not comparable with USD prices"
    })
    const lines = buyLines(props([{ _tag: "Outcome", request: final, sellerName: null }]))
    expect(lines[0]).toBe("✗ not available in USD: offered only in another currency — 12.50 EUR from paper-moon (2 sellers)")
    expect(lines[1]).toMatch(/cannot be compared/)
  })

  it("rerenders in place as events arrive", () => {
    const view = render(<BuyView {...props([{ _tag: "Submitted", id: "req-1" }], 0)} />)
    expect(view.lastFrame()).toContain("asking sellers…")
    view.rerender(<BuyView {...props([{ _tag: "Submitted", id: "req-1" }, { _tag: "Sellers", sellers, offers, durationMillis: 9 }], 300)} />)
    expect(view.lastFrame()).toContain("paper-moon")
    expect(view.lastFrame()).not.toContain("asking sellers…")
    view.unmount()
  })

  it("plain lines are a log: one line per event, pending candidates left out", () => {
    const lines = buyLines(
      props([
        { _tag: "Submitted", id: "req-1" },
        { _tag: "Status", status: "received", atMillis: 120 },
        { _tag: "Attempt", attempt: { seller_id: "s2", seller_name: "book-barn", rank: 1, status: "pending", reason: null, order_id: null, total: null } },
        { _tag: "Outcome", request: request({}), sellerName: "paper-moon" }
      ])
    )
    expect(lines).toEqual(["buying 9784554076995 for at most €30.00 — request req-1", "    0.1 s  received", "✓ purchased from paper-moon for €12.50 — order order-77"])
  })
})

const frame: DashboardFrame = {
  url: "http://127.0.0.1:8080",
  at: "2030-01-01T12:00:00Z",
  intervalSeconds: 1,
  intakePerSecond: 4.2,
  completionsPerSecond: 3.9,
  completed: 40,
  outcomes: { purchased: 30, price_not_met: 6, not_available: 3, failed: 1 },
  queueDepth: 5,
  decisionP50Millis: 420,
  decisionP99Millis: 2400,
  circuitsOpen: 1,
  sellers: [
    { id: "s1", name: "paper-moon", circuit: "closed", callsPerSecond: 12, rateLimit: 50, answered: 300, failed: 2, denied: 0, errorRatio: 2 / 302, p50Millis: 45, p99Millis: 180 },
    { id: "s2", name: "flaky-folio", circuit: "open", callsPerSecond: 0, rateLimit: 50, answered: 20, failed: 30, denied: 12, errorRatio: 0.6, p50Millis: 900, p99Millis: 2000 }
  ],
  moreSellers: 3,
  notes: []
}

describe("DashboardView", () => {
  it("shows rates, outcomes, queue and each seller's circuit, rate use and latency", () => {
    const view = render(<DashboardView {...frame} />)
    const text = view.lastFrame()!
    expect(text).toContain("bookbroker dashboard")
    expect(text).toMatch(/intake 4\.2\/s/)
    expect(text).toMatch(/completed 3\.9\/s/)
    expect(text).toMatch(/queue 5/)
    expect(text).toMatch(/decision p50 420 ms p99 2400 ms/)
    expect(text).toMatch(/circuits open 1/)
    expect(text).toMatch(/purchased 30 \(75%\)/)
    expect(text).toMatch(/paper-moon\s+closed\s+12\/s of 50\/s \(24%\)\s+302\s+1%\s+0\s+45 ms\s+180 ms/)
    expect(text).toMatch(/flaky-folio\s+open/)
    expect(text).toContain("… and 3 more sellers")
    view.unmount()
  })
})

describe("SimulateView", () => {
  const summary: SimulateSummary = {
    sellers: 2,
    ratePerSecond: 5,
    durationSeconds: 2,
    submitted: 10,
    rejected: 0,
    finished: 10,
    unfinished: 0,
    outcomes: { purchased: 8, price_not_met: 2 },
    latencyMillis: { p50: 310, p99: 840, max: 900 },
    sellerCalls: { total: 34, quote: 20, perRequest: 3.4, quotePerRequest: 2 },
    elapsedSeconds: 2.6
  }

  it("a progress bar while it runs, the summary at the end", () => {
    const view = render(<SimulateView phase="running" planned={10} submitted={4} rejected={0} finished={2} elapsedMillis={800} setup={["seller sim-1 at http://127.0.0.1:1234 (hold)"]} />)
    expect(view.lastFrame()).toContain(`${bar(4, 10)} submitted 4/10`)
    expect(view.lastFrame()).toContain("finished 2/4")
    view.rerender(<SimulateView phase="done" planned={10} submitted={10} rejected={0} finished={10} elapsedMillis={2600} setup={[]} summary={summary} />)
    const text = view.lastFrame()!
    expect(text).toContain("simulated 10 purchase requests against 2 sellers at 5/s for 2 s")
    expect(text).toContain("outcomes     purchased 8, price_not_met 2, not_available 0, failed 0")
    expect(text).toContain("latency      p50 310 ms, p99 840 ms")
    expect(text).toContain("seller calls 3.4 per request at the 2 simulated sellers (34 in all, 20 of them quotes)")
    view.unmount()
  })

  it("bar fills in proportion", () => {
    expect(bar(0, 10, 10)).toBe("░".repeat(10))
    expect(bar(5, 10, 10)).toBe("█".repeat(5) + "░".repeat(5))
    expect(bar(20, 10, 10)).toBe("█".repeat(10))
  })
})

describe("DoctorView and Table", () => {
  it("doctor: ✓ and ✗ lines with fixes", () => {
    const view = render(
      <DoctorView
        url="http://127.0.0.1:8080"
        checks={[
          { name: "API", status: "ok", detail: "answers" },
          { name: "sellers", status: "fail", detail: "none active", fix: "bookbroker sellers activate <id>" }
        ]}
      />
    )
    expect(view.lastFrame()).toContain("✓ API: answers")
    expect(view.lastFrame()).toContain("✗ sellers: none active")
    expect(view.lastFrame()).toContain("fix: bookbroker sellers activate <id>")
    expect(view.lastFrame()).toContain("1 problem to fix")
    view.unmount()
  })

  it("table: header, aligned rows, footer", () => {
    const view = render(<Table headers={["seller", "total"]} rows={[["paper-moon", "€12.50"], ["barn", "€114.43"]]} footer={["2 offers"]} />)
    const lines = view.lastFrame()!.split("\n")
    expect(lines[0]).toBe("seller        total")
    expect(lines[1]).toBe("paper-moon   €12.50")
    expect(lines[2]).toBe("barn        €114.43")
    expect(lines[3]).toBe("2 offers")
    view.unmount()
  })
})
