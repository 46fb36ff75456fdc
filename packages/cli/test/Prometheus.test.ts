import { describe, expect, it } from "@effect/vitest"
import * as Prometheus from "../src/Prometheus.js"

const text = `# HELP bookbroker_purchases_total Purchase requests that reached a terminal status, by outcome
# TYPE bookbroker_purchases_total counter
bookbroker_purchases_total{outcome="purchased"} 7
bookbroker_purchases_total{outcome="price_not_met"} 3
# TYPE bookbroker_seller_call_duration_seconds histogram
bookbroker_seller_call_duration_seconds_bucket{seller="a",le="0.01"} 0
bookbroker_seller_call_duration_seconds_bucket{seller="a",le="0.05"} 50
bookbroker_seller_call_duration_seconds_bucket{seller="a",le="0.1"} 90
bookbroker_seller_call_duration_seconds_bucket{seller="a",le="1"} 100
bookbroker_seller_call_duration_seconds_bucket{seller="a",le="+Inf"} 100
bookbroker_seller_call_duration_seconds_bucket{seller="a",le="+Inf"} 100
bookbroker_seller_call_duration_seconds_sum{seller="a"} 4.2
bookbroker_seller_call_duration_seconds_count{seller="a"} 100
bookbroker_purchase_queue_depth 4
weird_label{name="a \\"quoted\\" \\\\ value"} 1
`

describe("Prometheus", () => {
  const samples = Prometheus.parse(text)

  it("reads samples and labels, escapes included", () => {
    expect(Prometheus.sum(samples, "bookbroker_purchases_total")).toBe(10)
    expect(Prometheus.sum(samples, "bookbroker_purchases_total", { outcome: "purchased" })).toBe(7)
    expect(Prometheus.sum(samples, "missing")).toBeUndefined()
    expect(Prometheus.sum(samples, "bookbroker_purchase_queue_depth")).toBe(4)
    expect(Object.fromEntries(Prometheus.by(samples, "bookbroker_purchases_total", "outcome"))).toEqual({ purchased: 7, price_not_met: 3 })
    expect(samples.find((sample) => sample.name === "weird_label")?.labels["name"]).toBe('a "quoted" \\ value')
  })

  it("estimates quantiles from cumulative buckets (duplicate +Inf tolerated)", () => {
    const buckets = Prometheus.buckets(samples, "bookbroker_seller_call_duration_seconds", { seller: "a" })
    expect(buckets.map(([le]) => le)).toEqual([0.01, 0.05, 0.1, 1, Number.POSITIVE_INFINITY])
    expect(Prometheus.quantile(buckets, 0.5)).toBeCloseTo(0.05, 5)
    expect(Prometheus.quantile(buckets, 0.25)).toBeCloseTo(0.03, 5)
    expect(Prometheus.quantile(buckets, 0.99)).toBeCloseTo(0.91, 5)
    expect(Prometheus.quantile([], 0.5)).toBeUndefined()
  })

  it("subtracts an earlier scrape for the recent window", () => {
    const before: ReadonlyArray<readonly [number, number]> = [[0.01, 0], [0.05, 40], [0.1, 80], [1, 80], [Number.POSITIVE_INFINITY, 80]]
    const recent = Prometheus.delta(Prometheus.buckets(samples, "bookbroker_seller_call_duration_seconds"), before)
    expect(recent.map(([, count]) => count)).toEqual([0, 10, 10, 20, 20])
    expect(Prometheus.quantile(recent, 0.5)).toBeCloseTo(0.05, 5)
    expect(Prometheus.quantile(recent, 0.75)).toBeCloseTo(0.55, 5)
  })
})
