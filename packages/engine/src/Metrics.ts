/**
 * The engine's metrics, as Effect `Metric`s in the process-wide registry (the server renders
 * them at `/metrics` in Prometheus text format):
 *
 * - `bookbroker_purchases_total{outcome}` — purchase requests that reached a terminal status,
 *   by status (`purchased`, `price_not_met`, `not_available`, `failed`), counted by the pipeline.
 * - `bookbroker_purchase_decision_seconds` — time from a request's creation to its terminal
 *   status (a request that goes round again — accepted counter-offer, operator retry — is
 *   measured again from its creation).
 * - `bookbroker_seller_calls_total{seller,outcome}` — quote calls per seller: `answered`,
 *   `failed` (the seller erred, timed out, or was left out of a fan-out as a straggler) or
 *   `denied` (not sent: circuit open, back-off, no rate budget, no concurrency permit).
 * - `bookbroker_seller_call_duration_seconds{seller}` — latency of the quote calls sent.
 * - `bookbroker_purchase_queue_depth` and `bookbroker_seller_circuits_open` — gauges set when
 *   they are scraped (`operations/Gauges.ts`, through `setQueueDepth`, `setCircuitsOpen`).
 *
 * The seller label is the seller id: one series per seller and outcome, bounded by the directory.
 * Besides the metrics, each process keeps the last minute of calls per seller (`recentCalls`) for
 * the operator's seller health view.
 */
import { Clock, Effect, type Fiber, Metric } from "effect"

export const purchasesTotal = Metric.counter("bookbroker_purchases_total", {
  description: "Purchase requests that reached a terminal status, by outcome",
  incremental: true
})

export const decisionSeconds = Metric.histogram("bookbroker_purchase_decision_seconds", {
  description: "Time from a purchase request's creation to its terminal status, in seconds",
  boundaries: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600]
})

const sellerCallsOptions = {
  description: "Quote calls to sellers by outcome: answered, failed, or denied by admission (not sent)",
  incremental: true
} as const

const sellerCallSecondsOptions = {
  description: "Latency of quote calls sent to sellers, in seconds",
  boundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
} as const

export const sellerCallsTotal = Metric.counter("bookbroker_seller_calls_total", sellerCallsOptions)

export const sellerCallSeconds = Metric.histogram("bookbroker_seller_call_duration_seconds", sellerCallSecondsOptions)

export const queueDepth = Metric.gauge("bookbroker_purchase_queue_depth", {
  description: "Purchase requests not yet terminal (received, authorized, quoting, deciding, purchasing)"
})

export const circuitsOpen = Metric.gauge("bookbroker_seller_circuits_open", {
  description: "Active sellers whose circuit breaker is open or half-open"
})

export type SellerCallOutcome = "answered" | "failed" | "denied"

/** Calls to one seller in the last minute, in this process. */
export interface RecentCalls {
  readonly answered: number
  readonly failed: number
  readonly denied: number
  /** Calls sent (answered + failed) per second over the window. */
  readonly sentPerSecond: number
  readonly windowSeconds: number
}

const windowSeconds = 60

type Bucket = [second: number, answered: number, failed: number, denied: number]

interface SellerSeries {
  /** One-second buckets with calls in them, oldest first, none older than the window. */
  readonly buckets: Array<Bucket>
  readonly calls: Record<SellerCallOutcome, Metric.Counter<number>>
  readonly latency: Metric.Histogram<number>
}

const series = new Map<string, SellerSeries>()

const seriesFor = (sellerId: string): SellerSeries => {
  let found = series.get(sellerId)
  if (found === undefined) {
    found = {
      buckets: [],
      // Each series its own metric, its attributes given at creation: the same series in the
      // registry as `withAttributes` on the shared metric, but `withAttributes` copies the fiber's
      // context on every update, and the shared metric re-keys (sorts and JSON-encodes the
      // attributes) whenever the seller changes from the previous update — that is, nearly always.
      calls: {
        answered: Metric.counter(sellerCallsTotal.id, { ...sellerCallsOptions, attributes: { seller: sellerId, outcome: "answered" } }),
        failed: Metric.counter(sellerCallsTotal.id, { ...sellerCallsOptions, attributes: { seller: sellerId, outcome: "failed" } }),
        denied: Metric.counter(sellerCallsTotal.id, { ...sellerCallsOptions, attributes: { seller: sellerId, outcome: "denied" } })
      },
      latency: Metric.histogram(sellerCallSeconds.id, { ...sellerCallSecondsOptions, attributes: { seller: sellerId } })
    }
    series.set(sellerId, found)
  }
  return found
}

const prune = (buckets: Array<Bucket>, second: number) => {
  while (buckets.length > 0 && buckets[0]![0] <= second - windowSeconds) buckets.shift()
}

/**
 * Records one quote call (or its denial) to a seller: counter, latency histogram, recent window.
 * One step on the calling fiber (its clock, its metric registry), run on every seller call.
 */
export const recordSellerCall = (sellerId: string, outcome: SellerCallOutcome, latencyMillis?: number): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    recordSellerCallOn(fiber, sellerId, outcome, latencyMillis)
    return Effect.void
  })

/** {@link recordSellerCall} inside a step the caller is already running on `fiber` (no step of its own). */
export const recordSellerCallOn = (fiber: Fiber.Fiber<unknown, unknown>, sellerId: string, outcome: SellerCallOutcome, latencyMillis?: number): void => {
  const second = Math.floor(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() / 1000)
  const seller = seriesFor(sellerId)
  prune(seller.buckets, second)
  let last = seller.buckets.at(-1)
  if (last === undefined || last[0] !== second) {
    last = [second, 0, 0, 0]
    seller.buckets.push(last)
  }
  last[outcome === "answered" ? 1 : outcome === "failed" ? 2 : 3] += 1
  seller.calls[outcome].updateUnsafe(1, fiber.context)
  if (latencyMillis !== undefined) seller.latency.updateUnsafe(latencyMillis / 1000, fiber.context)
}

/** Records a purchase request reaching a terminal status, `createdAt` being when it was received. */
export const recordPurchaseOutcome = (outcome: string, createdAt: Date): Effect.Effect<void> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    yield* Metric.update(Metric.withAttributes(purchasesTotal, { outcome }), 1)
    yield* Metric.update(decisionSeconds, Math.max(0, now - createdAt.getTime()) / 1000)
  })

/** The last minute of calls to a seller from this process. */
export const recentCalls = (sellerId: string): Effect.Effect<RecentCalls> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const second = Math.floor(now / 1000)
    let answered = 0
    let failed = 0
    let denied = 0
    for (const [at, a, f, d] of series.get(sellerId)?.buckets ?? []) {
      if (at <= second - windowSeconds || at > second) continue
      answered += a
      failed += f
      denied += d
    }
    return { answered, failed, denied, sentPerSecond: (answered + failed) / windowSeconds, windowSeconds }
  })

export const setQueueDepth = (depth: number): Effect.Effect<void> => Metric.update(queueDepth, depth)

export const setCircuitsOpen = (count: number): Effect.Effect<void> => Metric.update(circuitsOpen, count)
