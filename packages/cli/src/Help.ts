/**
 * Help-text helpers every command may use. Free of the UI (ink, React) and the engine, so that
 * commands load them without loading either.
 */

/** The `--help` footer with examples. */
export const examples = (...lines: ReadonlyArray<string>) => `\nExamples:\n${lines.map((line) => `  ${line}`).join("\n")}\n`

/** Collects a repeatable option into an array. */
export const collect = (value: string, previous: ReadonlyArray<string> = []): ReadonlyArray<string> => [...previous, value]
