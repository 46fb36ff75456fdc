/**
 * `/metrics` in Prometheus text format, rendered from Effect's metric registry by Effect's own
 * Prometheus formatter: whatever the engine and the server record with `Metric` (counters,
 * gauges, histograms, summaries, frequencies, with their attributes as labels) appears here
 * without a separate exporter.
 */
import { Context, Layer, type Effect } from "effect"
import { PrometheusMetrics } from "effect/observability"

export interface MetricsService {
  readonly render: Effect.Effect<string>
}

export class Metrics extends Context.Service<Metrics, MetricsService>()("@bookbroker/server/Metrics") {}

export const render: Effect.Effect<string> = PrometheusMetrics.format()

export const layer: Layer.Layer<Metrics> = Layer.succeed(Metrics, { render })
