/**
 * The seller directory in PostgreSQL: who the sellers are, which adapter speaks to them with
 * which config, their credentials (sealed with the SecretBox, handed out only as `Redacted`),
 * their limits and their status. Registration checks the config against the adapter, and every
 * URL in it against the outbound policy (public addresses only, unless the operator allows a
 * network), before anything is stored. The fan-out reads `active`, a snapshot refreshed every few seconds, so
 * the hot path does not touch the database.
 */
import { SellerClient, type Contract } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import { Context, Duration, Effect, Layer, Option, Redacted, Schema, SynchronizedRef } from "effect"
import { AdapterRegistry, type UnknownAdapterKind } from "./AdapterRegistry.js"
import { orDie } from "../internal/sql.js"
import * as OutboundAddress from "../outbound/OutboundAddress.js"
import { SecretBox } from "./SecretBox.js"
import { isUuid } from "../internal/ids.js"

export const SellerStatus = Schema.Literals(["pending", "active", "disabled"])
export type SellerStatus = typeof SellerStatus.Type

export interface Seller {
  readonly id: string
  readonly name: string
  readonly kind: string
  readonly adapterVersion: string
  readonly config: unknown
  readonly credentials: Readonly<Record<string, Redacted.Redacted<string>>>
  /** Per-seller overrides of the adapter's default limits. */
  readonly limits: Partial<Contract.LimitsInput>
  readonly status: SellerStatus
  readonly contact: string | null
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface NewSeller {
  readonly name: string
  readonly kind: string
  readonly config: unknown
  readonly credentials?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly limits?: Partial<Contract.LimitsInput>
  readonly status?: SellerStatus
  readonly contact?: string
}

export interface SellerChanges {
  readonly config?: unknown
  readonly credentials?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly limits?: Partial<Contract.LimitsInput>
  readonly contact?: string | null
  /** E.g. back to `pending` when the seller changed what an operator approved (`SellerReview`). */
  readonly status?: SellerStatus
}

export class SellerNotFound extends Schema.TaggedError<SellerNotFound>()("SellerNotFound", { id: Schema.String }) {
  override get message(): string {
    return `no seller with id ${this.id}`
  }
}

export class DuplicateSellerName extends Schema.TaggedError<DuplicateSellerName>()("DuplicateSellerName", {
  name: Schema.String
}) {
  override get message(): string {
    return `a seller named "${this.name}" is already registered; pick another name`
  }
}

export type RegistrationError = UnknownAdapterKind | SellerClient.InvalidSellerConfig | DuplicateSellerName

export interface SellerDirectoryService {
  readonly register: (seller: NewSeller) => Effect.Effect<Seller, RegistrationError>
  readonly get: (id: string) => Effect.Effect<Seller, SellerNotFound>
  readonly list: (filter?: { readonly status?: SellerStatus }) => Effect.Effect<ReadonlyArray<Seller>>
  readonly setStatus: (id: string, status: SellerStatus) => Effect.Effect<Seller, SellerNotFound>
  readonly update: (id: string, changes: SellerChanges) => Effect.Effect<Seller, SellerNotFound | RegistrationError>
  /** Active sellers as of at most `refreshMillis` ago (writes through this instance show at once). */
  readonly active: Effect.Effect<ReadonlyArray<Seller>>
}

export class SellerDirectory extends Context.Service<SellerDirectory, SellerDirectoryService>()("@bookbroker/engine/SellerDirectory") {}

interface Row {
  readonly id: string
  readonly name: string
  readonly adapter_kind: string
  readonly adapter_version: string
  readonly config: unknown
  readonly credentials: Uint8Array | null
  readonly limits: Partial<Contract.LimitsInput>
  readonly status: SellerStatus
  readonly contact: string | null
  readonly created_at: Date
  readonly updated_at: Date
}

export interface SellerDirectoryOptions {
  /** How stale the `active` snapshot may be; default 5 s. */
  readonly refreshMillis?: number
}

export const make = (options: SellerDirectoryOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const box = yield* SecretBox
    const registry = yield* AdapterRegistry
    const outbound = yield* OutboundAddress.OutboundPolicy
    const refresh = Duration.millis(options.refreshMillis ?? 5_000)

    const fromRow = (row: Row): Effect.Effect<Seller> =>
      Effect.gen(function* () {
        const credentials: Record<string, Redacted.Redacted<string>> = {}
        if (row.credentials !== null) {
          const opened = yield* Effect.orDie(box.open(row.credentials))
          for (const [name, value] of Object.entries(JSON.parse(Redacted.value(opened)) as Record<string, string>)) {
            credentials[name] = Redacted.make(value)
          }
        }
        return {
          id: row.id,
          name: row.name,
          kind: row.adapter_kind,
          adapterVersion: row.adapter_version,
          config: row.config,
          credentials,
          limits: row.limits,
          status: row.status,
          contact: row.contact,
          createdAt: row.created_at,
          updatedAt: row.updated_at
        }
      })

    const seal = (credentials: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined) => {
      if (credentials === undefined || Object.keys(credentials).length === 0) return null
      const plain: Record<string, string> = {}
      for (const [name, value] of Object.entries(credentials)) plain[name] = typeof value === "string" ? value : Redacted.value(value)
      return box.seal(Redacted.make(JSON.stringify(plain)))
    }

    /**
     * The adapter must accept the config, credentials and limits, and every URL in the config must
     * be one bookbroker may call, before anything is stored.
     */
    const validate = (name: string, kind: string, config: unknown, credentials: NewSeller["credentials"], limits: NewSeller["limits"]) =>
      Effect.gen(function* () {
        const adapter = yield* registry.get(kind)
        yield* SellerClient.make(adapter, {
          sellerId: name,
          config,
          ...(credentials === undefined ? {} : { credentials }),
          ...(limits === undefined ? {} : { limits })
        })
        const refused = OutboundAddress.checkConfigUrls(config, outbound)
        if (refused.length > 0) {
          const detail = refused.map((problem) => `config ${problem.pointer} ${JSON.stringify(problem.url)} ${problem.reason}`).join("; ")
          return yield* new SellerClient.InvalidSellerConfig({
            sellerId: name,
            kind,
            detail: `${detail}: sellers are called on public addresses only (an operator can allow a network: serve --allow-network)`
          })
        }
        return adapter
      })

    const byId = (id: string) =>
      orDie(
        Effect.gen(function* () {
          const uuid = isUuid(id) ? id : undefined
          if (uuid === undefined) return yield* new SellerNotFound({ id })
          const rows = yield* sql<Row>`SELECT * FROM sellers WHERE id = ${uuid}`
          if (rows[0] === undefined) return yield* new SellerNotFound({ id })
          return yield* fromRow(rows[0])
        })
      )

    const loadActive = orDie(
      Effect.flatMap(sql<Row>`SELECT * FROM sellers WHERE status = 'active' ORDER BY created_at, id`, (rows) => Effect.forEach(rows, fromRow))
    )
    const snapshot = yield* SynchronizedRef.make<Option.Option<{ readonly at: number; readonly sellers: ReadonlyArray<Seller> }>>(Option.none())
    const invalidate = SynchronizedRef.set(snapshot, Option.none())

    const service: SellerDirectoryService = {
      register: (seller) =>
        orDie(
          Effect.gen(function* () {
            const adapter = yield* validate(seller.name, seller.kind, seller.config, seller.credentials, seller.limits)
            const rows = yield* sql<Row>`
              INSERT INTO sellers (name, adapter_kind, adapter_version, config, credentials, limits, status, contact)
              VALUES (${seller.name}, ${seller.kind}, ${adapter.version}, ${JSON.stringify(seller.config)}::jsonb,
                      ${seal(seller.credentials)}, ${JSON.stringify(seller.limits ?? {})}::jsonb,
                      ${seller.status ?? "pending"}, ${seller.contact ?? null})
              ON CONFLICT DO NOTHING
              RETURNING *`
            if (rows[0] === undefined) return yield* new DuplicateSellerName({ name: seller.name })
            yield* invalidate
            return yield* fromRow(rows[0])
          })
        ).pipe(Effect.withSpan("SellerDirectory.register", { attributes: { "seller.kind": seller.kind } })),

      get: (id) => byId(id).pipe(Effect.withSpan("SellerDirectory.get", { attributes: { "seller.id": id } })),

      list: (filter = {}) =>
        orDie(
          Effect.flatMap(
            filter.status === undefined
              ? sql<Row>`SELECT * FROM sellers ORDER BY created_at, id`
              : sql<Row>`SELECT * FROM sellers WHERE status = ${filter.status} ORDER BY created_at, id`,
            (rows) => Effect.forEach(rows, fromRow)
          )
        ).pipe(Effect.withSpan("SellerDirectory.list")),

      setStatus: (id, status) =>
        orDie(
          Effect.gen(function* () {
            yield* byId(id)
            const rows = yield* sql<Row>`UPDATE sellers SET status = ${status}, updated_at = now() WHERE id = ${id} RETURNING *`
            yield* invalidate
            return yield* fromRow(rows[0]!)
          })
        ).pipe(Effect.withSpan("SellerDirectory.setStatus", { attributes: { "seller.id": id, "seller.status": status } })),

      update: (id, changes) =>
        orDie(
          Effect.gen(function* () {
            const current = yield* byId(id)
            const config = changes.config ?? current.config
            const credentials = changes.credentials ?? current.credentials
            const limits = changes.limits === undefined ? current.limits : { ...current.limits, ...changes.limits }
            const adapter = yield* validate(current.name, current.kind, config, credentials, limits)
            const rows = yield* sql<Row>`
              UPDATE sellers SET
                config = ${JSON.stringify(config)}::jsonb,
                credentials = ${seal(credentials)},
                limits = ${JSON.stringify(limits)}::jsonb,
                contact = ${changes.contact === undefined ? current.contact : changes.contact},
                status = COALESCE(${changes.status ?? null}, status),
                adapter_version = ${adapter.version},
                updated_at = now()
              WHERE id = ${id}
              RETURNING *`
            yield* invalidate
            return yield* fromRow(rows[0]!)
          })
        ).pipe(Effect.withSpan("SellerDirectory.update", { attributes: { "seller.id": id } })),

      active: SynchronizedRef.modifyEffect(snapshot, (current) =>
        Effect.gen(function* () {
          const now = Date.now()
          if (Option.isSome(current) && now - current.value.at < Duration.toMillis(refresh)) {
            return [current.value.sellers, current] as const
          }
          const sellers = yield* loadActive
          return [sellers, Option.some({ at: now, sellers })] as const
        })
      )
    }
    return service
  })

export const layer = (options: SellerDirectoryOptions = {}): Layer.Layer<SellerDirectory, never, SqlClient.SqlClient | SecretBox | AdapterRegistry> =>
  Layer.effect(SellerDirectory, make(options))
