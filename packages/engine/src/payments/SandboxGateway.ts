/**
 * The sandbox payment gateway of the embedded default: a ledger in PostgreSQL that behaves like
 * a real processor — idempotency keys replay the first outcome (and refuse reuse with other
 * parameters), captures never exceed the authorization, voids and captures are final — with
 * test tokens for every outcome:
 *
 * | token | authorize |
 * | --- | --- |
 * | `tok_approve`, `tok_visa` | approved |
 * | `tok_decline` | declined (generic_decline) |
 * | `tok_insufficient_funds` | declined (insufficient_funds) |
 * | `tok_unavailable` | provider unavailable, nothing recorded |
 * | `tok_lost_response` | approved, but the first answer is lost (PaymentUnavailable); a replay of the key answers |
 * | `tok_decline_later` | approved the first time for a request, declined (expired_card) after that: a saved card that expired while a want watched |
 *
 * Fault switches (`SandboxFaults`) let tests and the chaos suite fail any operation.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Effect, Layer, Schema } from "effect"
import { AmountColumn, CurrencyColumn, decodeColumns } from "../internal/pgTypes.js"
import { orDie } from "../internal/sql.js"
import {
  PaymentDeclined,
  PaymentGateway,
  type PaymentGatewayService,
  type PaymentRecord,
  PaymentRejected,
  PaymentUnavailable
} from "./PaymentGateway.js"

type Kind = "authorize" | "capture" | "void" | "refund"

/** Makes the next operations of a kind fail: before anything is recorded, or after (a lost answer). */
export class SandboxFaults {
  private readonly pending: Array<{ kind: Kind; fault: "unavailable" | "lost_response"; remaining: number }> = []
  inject(kind: Kind, fault: "unavailable" | "lost_response", times = 1): void {
    this.pending.push({ kind, fault, remaining: times })
  }
  take(kind: Kind): "unavailable" | "lost_response" | undefined {
    const index = this.pending.findIndex((entry) => entry.kind === kind)
    if (index < 0) return undefined
    const entry = this.pending[index]!
    entry.remaining -= 1
    if (entry.remaining <= 0) this.pending.splice(index, 1)
    return entry.fault
  }
}

type Outcome =
  | { readonly ok: true; readonly providerRef?: string }
  | { readonly ok: false; readonly declined?: string; readonly rejected?: string; readonly authorizationEnded?: boolean }

interface PaymentRow {
  readonly id: string
  readonly request_id: string
  readonly currency: string
  /** Minor units of `currency` (decoded once as the row is read: `paymentRows`). */
  readonly authorized: number
  readonly captured: number
  readonly refunded: number
  readonly status: PaymentRecord["status"]
}
const paymentRow = decodeColumns(Schema.Struct({ authorized: AmountColumn, captured: AmountColumn, refunded: AmountColumn, currency: CurrencyColumn }))
/** The ledger's rows as PostgreSQL sends them (int8 as strings), decoded. */
const paymentRows = (rows: ReadonlyArray<Record<string, unknown>>): Array<PaymentRow> => rows.map((row) => paymentRow<PaymentRow>(row))

export interface SandboxOptions {
  readonly faults?: SandboxFaults
  /** Report authorizations as lapsing after this long, like a real provider (the sandbox itself never lets one lapse). */
  readonly authorizationLifetimeMillis?: number
}

/** What every sandbox operation works with. */
interface SandboxContext {
  readonly sql: SqlClient.SqlClient
  readonly faults: SandboxFaults
  /** Keys already answered once (tok_lost_response loses only the first answer). */
  readonly answered: Set<string>
}

/**
 * Runs one operation under its idempotency key in one transaction: a replay returns the
 * recorded outcome; the same key with other parameters is refused.
 */
const operation = (ctx: SandboxContext, kind: Kind, key: string, fingerprint: string, apply: () => Effect.Effect<Outcome>) =>
  Effect.gen(function* () {
    const fault = ctx.faults.take(kind)
    if (fault === "unavailable") return yield* new PaymentUnavailable({ operation: kind, detail: "sandbox fault: unavailable" })
    const outcome = yield* orDie(
      ctx.sql.withTransaction(
        Effect.gen(function* () {
          const inserted = yield* ctx.sql<{ idempotency_key: string }>`
            INSERT INTO sandbox_operations (idempotency_key, kind, fingerprint, outcome)
            VALUES (${key}, ${kind}, ${fingerprint}, '{}'::jsonb)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING idempotency_key`
          if (inserted.length === 0) {
            const [previous] = yield* ctx.sql<{ kind: string; fingerprint: string; outcome: Outcome }>`
              SELECT kind, fingerprint, outcome FROM sandbox_operations WHERE idempotency_key = ${key} FOR UPDATE`
            if (previous!.kind !== kind || previous!.fingerprint !== fingerprint) {
              return { ok: false, rejected: `idempotency key ${key} was used with other parameters` } satisfies Outcome
            }
            return previous!.outcome
          }
          const result = yield* apply()
          yield* ctx.sql`UPDATE sandbox_operations SET outcome = ${JSON.stringify(result)}::jsonb WHERE idempotency_key = ${key}`
          return result
        })
      )
    )
    if (fault === "lost_response") return yield* new PaymentUnavailable({ operation: kind, detail: "sandbox fault: the answer was lost" })
    return outcome
  })

const fail = (kind: Kind, outcome: Outcome): Effect.Effect<void, PaymentRejected> =>
  outcome.ok
    ? Effect.void
    : Effect.fail(new PaymentRejected({ operation: kind, detail: outcome.rejected ?? "refused", ...(outcome.authorizationEnded === true ? { authorizationEnded: true } : {}) }))
const failAuthorize = (outcome: Outcome): Effect.Effect<void, PaymentDeclined | PaymentRejected> =>
  !outcome.ok && outcome.declined !== undefined
    ? Effect.fail(new PaymentDeclined({ reason: outcome.declined, detail: `sandbox declined the payment (${outcome.declined})` }))
    : fail("authorize", outcome)

const payment = (ctx: SandboxContext, ref: string) =>
  Effect.map(ctx.sql<Record<string, unknown>>`SELECT * FROM sandbox_payments WHERE id = ${ref} FOR UPDATE`, paymentRows)

/** Whether this key was already answered once (tok_lost_response loses only the first answer). */
const seen = (ctx: SandboxContext, key: string) =>
  Effect.sync(() => {
    if (ctx.answered.has(key)) return true
    ctx.answered.add(key)
    return false
  })


const authorize = (ctx: SandboxContext): PaymentGatewayService["authorize"] => (request) =>
    Effect.gen(function* () {
      const token = request.paymentToken
      if (token === "tok_unavailable") return yield* new PaymentUnavailable({ operation: "authorize", detail: "sandbox token tok_unavailable" })
      const fingerprint = `${request.requestId}|${request.amount.amount}|${request.amount.currency}|${token}`
      const outcome = yield* operation(ctx, "authorize", request.idempotencyKey, fingerprint, () =>
        Effect.gen(function* () {
          const [before] =
            token === "tok_decline_later" ? yield* ctx.sql`SELECT 1 FROM sandbox_payments WHERE request_id = ${request.requestId} LIMIT 1` : []
          const declined =
            token === "tok_decline" ? "generic_decline" : token === "tok_insufficient_funds" ? "insufficient_funds" : before !== undefined ? "expired_card" : undefined
          const approved = token === "tok_approve" || token === "tok_visa" || token === "tok_lost_response" || (token === "tok_decline_later" && before === undefined)
          const id = `sbx_${randomUUID().replaceAll("-", "")}`
          const status = approved ? "authorized" : "declined"
          yield* ctx.sql`
            INSERT INTO sandbox_payments (id, request_id, token, currency, authorized, status)
            VALUES (${id}, ${request.requestId}, ${token}, ${request.amount.currency}, ${request.amount.amount}, ${status})`
          if (approved) return { ok: true, providerRef: id } satisfies Outcome
          return { ok: false, declined: declined ?? "invalid_payment_method" } satisfies Outcome
        }).pipe(orDie)
      )
      if (token === "tok_lost_response" && !(yield* seen(ctx, request.idempotencyKey))) {
        return yield* new PaymentUnavailable({ operation: "authorize", detail: "sandbox token tok_lost_response: the first answer is lost" })
      }
      yield* failAuthorize(outcome)
      return { providerRef: (outcome as { providerRef: string }).providerRef, amount: request.amount }
    }).pipe(Effect.withSpan("SandboxGateway.authorize", { attributes: { "purchase.request_id": request.requestId } }))

const capture = (ctx: SandboxContext): PaymentGatewayService["capture"] => (request) =>
    operation(ctx, "capture", request.idempotencyKey, `${request.providerRef}|${request.amount.amount}`, () =>
      orDie(
        Effect.gen(function* () {
          const [row] = yield* payment(ctx, request.providerRef)
          if (row === undefined) return { ok: false, rejected: `no payment ${request.providerRef}` } satisfies Outcome
          if (row.status === "voided") return { ok: false, rejected: `payment ${row.id} is voided: nothing left to capture`, authorizationEnded: true } satisfies Outcome
          if (row.status !== "authorized") return { ok: false, rejected: `payment ${row.id} is ${row.status}, not authorized` } satisfies Outcome
          if (request.amount.amount > row.authorized) {
            return { ok: false, rejected: `capture of ${request.amount.amount} exceeds the authorized ${row.authorized}` } satisfies Outcome
          }
          yield* ctx.sql`UPDATE sandbox_payments SET status = 'captured', captured = ${request.amount.amount}, updated_at = now() WHERE id = ${row.id}`
          return { ok: true } satisfies Outcome
        })
      )
    ).pipe(Effect.flatMap((outcome) => fail("capture", outcome)), Effect.withSpan("SandboxGateway.capture"))

const voidPayment = (ctx: SandboxContext): PaymentGatewayService["void"] => (request) =>
    operation(ctx, "void", request.idempotencyKey, request.providerRef, () =>
      orDie(
        Effect.gen(function* () {
          const [row] = yield* payment(ctx, request.providerRef)
          if (row === undefined) return { ok: false, rejected: `no payment ${request.providerRef}` } satisfies Outcome
          if (row.status === "voided") return { ok: true } satisfies Outcome
          if (row.status !== "authorized") return { ok: false, rejected: `payment ${row.id} is ${row.status}; only an authorization can be voided` } satisfies Outcome
          yield* ctx.sql`UPDATE sandbox_payments SET status = 'voided', updated_at = now() WHERE id = ${row.id}`
          return { ok: true } satisfies Outcome
        })
      )
    ).pipe(Effect.flatMap((outcome) => fail("void", outcome)), Effect.withSpan("SandboxGateway.void"))

const refund = (ctx: SandboxContext): PaymentGatewayService["refund"] => (request) =>
    operation(ctx, "refund", request.idempotencyKey, `${request.providerRef}|${request.amount.amount}`, () =>
      orDie(
        Effect.gen(function* () {
          const [row] = yield* payment(ctx, request.providerRef)
          if (row === undefined || row.status !== "captured") return { ok: false, rejected: `payment ${request.providerRef} is not captured` } satisfies Outcome
          if (request.amount.amount > row.captured - row.refunded) {
            return { ok: false, rejected: `refund of ${request.amount.amount} exceeds what is left to refund` } satisfies Outcome
          }
          const refunded = row.refunded + request.amount.amount
          yield* ctx.sql`
            UPDATE sandbox_payments SET refunded = ${refunded}, status = ${refunded === row.captured ? "refunded" : "captured"}, updated_at = now()
            WHERE id = ${row.id}`
          return { ok: true } satisfies Outcome
        })
      )
    ).pipe(Effect.flatMap((outcome) => fail("refund", outcome)), Effect.withSpan("SandboxGateway.refund"))

const lookup = (ctx: SandboxContext): PaymentGatewayService["lookup"] => (requestId) =>
    orDie(ctx.sql<Record<string, unknown>>`SELECT * FROM sandbox_payments WHERE request_id = ${requestId} ORDER BY created_at`).pipe(
      Effect.map((rows) =>
        paymentRows(rows).map(
          (row): PaymentRecord => ({
            providerRef: row.id,
            requestId: row.request_id,
            status: row.status,
            authorized: Money.make(row.authorized, row.currency),
            captured: Money.make(row.captured, row.currency)
          })
        )
      ),
      Effect.withSpan("SandboxGateway.lookup")
    )

export const make = (options: SandboxOptions = {}) =>
  Effect.gen(function* () {
    const ctx: SandboxContext = { sql: yield* SqlClient.SqlClient, faults: options.faults ?? new SandboxFaults(), answered: new Set<string>() }
    return {
      name: "sandbox",
      ...(options.authorizationLifetimeMillis === undefined ? {} : { authorizationLifetimeMillis: options.authorizationLifetimeMillis }),
      authorize: authorize(ctx),
      capture: capture(ctx),
      void: voidPayment(ctx),
      refund: refund(ctx),
      lookup: lookup(ctx)
    } satisfies PaymentGatewayService
  })

export const layer = (options: SandboxOptions = {}): Layer.Layer<PaymentGateway, never, SqlClient.SqlClient> =>
  Layer.effect(PaymentGateway, make(options))
