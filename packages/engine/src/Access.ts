/**
 * Who is calling: customers and their API keys, sellers' API keys. A key is 32 random bytes
 * shown once at creation and stored only as its SHA-256 (high-entropy keys need no slow hash);
 * its first characters are kept to tell keys apart in listings. A key is revoked by stamping
 * `revoked_at` (rotation, an operator's revocation). Verified keys are remembered for
 * `rememberMillis` (1 s) so the hot path doesn't query the database per request: the process
 * that revokes a key forgets it at once, every other process refuses it at most 1 s later —
 * the bound is this cache, nothing else (no revocation marker to lose with Redis).
 */
import { SqlClient } from "effect/sql"
import { hash as digest, randomBytes } from "node:crypto"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { orDie, uninterruptibleSql } from "./internal/sql.js"
import { isUuid } from "./internal/ids.js"

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

/** A customer whose keys an operator revoked or replaced, and how many keys were live. */
export interface KeysRevoked {
  readonly customer: Customer
  readonly revoked: number
}

export interface AccessService {
  readonly createCustomer: (name: string, email?: string) => Effect.Effect<{ readonly customer: Customer; readonly apiKey: Redacted.Redacted<string> }>
  readonly listCustomers: Effect.Effect<ReadonlyArray<Customer>>
  /** A new key for a customer or seller; with `rotate`, the owner's other keys are revoked. */
  readonly issueKey: (principal: Principal, options?: { readonly rotate?: boolean }) => Effect.Effect<Redacted.Redacted<string>>
  /**
   * Revokes every live key of a customer: none of them signs in again (in this process at once,
   * in the others within `rememberMillis`). The customer and its requests stay.
   */
  readonly revokeCustomerKeys: (customerId: string) => Effect.Effect<KeysRevoked, CustomerNotFound>
  /** A new key for a customer, every earlier one revoked (an operator replacing a leaked key). */
  readonly replaceCustomerKey: (customerId: string) => Effect.Effect<KeysRevoked & { readonly apiKey: Redacted.Redacted<string> }, CustomerNotFound>
  readonly authenticate: (key: Redacted.Redacted<string>) => Effect.Effect<Option.Option<Principal>>
  /**
   * What `authenticate` would answer from what this process remembers, without a query:
   * `undefined` when it would have to ask the database (an unknown, expired or odd-shaped key).
   * For hot paths that must not wait; the same bound on revocation holds.
   */
  readonly peek: (key: string) => Option.Option<Principal> | undefined
}

export class Access extends Context.Service<Access, AccessService>()("@bookbroker/engine/Access") {}

/** A key as stored and cached: its SHA-256 (one-shot `crypto.hash`: a third of a `createHash` round, and this runs on every request). */
const hash = (key: string) => digest("sha256", key, "hex")
const prefixes = { customer: "bb_cus_", seller: "bb_sel_" } as const
/** A key as issued: a prefix and 32 random bytes in base64url (43 characters). */
const keyShape = /^bb_(?:cus|sel)_[A-Za-z0-9_-]{43}$/
/** How long a verified (or unknown) key is remembered: how long another process may still accept a revoked key. */
export const rememberMillis = 1_000

/**
 * The memory's span for this engine: `rememberMillis` unless a test needs a key remembered for
 * longer than its steps take on a busy machine (the fast intake lane's tests: a key this process
 * no longer remembers goes to the router, which is right, but not what they compare).
 */
export const RememberMillis = Context.Reference<number>("@bookbroker/engine/Access/RememberMillis", { defaultValue: () => rememberMillis })

type CustomerRow = { id: string; name: string; email: string | null; created_at: Date }
const customerFromRow = (row: CustomerRow): Customer => ({ id: row.id, name: row.name, email: row.email, createdAt: row.created_at })

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const remember = yield* RememberMillis
  const remembered = new Map<string, { readonly principal: Option.Option<Principal>; readonly until: number }>()

  /** This process forgets the owner's keys at once (the others within `rememberMillis`). */
  const forget = (principal: Principal) => {
    for (const [digest, known] of remembered) {
      if (Option.isSome(known.principal) && known.principal.value.kind === principal.kind && known.principal.value.id === principal.id) remembered.delete(digest)
    }
  }

  const revokeAll = (principal: Principal) =>
    Effect.map(
      sql<{ id: string }>`
        UPDATE api_keys SET revoked_at = now() WHERE kind = ${principal.kind} AND owner_id = ${principal.id} AND revoked_at IS NULL RETURNING id`,
      (rows) => rows.length
    )

  const insertKey = (principal: Principal) =>
    Effect.gen(function* () {
      const key = `${prefixes[principal.kind]}${randomBytes(32).toString("base64url")}`
      yield* sql`
        INSERT INTO api_keys (kind, owner_id, key_hash, key_prefix)
        VALUES (${principal.kind}, ${principal.id}, ${hash(key)}, ${key.slice(0, 12)})`
      return Redacted.make(key)
    })

  const issueKey = (principal: Principal, options: { readonly rotate?: boolean } = {}) =>
    orDie(
      sql.withTransaction(
        Effect.gen(function* () {
          if (options.rotate === true) yield* revokeAll(principal)
          return yield* insertKey(principal)
        })
      )
    ).pipe(
      Effect.tap(() => Effect.sync(() => options.rotate === true && forget(principal))),
      Effect.withSpan("Access.issueKey", { attributes: { "principal.kind": principal.kind } })
    )

  /** The customer, locked for the change (so two revocations or replacements queue up), or `CustomerNotFound`. */
  const lockCustomer = (id: string) =>
    Effect.gen(function* () {
      if (!isUuid(id)) return yield* new CustomerNotFound({ id })
      const [row] = yield* sql<CustomerRow>`SELECT * FROM customers WHERE id = ${id} FOR UPDATE`
      if (row === undefined) return yield* new CustomerNotFound({ id })
      return customerFromRow(row)
    })

  const service: AccessService = {
    createCustomer: (name, email) =>
      orDie(
        Effect.gen(function* () {
          const [row] = yield* sql<CustomerRow>`INSERT INTO customers (name, email) VALUES (${name}, ${email ?? null}) RETURNING *`
          const customer = customerFromRow(row!)
          const apiKey = yield* issueKey({ kind: "customer", id: customer.id })
          return { customer, apiKey }
        })
      ).pipe(Effect.withSpan("Access.createCustomer")),

    listCustomers: orDie(sql<CustomerRow>`SELECT * FROM customers ORDER BY created_at`).pipe(
      Effect.map((rows) => rows.map(customerFromRow)),
      Effect.withSpan("Access.listCustomers")
    ),

    issueKey,

    revokeCustomerKeys: (customerId) =>
      orDie(
        sql.withTransaction(
          Effect.gen(function* () {
            const customer = yield* lockCustomer(customerId)
            return { customer, revoked: yield* revokeAll({ kind: "customer", id: customer.id }) }
          })
        )
      ).pipe(
        Effect.tap(({ customer }) => Effect.sync(() => forget({ kind: "customer", id: customer.id }))),
        Effect.withSpan("Access.revokeCustomerKeys")
      ),

    replaceCustomerKey: (customerId) =>
      orDie(
        sql.withTransaction(
          Effect.gen(function* () {
            const customer = yield* lockCustomer(customerId)
            const revoked = yield* revokeAll({ kind: "customer", id: customer.id })
            return { customer, revoked, apiKey: yield* insertKey({ kind: "customer", id: customer.id }) }
          })
        )
      ).pipe(
        Effect.tap(({ customer }) => Effect.sync(() => forget({ kind: "customer", id: customer.id }))),
        Effect.withSpan("Access.replaceCustomerKey")
      ),

    peek: (plain) => {
      if (!keyShape.test(plain)) return undefined
      const known = remembered.get(hash(plain))
      return known !== undefined && known.until > Date.now() ? known.principal : undefined
    },

    authenticate: (key) =>
      Effect.gen(function* () {
        const plain = Redacted.value(key)
        // Only a key of the shape bookbroker issues is looked up: anything else costs no query.
        if (!keyShape.test(plain)) return Option.none()
        const digest = hash(plain)
        const now = Date.now()
        const known = remembered.get(digest)
        if (known !== undefined && known.until > now) return known.principal
        const rows = yield* uninterruptibleSql(sql<{ kind: Principal["kind"]; owner_id: string }>`
          SELECT kind, owner_id FROM api_keys WHERE key_hash = ${digest} AND revoked_at IS NULL`)
        const principal = rows[0] === undefined ? Option.none<Principal>() : Option.some({ kind: rows[0].kind, id: rows[0].owner_id })
        if (remembered.size > 100_000) remembered.clear()
        remembered.set(digest, { principal, until: now + remember })
        return principal
      }).pipe(
        // Every request signs in: no call-site stack (an Error built per request).
        Effect.withSpan("Access.authenticate", undefined, { captureStackTrace: false })
      )
  }
  return service
})

export const layer: Layer.Layer<Access, never, SqlClient.SqlClient> = Layer.effect(Access, make)
