/**
 * ISBNs at the edge: any ISBN-10 or ISBN-13, with or without hyphens or spaces, is validated
 * (checksum and registration group, via the `isbn3` library) and normalised to a plain ISBN-13.
 * Inside bookbroker an ISBN is always an {@link Isbn13}.
 */
import { Option, ParseResult, Schema } from "effect"
import ISBN from "isbn3"

/** A valid ISBN-13 of 13 digits, normalised (no hyphens). */
export const Isbn13 = Schema.String.pipe(
  Schema.filter((value) => (/^97[89]\d{10}$/.test(value) && ISBN.parse(value) !== null) || `"${value}" is not a valid ISBN-13`),
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
  return Option.some(parsed.isbn13 as Isbn13)
}

/** A schema decoding any ISBN spelling into an {@link Isbn13}; for request bodies and CLI arguments. */
export const Isbn13FromString = Schema.transformOrFail(Schema.String, Isbn13, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(parse(input), {
      onNone: () =>
        ParseResult.fail(
          new ParseResult.Type(ast, input, `"${input}" is not a valid ISBN (check the digits and the checksum)`)
        ),
      onSome: ParseResult.succeed
    }),
  encode: ParseResult.succeed
})

/** Formats with hyphens for people: `978-0-306-40615-7`. */
export const hyphenate = (isbn: Isbn13): string => ISBN.parse(isbn)?.isbn13h ?? isbn
