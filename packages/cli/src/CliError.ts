/**
 * A user error: something the person at the terminal can fix (a bad flag, a server that isn't
 * running). Printed as one line with a hint and exit code 1 — never a stack trace. Anything
 * else is a bug and is reported as such.
 */
import { Effect, Schema } from "effect"

export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  message: Schema.String,
  hint: Schema.optionalKey(Schema.String),
  exitCode: Schema.Int.pipe(Schema.withConstructorDefault(Effect.succeed(1)))
}) {}

export const fail = (message: string, hint?: string) => new CliError({ message, ...(hint === undefined ? {} : { hint }) })
