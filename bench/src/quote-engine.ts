/**
 * The quote engine in a bench's own process, as `bench:quotes` and `bench:fan-out-overhead` run
 * it: its real seller directory in a throw-away PostgreSQL database, the given adapters and shared
 * state, spans off unless a collector is configured (as production runs without one).
 */
import type { Adapter } from "@bookbroker/adapter-sdk"
import { AdapterRegistry, Database, OutboundAddress, QuoteEngine, SecretBox, SellerDirectory, SellerPool, SharedState, Tracing } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"

export const quoteEngineRuntime = (
  options: QuoteEngine.QuoteEngineOptions,
  adapters: ReadonlyArray<Adapter.AnyAdapter>,
  state: Layer.Layer<SharedState.SharedState> = SharedState.layerMemory()
) =>
  ManagedRuntime.make(
    QuoteEngine.layer(options).pipe(
      Layer.provideMerge(Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 600_000 }), SellerPool.layer(), state)),
      Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer(adapters), OutboundAddress.layerLoopback)),
      Layer.provideMerge(Layer.unwrap(Effect.map(TestDatabase.scopedDatabase("bb_bench"), ({ url }) => Database.layer({ url })))),
      Layer.provideMerge(Tracing.layer({ endpoint: process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] }))
    )
  )
