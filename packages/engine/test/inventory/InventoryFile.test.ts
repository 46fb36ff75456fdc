/** The inventory file parser alone: bytes in, listings and row errors out. No database, no Effect runtime. */
import { Money } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Result } from "effect"
import * as InventoryFile from "../../src/inventory/InventoryFile.js"

const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}

interface Read {
  readonly rows: Array<InventoryFile.ListingRow>
  readonly errors: Array<InventoryFile.RowError>
  readonly linesRead: number
}

/** Pushes the chunks, then ends the file; everything parsed, in order. */
const readChunks = (format: InventoryFile.Format, chunks: ReadonlyArray<Uint8Array>, options: Partial<InventoryFile.ParserOptions> = {}): Read => {
  const parser = InventoryFile.parser(format, { defaultCurrency: "EUR", ...options })
  const rows: Array<InventoryFile.ListingRow> = []
  const errors: Array<InventoryFile.RowError> = []
  for (const parsed of [...chunks.map((chunk) => parser.push(chunk)), parser.end()]) {
    rows.push(...parsed.rows)
    errors.push(...parsed.errors)
  }
  return { rows, errors, linesRead: parser.linesRead() }
}

const read = (format: InventoryFile.Format, file: string | Uint8Array, options: Partial<InventoryFile.ParserOptions> = {}): Read =>
  readChunks(format, [typeof file === "string" ? encode(file) : file], options)

const refusal = (run: () => unknown): InventoryFile.FileRefused => {
  try {
    run()
  } catch (error) {
    if (error instanceof InventoryFile.FileRefused) return error
    throw error
  }
  throw new Error("the file was not refused")
}

const header = "listingid\tisbn\tprice\tquantity\tbookcondition"
/** A TSV with the required columns and these data lines. */
const tsv = (...lines: ReadonlyArray<string>): string => [header, ...lines].join("\n") + "\n"

describe("InventoryFile TSV", () => {
  it("reads an AbeBooks upload with unknown columns, CRLF line ends and a byte order mark", () => {
    const file =
      "\uFEFFListingID\tTitle\tAuthor\tIllustrator\tPrice\tQuantity\tDescription\tBindingText\tBookCondition\tPublisherName\tPlacePublished\tYearPublished\tISBN\tKeywords\r\n" +
      "A-1\t  Structure and Interpretation  \tAbelson, Harold\t\t45.00\t2\tClean copy.\tHardcover\tVery Good\tMIT Press\tCambridge\t1996\t0-262-51087-1\tlisp\r\n" +
      "A-2\tThe C Programming Language\tKernighan, Brian\t\t19.5\t\tSome wear.\tPaperback\tFair\tPrentice Hall\t\t1988\t978-0-13-110362-7\t\r\n"
    const result = read("tsv", file)
    expect(result.errors).toEqual([])
    expect(result.rows).toEqual([
      {
        line: 2,
        listingId: "A-1",
        isbn: "9780262510875",
        price: 4500,
        shipping: null,
        currency: null,
        quantity: 2,
        condition: "very_good",
        binding: "hardcover",
        title: "Structure and Interpretation",
        author: "Abelson, Harold",
        publisher: "MIT Press",
        year: 1996
      },
      {
        line: 3,
        listingId: "A-2",
        isbn: "9780131103627",
        price: 1950,
        shipping: null,
        currency: null,
        quantity: 1,
        condition: "acceptable",
        binding: "softcover",
        title: "The C Programming Language",
        author: "Kernighan, Brian",
        publisher: "Prentice Hall",
        year: 1988
      }
    ])
    expect(result.linesRead).toBe(2)
  })

  it("reads the sample of the seller guide (docs/publish-inventory.md)", () => {
    const file = [
      "listingid\tisbn\ttitle\tauthor\tpublishername\tyearpublished\tprice\tquantity\tbookcondition\tbindingtext\tdescription",
      "PM-0001\t978-0-441-17271-9\tDune\tHerbert, Frank\tAce\t1990\t9.50\t2\tVery Good\tPaperback\tLight shelf wear.",
      "PM-0002\t0141439513\tPride and Prejudice\tAusten, Jane\tPenguin\t2003\t6.00\t\tGood\tSoftcover\t",
      "PM-0003\t9780140449136\tCrime and Punishment\tDostoyevsky, Fyodor\tPenguin\t2003\t0\t0\t\t\tsold"
    ].join("\n")
    const result = read("tsv", file)
    expect(result.errors).toEqual([])
    expect(result.rows.map((row) => [row.listingId, row.isbn, row.price, row.quantity, row.condition, row.binding])).toEqual([
      ["PM-0001", "9780441172719", 950, 2, "very_good", "softcover"],
      ["PM-0002", "9780141439518", 600, 1, "good", "softcover"],
      ["PM-0003", "9780140449136", 0, 0, null, null]
    ])
  })

  it("gives the same result however the bytes are split: inside a UTF-8 character, between CR and LF", () => {
    const file = encode(
      "listingid\tisbn\tprice\tquantity\tbookcondition\ttitle\tshipping\r\n" +
        "é-1\t0306406152\t12.99\t1\tGood\tLes Misérables — €, 𝄞 and 日本\t3.5\r\n" +
        "\r\n" +
        "bad\t123\t1\t1\tGood\r\n" +
        "é-2\t978-0-262-03384-8\t0.29\t0\tNew\t𝄞𝄞\t" // no newline at the end
    )
    const whole = read("tsv", file)
    expect(whole.rows.map((row) => [row.line, row.listingId, row.title, row.price])).toEqual([
      [2, "é-1", "Les Misérables — €, 𝄞 and 日本", 1299],
      [5, "é-2", "𝄞𝄞", 29]
    ])
    expect(whole.errors).toEqual([{ line: 4, field: "isbn", reason: expect.stringContaining(`"123"`) }])
    for (let at = 0; at <= file.length; at++) {
      expect(readChunks("tsv", [file.subarray(0, at), file.subarray(at)])).toEqual(whole)
    }
    const bytes = Array.from(file, (_, index) => file.subarray(index, index + 1))
    expect(readChunks("tsv", bytes)).toEqual(whole)
    for (let a = 1; a < file.length; a += 7) {
      for (let b = a + 1; b < file.length; b += 5) {
        expect(readChunks("tsv", [file.subarray(0, a), file.subarray(a, b), file.subarray(b)])).toEqual(whole)
      }
    }
  })

  it("rejects a listingid bookbroker keeps for pushed prices (push:…), in TSV and JSON Lines alike", () => {
    const tsv = read("tsv", "listingid\tisbn\tprice\tquantity\tbookcondition\npush:9780306406157\t0306406152\t10\t1\tGood\nPush:x\t0306406152\t10\t1\tGood\npusher\t0306406152\t10\t1\tGood\n")
    expect(tsv.errors.map((error) => [error.line, error.field])).toEqual([
      [2, "listingid"],
      [3, "listingid"]
    ])
    expect(tsv.errors[0]!.reason).toMatch(/starts with "push:", which bookbroker keeps for the prices sellers push: use another id/)
    expect(tsv.rows.map((row) => row.listingId)).toEqual(["pusher"])
    const jsonl = read("jsonl", `${JSON.stringify({ listingid: "push:9780306406157", isbn: "0306406152", price: "10", quantity: 1, bookcondition: "Good" })}\n`)
    expect(jsonl.errors.map((error) => [error.line, error.field])).toEqual([[1, "listingid"]])
  })

  it("rejects each bad row with its line, its field and a reason, and keeps the good ones", () => {
    const long = "x".repeat(101)
    const result = read(
      "tsv",
      "listingid\tisbn\tprice\tquantity\tbookcondition\tshipping\tcurrency\tbindingtext\tyearpublished\n" +
        [
          "\t0306406152\t10\t1\tGood", // 2
          `${long}\t0306406152\t10\t1\tGood`, // 3
          "A\t\t10\t1\tGood", // 4
          "A\t0306406153\t10\t1\tGood", // 5: wrong check digit
          "A\t0306406152\t10\t1000\tGood", // 6
          "A\t0306406152\t10\ttwo\tGood", // 7
          "A\t0306406152\t\t1\tGood", // 8
          "A\t0306406152\t$12.99\t1\tGood", // 9
          "A\t0306406152\t1,299.00\t1\tGood", // 10
          "A\t0306406152\t12,99\t1\tGood", // 11
          "A\t0306406152\t-5\t1\tGood", // 12
          "A\t0306406152\t10\t1\tGood\tfree", // 13
          "A\t0306406152\t10\t1\tGood\t\tEURO", // 14
          "A\t0306406152\t10\t1\tMint", // 15
          "A\t0306406152\t10\t1\t", // 16
          "A\t0306406152\t10\t1\tGood\t\t\t\t99", // 17
          "A\t0306406152\t10\t1\tGood\t\t\t\t2101", // 18
          "A\t0306406152\t10\t1\tGood\t\t\t\t1999\textra", // 19
          "A\t0306406152\t10\t1\tGood\t\tXYZ", // 20: three letters, not ISO 4217
          "", // 21: blank, skipped
          "OK\t0306406152\t10\t1\tGood" // 22
        ].join("\n")
    )
    expect(result.rows.map((row) => row.line)).toEqual([22])
    const byLine = new Map(result.errors.map((error) => [error.line, error]))
    const expectError = (line: number, field: string | null, reason: string | RegExp) => {
      const error = byLine.get(line)
      expect(error, `line ${line}`).toBeDefined()
      expect(error!.field, `line ${line}`).toBe(field)
      expect(error!.reason, `line ${line}`).toMatch(reason)
    }
    expectError(2, "listingid", /empty/)
    expectError(3, "listingid", /longer than 100/)
    expectError(4, "isbn", /empty/)
    expectError(5, "isbn", /not a valid ISBN/)
    expectError(6, "quantity", /from 0 to 999/)
    expectError(7, "quantity", /"two"/)
    expectError(8, "price", /empty/)
    expectError(9, "price", /no currency symbol/)
    expectError(10, "price", /no thousands separator/)
    expectError(11, "price", /"12,99"/)
    expectError(12, "price", /"-5"/)
    expectError(13, "shipping", /"free"/)
    expectError(14, "currency", /"EURO"/)
    expectError(15, "bookcondition", /"Mint" is not one of New, As New, Fine/)
    expectError(16, "bookcondition", /empty/)
    expectError(17, "yearpublished", /"99".*4-digit/)
    expectError(18, "yearpublished", /"2101"/)
    expectError(19, null, "10 fields where the header has 9")
    expectError(20, "currency", /"XYZ"/)
    expect(result.errors).toHaveLength(19)
    expect(result.linesRead).toBe(20)
  })

  it("reports one error a row: the first in field order", () => {
    const result = read("tsv", tsv("A\tnot-an-isbn\t$1\tmany\tMint"))
    expect(result.errors).toEqual([{ line: 2, field: "isbn", reason: expect.any(String) }])
  })

  it("takes an empty quantity as 1, and quantity 0 as a retirement that needs no price or condition", () => {
    const result = read("tsv", tsv("A\t0306406152\t10\t\tGood", "B\t0306406152\t\t0\t", "C\t0306406152\t7.50\t0\tNew", "D\t0306406152\t10\t007\tGood"))
    expect(result.errors).toEqual([])
    expect(result.rows.map((row) => [row.listingId, row.quantity, row.price, row.condition])).toEqual([
      ["A", 1, 1000, "good"],
      ["B", 0, null, null],
      ["C", 0, 750, "new"],
      ["D", 7, 1000, "good"]
    ])
  })

  it("normalises ISBN-10 and ISBN-13 in any usual spelling to ISBN-13", () => {
    const result = read("tsv", tsv("A\t0-306-40615-2\t1\t1\tGood", "B\t0-8044-2957-x\t1\t1\tGood", "C\t978 0 201 63361 0\t1\t1\tGood", "D\t979-10-90636-07-1\t1\t1\tGood"))
    expect(result.errors).toEqual([])
    expect(result.rows.map((row) => row.isbn)).toEqual(["9780306406157", "9780804429573", "9780201633610", "9791090636071"])
  })

  it("maps AbeBooks conditions and bindings", () => {
    const conditions: ReadonlyArray<readonly [string, string]> = [
      ["New", "new"],
      ["As New", "like_new"],
      ["fine", "like_new"],
      ["Like New", "like_new"],
      ["Very Good", "very_good"],
      ["VG", "very_good"],
      ["GOOD", "good"],
      ["Fair", "acceptable"],
      ["Poor", "acceptable"],
      ["Acceptable", "acceptable"]
    ]
    const bindings: ReadonlyArray<readonly [string, string | null]> = [
      ["Hardcover", "hardcover"],
      ["hardback", "hardcover"],
      ["Softcover", "softcover"],
      ["PAPERBACK", "softcover"],
      ["No binding", "other"],
      ["Leather", "other"],
      ["", null]
    ]
    const file =
      `${header}\tbindingtext\n` +
      conditions.map(([text], index) => `C${index}\t0306406152\t1\t1\t ${text} \t`).join("\n") +
      "\n" +
      bindings.map(([text], index) => `B${index}\t0306406152\t1\t1\tGood\t${text}`).join("\n")
    const result = read("tsv", file)
    expect(result.errors).toEqual([])
    expect(result.rows.slice(0, conditions.length).map((row) => row.condition)).toEqual(conditions.map(([, condition]) => condition))
    expect(result.rows.slice(conditions.length).map((row) => row.binding)).toEqual(bindings.map(([, binding]) => binding))
  })

  it("reads the optional columns and their aliases, and treats missing trailing fields as empty", () => {
    const long = "é".repeat(800)
    const result = read(
      "tsv",
      "listingid\tisbn\tprice\tquantity\tbookcondition\tpublisher\tyear\tcurrency\tshipping\ttitle\n" +
        `A\t0306406152\t12\t1\tGood\tPenguin\t2001\tusd\t4.99\t${long}\n` +
        "B\t0306406152\t1500\t1\tGood\t\t\tJPY\n" +
        "C\t0306406152\t1.005\t1\tGood\t\t\tkwd\n" +
        "D\t0306406152\t12\t1\tGood"
    )
    expect(result.errors).toEqual([])
    expect(result.rows.map((row) => [row.publisher, row.year, row.currency, row.price, row.shipping, row.title?.length ?? null])).toEqual([
      ["Penguin", 2001, "USD", 1200, 499, 750],
      [null, null, "JPY", 1500, null, null],
      [null, null, "KWD", 1005, null, null],
      [null, null, null, 1200, null, null]
    ])
  })

  it("never reads amounts through a float", () => {
    const result = read("tsv", `${header}\tcurrency\n` + ["A\t0306406152\t0.29\t1\tGood", "G\t0306406152\t1.000\t1\tGood", "H\t0306406152\t1.0050\t1\tGood", "B\t0306406152\t1.005\t1\tGood", "C\t0306406152\t15.5\t1\tGood\tJPY", "D\t0306406152\t1.10\t1\tGood", "E\t0306406152\t9007199254740.99\t1\tGood", "F\t0306406152\t90071992547409.92\t1\tGood"].join("\n"))
    expect(result.rows.map((row) => [row.listingId, row.price])).toEqual([
      ["A", 29],
      ["G", 100],
      ["D", 110],
      ["E", 900719925474099]
    ])
    expect(result.errors).toEqual([
      { line: 4, field: "price", reason: `price "1.0050" has more than 2 decimals for EUR` },
      { line: 5, field: "price", reason: `price "1.005" has more than 2 decimals for EUR` },
      { line: 6, field: "price", reason: `price "15.5" has decimals, but JPY amounts have none` },
      { line: 9, field: "price", reason: `price "90071992547409.92" is too large` }
    ])
  })

  /** Mostly well-formed decimals: long runs of digits, trailing zeros, a decimal point at the edges. */
  const decimalLike = fc
    .tuple(fc.stringMatching(/^[0-9]{0,18}$/), fc.option(fc.stringMatching(/^[0-9]{0,4}0{0,3}$/)))
    .map(([whole, fraction]) => (fraction === null ? whole : `${whole}.${fraction}`))
    .filter((text) => text.trim() !== "")

  it("reads amounts exactly as Money.fromDecimal does", () => {
    fc.assert(
      fc.property(fc.oneof(decimalLike, fc.stringMatching(/^[0-9.,$ e-]{1,12}$/)), fc.constantFrom("EUR", "JPY", "KWD"), (price, currency) => {
        const result = read("tsv", `${header}\tcurrency\nA\t0306406152\t${price}\t1\tGood\t${currency}\n`)
        const expected = Money.fromDecimal(price.trim(), currency)
        if (Result.isSuccess(expected)) expect(result.rows.map((row) => row.price)).toEqual([expected.success.amount])
        else expect(result.errors.map((error) => error.field)).toEqual(["price"])
      }),
      { numRuns: 2_000 }
    )
  })

  it("accepts a header with no data lines: an empty snapshot", () => {
    expect(read("tsv", `${header}\r\n\r\n`)).toEqual({ rows: [], errors: [], linesRead: 0 })
    expect(read("tsv", header)).toEqual({ rows: [], errors: [], linesRead: 0 })
  })

  it("counts data lines read, not the header nor blank lines", () => {
    const parser = InventoryFile.parser("tsv", { defaultCurrency: "EUR" })
    parser.push(encode(`\n  \n${header}\nA\t0306406152\t1\t1\tGood\n\t \nB\tbad\t1\t1\tGood\nC\t0306406152\t1`))
    expect(parser.linesRead()).toBe(2)
    const last = parser.end()
    expect(parser.linesRead()).toBe(3)
    expect(last.errors).toEqual([{ line: 7, field: "bookcondition", reason: expect.stringContaining("empty") }])
  })
})

describe("InventoryFile refusals", () => {
  it("refuses a header without the required columns, naming every one", () => {
    const refused = refusal(() => read("tsv", "\n\nlistingid\ttitle\tprice\n1\tA book\t10\n"))
    expect(refused.line).toBe(3)
    expect(refused.reason).toMatch(/required columns isbn, quantity, bookcondition/)
    expect(refused.message).toMatch(/^line 3: /)
  })

  it("refuses comma-, semicolon- and pipe-separated files, saying tabs are needed", () => {
    const csv = refusal(() => read("tsv", "listingid,isbn,price,quantity,bookcondition\n1,0306406152,10,1,Good\n"))
    expect(csv.reason).toMatch(/not tab-separated.*commas \(a CSV file\)/)
    expect(csv.reason).toMatch(/tab-delimited/)
    expect(csv.line).toBe(1)
    expect(refusal(() => read("tsv", "listingid;isbn;price\n")).reason).toMatch(/semicolons/)
    expect(refusal(() => read("tsv", "listingid|isbn|price\n")).reason).toMatch(/"\|"/)
  })

  it("refuses a column named twice, also under its alias", () => {
    expect(refusal(() => read("tsv", `${header}\tISBN\n`)).reason).toMatch(/"isbn" appears twice.*columns 2 and 6/)
    expect(refusal(() => read("tsv", `${header}\tpublisher\tpublishername\n`)).reason).toMatch(/"publisher" and "publishername" are the same field/)
  })

  it("refuses a file that is not UTF-8, naming the line, however the bytes are split", () => {
    const file = concat(encode(`${header}\nA\t0306406152\t1\t1\tGood\nB\t0306406152\t1\t1\tGo`), new Uint8Array([0xe9]), encode("d\nC\t0306406152\t1\t1\tGood\n"))
    for (let at = 0; at <= file.length; at++) {
      const refused = refusal(() => readChunks("tsv", [file.subarray(0, at), file.subarray(at)]))
      expect(refused.reason).toMatch(/^the file is not UTF-8 text \(at line 3\)/)
      expect(refused.line).toBe(3)
    }
    // The chunk before ends inside or just after a 4-byte character, the bad byte is lines later.
    const after = concat(encode(`${header}\ttitle\nA\t0306406152\t1\t1\tGood\t𝄞`), encode("\nB\t0306406152\t1\t1\tGood\t"), new Uint8Array([0xc3, 0x28]))
    for (let at = 0; at <= after.length; at++) {
      expect(refusal(() => readChunks("tsv", [after.subarray(0, at), after.subarray(at)])).line).toBe(3)
    }
    // A character cut short by the end of the file.
    const cut = refusal(() => read("tsv", concat(encode(`${header}\nA\t0306406152\t1\t1\tGood\nB\t`), new Uint8Array([0xe2, 0x82]))))
    expect(cut.line).toBe(3)
    // Excel's "Unicode Text" is UTF-16.
    expect(refusal(() => read("tsv", new Uint8Array([0xff, 0xfe, 0x6c, 0x00]))).reason).toMatch(/UTF-16/)
  })

  it("refuses an empty file, and one of blank lines only", () => {
    expect(refusal(() => read("tsv", "")).reason).toBe("the file is empty")
    expect(refusal(() => read("tsv", "\uFEFF")).reason).toBe("the file is empty")
    expect(refusal(() => read("jsonl", "")).reason).toBe("the file is empty")
    expect(refusal(() => read("tsv", "\n \r\n\t\n")).reason).toMatch(/no header row/)
  })

  it("stays refused: later calls throw the same refusal", () => {
    const parser = InventoryFile.parser("tsv", { defaultCurrency: "EUR" })
    const refused = refusal(() => parser.push(encode("a,b,c\n")))
    expect(refusal(() => parser.push(encode("more\n")))).toBe(refused)
    expect(refusal(() => parser.end())).toBe(refused)
  })

  it("refuses when the default currency is not ISO 4217", () => {
    expect(refusal(() => read("tsv", tsv("A\t0306406152\t1\t1\tGood"), { defaultCurrency: "EURO" })).reason).toMatch(/"EURO"/)
  })
})

describe("InventoryFile overlong lines", () => {
  it("skips a 1 MB line without keeping it, and reads the next one", () => {
    const parser = InventoryFile.parser("tsv", { defaultCurrency: "EUR", maxLineBytes: 4096 })
    const errors: Array<InventoryFile.RowError> = []
    const rows: Array<InventoryFile.ListingRow> = []
    const take = (parsed: InventoryFile.Parsed) => {
      rows.push(...parsed.rows)
      errors.push(...parsed.errors)
    }
    take(parser.push(encode(`${header}\nA\t0306406152\t1\t1\tGood\nB\t0306406152\t1\t1\tGood\t`)))
    const kilobyte = encode("x".repeat(1024))
    let reportedAt = -1
    for (let chunk = 0; chunk < 1024; chunk++) {
      take(parser.push(kilobyte))
      if (reportedAt === -1 && errors.length > 0) reportedAt = chunk
    }
    take(parser.push(encode("\nC\t0306406152\t3\t1\tGood\n")))
    take(parser.end())
    // Reported as soon as the line passed the limit, not when it ended: nothing of it was kept.
    expect(reportedAt).toBe(3)
    expect(errors).toEqual([{ line: 3, field: null, reason: "the line is longer than 4096 bytes: it was skipped" }])
    expect(rows.map((row) => [row.line, row.listingId, row.price])).toEqual([
      [2, "A", 100],
      [4, "C", 300]
    ])
    expect(parser.linesRead()).toBe(3)
  })

  it("counts bytes, not characters, and skips an overlong line that arrives whole", () => {
    const result = read("tsv", tsv(`A\t0306406152\t1\t1\tGood\t${"€".repeat(40)}`, `B\t0306406152\t1\t1\tGood\t${"x".repeat(200)}`, "C\t0306406152\t1\t1\tGood"), { maxLineBytes: 100 })
    expect(result.errors.map((error) => [error.line, error.reason])).toEqual([
      [2, "the line is longer than 100 bytes: it was skipped"],
      [3, "the line is longer than 100 bytes: it was skipped"]
    ])
    expect(result.rows.map((row) => row.listingId)).toEqual(["C"])
  })

  it("does not count a line's CR against the limit, even when the CR and LF arrive apart", () => {
    const line = "A\t0306406152\t1\t1\tGood"
    const file = encode(`${header}\r\n${line}\t${"x".repeat(100 - line.length - 1)}\r\nB\t0306406152\t1\t1\tGood\r\n`)
    const whole = read("tsv", file, { maxLineBytes: 100 })
    expect(whole.errors).toEqual([{ line: 2, field: null, reason: "6 fields where the header has 5 (is there a tab inside a value?)" }])
    expect(whole.rows.map((row) => row.listingId)).toEqual(["B"])
    for (let at = 0; at <= file.length; at++) {
      expect(readChunks("tsv", [file.subarray(0, at), file.subarray(at)], { maxLineBytes: 100 })).toEqual(whole)
    }
  })

  it("refuses a TSV whose header row is too long", () => {
    const refused = refusal(() => readChunks("tsv", [encode(`${header}\t`), encode("y".repeat(5000))], { maxLineBytes: 4096 }))
    expect(refused.reason).toMatch(/header row is longer than 4096 bytes/)
    expect(refused.line).toBe(1)
  })
})

describe("InventoryFile JSON Lines", () => {
  it("reads objects with string and number values, keys in any case, and aliases", () => {
    const file = [
      `{"listingid":"J1","description":"about 1e9 copies sold, 1234567890123456789 pages","isbn":"0-306-40615-2","price":12.5,"quantity":2,"bookcondition":"Very Good","title":"A title","yearpublished":1999}`,
      "",
      `{"ListingID":"J2","ISBN":"9780262033848","Price":"0.29","Quantity":"","BookCondition":"new","publisher":"MIT","year":"2009","currency":"usd","shipping":3,"bindingtext":"Paperback","description":"ignored"}`
    ].join("\r\n")
    const result = read("jsonl", file)
    expect(result.errors).toEqual([])
    expect(result.rows).toEqual([
      { line: 1, listingId: "J1", isbn: "9780306406157", price: 1250, shipping: null, currency: null, quantity: 2, condition: "very_good", binding: null, title: "A title", author: null, publisher: null, year: 1999 },
      { line: 3, listingId: "J2", isbn: "9780262033848", price: 29, shipping: 300, currency: "USD", quantity: 1, condition: "new", binding: "softcover", title: null, author: null, publisher: "MIT", year: 2009 }
    ])
  })

  it("rejects a line that is not a JSON object, and values of the wrong type, in field order", () => {
    const good = `"listingid":"J","isbn":"0306406152","quantity":1,"bookcondition":"Good"`
    const result = read(
      "jsonl",
      [
        `{${good},"price":1}`,
        `[1,2]`,
        `{"listingid":`,
        `"text"`,
        `{${good},"price":1e21}`,
        `{${good},"price":1000000000000000000000}`,
        `{${good},"price":0.0000001}`,
        `{${good},"price":1E2}`,
        `{${good},"price":true}`,
        `{${good},"price":2,"title":{"a":1}}`,
        `{"listingid":"J","isbn":"bad","quantity":1,"bookcondition":"Good","price":true}`,
        `{${good},"price":2,"shipping":null}`
      ].join("\n")
    )
    expect(result.rows.map((row) => [row.line, row.price])).toEqual([
      [1, 100],
      [8, 10000], // 1E2 is exactly 100
      [12, 200]
    ])
    expect(result.errors).toEqual([
      { line: 2, field: null, reason: "not a JSON object" },
      { line: 3, field: null, reason: "not a JSON object" },
      { line: 4, field: null, reason: "not a JSON object" },
      { line: 5, field: "price", reason: "price 1e21 is a number with an exponent: write it as a plain decimal or a string" },
      { line: 6, field: "price", reason: `price "1000000000000000000000" is too large` },
      { line: 7, field: "price", reason: `price "0.0000001" has more than 2 decimals for EUR` },
      { line: 9, field: "price", reason: "price must be a string or a number" },
      { line: 10, field: "title", reason: "title must be a string or a number" },
      { line: 11, field: "isbn", reason: expect.stringContaining(`"bad"`) }
    ])
  })

  it("refuses the file when its first line is not a JSON object (a TSV sent as JSON Lines)", () => {
    const refused = refusal(() => read("jsonl", `\n${header}\nA\t0306406152\t1\t1\tGood\n`))
    expect(refused.reason).toMatch(/^not JSON Lines: line 2 is not a JSON object/)
    expect(refused.line).toBe(2)
  })

  it("gives the same result however the bytes are split", () => {
    const file = encode(`{"listingid":"é𝄞","isbn":"0306406152","price":"1","quantity":1,"bookcondition":"Good"}\r\nnot json\r\n{"listingid":"B","isbn":"0306406152","price":2,"quantity":1,"bookcondition":"Good"}`)
    const whole = read("jsonl", file)
    expect(whole.rows.map((row) => row.listingId)).toEqual(["é𝄞", "B"])
    expect(whole.errors).toEqual([{ line: 2, field: null, reason: "not a JSON object" }])
    for (let at = 0; at <= file.length; at++) {
      expect(readChunks("jsonl", [file.subarray(0, at), file.subarray(at)])).toEqual(whole)
    }
  })

  it("skips an overlong line", () => {
    const line = `{"listingid":"A","isbn":"0306406152","price":"1","quantity":1,"bookcondition":"Good"}`
    const result = read("jsonl", [line, `{"title":"${"x".repeat(300)}"}`, line].join("\n"), { maxLineBytes: 200 })
    expect(result.rows.map((row) => row.line)).toEqual([1, 3])
    expect(result.errors).toEqual([{ line: 2, field: null, reason: "the line is longer than 200 bytes: it was skipped" }])
  })
})

describe("InventoryFile text PostgreSQL cannot store", () => {
  const header = "listingid\tisbn\ttitle\tprice\tquantity\tbookcondition\tdescription\n"
  it("rejects a TSV row with a NUL in a field it keeps, naming the field; a NUL in an ignored column is harmless", () => {
    const result = read(
      "tsv",
      header + "A\t9780306406157\tDu\u0000ne\t1.00\t1\tNew\t\n" + "B\u0000\t9780306406157\tDune\t1.00\t1\tNew\t\n" + "C\t9780306406157\tDune\t1.00\t1\tNew\tsee\u0000here\n"
    )
    expect(result.errors).toEqual([
      { line: 2, field: "title", reason: "title contains a NUL character, which cannot be stored" },
      { line: 3, field: "listingid", reason: "listingid contains a NUL character, which cannot be stored" }
    ])
    expect(result.rows.map((row) => row.listingId)).toEqual(["C"])
  })

  it("rejects a JSON Lines row whose escapes make a NUL or half a surrogate pair, and keeps a whole pair", () => {
    const line = (title: string) => `{"listingid":"A","isbn":"9780306406157","price":"1.00","quantity":1,"bookcondition":"New","title":"${title}"}`
    const result = read("jsonl", [line("a\\u0000b"), line("lone \\ud800"), line("pair \\ud83d\\udcd6"), line("plain \\u00e9")].join("\n"))
    expect(result.errors).toEqual([
      { line: 1, field: "title", reason: "title contains a NUL character, which cannot be stored" },
      { line: 2, field: "title", reason: expect.stringMatching(/^title contains an unpaired UTF-16 surrogate/) }
    ])
    expect(result.rows.map((row) => row.title)).toEqual(["pair \u{1f4d6}", "plain é"])
  })
})

describe("InventoryFile.fields", () => {
  it("lists the required and optional header names", () => {
    expect(InventoryFile.fields.required).toEqual(["listingid", "isbn", "price", "quantity", "bookcondition"])
    expect(InventoryFile.fields.optional).toContain("publishername")
    expect(InventoryFile.fields.optional).toContain("year")
  })
})
