/**
 * Book search over real PostgreSQL: the books and offers come in through inventory uploads, as
 * in production; the search reads them with full-text and trigram matching.
 */
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Effect, Layer, Redacted, Stream } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ExchangeRates from "../../src/exchange/ExchangeRates.js"
import * as InventoryUploads from "../../src/inventory/InventoryUploads.js"
import * as OfferIndex from "../../src/inventory/OfferIndex.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as BookSearch from "../../src/search/BookSearch.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import { SimulatedSellers, TestDatabase } from "../../src/testing/index.js"
import { referenceAdapter } from "@bookbroker/adapter-reference"

const isbns = generateIsbns({ size: 30, seed: 1818 }) as ReadonlyArray<Isbn.Isbn13>

const TestLayer = Layer.mergeAll(BookSearch.layer(), InventoryUploads.layer(), OfferIndex.layer(), SellerDirectory.layer({ refreshMillis: 60_000 })).pipe(
  Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
  Layer.provideMerge(TestDatabase.layer)
)

interface Book {
  readonly title: string
  readonly author: string
  readonly publisher: string
  readonly year: number
}
const books: ReadonlyArray<Book> = [
  { title: "Dune", author: "Frank Herbert", publisher: "Chilton Books", year: 1965 },
  { title: "Dune Messiah", author: "Frank Herbert", publisher: "Putnam", year: 1969 },
  { title: "Children of Dune", author: "Frank Herbert", publisher: "Putnam", year: 1976 },
  { title: "The Left Hand of Darkness", author: "Ursula K. Le Guin", publisher: "Ace Books", year: 1969 },
  { title: "A Wizard of Earthsea", author: "Ursula K. Le Guin", publisher: "Parnassus Press", year: 1968 },
  { title: "Foundation", author: "Isaac Asimov", publisher: "Gnome Press", year: 1951 },
  { title: "Neuromancer", author: "William Gibson", publisher: "Ace Books", year: 1984 },
  { title: "Nineteen Eighty-Four", author: "George Orwell", publisher: "Secker & Warburg", year: 1949 }
]
const isbnOf = (title: string) => isbns[books.findIndex((book) => book.title === title)]!

const header = "listingid\tisbn\ttitle\tauthor\tpublishername\tyearpublished\tprice\tquantity\tbookcondition"
/** One seller's feed: `[title, price, condition]` per listing. */
const feed = (seller: string, listings: ReadonlyArray<readonly [string, string, string]>) =>
  [header, ...listings.map(([title, price, condition], i) => {
    const book = books.find((candidate) => candidate.title === title)!
    return [`${seller}-${i}`, isbnOf(title), book.title, book.author, book.publisher, book.year, price, "1", condition].join("\t")
  })].join("\n") + "\n"

const upload = (sellerId: string, text: string, currency = "EUR") =>
  Effect.flatMap(InventoryUploads.InventoryUploads, (uploads) =>
    uploads.upload(sellerId, { mode: "snapshot", format: "tsv", currency }, Stream.make(new TextEncoder().encode(text)))
  )

/** Two sellers: a cheap one with worn copies, a dearer one with new ones; one book only in USD. */
const catalog = Effect.gen(function* () {
  const [cheap, fine, american] = yield* SimulatedSellers.registerActive(
    yield* SimulatedSellers.startSellers([
      { name: "cheap-reads", stock: [] },
      { name: "fine-books", stock: [] },
      { name: "us-books", stock: [] }
    ])
  )
  yield* upload(cheap!.id, feed("c", [["Dune", "4.00", "Good"], ["Dune Messiah", "6.00", "Acceptable"], ["Foundation", "3.00", "Good"], ["Neuromancer", "7.50", "Very Good"]]))
  yield* upload(fine!.id, feed("f", [["Dune", "12.00", "New"], ["Children of Dune", "9.00", "New"], ["The Left Hand of Darkness", "11.00", "Like New"]]))
  yield* upload(american!.id, feed("u", [["A Wizard of Earthsea", "8.00", "New"], ["Nineteen Eighty-Four", "5.00", "New"]]), "USD")
  return { cheap: cheap!, fine: fine!, american: american! }
})

/** The ECB's daily file with today's date and these rates per EUR. */
const ratesFile = (rates: Record<string, string>) => {
  const file = join(mkdtempSync(join(tmpdir(), "bb-rates-")), "eurofxref-daily.xml")
  const cubes = Object.entries(rates).map(([currency, rate]) => `<Cube currency='${currency}' rate='${rate}'/>`).join("")
  writeFileSync(
    file,
    `<?xml version="1.0" encoding="UTF-8"?><gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">` +
      `<Cube><Cube time='${new Date().toISOString().slice(0, 10)}'>${cubes}</Cube></Cube></gesmes:Envelope>`
  )
  return file
}

const search = (query: Partial<BookSearch.SearchQuery> & { readonly q: string }) =>
  Effect.flatMap(BookSearch.BookSearch, (books) => books.search({ currency: "EUR", ...query }))
const titles = (page: BookSearch.SearchPage) => page.hits.map((hit) => hit.title)

describe("BookSearch", () => {
  it.live("finds a book by any spelling of its ISBN, and one the index does not know", () =>
    Effect.gen(function* () {
      yield* catalog
      const dune = isbnOf("Dune")
      const hyphenated = Isbn.hyphenate(dune)
      const isbn10 = `${dune.slice(3, 12)}${(() => {
        const sum = [...dune.slice(3, 12)].reduce((total, digit, i) => total + Number(digit) * (10 - i), 0)
        const check = (11 - (sum % 11)) % 11
        return check === 10 ? "X" : String(check)
      })()}`
      for (const q of [dune, hyphenated, ` ${dune.slice(0, 3)} ${dune.slice(3)} `, isbn10]) {
        const page = yield* search({ q })
        expect(page.isbn).toBe(dune)
        expect(page.hits.map((hit) => [hit.isbn, hit.title, hit.offers])).toEqual([[dune, "Dune", 2]])
      }
      // An ISBN no feed lists: the book, without what the index would say.
      const unknown = isbns[20]!
      const page = yield* search({ q: unknown })
      expect(page.hits).toEqual([{ isbn: unknown, title: null, author: null, publisher: null, year: null, bestOffer: null, offers: 0, otherCurrencies: [], score: 0 }])
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("matches title and author words, ranks the title above the author, and forgives typos", () =>
    Effect.gen(function* () {
      yield* catalog
      expect(titles(yield* search({ q: "dune herbert" }))[0]).toBe("Dune")
      expect(titles(yield* search({ q: "dune herbert" })).sort()).toEqual(["Children of Dune", "Dune", "Dune Messiah"])
      expect(titles(yield* search({ q: "le guin" })).sort()).toEqual(["A Wizard of Earthsea", "The Left Hand of Darkness"])
      expect(titles(yield* search({ q: "Neuromancer" }))).toEqual(["Neuromancer"])
      // Typos: a letter swapped, a letter missing.
      expect(titles(yield* search({ q: "dune herbret" }))).toContain("Dune")
      // A name typed right comes before its look-alikes ("gibson" is also like "gibbons"…).
      expect(titles(yield* search({ q: "william gibson" }))[0]).toBe("Neuromancer")
      // Corrected against the catalog's own words: "herbret" alone is "herbert".
      expect(titles(yield* search({ q: "herbret" })).sort()).toEqual(["Children of Dune", "Dune", "Dune Messiah"])
      expect(titles(yield* search({ q: "neuromancr" }))[0]).toBe("Neuromancer")
      expect(titles(yield* search({ q: "asimvo foundation" }))[0]).toBe("Foundation")
      expect((yield* search({ q: "zzyzx qwerty" })).hits).toEqual([])
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("shows each hit's best current offer in the currency asked, and filters by condition, stock and price", () =>
    Effect.gen(function* () {
      const { cheap, fine } = yield* catalog
      const dune = (yield* search({ q: "dune" })).hits.find((hit) => hit.title === "Dune")!
      expect(dune.offers).toBe(2)
      expect(dune.bestOffer).toMatchObject({ sellerId: cheap.id, sellerName: "cheap-reads", total: { amount: 400, currency: "EUR" }, condition: "good", source: "feed" })
      // Very good or better: the new copy.
      const good = (yield* search({ q: "dune", condition: "very_good" })).hits.find((hit) => hit.title === "Dune")!
      expect(good).toMatchObject({ offers: 1, bestOffer: { sellerId: fine.id, total: { amount: 1200 } } })
      // The USD-only book: no EUR offer; in stock in USD.
      expect((yield* search({ q: "earthsea" })).hits[0]).toMatchObject({ title: "A Wizard of Earthsea", offers: 0, bestOffer: null, otherCurrencies: ["USD"] })
      expect((yield* search({ q: "dune" })).hits.find((hit) => hit.title === "Dune")).toMatchObject({ otherCurrencies: [] })
      expect((yield* search({ q: "earthsea", currency: "USD" })).hits[0]).toMatchObject({ offers: 1, bestOffer: { total: { amount: 800, currency: "USD" } } })
      expect((yield* search({ q: "earthsea", inStock: true })).hits).toEqual([])
      // At most 5.00: Dune (4.00) and Foundation… not Foundation: it does not match "dune".
      expect(titles(yield* search({ q: "dune", maxTotal: 500 }))).toEqual(["Dune"])
      // By price: only books with an offer, cheapest first.
      expect(titles(yield* search({ q: "dune herbert", sort: "price" }))).toEqual(["Dune", "Dune Messiah", "Children of Dune"])
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("with the operator's exchange rates, offers in other currencies are compared and totalled converted, keeping their own price", () =>
    Effect.gen(function* () {
      const { cheap, american } = yield* catalog
      // 8.00 USD at 1.10 USD per EUR, plus the 2 % margin: 8.00 / 1.10 × 1.02 = 7.418… → 7.42 EUR.
      expect((yield* search({ q: "earthsea" })).hits[0]).toMatchObject({
        title: "A Wizard of Earthsea",
        offers: 1,
        bestOffer: { sellerId: american.id, price: { amount: 800, currency: "USD" }, shipping: { amount: 0, currency: "USD" }, total: { amount: 742, currency: "EUR" } }
      })
      // Compared converted: by price, Earthsea (7.42 converted) before The Left Hand of Darkness (11.00 EUR).
      expect(titles(yield* search({ q: "le guin", sort: "price" }))).toEqual(["A Wizard of Earthsea", "The Left Hand of Darkness"])
      expect(titles(yield* search({ q: "le guin", maxTotal: 742 }))).toEqual(["A Wizard of Earthsea"])
      expect(titles(yield* search({ q: "le guin", maxTotal: 741 }))).toEqual([])
      // And the other way: a EUR offer asked in USD, 4.00 × 1.10 × 1.02 = 4.488 → 4.49 USD.
      const dune = (yield* search({ q: "dune", currency: "USD" })).hits.find((hit) => hit.title === "Dune")!
      expect(dune).toMatchObject({ offers: 2, bestOffer: { sellerId: cheap.id, price: { amount: 400, currency: "EUR" }, total: { amount: 449, currency: "USD" } } })
      // A currency the rates do not know counts only its own offers.
      expect((yield* search({ q: "earthsea", currency: "GBP" })).hits[0]).toMatchObject({ offers: 0, bestOffer: null, otherCurrencies: ["USD"] })
      expect((yield* search({ q: "earthsea" })).hits[0]).toMatchObject({ otherCurrencies: [] })
    }).pipe(
      Effect.provide(TestLayer.pipe(Layer.provideMerge(ExchangeRates.layer({ source: ratesFile({ USD: "1.10", JPY: "160" }) }))))
    )
  )

  it.live("does not show offers from stale feeds", () =>
    Effect.gen(function* () {
      const { cheap } = yield* catalog
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE seller_feeds SET last_upload_at = now() - interval '2 days' WHERE seller_id = ${cheap.id}`
      const dune = (yield* search({ q: "dune" })).hits.find((hit) => hit.title === "Dune")!
      expect(dune).toMatchObject({ offers: 1, bestOffer: { sellerName: "fine-books" } })
      expect((yield* search({ q: "foundation" })).hits[0]).toMatchObject({ title: "Foundation", offers: 0, bestOffer: null })
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("pages with a cursor: every match once, in order, for both sorts; a forged cursor is refused", () =>
    Effect.gen(function* () {
      yield* catalog
      for (const sort of ["relevance", "price"] as const) {
        const all = yield* search({ q: "dune", sort, limit: 50 })
        expect(all.hits.length).toBe(3)
        const seen: Array<string> = []
        let cursor: string | undefined
        for (let page = 0; page < 10; page++) {
          const next: BookSearch.SearchPage = yield* search({ q: "dune", sort, limit: 1, ...(cursor === undefined ? {} : { cursor }) })
          seen.push(...next.hits.map((hit) => hit.isbn))
          if (next.nextCursor === null) break
          cursor = next.nextCursor
        }
        expect(seen).toEqual(all.hits.map((hit) => hit.isbn))
      }
      const forged = yield* Effect.flip(search({ q: "dune", cursor: "not-a-cursor" }))
      expect(forged).toBeInstanceOf(BookSearch.InvalidCursor)
      const relevanceCursor = (yield* search({ q: "dune herbert", limit: 1 })).nextCursor!
      expect((yield* Effect.flip(search({ q: "dune herbert", limit: 1, sort: "price", cursor: relevanceCursor }))).reason).toMatch(/sort=relevance/)
    }).pipe(Effect.provide(TestLayer))
  )
})

/** Books for accents and word order, with ISBNs of their own; a feed lists them in this order. */
const shelf: ReadonlyArray<Book> = [
  // Decoys first: the books a scan meets before the one asked for.
  { title: "The Rose of the Name", author: "Anna Rosen", publisher: "Decoy Press", year: 2001 },
  { title: "Name the Rose of the Garden", author: "Tom Name", publisher: "Decoy Press", year: 2002 },
  { title: "The World of History", author: "Thomas Barnes", publisher: "Decoy Press", year: 2003 },
  { title: "The Name of the Rose", author: "Umberto Eco", publisher: "Bompiani", year: 1980 },
  { title: "A History of the World in 10½ Chapters", author: "Julian Barnes", publisher: "Jonathan Cape", year: 1989 },
  // Accents: stored with them, and stored without them (a feed that strips them).
  { title: "Cien años de soledad", author: "Gabriel García Márquez", publisher: "Editorial Sudamericana", year: 1967 },
  { title: "Les Miserables", author: "Victor Hugo", publisher: "A. Lacroix", year: 1862 }
]
const shelfIsbns = isbns.slice(10, 10 + shelf.length)
const shelfIsbn = (title: string) => shelfIsbns[shelf.findIndex((book) => book.title === title)]!
const shelfFeed = [
  header,
  ...shelf.map((book, i) => [`s-${i}`, shelfIsbns[i], book.title, book.author, book.publisher, book.year, "5.00", "1", "Good"].join("\t"))
].join("\n") + "\n"
const shelved = Effect.gen(function* () {
  const [seller] = yield* SimulatedSellers.registerActive(yield* SimulatedSellers.startSellers([{ name: "shelf", stock: [] }]))
  yield* upload(seller!.id, shelfFeed)
})

describe("BookSearch: accents, word order, common words", () => {
  it.live("folds accents both ways: asked without them, stored with them, and the other way round; typos too", () =>
    Effect.gen(function* () {
      yield* shelved
      expect(titles(yield* search({ q: "garcia marquez" }))).toEqual(["Cien años de soledad"])
      expect(titles(yield* search({ q: "cien anos de soledad" }))).toEqual(["Cien años de soledad"])
      expect(titles(yield* search({ q: "Les Misérables" }))).toEqual(["Les Miserables"])
      expect(titles(yield* search({ q: "GARCÍA MÁRQUEZ" }))).toEqual(["Cien años de soledad"])
      // A typo is corrected against the folded words of the catalog.
      expect(titles(yield* search({ q: "marqez" }))).toEqual(["Cien años de soledad"])
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("the title as asked comes first, then the words side by side in order, then the same words elsewhere", () =>
    Effect.gen(function* () {
      yield* shelved
      const rose = yield* search({ q: "the name of the rose" })
      expect(titles(rose)[0]).toBe("The Name of the Rose")
      expect(titles(rose).slice(1).sort()).toEqual(["Name the Rose of the Garden", "The Rose of the Name"])
      expect(rose.hits[0]!.score).toBeGreaterThan(rose.hits[1]!.score + 1)
      // Title and author words: the one with more of the query's neighbours side by side.
      expect(titles(yield* search({ q: "history of the world barnes" }))).toEqual(["A History of the World in 10½ Chapters", "The World of History"])
      expect(titles(yield* search({ q: "the world of history" }))[0]).toBe("The World of History")
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("a search scores at most maxRanked of its matches, and finds the exact title by its index however many come before it", () =>
    Effect.gen(function* () {
      yield* shelved
      const narrow = yield* BookSearch.make({ maxRanked: 1 })
      // "the" is in 5 titles; each kind of match (as typed, best correction, any correction) scores its first one.
      expect((yield* narrow.search({ q: "the", currency: "EUR" })).hits.length).toBeLessThanOrEqual(3)
      // The decoys come first in the table; the title asked for is still found, and first.
      const rose = yield* narrow.search({ q: "The Name of the Rose", currency: "EUR" })
      expect(rose.hits.map((hit) => hit.isbn)).toContain(shelfIsbn("The Name of the Rose"))
      expect(rose.hits[0]!.isbn).toBe(shelfIsbn("The Name of the Rose"))
    }).pipe(Effect.provide(TestLayer))
  )
})
