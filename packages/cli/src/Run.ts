/**
 * How a command's effect ends: a user error (`CliError`) is one line and a hint on stderr with
 * its exit code (1 unless it says otherwise); anything else is a bug, exit code 70.
 */
import { Cause, Effect, Exit, Option } from "effect"
import { CliError } from "./CliError.js"

export const bugExitCode = 70

const userError = (cause: Cause.Cause<CliError>): CliError | undefined => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return failure.value
  // Synchronous helpers (config reading) throw CliError; they are still user errors.
  const defect = Cause.findDefect(cause)
  return defect._tag === "Success" && defect.success instanceof CliError ? defect.success : undefined
}

const report = (error: CliError): never => {
  process.stderr.write(`error: ${error.message}\n${error.hint === undefined ? "" : `hint: ${error.hint}\n`}`)
  process.exit(error.exitCode)
}

/** Runs a command's effect; never returns on failure. */
export const run = async <A>(effect: Effect.Effect<A, CliError>): Promise<A> => {
  const exit = await Effect.runPromiseExit(Effect.suspend(() => effect))
  if (Exit.isSuccess(exit)) return exit.value
  const error = userError(exit.cause)
  if (error !== undefined) return report(error)
  if (Cause.hasInterruptsOnly(exit.cause)) process.exit(130)
  process.stderr.write(`bookbroker crashed (this is a bug):\n${Cause.pretty(exit.cause)}\n`)
  process.exit(bugExitCode)
}

/** Wraps a commander action so a thrown CliError (flag parsing, config) is a user error too. */
export const action =
  <Args extends Array<unknown>>(handler: (...args: Args) => Promise<void> | void) =>
  async (...args: Args): Promise<void> => {
    try {
      await handler(...args)
    } catch (error) {
      if (error instanceof CliError) report(error)
      throw error
    }
  }
