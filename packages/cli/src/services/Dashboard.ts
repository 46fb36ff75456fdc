/**
 * `bookbroker dashboard` (operator token): scrapes `/metrics` and the operator's seller health every second and
 * shows intake and completion rates, outcomes, queue depth, decision time and, per seller, the
 * circuit, call rate and rate usage, errors and p50/p99 latency — redrawn in place. `once`
 * scrapes twice an interval apart (so rates are real), shows one frame and returns.
 *
 * Metric names are the engine's (`packages/engine/src/Metrics.ts`); whatever is missing shows
 * as "—" rather than failing, so the dashboard works against older and newer servers.
 */
import { Clock, Duration, Effect, Result } from "effect"
import type * as Api from "../Api.js"
import type { CliError } from "../CliError.js"
import * as Prometheus from "../Prometheus.js"
import { dashboardView, type DashboardFrame, type SellerRow } from "../ui/DashboardView.js"
import type { Ui } from "../ui/Render.js"

export const metricNames = {
  purchases: "bookbroker_purchases_total",
  decision: "bookbroker_purchase_decision_seconds",
  sellerCalls: "bookbroker_seller_calls_total",
  sellerLatency: "bookbroker_seller_call_duration_seconds",
  queueDepth: "bookbroker_purchase_queue_depth",
  circuitsOpen: "bookbroker_seller_circuits_open"
} as const

export interface Scrape {
  readonly at: number
  readonly samples: ReadonlyArray<Prometheus.Sample>
  readonly health: ReadonlyArray<Api.SellerHealth> | undefined
  readonly healthError: string | undefined
}

// --- Seller health entries ---------------------------------------------------------------------

export const idOf = (entry: Api.SellerHealth): string => entry.seller_id
export const nameOf = (entry: Api.SellerHealth): string => entry.seller_name
export const circuitOf = (entry: Api.SellerHealth): string => entry.circuit.state

// --- Frames -----------------------------------------------------------------------------------

const perSecond = (now: number | undefined, before: number | undefined, seconds: number) =>
  now === undefined || before === undefined || seconds <= 0 ? undefined : Math.max(0, now - before) / seconds

const quantiles = (now: Scrape, before: Scrape | undefined, name: string, filter: Prometheus.Filter, scale: number) => {
  const current = Prometheus.buckets(now.samples, name, filter)
  const recent = before === undefined ? current : Prometheus.delta(current, Prometheus.buckets(before.samples, name, filter))
  // The window since the last scrape when it saw anything, otherwise everything so far.
  const window = (recent.at(-1)?.[1] ?? 0) > 0 ? recent : current
  const at = (q: number) => {
    const value = Prometheus.quantile(window, q)
    return value === undefined ? undefined : value * scale
  }
  return { p50: at(0.5), p99: at(0.99) }
}

export const frame = (url: string, now: Scrape, before: Scrape | undefined, maxSellers = 12): DashboardFrame => {
  const seconds = before === undefined ? 0 : (now.at - before.at) / 1000
  const completedNow = Prometheus.sum(now.samples, metricNames.purchases)
  const completedBefore = before === undefined ? undefined : Prometheus.sum(before.samples, metricNames.purchases)
  const queueNow = Prometheus.sum(now.samples, metricNames.queueDepth)
  const queueBefore = before === undefined ? undefined : Prometheus.sum(before.samples, metricNames.queueDepth)
  const completionRate = perSecond(completedNow ?? 0, completedBefore ?? (before === undefined ? undefined : 0), seconds)
  // Arrivals = completions + growth of the queue over the interval.
  const intakeRate =
    completionRate === undefined || queueNow === undefined || queueBefore === undefined ? completionRate : Math.max(0, completionRate + (queueNow - queueBefore) / seconds)

  const outcomes = Object.fromEntries(Prometheus.by(now.samples, metricNames.purchases, "outcome"))
  const decision = quantiles(now, before, metricNames.decision, {}, 1000)

  const health = new Map((now.health ?? []).map((entry) => [idOf(entry), entry]))
  const ids = new Set([...health.keys(), ...Prometheus.by(now.samples, metricNames.sellerCalls, "seller").keys()])
  // Sellers the health view knows are listed with a name; a metric series for a seller no longer
  // in the directory is listed by id.
  const rows: Array<SellerRow> = [...ids].map((id) => {
    const entry = health.get(id)
    const calls = (outcome: string, scrape: Scrape | undefined) => (scrape === undefined ? undefined : (Prometheus.sum(scrape.samples, metricNames.sellerCalls, { seller: id, outcome }) ?? 0))
    const sent = (scrape: Scrape | undefined) => {
      const answered = calls("answered", scrape)
      const failed = calls("failed", scrape)
      return answered === undefined || failed === undefined ? undefined : answered + failed
    }
    const answered = calls("answered", now) ?? 0
    const failed = calls("failed", now) ?? 0
    const denied = calls("denied", now) ?? 0
    const latency = quantiles(now, before, metricNames.sellerLatency, { seller: id }, 1000)
    const callRate = perSecond(sent(now), sent(before), seconds)
    return {
      id,
      name: entry === undefined ? id : nameOf(entry),
      ...(entry === undefined ? {} : { status: entry.status }),
      circuit: entry === undefined ? undefined : circuitOf(entry),
      // Between two scrapes, the counters' rate; on the first frame, the server's last minute.
      callsPerSecond: callRate ?? entry?.rate.sent_per_second,
      rateLimit: entry?.limits?.requests_per_second,
      answered,
      failed,
      denied,
      errorRatio: answered + failed === 0 ? (entry?.error_rate ?? undefined) : failed / (answered + failed),
      p50Millis: latency.p50 ?? entry?.latency_ms ?? undefined,
      p99Millis: latency.p99
    }
  })
  // A disabled seller stays listed only while it still had calls in the interval.
  const shown = rows.filter((row) => row.status !== "disabled" || (row.callsPerSecond ?? 0) > 0)
  shown.sort((a, b) => b.answered + b.failed + b.denied - (a.answered + a.failed + a.denied) || a.name.localeCompare(b.name))
  const notes: Array<string> = []
  if (!Prometheus.has(now.samples, metricNames.purchases) && !Prometheus.has(now.samples, metricNames.sellerCalls)) {
    notes.push("no bookbroker metrics yet (nothing bought or quoted since the server started)")
  }
  if (now.healthError !== undefined) notes.push(`seller health: ${now.healthError}`)
  return {
    url,
    at: new Date(now.at).toISOString(),
    intervalSeconds: seconds,
    intakePerSecond: intakeRate,
    completionsPerSecond: completionRate,
    outcomes,
    completed: completedNow ?? 0,
    queueDepth: queueNow,
    decisionP50Millis: decision.p50,
    decisionP99Millis: decision.p99,
    circuitsOpen: Prometheus.sum(now.samples, metricNames.circuitsOpen) ?? (now.health === undefined ? undefined : rows.filter((row) => row.circuit !== undefined && row.circuit !== "closed").length),
    sellers: shown.slice(0, maxSellers),
    moreSellers: Math.max(0, shown.length - maxSellers),
    notes
  }
}

/** Both need the operator token: without it the metrics fail with what to pass; a failing health read is a note. */
export const scrape = (api: Api.Api): Effect.Effect<Scrape, CliError> =>
  Effect.gen(function* () {
    const [metrics, health] = yield* Effect.all([api.metrics, Effect.result(api.operator.health)], { concurrency: 2 })
    return {
      at: yield* Clock.currentTimeMillis,
      samples: Prometheus.parse(metrics),
      health: Result.isSuccess(health) ? health.success : undefined,
      healthError: Result.isFailure(health) ? health.failure.message : undefined
    }
  })

export interface DashboardOptions {
  /** One frame (two scrapes an interval apart) and return. */
  readonly once: boolean
  readonly intervalMillis: number
  /** Stop after this long (default: until interrupted). */
  readonly durationMillis?: number
}

export const dashboard = (api: Api.Api, ui: Ui, options: DashboardOptions): Effect.Effect<DashboardFrame, CliError> =>
  Effect.gen(function* () {
    const interval = Duration.millis(options.intervalMillis)
    let before = yield* scrape(api)
    if (options.once) {
      yield* Effect.sleep(interval)
      const now = yield* scrape(api)
      const result = frame(api.baseUrl, now, before)
      ui.result(result, dashboardView, result)
      return result
    }
    let current = frame(api.baseUrl, before, undefined)
    const live = ui.live(dashboardView, { ...current, live: true })
    const started = before.at
    const loop = Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep(interval)
        const now = yield* scrape(api)
        current = frame(api.baseUrl, now, before)
        before = now
        if (ui.json) ui.printJson(current, { line: true })
        else live.update({ ...current, live: true })
        if (options.durationMillis !== undefined && now.at - started >= options.durationMillis) return
      }
    })
    yield* loop.pipe(Effect.ensuring(Effect.suspend(() => live.done({ ...current, live: false }))))
    return current
  })
