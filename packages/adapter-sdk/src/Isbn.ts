/**
 * ISBNs at the edge: any ISBN-10 or ISBN-13, with or without hyphens or spaces, is validated
 * (checksum and registration group, via the `isbn3` library) and normalised to a plain ISBN-13.
 * Inside bookbroker an ISBN is always an {@link Isbn13}.
 */
import { Effect, Option, Schema, SchemaGetter, SchemaIssue } from "effect"
import ISBN from "isbn3"

/**
 * ISBN-13s already judged: `isbn3` checks the registration group by walking its range tables,
 * about 6 µs a call, and every quote a seller answers carries an ISBN. Judging a string is pure,
 * so verdicts are kept: two generations of at most `maxJudged` each, the older dropped when the
 * newer fills, so a verdict used again within the last `maxJudged` judgements is never lost to a
 * clear-out (a catalog larger than the map used to miss every time once it was full).
 */
let judged = new Map<string, boolean>()
let judgedBefore = new Map<string, boolean>()
const maxJudged = 50_000

const remember = (value: string, valid: boolean) => {
  if (judged.size >= maxJudged) {
    judgedBefore = judged
    judged = new Map()
  }
  judged.set(value, valid)
}

const isValidIsbn13 = (value: string): boolean => {
  if (!/^97[89]\d{10}$/.test(value)) return false
  const known = judged.get(value)
  if (known !== undefined) return known
  const before = judgedBefore.get(value)
  if (before !== undefined) {
    remember(value, before)
    return before
  }
  const valid = ISBN.parse(value) !== null
  remember(value, valid)
  return valid
}

/** A valid ISBN-13 of 13 digits, normalised (no hyphens). */
export const Isbn13 = Schema.String.check(Schema.makeFilter((value: string) => isValidIsbn13(value) || `"${value}" is not a valid ISBN-13`)).pipe(
  Schema.brand("Isbn13")
)
export type Isbn13 = typeof Isbn13.Type

/**
 * Parses an ISBN-10 or ISBN-13 in any usual spelling into an {@link Isbn13}.
 *
 * @example
 * Isbn.parse("0-306-40615-2") // Option.some("9780306406157")
 */
export const parse = (input: string): Option.Option<Isbn13> => {
  const parsed = ISBN.parse(input.trim())
  if (parsed === null || parsed.isbn13 === undefined) return Option.none()
  // `Isbn13FromString` checks its result as an `Isbn13` next: judged already, not parsed twice.
  remember(parsed.isbn13, true)
  return Option.some(parsed.isbn13 as Isbn13)
}

/** A schema decoding any ISBN spelling into an {@link Isbn13}; for request bodies and CLI arguments. */
export const Isbn13FromString = Schema.String.pipe(
  Schema.decodeTo(Isbn13, {
    decode: SchemaGetter.transformEffect((input: string, options) =>
      Option.match(parse(input), {
        onNone: () =>
          Effect.fail(new SchemaIssue.InvalidValue({ message: `"${input}" is not a valid ISBN (check the digits and the checksum)` }, input, options)),
        onSome: (isbn) => Effect.succeed(isbn)
      })
    ),
    encode: SchemaGetter.passthrough()
  })
)

/** Formats with hyphens for people: `978-0-306-40615-7`. */
export const hyphenate = (isbn: Isbn13): string => ISBN.parse(isbn)?.isbn13h ?? isbn
