import { SqlError } from "@effect/sql"
import { Effect } from "effect"

/**
 * Database failures are infrastructure failures: callers can't fix them, so they become
 * defects (logged, traced, answered 500/503 at the edge), and typed errors stay business errors.
 */
export const orDie = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError.SqlError>, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, SqlError.SqlError> => error instanceof SqlError.SqlError,
    (error) => Effect.die(error)
  ) as Effect.Effect<A, Exclude<E, SqlError.SqlError>, R>
