import { describe, expect, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import * as Isbn from "../src/Isbn.js"
import { generateIsbns } from "../src/testing/Catalog.js"

describe("Isbn", () => {
  it("normalises ISBN-10 and ISBN-13 in any usual spelling to a plain ISBN-13", () => {
    expect(Isbn.parse("0-306-40615-2")).toEqual(Option.some("9780306406157"))
    expect(Isbn.parse("0306406152")).toEqual(Option.some("9780306406157"))
    expect(Isbn.parse("978-0-306-40615-7")).toEqual(Option.some("9780306406157"))
    expect(Isbn.parse(" 9780306406157 ")).toEqual(Option.some("9780306406157"))
    expect(Isbn.parse("080442957X")).toEqual(Option.some("9780804429573"))
  })

  it("refuses bad checksums and non-ISBNs", () => {
    expect(Isbn.parse("9780306406158")).toEqual(Option.none())
    expect(Isbn.parse("0306406153")).toEqual(Option.none())
    expect(Isbn.parse("hello")).toEqual(Option.none())
    expect(Isbn.parse("")).toEqual(Option.none())
  })

  it("parseOnce, for bulk input, gives parse's verdict on every spelling", () => {
    const spellings = ["0-306-40615-2", "0306406152", "978-0-306-40615-7", " 9780306406157 ", "080442957X", "9780306406158", "0306406153", "9786999999990", "hello", ""]
    for (const spelling of spellings) expect(Isbn.parseOnce(spelling)).toEqual(Isbn.parse(spelling))
    expect(Isbn.parseOnce("978-0-306-40615-7")).toEqual(Option.some("9780306406157"))
  })

  it("decodes request input with a readable error", () => {
    expect(Schema.decodeUnknownSync(Isbn.Isbn13FromString)("0-306-40615-2")).toBe("9780306406157")
    expect(() => Schema.decodeUnknownSync(Isbn.Isbn13FromString)("9780306406158")).toThrow(/is not a valid ISBN/)
    expect(() => Schema.decodeUnknownSync(Isbn.Isbn13)("0306406152")).toThrow(/not a valid ISBN-13/)
  })

  it("keeps its verdicts through more ISBNs than it remembers at once (checksum right, registration group unassigned)", () => {
    const decode = Schema.decodeUnknownResult(Isbn.Isbn13)
    const unassigned = "9786999999990"
    expect(decode(unassigned)._tag).toBe("Failure")
    expect(decode("9780306406157")._tag).toBe("Success")
    // Past one generation (50,000) and into the next: both verdicts are judged again or recalled, never flipped.
    for (const isbn of generateIsbns({ size: 60_000, seed: 9 })) decode(isbn)
    expect(decode(unassigned)._tag).toBe("Failure")
    expect(decode("9780306406157")._tag).toBe("Success")
    for (const isbn of generateIsbns({ size: 60_000, seed: 10 })) decode(isbn)
    expect(decode(unassigned)._tag).toBe("Failure")
    // What `parse` found valid is an `Isbn13` without a second look.
    expect(Schema.decodeUnknownSync(Isbn.Isbn13FromString)("978-4-500-00000-5")).toBe("9784500000005")
  })

  it("keeps what each spelling parsed to through more spellings than it remembers at once", () => {
    const spelled = ["0-306-40615-2", "978-0-306-40615-7", "080442957X", "9780306406158", "978-6-999-99999-0", "hello"]
    const first = spelled.map(Isbn.parse)
    expect(first.map(Option.getOrNull)).toEqual(["9780306406157", "9780306406157", "9780804429573", null, null, null])
    for (const round of [11, 12]) {
      for (const isbn of generateIsbns({ size: 60_000, seed: round })) Isbn.parse(`${isbn.slice(0, 3)}-${isbn.slice(3)}`)
      expect(spelled.map(Isbn.parse)).toEqual(first)
    }
  })

  it("accepts every generated catalog ISBN and hyphenates for people", () => {
    for (const isbn of generateIsbns({ size: 500, seed: 3 })) expect(Isbn.parse(isbn)).toEqual(Option.some(isbn))
    expect(Isbn.hyphenate("9780306406157" as Isbn.Isbn13)).toBe("978-0-306-40615-7")
  })
})
