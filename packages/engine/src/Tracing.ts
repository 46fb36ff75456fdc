/**
 * Exporting the engine's spans (every service method is `Effect.withSpan`, so one purchase
 * request is one trace: intake, quotes, attempts, payments) to an OpenTelemetry collector over
 * OTLP/HTTP when an endpoint is configured — `OTEL_EXPORTER_OTLP_ENDPOINT`, as OpenTelemetry
 * tools expect — with Effect's own OTLP exporter (no OpenTelemetry SDK in the process). Without
 * an endpoint, spans are switched off altogether (`References.TracerEnabled`): nobody would see
 * them, and making them costs CPU on every request and seller call.
 */
import { Layer, References } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"

export interface TracingOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:4318`; traces go to `<endpoint>/v1/traces`. */
  readonly endpoint: string | undefined
  readonly serviceName?: string
  readonly serviceVersion?: string
}

export const layer = (options: TracingOptions): Layer.Layer<never> =>
  options.endpoint === undefined || options.endpoint === ""
    ? Layer.succeed(References.TracerEnabled, false)
    : OtlpTracer.layer({
        url: `${options.endpoint.replace(/\/$/, "")}/v1/traces`,
        resource: { serviceName: options.serviceName ?? "bookbroker", serviceVersion: options.serviceVersion },
        exportInterval: "1 second"
      }).pipe(Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer]))
