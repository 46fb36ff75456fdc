/**
 * ISBNs at the edge: any ISBN-10 or ISBN-13, with or without hyphens or spaces, is validated
 * (checksum and registration group, via the `isbn3` library) and normalised to a plain ISBN-13.
 * Inside bookbroker an ISBN is always an {@link Isbn13}.
 */
import { Effect, Option, Schema, SchemaGetter, SchemaIssue } from "effect"
import ISBN from "isbn3"

/**
 * Verdicts kept, for a pure judgement that costs: two generations of at most `size` each, the
 * older dropped when the newer fills, so a verdict used again within the last `size` judgements
 * is never lost to a clear-out (a catalog larger than the map used to miss every time once it
 * was full).
 */
const verdicts = <V>(size: number) => {
  let newer = new Map<string, V>()
  let older = new Map<string, V>()
  const remember = (key: string, value: V) => {
    if (newer.size >= size) {
      older = newer
      newer = new Map()
    }
    newer.set(key, value)
  }
  const recall = (key: string): V | undefined => {
    const known = newer.get(key)
    if (known !== undefined) return known
    const before = older.get(key)
    if (before !== undefined) remember(key, before)
    return before
  }
  return { remember, recall }
}

/**
 * ISBN-13s already judged: `isbn3` checks the registration group by walking its range tables,
 * about 6 µs a call, and every quote a seller answers carries an ISBN.
 */
const judged = verdicts<boolean>(50_000)

/** The check behind `Isbn13` (and `isValidIsbn13`, which cannot be the filter itself: its predicate type names the schema it would define). */
const validIsbn13 = (value: string): boolean => {
  if (!/^97[89]\d{10}$/.test(value)) return false
  const known = judged.recall(value)
  if (known !== undefined) return known
  const valid = ISBN.parse(value) !== null
  judged.remember(value, valid)
  return valid
}

/** A valid ISBN-13 of 13 digits, normalised (no hyphens). */
export const Isbn13 = Schema.String.check(Schema.makeFilter((value: string) => validIsbn13(value) || `"${value}" is not a valid ISBN-13`)).pipe(
  Schema.brand("Isbn13")
)
export type Isbn13 = typeof Isbn13.Type

/** Whether `value` is an {@link Isbn13} (13 digits, normalised, in a registered range): the check the schema makes. */
export const isValidIsbn13 = (value: string): value is Isbn13 => validIsbn13(value)

/** Spellings already parsed (every purchase request and every `offers` look-up names one): the ISBN-13, or `false`. */
const spellings = verdicts<Isbn13 | false>(50_000)

/**
 * Parses an ISBN-10 or ISBN-13 in any usual spelling into an {@link Isbn13}.
 *
 * @example
 * Isbn.parse("0-306-40615-2") // Option.some("9780306406157")
 */
export const parse = (input: string): Option.Option<Isbn13> => {
  const spelling = input.trim()
  const known = spellings.recall(spelling)
  if (known !== undefined) return known === false ? Option.none() : Option.some(known)
  const isbn = Option.getOrElse(parseOnce(spelling), () => false as const)
  spellings.remember(spelling, isbn)
  if (isbn === false) return Option.none()
  // `Isbn13FromString` checks its result as an `Isbn13` next: judged already, not parsed twice.
  judged.remember(isbn, true)
  return Option.some(isbn)
}

/**
 * {@link parse} without remembering the spelling: for bulk input that names each ISBN once (a
 * seller's inventory file), where the memory only costs — a look-up and an insert per row that
 * never hit (a sixth of an upload's server CPU, `pnpm bench:feeds`), and keys kept alive until
 * they are pushed out.
 */
export const parseOnce = (input: string): Option.Option<Isbn13> => {
  const parsed = ISBN.parse(input.trim())
  return parsed === null || parsed.isbn13 === undefined ? Option.none() : Option.some(parsed.isbn13 as Isbn13)
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
