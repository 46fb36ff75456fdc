/**
 * Who is calling: customers and their API keys, sellers' API keys. A key is 32 random bytes
 * shown once at creation and stored only as its SHA-256 (high-entropy keys need no slow hash);
 * its first characters are kept to tell keys apart in listings. Verified keys are remembered
 * for a few seconds so the hot path doesn't query the database per request; a revoked key can
 * therefore live on for at most that long.
 */
import { SqlClient } from "effect/sql"
import { createHash, randomBytes } from "node:crypto"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { orDie, uninterruptibleSql } from "./internal/sql.js"

export type Principal = { readonly kind: "customer" | "seller"; readonly id: string }

export interface Customer {
  readonly id: string
  readonly name: string
  readonly email: string | null
  readonly createdAt: Date
}

export class CustomerNotFound extends Schema.TaggedError<CustomerNotFound>()("CustomerNotFound", { id: Schema.String }) {
  override get message(): string {
    return `no customer ${this.id}`
  }
}

export interface AccessService {
  readonly createCustomer: (name: string, email?: string) => Effect.Effect<{ readonly customer: Customer; readonly apiKey: Redacted.Redacted<string> }>
  readonly listCustomers: Effect.Effect<ReadonlyArray<Customer>>
  /** A new key for a customer or seller; with `rotate`, the owner's other keys are revoked. */
  readonly issueKey: (principal: Principal, options?: { readonly rotate?: boolean }) => Effect.Effect<Redacted.Redacted<string>>
  readonly authenticate: (key: Redacted.Redacted<string>) => Effect.Effect<Option.Option<Principal>>
}

export class Access extends Context.Service<Access, AccessService>()("@bookbroker/engine/Access") {}

const hash = (key: string) => createHash("sha256").update(key).digest("hex")
const prefixes = { customer: "bb_cus_", seller: "bb_sel_" } as const
const rememberMillis = 10_000

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const remembered = new Map<string, { readonly principal: Option.Option<Principal>; readonly until: number }>()

  const issueKey = (principal: Principal, options: { readonly rotate?: boolean } = {}) =>
    orDie(
      sql.withTransaction(
        Effect.gen(function* () {
          if (options.rotate === true) {
            yield* sql`UPDATE api_keys SET revoked_at = now() WHERE kind = ${principal.kind} AND owner_id = ${principal.id} AND revoked_at IS NULL`
            remembered.clear()
          }
          const key = `${prefixes[principal.kind]}${randomBytes(32).toString("base64url")}`
          yield* sql`
            INSERT INTO api_keys (kind, owner_id, key_hash, key_prefix)
            VALUES (${principal.kind}, ${principal.id}, ${hash(key)}, ${key.slice(0, 12)})`
          return Redacted.make(key)
        })
      )
    ).pipe(Effect.withSpan("Access.issueKey", { attributes: { "principal.kind": principal.kind } }))

  const service: AccessService = {
    createCustomer: (name, email) =>
      orDie(
        Effect.gen(function* () {
          const [row] = yield* sql<{ id: string; name: string; email: string | null; created_at: Date }>`
            INSERT INTO customers (name, email) VALUES (${name}, ${email ?? null}) RETURNING *`
          const customer = { id: row!.id, name: row!.name, email: row!.email, createdAt: row!.created_at }
          const apiKey = yield* issueKey({ kind: "customer", id: customer.id })
          return { customer, apiKey }
        })
      ).pipe(Effect.withSpan("Access.createCustomer")),

    listCustomers: orDie(sql<{ id: string; name: string; email: string | null; created_at: Date }>`SELECT * FROM customers ORDER BY created_at`).pipe(
      Effect.map((rows) => rows.map((row) => ({ id: row.id, name: row.name, email: row.email, createdAt: row.created_at }))),
      Effect.withSpan("Access.listCustomers")
    ),

    issueKey,

    authenticate: (key) =>
      Effect.gen(function* () {
        const plain = Redacted.value(key)
        if (!plain.startsWith(prefixes.customer) && !plain.startsWith(prefixes.seller)) return Option.none()
        const digest = hash(plain)
        const now = Date.now()
        const known = remembered.get(digest)
        if (known !== undefined && known.until > now) return known.principal
        const rows = yield* uninterruptibleSql(sql<{ kind: Principal["kind"]; owner_id: string }>`
          SELECT kind, owner_id FROM api_keys WHERE key_hash = ${digest} AND revoked_at IS NULL`)
        const principal = rows[0] === undefined ? Option.none<Principal>() : Option.some({ kind: rows[0].kind, id: rows[0].owner_id })
        if (remembered.size > 100_000) remembered.clear()
        remembered.set(digest, { principal, until: now + rememberMillis })
        return principal
      }).pipe(Effect.withSpan("Access.authenticate", ))
  }
  return service
})

export const layer: Layer.Layer<Access, never, SqlClient.SqlClient> = Layer.effect(Access, make)
