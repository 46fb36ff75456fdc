/**
 * `/metrics` in Prometheus text format, rendered from Effect's metric registry: whatever the
 * engine and the server record with `Metric` (counters, gauges, histograms, frequencies)
 * appears here without a separate exporter.
 */
import { Context, Effect, Layer, Metric, MetricState } from "effect"

export interface MetricsService {
  readonly render: Effect.Effect<string>
}

export class Metrics extends Context.Tag("@bookbroker/server/Metrics")<Metrics, MetricsService>() {}

const name = (raw: string) => raw.replace(/[^a-zA-Z0-9_:]/g, "_")
const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra: Record<string, string> = {}) => {
  const all = [...tags.map((tag) => [tag.key, tag.value] as const), ...Object.entries(extra)]
  return all.length === 0 ? "" : `{${all.map(([key, value]) => `${name(key)}="${escape(value)}"`).join(",")}}`
}
const number = (value: number | bigint) => (typeof value === "bigint" ? value.toString() : Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : "-Inf")

export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const lines: Array<string> = []
  const typed = new Set<string>()
  const header = (metric: string, type: string, help: string | undefined) => {
    if (typed.has(metric)) return
    typed.add(metric)
    if (help !== undefined) lines.push(`# HELP ${metric} ${help.replace(/\n/g, " ")}`)
    lines.push(`# TYPE ${metric} ${type}`)
  }
  for (const pair of [...pairs].sort((a, b) => a.metricKey.name.localeCompare(b.metricKey.name))) {
    const key = pair.metricKey
    const metric = name(key.name)
    const state = pair.metricState
    const help = key.description._tag === "Some" ? key.description.value : undefined
    if (MetricState.isCounterState(state)) {
      header(metric, "counter", help)
      lines.push(`${metric}${labels(key.tags)} ${number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      header(metric, "gauge", help)
      lines.push(`${metric}${labels(key.tags)} ${number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      header(metric, "histogram", help)
      for (const [boundary, count] of state.buckets) lines.push(`${metric}_bucket${labels(key.tags, { le: number(boundary) })} ${count}`)
      lines.push(`${metric}_bucket${labels(key.tags, { le: "+Inf" })} ${state.count}`)
      lines.push(`${metric}_sum${labels(key.tags)} ${number(state.sum)}`)
      lines.push(`${metric}_count${labels(key.tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      header(metric, "counter", help)
      for (const [value, count] of state.occurrences) lines.push(`${metric}${labels(key.tags, { value })} ${count}`)
    } else if (MetricState.isSummaryState(state)) {
      header(metric, "summary", help)
      for (const [quantile, value] of state.quantiles) {
        if (value._tag === "Some") lines.push(`${metric}${labels(key.tags, { quantile: String(quantile) })} ${number(value.value)}`)
      }
      lines.push(`${metric}_sum${labels(key.tags)} ${number(state.sum)}`)
      lines.push(`${metric}_count${labels(key.tags)} ${state.count}`)
    }
  }
  return `${lines.join("\n")}\n`
})

export const layer: Layer.Layer<Metrics> = Layer.succeed(Metrics, { render })
