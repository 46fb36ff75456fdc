import { SqlError } from "effect/sql"
import { PgTypes } from "@effect/sql-pg"
import { Array as Arr, Effect, Result } from "effect"

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

/**
 * `orDie` for statements a caller may abandon (an HTTP client hanging up interrupts its request):
 * they run to the end instead. @effect/sql-pg answers an interrupted query with
 * `pg_cancel_backend`, and a cancel that arrives just after the query finished cancels the next
 * statement that pooled connection runs — another request's, or a whole intake batch. Only for
 * plain statements: an `Effect.timeout` inside would wait for them too.
 */
export const uninterruptibleSql = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError.SqlError>, R> =>
  Effect.uninterruptible(orDie(effect))

/** Rows for `sql.insert`, which takes a non-empty list: callers return early when there are none. */
export const nonEmptyRows = <A>(rows: ReadonlyArray<A>): Arr.NonEmptyReadonlyArray<A> => {
  if (!Arr.isReadonlyArrayNonEmpty(rows)) throw new Error("an INSERT needs at least one row")
  return rows
}

/**
 * An array parameter for `unnest(...)` batches, sent as `text[]` and cast in the statement
 * (`${textArray(values)}::int8[]`): @effect/sql-pg infers an array's type from its elements and
 * cannot when every element is null (a column no row of the batch has).
 */
export const textArray = (values: ReadonlyArray<string | number | null>): PgTypes.Parameter =>
  Result.getOrThrow(PgTypes.array(values.map((value) => (value === null ? null : String(value))), PgTypes.OID.text))
