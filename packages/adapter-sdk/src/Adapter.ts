/**
 * Authoring an adapter. `defineAdapter` takes plain TypeScript (Promises and an AbortSignal)
 * for authors who don't use Effect; `defineEffectAdapter` takes the Effect form. Both produce an
 * {@link Adapter}: a description (kind, version, config schema, capabilities, default limits)
 * plus a way to build the seller's operations. `SellerClient.make` turns it into the one Effect
 * service the engine talks to.
 */
import type { Effect, Redacted, Schema } from "effect"
import type { Dispatcher, RequestInit as FetchInit, Response as FetchResponse } from "undici"
import type {
  CapabilitiesInput,
  HoldInput,
  HoldRequest,
  InventoryPageInput,
  InventoryRequest,
  LimitsInput,
  LookupOrderRequest,
  OrderInput,
  PurchaseRequest,
  QuoteRequest,
  QuoteResultInput,
  ReleaseRequest
} from "./Contract.js"
import { specificationVersion } from "./Contract.js"
import type { SellerHttp, SellerHttpOptions } from "./Http.js"
import type { SellerError } from "./SellerError.js"

export interface CallOptions {
  /** Aborted when bookbroker stops waiting (timeout, deadline, shutdown): pass it to every I/O call. */
  readonly signal: AbortSignal
}

/** The operations of a Promise-style adapter. Return contract shapes; throw seller errors or anything. */
export interface Operations {
  quote(request: QuoteRequest, options: CallOptions): Promise<ReadonlyArray<QuoteResultInput>>
  hold?(request: HoldRequest, options: CallOptions): Promise<HoldInput>
  release?(request: ReleaseRequest, options: CallOptions): Promise<void>
  purchase(request: PurchaseRequest, options: CallOptions): Promise<OrderInput>
  /** Resolves to `null` when the seller has no order for the key. */
  lookupOrder?(request: LookupOrderRequest, options: CallOptions): Promise<OrderInput | null>
  /** One page of the seller's listings (declare `capabilities.inventory`); `nextCursor` `null` on the last page. */
  inventory?(request: InventoryRequest, options: CallOptions): Promise<InventoryPageInput>
}

/** The operations of an Effect-style adapter; interruption replaces the AbortSignal. */
export interface EffectOperations {
  readonly quote: (request: QuoteRequest) => Effect.Effect<ReadonlyArray<QuoteResultInput>, SellerError>
  readonly hold?: (request: HoldRequest) => Effect.Effect<HoldInput, SellerError>
  readonly release?: (request: ReleaseRequest) => Effect.Effect<void, SellerError>
  readonly purchase: (request: PurchaseRequest) => Effect.Effect<OrderInput, SellerError>
  readonly lookupOrder?: (request: LookupOrderRequest) => Effect.Effect<OrderInput | null, SellerError>
  readonly inventory?: (request: InventoryRequest) => Effect.Effect<InventoryPageInput, SellerError>
}

export interface AdapterContext<Config> {
  /** bookbroker's id for this seller. */
  readonly sellerId: string
  /** The seller's adapter config, decoded with the adapter's `config` schema. */
  readonly config: Config
  /** The seller's secrets by name; `Redacted`, so they never reach a log. */
  readonly credentials: Readonly<Record<string, Redacted.Redacted<string>>>
  /** A JSON client on bookbroker's connection pool. */
  readonly http: (options: SellerHttpOptions) => SellerHttp
  /**
   * `fetch` on bookbroker's connection pool, for sellers that do not speak JSON (XML, form posts,
   * token endpoints). Use it, never the global `fetch`: the pool is where bookbroker's outbound
   * policy (public addresses only, unless the operator allows a network) is enforced.
   */
  readonly fetch: SellerFetch
  /** The connection pool itself, for adapters that bring their own HTTP code. */
  readonly dispatcher: Dispatcher | undefined
}

/** undici's `fetch`, bound to the seller connection pool. */
export type SellerFetch = (input: string | URL, init?: FetchInit) => Promise<FetchResponse>

interface Description<Config, ConfigEncoded> {
  /** A short lowercase name, unique in a registry: `"reference"`. */
  readonly kind: string
  /** The adapter's own semver. */
  readonly version: string
  readonly description?: string
  /** Schema of the per-seller config (base URL, currency, modes…). */
  readonly config: Schema.Codec<Config, ConfigEncoded>
  /** Names of the secrets each seller must supply, e.g. `["apiKey"]`. */
  readonly credentials?: ReadonlyArray<string>
  readonly capabilities: CapabilitiesInput | ((config: Config) => CapabilitiesInput)
  /** Defaults for sellers using this adapter; each seller may tighten or widen them. */
  readonly limits?: Partial<LimitsInput>
}

export interface PromiseAdapterDefinition<Config, ConfigEncoded> extends Description<Config, ConfigEncoded> {
  readonly create: (context: AdapterContext<Config>) => Operations | Promise<Operations>
}

export interface EffectAdapterDefinition<Config, ConfigEncoded> extends Description<Config, ConfigEncoded> {
  readonly make: (context: AdapterContext<Config>) => Effect.Effect<EffectOperations>
}

/** A defined adapter, ready for `SellerClient.make` and the engine's registry. */
export interface Adapter<Config = unknown, ConfigEncoded = unknown> extends Description<Config, ConfigEncoded> {
  readonly specificationVersion: typeof specificationVersion
  readonly definition:
    | { readonly _tag: "Promise"; readonly create: PromiseAdapterDefinition<Config, ConfigEncoded>["create"] }
    | { readonly _tag: "Effect"; readonly make: EffectAdapterDefinition<Config, ConfigEncoded>["make"] }
}

/** An adapter whose config type is not known statically (registries, the engine). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds adapters of every config type
export type AnyAdapter = Adapter<any, any>

const kindPattern = /^[a-z][a-z0-9-]{1,62}$/

const describe = <Config, ConfigEncoded>(definition: Description<Config, ConfigEncoded>) => {
  if (!kindPattern.test(definition.kind)) {
    throw new Error(`adapter kind "${definition.kind}" must be lowercase letters, digits and dashes (2–63 characters)`)
  }
  return {
    specificationVersion,
    kind: definition.kind,
    version: definition.version,
    config: definition.config,
    capabilities: definition.capabilities,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    ...(definition.credentials === undefined ? {} : { credentials: definition.credentials }),
    ...(definition.limits === undefined ? {} : { limits: definition.limits })
  }
}

/**
 * Defines an adapter in plain TypeScript.
 *
 * @example
 * export const myAdapter = defineAdapter({
 *   kind: "my-seller",
 *   version: "1.0.0",
 *   config: Schema.Struct({ baseUrl: Schema.String }),
 *   credentials: ["apiKey"],
 *   capabilities: { batchQuotes: null, holds: false, orderLookup: false, pricePush: false },
 *   create: ({ config, credentials, http }) => {
 *     const api = http({ baseUrl: config.baseUrl, auth: Http.apiKeyHeader("X-Api-Key", credentials.apiKey!) })
 *     return {
 *       async quote({ isbns }, { signal }) { … },
 *       async purchase(request, { signal }) { … }
 *     }
 *   }
 * })
 */
export const defineAdapter = <Config, ConfigEncoded>(
  definition: PromiseAdapterDefinition<Config, ConfigEncoded>
): Adapter<Config, ConfigEncoded> => ({
  ...describe(definition),
  definition: { _tag: "Promise", create: definition.create }
})

/**
 * Defines an adapter in Effect style: `make` builds the operations, each returning an Effect
 * that fails with the seller error taxonomy.
 */
export const defineEffectAdapter = <Config, ConfigEncoded>(
  definition: EffectAdapterDefinition<Config, ConfigEncoded>
): Adapter<Config, ConfigEncoded> => ({
  ...describe(definition),
  definition: { _tag: "Effect", make: definition.make }
})
