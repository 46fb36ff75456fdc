/**
 * ONIX for Books 3.0 uploads: the reader alone (bytes in, listings and row errors out, chunks split
 * anywhere), its price and availability rules, and uploads of ONIX messages over real PostgreSQL.
 */
import { referenceAdapter } from "@bookbroker/adapter-reference"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as InventoryFile from "../../src/inventory/InventoryFile.js"
import * as InventoryUploads from "../../src/inventory/InventoryUploads.js"
import * as OfferIndex from "../../src/inventory/OfferIndex.js"
import * as OnixFile from "../../src/inventory/OnixFile.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../../src/quotes/QuoteEngine.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import * as SellerPool from "../../src/sellers/SellerPool.js"
import * as SharedState from "../../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../../src/testing/index.js"

// Real ISBN-13s (valid check digits).
const prideAndPrejudice = "9780141439518"
const hobbit = "9780261103344"
const budapest = "9783462050783"

interface ProductSpec {
  readonly ref: string
  readonly notification?: string
  readonly identifiers?: ReadonlyArray<readonly [type: string, value: string]>
  readonly form?: string
  readonly title?: string
  readonly contributor?: string
  readonly publisher?: string
  readonly date?: string
  readonly supply?: string
}

/** One Product in reference tags; `supply` is the inner XML of one SupplyDetail. */
const product = (spec: ProductSpec): string =>
  [
    "  <Product>",
    `    <RecordReference>${spec.ref}</RecordReference>`,
    `    <NotificationType>${spec.notification ?? "03"}</NotificationType>`,
    ...(spec.identifiers ?? []).map(([type, value]) => `    <ProductIdentifier><ProductIDType>${type}</ProductIDType><IDValue>${value}</IDValue></ProductIdentifier>`),
    "    <DescriptiveDetail>",
    "      <ProductComposition>00</ProductComposition>",
    `      <ProductForm>${spec.form ?? "BC"}</ProductForm>`,
    `      <TitleDetail><TitleType>01</TitleType><TitleElement><TitleElementLevel>01</TitleElementLevel>${spec.title ?? ""}</TitleElement></TitleDetail>`,
    ...(spec.contributor === undefined ? [] : [`      <Contributor><SequenceNumber>1</SequenceNumber><ContributorRole>A01</ContributorRole>${spec.contributor}</Contributor>`]),
    "    </DescriptiveDetail>",
    "    <PublishingDetail>",
    ...(spec.publisher === undefined ? [] : [`      <Publisher><PublishingRole>01</PublishingRole><PublisherName>${spec.publisher}</PublisherName></Publisher>`]),
    ...(spec.date === undefined ? [] : [`      <PublishingDate><PublishingDateRole>01</PublishingDateRole><Date>${spec.date}</Date></PublishingDate>`]),
    "    </PublishingDetail>",
    ...(spec.supply === undefined ? [] : ["    <ProductSupply>", `      <SupplyDetail>${spec.supply}</SupplyDetail>`, "    </ProductSupply>"]),
    "  </Product>"
  ].join("\n")

const message = (products: ReadonlyArray<string>, header = "") =>
  [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference">`,
    `  <Header><Sender><SenderName>Example Distributor</SenderName></Sender><SentDateTime>20260501T0900Z</SentDateTime>${header}</Header>`,
    ...products,
    "</ONIXMessage>",
    ""
  ].join("\n")

const price = (type: string, amount: string, currency?: string) =>
  `<Price><PriceType>${type}</PriceType><PriceAmount>${amount}</PriceAmount>${currency === undefined ? "" : `<CurrencyCode>${currency}</CurrencyCode>`}</Price>`

const pride = product({
  ref: "com.example.9780141439518",
  identifiers: [["15", prideAndPrejudice], ["03", prideAndPrejudice]],
  form: "BB",
  title: "<TitleText>Pride and Prejudice</TitleText><Subtitle>A Novel</Subtitle>",
  contributor: "<PersonName>Jane Austen</PersonName><PersonNameInverted>Austen, Jane</PersonNameInverted>",
  publisher: "Penguin Classics",
  date: "20030130",
  // A trade price, a GBP consumer price and a EUR one: the upload is in EUR.
  supply: `<Supplier><SupplierRole>01</SupplierRole><SupplierName>Example</SupplierName></Supplier><ProductAvailability>21</ProductAvailability><Stock><OnHand>12</OnHand></Stock>${price("05", "5.00", "EUR")}${price("02", "9.99", "GBP")}${price("02", "11.50", "EUR")}`
})
const theHobbit = product({
  ref: "hobbit",
  // Only a GTIN-13 that is an ISBN.
  identifiers: [["03", hobbit]],
  title: "<TitlePrefix>The</TitlePrefix><TitleWithoutPrefix>Hobbit</TitleWithoutPrefix>",
  contributor: "<NamesBeforeKey>J. R. R.</NamesBeforeKey><KeyNames>Tolkien</KeyNames>",
  date: "1937",
  supply: `<ProductAvailability>20</ProductAvailability>${price("01", "7", "GBP")}`
})
/** Multi-byte text (2-, 3- and 4-byte UTF-8) to split inside. */
const budapestNovel = product({
  ref: "B-ő",
  identifiers: [["15", budapest]],
  title: "<TitleText>Őrült évek – Straße 📚 &amp; co</TitleText>",
  contributor: "<PersonNameInverted>Kertész, Imre</PersonNameInverted>",
  publisher: "Kiepenheuer &amp; Witsch",
  supply: `<ProductAvailability>22</ProductAvailability>${price("04", "24.00", "EUR")}`
})

const referenceMessage = message([pride, theHobbit, budapestNovel])

const expectedRows: ReadonlyArray<Partial<InventoryFile.ListingRow>> = [
  {
    listingId: "com.example.9780141439518",
    isbn: prideAndPrejudice as InventoryFile.ListingRow["isbn"],
    price: 1150,
    currency: "EUR",
    quantity: 12,
    condition: "new",
    binding: "hardcover",
    title: "Pride and Prejudice",
    author: "Jane Austen",
    publisher: "Penguin Classics",
    year: 2003,
    shipping: null
  },
  { listingId: "hobbit", isbn: hobbit as InventoryFile.ListingRow["isbn"], price: 700, currency: "GBP", quantity: 1, binding: "softcover", title: "The Hobbit", author: "J. R. R. Tolkien", publisher: null, year: 1937 },
  { listingId: "B-ő", isbn: budapest as InventoryFile.ListingRow["isbn"], price: 2400, currency: "EUR", quantity: 1, title: "Őrült évek – Straße 📚 & co", author: "Kertész, Imre", publisher: "Kiepenheuer & Witsch" }
]

/** The same message in short tags, written out by hand (no namespace, as many short-tag feeds come). */
const shortMessage = `<?xml version="1.0"?>
<ONIXmessage release="3.0">
<header><sender><x298>Example Distributor</x298></sender><x307>20260501T0900Z</x307></header>
<product>
<a001>com.example.9780141439518</a001><a002>03</a002>
<productidentifier><b221>15</b221><b244>${prideAndPrejudice}</b244></productidentifier>
<descriptivedetail><x314>00</x314><b012>BB</b012>
<titledetail><b202>01</b202><titleelement><x409>01</x409><b203>Pride and Prejudice</b203></titleelement></titledetail>
<contributor><b034>1</b034><b035>A01</b035><b036>Jane Austen</b036></contributor>
</descriptivedetail>
<publishingdetail><publisher><b291>01</b291><b081>Penguin Classics</b081></publisher><publishingdate><x448>01</x448><b306>20030130</b306></publishingdate></publishingdetail>
<productsupply><supplydetail><j396>21</j396><stock><j350>12</j350></stock>
<price><x462>05</x462><j151>5.00</j151><j152>EUR</j152></price><price><x462>02</x462><j151>9.99</j151><j152>GBP</j152></price><price><x462>02</x462><j151>11.50</j151><j152>EUR</j152></price>
</supplydetail></productsupply>
</product>
<product>
<a001>hobbit</a001><a002>03</a002>
<productidentifier><b221>03</b221><b244>${hobbit}</b244></productidentifier>
<descriptivedetail><b012>BC</b012><titledetail><b202>01</b202><titleelement><x409>01</x409><b030>The</b030><b031>Hobbit</b031></titleelement></titledetail>
<contributor><b035>A01</b035><b039>J. R. R.</b039><b040>Tolkien</b040></contributor></descriptivedetail>
<publishingdetail><publishingdate><x448>01</x448><b306>1937</b306></publishingdate></publishingdetail>
<productsupply><supplydetail><j396>20</j396><price><x462>01</x462><j151>7</j151><j152>GBP</j152></price></supplydetail></productsupply>
</product>
</ONIXmessage>
`

const encode = (text: string): Uint8Array => new TextEncoder().encode(text)

interface Read {
  readonly rows: Array<InventoryFile.ListingRow>
  readonly errors: Array<InventoryFile.RowError>
  readonly products: number
}

const readChunks = (chunks: ReadonlyArray<Uint8Array>, defaultCurrency = "EUR"): Read => {
  const parser = OnixFile.parser({ defaultCurrency })
  const rows: Array<InventoryFile.ListingRow> = []
  const errors: Array<InventoryFile.RowError> = []
  for (const parsed of [...chunks.map((chunk) => parser.push(chunk)), parser.end()]) {
    rows.push(...parsed.rows)
    errors.push(...parsed.errors)
  }
  return { rows, errors, products: parser.linesRead() }
}

const read = (text: string | Uint8Array, defaultCurrency = "EUR"): Read => readChunks([typeof text === "string" ? encode(text) : text], defaultCurrency)

const refusal = (text: string | Uint8Array, chunk?: number): InventoryFile.FileRefused => {
  const bytes = typeof text === "string" ? encode(text) : text
  const chunks: Array<Uint8Array> = []
  const size = chunk ?? bytes.length
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size))
  try {
    readChunks(chunks)
  } catch (error) {
    if (error instanceof InventoryFile.FileRefused) return error
    throw error
  }
  throw new Error("the file was not refused")
}

const lineOf = (text: string, needle: string, from = 0): number => text.slice(0, text.indexOf(needle, from)).split("\n").length

describe("OnixFile", () => {
  it("reads reference tags: ISBN, title, first author, publisher, year, binding, the chosen price, stock", () => {
    const result = read(referenceMessage)
    expect(result.errors).toEqual([])
    expect(result.products).toBe(3)
    expect(result.rows).toHaveLength(3)
    result.rows.forEach((row, index) => expect(row).toMatchObject(expectedRows[index]!))
    // Each row's line is where its <Product> starts.
    expect(result.rows.map((row) => row.line)).toEqual([
      lineOf(referenceMessage, "<Product>"),
      lineOf(referenceMessage, "<Product>", referenceMessage.indexOf("hobbit") - 80),
      lineOf(referenceMessage, "<Product>", referenceMessage.indexOf("B-ő") - 80)
    ])
  })

  it("reads short tags, and reference tags under a namespace prefix, the same way", () => {
    const short = read(shortMessage)
    expect(short.errors).toEqual([])
    short.rows.forEach((row, index) => expect(row).toMatchObject(expectedRows[index]!))
    expect(short.rows).toHaveLength(2)

    const prefixed = referenceMessage
      .replace(`xmlns="http://ns.editeur.org/onix/3.0/reference"`, `xmlns:onix="http://ns.editeur.org/onix/3.0/reference"`)
      .replace(/<(\/?)([A-Z][A-Za-z]*)/g, "<$1onix:$2")
    const result = read(prefixed)
    expect(result.errors).toEqual([])
    expect(result.rows.map(({ line: _, ...row }) => row)).toEqual(read(referenceMessage).rows.map(({ line: _, ...row }) => row))
  })

  it("gives the same rows however the bytes are split: inside a tag, an entity, a multi-byte character", () => {
    const bytes = encode(referenceMessage)
    const whole = read(bytes)
    for (let at = 1; at < bytes.length; at++) {
      const split = readChunks([bytes.subarray(0, at), bytes.subarray(at)])
      expect(split).toEqual(whole)
    }
    const oneByOne = readChunks(Array.from(bytes, (byte) => Uint8Array.of(byte)))
    expect(oneByOne).toEqual(whole)
    // The split points the loop covered include these.
    const emoji = bytes.indexOf(0xf0)
    expect(emoji).toBeGreaterThan(0)
    expect(readChunks([bytes.subarray(0, emoji + 2), bytes.subarray(emoji + 2)])).toEqual(whole)
  })

  it("a delete notification, or no availability now, retires the listing without needing a price", () => {
    const text = message([
      product({ ref: "gone", notification: "05", identifiers: [["15", prideAndPrejudice]] }),
      product({ ref: "out", identifiers: [["15", hobbit]], supply: `<ProductAvailability>31</ProductAvailability>${price("02", "9.99", "EUR")}` }),
      product({ ref: "op", identifiers: [["15", budapest]], supply: `<ProductAvailability>51</ProductAvailability><UnpricedItemType>04</UnpricedItemType>` }),
      product({ ref: "none", identifiers: [["15", budapest]], supply: `<ProductAvailability>21</ProductAvailability><Stock><OnHand>0</OnHand></Stock>${price("02", "9.99", "EUR")}` })
    ])
    const result = read(text)
    expect(result.errors).toEqual([])
    expect(result.rows.map((row) => [row.listingId, row.quantity, row.price])).toEqual([
      ["gone", 0, null],
      ["out", 0, 999],
      ["op", 0, null],
      ["none", 0, 999]
    ])
  })

  it("reports a bad Product with the line it starts on and the ONIX element at fault, and reads the rest", () => {
    const text = message(
      [
        product({ ref: "no-isbn", identifiers: [["02", "0141439513"]], supply: `<ProductAvailability>21</ProductAvailability>${price("02", "9.99")}` }),
        product({ ref: "bad-isbn", identifiers: [["15", "9780141439519"]], supply: `<ProductAvailability>21</ProductAvailability>${price("02", "9.99")}` }),
        product({ ref: "trade-only", identifiers: [["15", prideAndPrejudice]], supply: `<ProductAvailability>21</ProductAvailability>${price("05", "5.00", "EUR")}` }),
        product({ ref: "tba", identifiers: [["15", prideAndPrejudice]], supply: `<ProductAvailability>21</ProductAvailability><UnpricedItemType>02</UnpricedItemType>` }),
        product({ ref: "too-precise", identifiers: [["15", prideAndPrejudice]], supply: `<ProductAvailability>21</ProductAvailability>${price("02", "9.999", "EUR")}` }),
        product({ ref: "odd-code", identifiers: [["15", prideAndPrejudice]], supply: `<ProductAvailability>77</ProductAvailability>${price("02", "9.99", "EUR")}` }),
        product({ ref: "", identifiers: [["15", prideAndPrejudice]], supply: `<ProductAvailability>21</ProductAvailability>${price("02", "9.99", "EUR")}` }),
        product({ ref: "good", identifiers: [["15", hobbit]], supply: `<ProductAvailability>21</ProductAvailability>${price("02", "8.00")}` })
      ],
      // The header's default currency applies to prices without one.
      "<DefaultCurrencyCode>GBP</DefaultCurrencyCode>"
    )
    const result = read(text)
    const starts = [...text.matchAll(/<Product>/g)].map((match) => text.slice(0, match.index).split("\n").length)
    expect(result.errors.map((error) => [error.line, error.field])).toEqual([
      [starts[0], "ProductIdentifier"],
      [starts[1], "ProductIdentifier"],
      [starts[2], "PriceAmount"],
      [starts[3], "UnpricedItemType"],
      [starts[4], "PriceAmount"],
      [starts[5], "ProductAvailability"],
      [starts[6], "RecordReference"]
    ])
    expect(result.errors[0]!.reason).toMatch(/ISBN-10/)
    expect(result.errors[4]!.reason).toMatch(/decimals/)
    expect(result.rows.map((row) => [row.listingId, row.line, row.price, row.currency])).toEqual([["good", starts[7], 800, "GBP"]])
    expect(result.products).toBe(8)
  })

  it("refuses a RecordReference bookbroker keeps for pushed prices (push:…), whatever its case", () => {
    const supply = `<ProductAvailability>21</ProductAvailability>${price("02", "9.99", "EUR")}`
    const result = read(
      message([
        product({ ref: `push:${hobbit}`, identifiers: [["15", hobbit]], supply }),
        product({ ref: `PUSH:${hobbit}`, identifiers: [["15", hobbit]], supply }),
        product({ ref: `pushed-${hobbit}`, identifiers: [["15", hobbit]], supply })
      ])
    )
    expect(result.errors.map((error) => [error.field, error.reason])).toEqual([
      ["RecordReference", expect.stringContaining('starts with "push:", which bookbroker keeps for the prices sellers push')],
      ["RecordReference", expect.stringContaining("use another id")]
    ])
    expect(result.rows.map((row) => row.listingId)).toEqual([`pushed-${hobbit}`])
  })

  it("refuses what is not an ONIX 3 message, saying why", () => {
    expect(refusal("listingid\tisbn\tprice\tquantity\tbookcondition\nA1\t9780141439518\t1.00\t1\tNew\n").reason).toMatch(/not an XML document/)
    expect(refusal(`<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>`)).toMatchObject({ line: 2, reason: expect.stringMatching(/root element is <rss>/) })
    expect(refusal(`<ONIXMessage><Header/></ONIXMessage>`).reason).toMatch(/ONIX 2\.1/)
    expect(refusal(`<ONIXMessage release="2.1"><Header/></ONIXMessage>`).reason).toMatch(/release 2\.1/)
    expect(refusal(`<?xml version="1.0" encoding="ISO-8859-1"?><ONIXMessage release="3.0"/>`).reason).toMatch(/UTF-8/)
    expect(refusal("").reason).toMatch(/empty/)
    // Cut off midway (a truncated snapshot would otherwise retire the rest): refused, in any chunking.
    const truncated = referenceMessage.slice(0, referenceMessage.indexOf("hobbit"))
    expect(refusal(truncated).reason).toMatch(/incomplete/)
    expect(refusal(truncated, 5).reason).toMatch(/incomplete/)
    expect(refusal(referenceMessage.replace("</Product>", "</Produkt>")).reason).toMatch(/not well-formed/)
    expect(refusal(new Uint8Array([...encode(referenceMessage.slice(0, 200)), 0xff, 0xfe])).reason).toMatch(/not UTF-8/)
    // Text the XML parser would have to buffer without end.
    const parser = OnixFile.parser({ defaultCurrency: "EUR", maxTextChars: 1_000 })
    parser.push(encode(`<ONIXMessage release="3.0"><Header><SenderName>`))
    expect(() => parser.push(encode("x".repeat(2_000)))).toThrow(/characters without a tag/)
  })
})

// ---- uploads over PostgreSQL -------------------------------------------------------------------

const Infrastructure = Layer.mergeAll(
  SecretBox.layer(Redacted.make(SecretBox.generateKey())),
  AdapterRegistry.layer([referenceAdapter]),
  OutboundAddress.layerLoopback
).pipe(Layer.provideMerge(TestDatabase.layer))

const engineLayer = QuoteEngine.layer({ stragglers: false }).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      SellerDirectory.layer({ refreshMillis: 60_000 }),
      SellerPool.layer(),
      SharedState.layerMemory(),
      InventoryUploads.layer({ batchRows: 2, maxErrors: 10 }).pipe(Layer.provideMerge(OfferIndex.layer({ feedSellersRefreshMillis: 60_000 })))
    )
  ),
  Layer.provideMerge(Infrastructure)
)

const body = (text: string, chunk = 13) => {
  const bytes = encode(text)
  const chunks: Array<Uint8Array> = []
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk))
  return Stream.fromIterable(chunks)
}

const upload = (sellerId: string, text: string, mode: InventoryUploads.UploadMode = "snapshot") =>
  Effect.flatMap(InventoryUploads.InventoryUploads, (uploads) => uploads.upload(sellerId, { mode, format: "onix", currency: "EUR" }, body(text)))

const listings = (sellerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ listing_id: string; isbn: string; price: string; currency: string; quantity: number; condition: string; binding: string | null }>`
      SELECT listing_id, isbn, price, currency, quantity, condition, binding FROM listings WHERE seller_id = ${sellerId} ORDER BY listing_id`
  ).pipe(
    Effect.map((rows) => rows.map((row) => [row.listing_id, row.isbn, Number(row.price), row.currency, row.quantity, row.condition, row.binding])),
    Effect.orDie
  )

describe("ONIX uploads", () => {
  it.live("a message in reference tags, then one in short tags, applied as snapshots: listings and books written", () =>
    Effect.gen(function* () {
      const [seller] = yield* SimulatedSellers.registerActive(yield* SimulatedSellers.startSellers([{ name: "distributor", stock: [] }]))
      const applied = yield* upload(seller!.id, referenceMessage)
      expect(applied).toMatchObject({ format: "onix", status: "applied", rowsRead: 3, rowsRejected: 0, rowsApplied: 3, listingsRetired: 0 })
      expect(yield* listings(seller!.id)).toEqual([
        ["B-ő", budapest, 2400, "EUR", 1, "new", "softcover"],
        ["com.example.9780141439518", prideAndPrejudice, 1150, "EUR", 12, "new", "hardcover"],
        ["hobbit", hobbit, 700, "GBP", 1, "new", "softcover"]
      ])
      const sql = yield* SqlClient.SqlClient
      const books = yield* sql<{ isbn: string; title: string; author: string; publisher: string | null; year: number | null }>`
        SELECT isbn, title, author, publisher, year FROM books WHERE isbn IN (${prideAndPrejudice}, ${hobbit}, ${budapest}) ORDER BY isbn`
      expect(books.map((book) => [book.isbn, book.title, book.author, book.publisher, book.year])).toEqual([
        [prideAndPrejudice, "Pride and Prejudice", "Jane Austen", "Penguin Classics", 2003],
        [hobbit, "The Hobbit", "J. R. R. Tolkien", null, 1937],
        [budapest, "Őrült évek – Straße 📚 & co", "Kertész, Imre", "Kiepenheuer & Witsch", null]
      ])

      // The short-tag message lists two of the three: the third is retired by the snapshot.
      const short = yield* upload(seller!.id, shortMessage)
      expect(short).toMatchObject({ status: "applied", rowsRead: 2, rowsApplied: 2, listingsRetired: 1 })
      expect((yield* listings(seller!.id)).map((row) => row[0])).toEqual(["com.example.9780141439518", "hobbit"])
      const index = yield* OfferIndex.OfferIndex
      const listed = yield* index.lookup(prideAndPrejudice as InventoryFile.ListingRow["isbn"])
      expect(listed.listings.map((listing) => [listing.listingId, listing.price, listing.currency, listing.condition, listing.source])).toEqual([
        ["com.example.9780141439518", 1150, "EUR", "new", "feed"]
      ])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("a delete notification in a delta retires the listing; bad Products are reported with line and field", () =>
    Effect.gen(function* () {
      const [seller] = yield* SimulatedSellers.registerActive(yield* SimulatedSellers.startSellers([{ name: "publisher", stock: [] }]))
      yield* upload(seller!.id, referenceMessage)
      const text = message([
        product({ ref: "hobbit", notification: "05", identifiers: [["15", hobbit]] }),
        product({ ref: "nameless", supply: `<ProductAvailability>21</ProductAvailability>${price("02", "1.00", "EUR")}` }),
        product({ ref: "free", identifiers: [["15", budapest]], supply: `<ProductAvailability>21</ProductAvailability>${price("02", "0", "EUR")}` })
      ])
      const delta = yield* upload(seller!.id, text, "delta")
      const starts = [...text.matchAll(/<Product>/g)].map((match) => text.slice(0, match.index).split("\n").length)
      expect(delta).toMatchObject({ status: "applied", rowsRead: 3, rowsRejected: 2, rowsApplied: 0, listingsRetired: 1 })
      expect(delta.errors.map((error) => [error.line, error.field])).toEqual([
        [starts[1], "ProductIdentifier"],
        [starts[2], "PriceAmount"]
      ])
      expect((yield* listings(seller!.id)).map((row) => row[0])).toEqual(["B-ő", "com.example.9780141439518"])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("XML that is not ONIX, or ONIX cut off midway, is refused and nothing changes", () =>
    Effect.gen(function* () {
      const [seller] = yield* SimulatedSellers.registerActive(yield* SimulatedSellers.startSellers([{ name: "careful", stock: [] }]))
      yield* upload(seller!.id, referenceMessage)
      const before = yield* listings(seller!.id)

      const notOnix = yield* Effect.flip(upload(seller!.id, `<?xml version="1.0"?>\n<catalog><book isbn="${hobbit}"/></catalog>\n`))
      expect(notOnix._tag).toBe("UploadRefused")
      expect(notOnix.reason).toMatch(/not an ONIX message/)
      expect(notOnix.line).toBe(2)

      // Cut off after two Products, read and staged: as a snapshot it would retire the third.
      const cut = referenceMessage.slice(0, referenceMessage.indexOf("<Product>", referenceMessage.indexOf("hobbit")))
      const truncated = yield* Effect.flip(upload(seller!.id, cut.replace("11.50", "1.00")))
      expect(truncated.reason).toMatch(/incomplete/)
      expect(truncated.uploadId).toBeDefined()
      const uploads = yield* InventoryUploads.InventoryUploads
      expect(yield* uploads.status(seller!.id, truncated.uploadId!)).toMatchObject({ format: "onix", status: "refused", rowsApplied: null })
      expect(yield* listings(seller!.id)).toEqual(before)
      const sql = yield* SqlClient.SqlClient
      const [staged] = yield* sql<{ count: string }>`SELECT count(*) AS count FROM inventory_staging`
      expect(Number(staged!.count)).toBe(0)
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )
})
