/**
 * What a failed decode says, as text a person reads (it names the field and what was wrong):
 * Effect's `SchemaError` message, or the failure itself when something else failed.
 */
import { Cause, type Exit } from "effect"

export const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** The message of a failed `decode*Exit`. */
export const ofExit = (exit: Exit.Failure<unknown, unknown>): string => describe(Cause.squash(exit.cause))
