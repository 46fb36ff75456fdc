/**
 * Backpressure at the door. The sellers' combined budget, not bookbroker, decides how fast
 * requests can be answered; when requests arrive faster than that, the backlog (requests accepted
 * and not yet finished) grows. Intake says how deep it is and how long it should take (every 202
 * carries the depth and an estimate), and refuses once the backlog is more than can be answered
 * within a request's answer time at the pace measured over the last minute (never more than
 * `maxBacklog`) — but only customers at or above their fair share of it (that limit over the
 * customers with requests in flight): one customer's flood fills the backlog, another customer
 * still gets in. Until there is a pace to measure, only `maxBacklog` applies: a load that starts
 * from idle is measured once it has run 10 s, and over the time it has run (`pace`), not over a
 * minute it has not run yet.
 *
 * The counts come from PostgreSQL every `refreshMillis` (shared by every API process), plus what
 * this process accepted since; `admit` is a decision on those numbers, with no statement of its own.
 */
import type { SqlClient } from "effect/sql"
import { Effect, type Scope } from "effect"
import { activeStatuses } from "./store/PurchaseStore.js"

export interface BacklogOptions {
  /** Requests in flight beyond which customers at their fair share are refused. Default 10,000. */
  readonly maxBacklog?: number
  /** How often the counts are read. Default 500 ms. */
  readonly refreshMillis?: number
  /** The least backlog the measured pace may shrink the limit to (a slow minute is not a verdict). Default 64. */
  readonly minBacklog?: number
}

export type Admission =
  | { readonly _tag: "Admitted"; readonly depth: number; readonly etaSeconds: number | null }
  | { readonly _tag: "Refused"; readonly depth: number; readonly retryAfterSeconds: number; readonly share: number }

export interface Counts {
  readonly total: number
  readonly byCustomer: ReadonlyMap<string, number>
  /** Requests finished per second over the last minute. */
  readonly completedPerSecond: number
}

export interface Limits {
  readonly maxBacklog: number
  readonly minBacklog: number
  /** The request's answer time: a backlog that takes longer than this to clear answers it too late. */
  readonly answerWithinSeconds: number
}

/** The window the pace is measured over, and how much of it must have passed for a pace to be measured. */
const paceWindowSeconds = 60
const minPaceSeconds = 10

/**
 * Requests finished per second, from the `completed` answers of the last minute and how long ago
 * the first of them came (`spanSeconds`): over the minute, or over the time since that first
 * answer when the answers began later. Under `minPaceSeconds` of answers there is no pace yet
 * (0): a load that starts from idle, its first answers slowed by a cold start, is not judged by
 * its first second. Pure, tested alone.
 *
 * @example
 * pace(400, 20) // 20: a load that started 20 s ago, not 6.7 as if it had run a minute
 * pace(40, 0.8) // 0: too soon to tell
 */
export const pace = (completed: number, spanSeconds: number): number =>
  completed === 0 || spanSeconds < minPaceSeconds ? 0 : completed / Math.min(paceWindowSeconds, spanSeconds)

/** The decision, on the counts: pure, tested alone. */
export const decide = (counts: Counts, customerId: string, limits: Limits): Admission => {
  const mine = counts.byCustomer.get(customerId) ?? 0
  const customers = counts.byCustomer.size + (mine === 0 ? 1 : 0)
  const eta = (depth: number) => (counts.completedPerSecond > 0 ? Math.ceil(depth / counts.completedPerSecond) : null)
  // What can be answered within the answer time at the measured pace.
  const answerable = counts.completedPerSecond > 0 ? Math.max(limits.minBacklog, Math.floor(counts.completedPerSecond * limits.answerWithinSeconds)) : limits.maxBacklog
  const limit = Math.min(limits.maxBacklog, answerable)
  const share = Math.max(1, Math.floor(limit / customers))
  if (counts.total >= limit && mine >= share) {
    // When would this customer be back under its share, at the current pace?
    const excess = mine - share + 1
    const retryAfterSeconds = Math.min(3_600, Math.max(1, eta(excess * Math.max(1, customers)) ?? 30))
    return { _tag: "Refused", depth: counts.total, retryAfterSeconds, share }
  }
  return { _tag: "Admitted", depth: counts.total + 1, etaSeconds: eta(counts.total + 1) }
}

export interface Backlog {
  /** A decision on the counts this process holds (no statement of its own, so no effect: intake calls it in line). */
  readonly admit: (customerId: string, answerWithinMillis: number) => Admission
}

export const make = (sql: SqlClient.SqlClient, options: BacklogOptions = {}): Effect.Effect<Backlog, never, Scope.Scope> =>
  Effect.gen(function* () {
    const maxBacklog = options.maxBacklog ?? 10_000
    const minBacklog = options.minBacklog ?? 64
    const refreshMillis = options.refreshMillis ?? 500
    let counts: { total: number; byCustomer: Map<string, number>; completedPerSecond: number } = { total: 0, byCustomer: new Map(), completedPerSecond: 0 }

    const read = Effect.gen(function* () {
      const rows = yield* sql<{ customer_id: string; n: number }>`
        SELECT customer_id, count(*)::int AS n FROM purchase_requests WHERE status IN ${sql.in(activeStatuses)} GROUP BY customer_id`
      const [done] = yield* sql<{ n: number; span: number }>`
        SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(completed_at)), 0)::float8 AS span
        FROM purchase_requests WHERE completed_at > now() - make_interval(secs => ${paceWindowSeconds})`
      counts = {
        total: rows.reduce((sum, row) => sum + row.n, 0),
        byCustomer: new Map(rows.map((row) => [row.customer_id, row.n])),
        completedPerSecond: pace(done?.n ?? 0, done?.span ?? 0)
      }
    })
    yield* Effect.ignore(read)
    yield* Effect.forkScoped(
      Effect.forever(Effect.andThen(Effect.sleep(refreshMillis), read.pipe(Effect.catchCause((cause) => Effect.logWarning("backlog counts not refreshed", cause)))))
    )

    return {
      admit: (customerId, answerWithinMillis) => {
        const decision = decide(counts, customerId, { maxBacklog, minBacklog, answerWithinSeconds: answerWithinMillis / 1_000 })
        if (decision._tag === "Admitted") {
          // Until the next read, this process counts what it let in.
          counts.total += 1
          counts.byCustomer.set(customerId, (counts.byCustomer.get(customerId) ?? 0) + 1)
        }
        return decision
      }
    }
  })
