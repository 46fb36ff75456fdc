/**
 * Adapters by kind, built once at start by the entry point (server `main.ts`, CLI `bin.ts`)
 * from the adapter packages it ships with. The engine never imports a specific adapter.
 */
import type { Adapter } from "@bookbroker/adapter-sdk"
import { Context, Effect, Layer, Schema } from "effect"

export class UnknownAdapterKind extends Schema.TaggedError<UnknownAdapterKind>()("UnknownAdapterKind", {
  kind: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `no adapter of kind "${this.kind}" is installed (installed: ${this.known.join(", ") || "none"})`
  }
}

export interface AdapterRegistryService {
  readonly get: (kind: string) => Effect.Effect<Adapter.AnyAdapter, UnknownAdapterKind>
  readonly kinds: ReadonlyArray<string>
}

export class AdapterRegistry extends Context.Service<AdapterRegistry, AdapterRegistryService>()("@bookbroker/engine/AdapterRegistry") {}

export const make = (adapters: ReadonlyArray<Adapter.AnyAdapter>): AdapterRegistryService => {
  const byKind = new Map<string, Adapter.AnyAdapter>()
  for (const adapter of adapters) {
    if (byKind.has(adapter.kind)) throw new Error(`two adapters claim kind "${adapter.kind}"`)
    byKind.set(adapter.kind, adapter)
  }
  const kinds = [...byKind.keys()].sort()
  return {
    kinds,
    get: (kind) => {
      const adapter = byKind.get(kind)
      return adapter === undefined ? Effect.fail(new UnknownAdapterKind({ kind, known: kinds })) : Effect.succeed(adapter)
    }
  }
}

export const layer = (adapters: ReadonlyArray<Adapter.AnyAdapter>): Layer.Layer<AdapterRegistry> =>
  Layer.sync(AdapterRegistry, () => make(adapters))
