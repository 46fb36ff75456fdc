/**
 * Whether this process can do its work: PostgreSQL answering is required (without it nothing
 * is accepted or bought), the shared state only reported — Redis away is `degraded`, not
 * unready, because the engine falls back to in-process limits (`SharedState.ping`). For the
 * server's `/readyz` and anything else that asks before sending traffic.
 */
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer } from "effect"
import { SharedState } from "../state/SharedState.js"

export interface ReadinessReport {
  /** `ok`, or why PostgreSQL did not answer within `answerWithin`. */
  readonly database: "ok" | { readonly unreachable: string }
  readonly sharedState: "ok" | "degraded"
}

export interface ReadinessService {
  /** Asks PostgreSQL and the shared state at once; never fails. */
  readonly check: Effect.Effect<ReadinessReport>
}

export class Readiness extends Context.Service<Readiness, ReadinessService>()("@bookbroker/engine/Readiness") {}

/** How long the database has to answer before it counts as unreachable. */
export const answerWithin = "2 seconds"

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const state = yield* SharedState

  const database = sql`SELECT 1`.pipe(
    Effect.timeout(answerWithin),
    Effect.as("ok" as const),
    Effect.catch((error) => Effect.succeed({ unreachable: String(error) }))
  )

  const service: ReadinessService = {
    check: Effect.all([database, state.ping], { concurrency: 2 }).pipe(
      Effect.map(([database, sharedState]): ReadinessReport => ({ database, sharedState })),
      Effect.withSpan("Readiness.check")
    )
  }
  return service
})

export const layer: Layer.Layer<Readiness, never, SqlClient.SqlClient | SharedState> = Layer.effect(Readiness, make)
