/**
 * Exporting the engine's spans (every service method is `Effect.withSpan`, so one purchase
 * request is one trace: intake, quotes, attempts, payments) to an OpenTelemetry collector over
 * OTLP/HTTP when an endpoint is configured — `OTEL_EXPORTER_OTLP_ENDPOINT`, as OpenTelemetry
 * tools expect. Without one, spans are switched off altogether (`Layer.setTracerEnabled(false)`):
 * nobody would see them, and making them costs CPU on every request and seller call.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Layer } from "effect"

export interface TracingOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:4318`; traces go to `<endpoint>/v1/traces`. */
  readonly endpoint: string | undefined
  readonly serviceName?: string
  readonly serviceVersion?: string
}

export const layer = (options: TracingOptions): Layer.Layer<never> =>
  options.endpoint === undefined || options.endpoint === ""
    ? Layer.setTracerEnabled(false)
    : Layer.discard(
        NodeSdk.layer(() => ({
          resource: { serviceName: options.serviceName ?? "bookbroker", ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion }) },
          spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/$/, "")}/v1/traces` }), {
            scheduledDelayMillis: 1_000
          })
        }))
      )
