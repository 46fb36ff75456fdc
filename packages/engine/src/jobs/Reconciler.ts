/**
 * Checks that what bookbroker recorded about money agrees with what happened: its payment
 * operations against its seller orders (purchase attempts), and against the payment provider's
 * own records (`PaymentGateway.lookup`). The pipeline is built so these always agree; the
 * reconciler is the independent check for crashes, bugs, provider surprises and hand edits.
 *
 * It fixes only what is safe without a person — recording an outcome the provider already
 * decided (a capture it made, an authorization it voided), and voiding an authorization nobody
 * will capture (finished without a purchase, no order, no capture) with the pipeline's own key —
 * and flags the rest, one row per request and kind in `reconciliation_findings`:
 *
 * | kind | means | fixed automatically |
 * | --- | --- | --- |
 * | `duplicate_orders` | more than one confirmed seller order for one request | never |
 * | `authorization_left_open` | a live authorization on a finished request | voided, unless purchased or an order/capture exists |
 * | `provider_mismatch` | the provider's records disagree with ours | when the provider's record is the final word and safe to adopt |
 * | `capture_without_order` | money captured, no confirmed order | never (refund or find the order) |
 * | `order_without_capture` | a confirmed order on a finished request that is not purchased, or never captured | never (capture or cancel) |
 * | `captured_above_authorized` | a capture above its authorization (ours or the provider's) | never |
 * | `seller_order_unknown` | a seller holds an order under one of our keys that bookbroker never confirmed | never (the finding says the repair: cancel at the seller, or capture while the authorization lives) |
 *
 * The pipeline itself adds findings a person must settle: `attempt_unresolved` (a purchase with
 * no authoritative answer past its deadline), `order_above_agreed_price` and
 * `order_currency_mismatch` (a seller confirmed other terms than it held or quoted).
 *
 * Every finished request is compared with the provider once, in the order requests finished,
 * from a cursor stored in `reconciler_cursors` (a request the provider could not be asked about,
 * or that someone held, stops the pass there and is the first one next time). Every attempt that
 * was sent and did not end in a confirmed order is checked with the seller once (`lookupOrder`,
 * for sellers that have it), after `settleMillis`.
 *
 * Only finished requests nobody holds a lease on are looked at (in-flight ones are the
 * pipeline's, which resolves them itself), and the reconciler takes the lease while it fixes
 * one, so it never races a worker or the sweeper. A later run updates a finding's detail and
 * `fixed`; a finding whose condition is gone — the authorization no longer live, no purchase
 * waiting for an answer any more — is closed with a note saying so
 * (`reconciler/findingsResolved.ts`); any other finding a person resolved is theirs to mark fixed.
 *
 * Each check has a file of its own in `reconciler/`, its rule pure and testable without a
 * database where it decides anything: `RecordChecks.ts` (our records against each other),
 * `OpenAuthorizations.ts` (`judge`), `ProviderComparison.ts` (`compare`), `SellerOrders.ts`
 * (`unknownOrder`); `FindingSet.ts` gathers one finding per request and kind.
 */
import type { SqlClient, SqlError } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Context, Effect, Layer } from "effect"
import { makeRepairContext } from "./paymentRepair.js"
import * as FindingsResolved from "./reconciler/findingsResolved.js"
import { nonEmptyRows, orDie } from "../internal/sql.js"
import type { PaymentGateway } from "../payments/PaymentGateway.js"
import type { SellerDirectory } from "../sellers/SellerDirectory.js"
import type { SellerPool } from "../sellers/SellerPool.js"
import type { SharedState } from "../state/SharedState.js"
import * as FindingSet from "./reconciler/FindingSet.js"
import type { FindingKind } from "./reconciler/FindingSet.js"
import { openAuthorizationsPass } from "./reconciler/OpenAuthorizations.js"
import { providerPass } from "./reconciler/ProviderComparison.js"
import type { ReconcilerContext } from "./reconciler/ReconcilerContext.js"
import { duplicateOrders, moneyWithoutOrders } from "./reconciler/RecordChecks.js"
import { sellerOrdersPass } from "./reconciler/SellerOrders.js"

export { FindingKind } from "./reconciler/FindingSet.js"

export interface Finding {
  readonly requestId: string
  readonly kind: FindingKind
  /** What was found and what, if anything, was done about it. */
  readonly detail: string
  /** True when the reconciler repaired it; false when a person has to look. */
  readonly fixed: boolean
  readonly foundAt: Date
}

export interface ReconcilerOptions {
  /** Requests finished within this window are checked against our own records. Default 30 days. */
  readonly windowMillis?: number
  /** Provider comparisons per run at most, oldest finished first from the stored cursor. Default 200. */
  readonly providerLimit?: number
  /** Seller order lookups per run at most. Default 200. */
  readonly sellerLimit?: number
  /**
   * How long after a request finished (an attempt was last sent) the provider (the seller) is
   * asked about it, so its own records have caught up. Default 2 min: above Stripe's search lag
   * ("under a minute" normally), which would otherwise show a fresh capture as missing.
   */
  readonly settleMillis?: number
  /** How long the reconciler holds a request while it compares and fixes it. Default 60 s. */
  readonly leaseMillis?: number
}

export interface FindingsFilter {
  /** Only findings a person still has to look at. */
  readonly unfixed?: boolean
  readonly requestId?: string
}

export interface RunningReconcilerOptions extends ReconcilerOptions {
  /** Pause between passes. Default 1 h. */
  readonly intervalMillis?: number
}

export interface ReconcilerService {
  /** One pass: checks, safe fixes, and the findings of this pass (stored). */
  readonly runOnce: Effect.Effect<ReadonlyArray<Finding>>
  /** A pass every `intervalMillis` until interrupted. */
  readonly run: Effect.Effect<never>
  /** Stored findings, oldest first. */
  readonly findings: (filter?: FindingsFilter) => Effect.Effect<ReadonlyArray<Finding>>
}

export class Reconciler extends Context.Service<Reconciler, ReconcilerService>()("@bookbroker/engine/Reconciler") {}

interface FindingRow {
  readonly request_id: string
  readonly kind: FindingKind
  readonly detail: string
  readonly fixed: boolean
  readonly found_at: Date
}

const toFinding = (row: FindingRow): Finding => ({ requestId: row.request_id, kind: row.kind, detail: row.detail, fixed: row.fixed, foundAt: row.found_at })

/** One pass: every check in turn (each in `reconciler/`), then the findings stored, closed ones closed, and reported. */
const runOnce = (ctx: ReconcilerContext): Effect.Effect<ReadonlyArray<Finding>> =>
  Effect.gen(function* () {
    const { sql } = ctx
    const found = FindingSet.make()
    yield* duplicateOrders(ctx, found.add)
    // Live authorizations of finished requests: void when nobody will capture them.
    yield* openAuthorizationsPass(ctx, found.add)
    // Our payment operations against the provider's records: every finished request once, from the cursor.
    yield* providerPass(ctx, found.add)
    // Attempts that were sent and not confirmed: does the seller hold an order under their key?
    yield* sellerOrdersPass(ctx, found.add)
    yield* moneyWithoutOrders(ctx, found.add)

    const collected = found.collected()
    const rows =
      collected.length === 0
        ? []
        : yield* sql<FindingRow>`
            INSERT INTO reconciliation_findings ${sql.insert(
              nonEmptyRows(collected.map((finding) => ({ request_id: finding.requestId, kind: finding.kind, detail: finding.detail, fixed: finding.fixed })))
            )}
            ON CONFLICT (request_id, kind) DO UPDATE SET detail = EXCLUDED.detail, fixed = EXCLUDED.fixed
            RETURNING request_id, kind, detail, fixed, found_at`
    const resolved = yield* FindingsResolved.close(sql)
    for (const finding of [...rows, ...resolved]) {
      yield* (finding.fixed ? Effect.logInfo : Effect.logWarning)(`reconciliation: ${finding.kind} on purchase request ${finding.request_id}: ${finding.detail}`)
    }
    // One finding per request and kind: a finding closed at the end of the run it was found in is reported closed.
    const latest = new Map([...rows, ...resolved].map((row) => [`${row.request_id}|${row.kind}`, row] as const))
    return [...latest.values()].map(toFinding)
  }).pipe(
    (effect: Effect.Effect<ReadonlyArray<Finding>, SqlError.SqlError>) => orDie(effect),
    Effect.withSpan("Reconciler.runOnce")
  )

export const make = (options: RunningReconcilerOptions = {}) =>
  Effect.gen(function* () {
    const ctx: ReconcilerContext = {
      ...(yield* makeRepairContext(`reconciler-${randomUUID().slice(0, 8)}`, options.leaseMillis ?? 60_000)),
      windowMillis: options.windowMillis ?? 30 * 24 * 60 * 60 * 1_000,
      providerLimit: options.providerLimit ?? 200,
      sellerLimit: options.sellerLimit ?? 200,
      settleMillis: options.settleMillis ?? 120_000
    }
    const { sql } = ctx

    const findings = (filter: FindingsFilter = {}) =>
      orDie(
        sql<FindingRow>`
          SELECT request_id, kind, detail, fixed, found_at FROM reconciliation_findings
          WHERE ${filter.unfixed === true ? sql`NOT fixed` : sql`TRUE`}
            AND ${filter.requestId === undefined ? sql`TRUE` : sql`request_id = ${filter.requestId}`}
          ORDER BY found_at, id`
      ).pipe(Effect.map((rows) => rows.map(toFinding)), Effect.withSpan("Reconciler.findings"))

    const once = runOnce(ctx)
    const run = Effect.gen(function* () {
      while (true) {
        yield* once.pipe(Effect.catchDefect((defect) => Effect.logError("reconciliation pass failed; trying again at the next interval", defect)))
        yield* Effect.sleep(options.intervalMillis ?? 60 * 60 * 1_000)
      }
    })

    return { runOnce: once, run: run as Effect.Effect<never>, findings } satisfies ReconcilerService
  })

type Requirements = SqlClient.SqlClient | PaymentGateway | SellerDirectory | SellerPool | SharedState

export const layer = (options: ReconcilerOptions = {}): Layer.Layer<Reconciler, never, Requirements> => Layer.effect(Reconciler, make(options))

/** Reconciles in the background, every `intervalMillis`, for as long as the layer lives. */
export const layerRunning = (options: RunningReconcilerOptions = {}): Layer.Layer<Reconciler, never, Requirements> =>
  Layer.effect(
    Reconciler,
    Effect.tap(make(options), (reconciler) => Effect.forkScoped(reconciler.run))
  )
