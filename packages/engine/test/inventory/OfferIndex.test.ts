import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Deferred, Effect, Fiber, Layer, Redacted, Schedule, Stream } from "effect"
import * as InventoryUploads from "../../src/inventory/InventoryUploads.js"
import * as OfferIndex from "../../src/inventory/OfferIndex.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as QuoteEngine from "../../src/quotes/QuoteEngine.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import * as SellerPool from "../../src/sellers/SellerPool.js"
import * as SharedState from "../../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../../src/testing/index.js"

const isbns = generateIsbns({ size: 8, seed: 1616 }) as ReadonlyArray<Isbn.Isbn13>
const [isbnA, isbnB, isbnC, isbnD] = isbns as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]

const Infrastructure = Layer.mergeAll(
  SecretBox.layer(Redacted.make(SecretBox.generateKey())),
  AdapterRegistry.layer([referenceAdapter]),
  OutboundAddress.layerLoopback
).pipe(Layer.provideMerge(TestDatabase.layer))

/** A quote engine over the offer index, with tiny staging batches (so a small file takes several). */
const engineLayer = QuoteEngine.layer({ stragglers: false }).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      SellerDirectory.layer({ refreshMillis: 60_000 }),
      SellerPool.layer(),
      SharedState.layerMemory(),
      InventoryUploads.layer({ batchRows: 2, maxErrors: 3 }).pipe(Layer.provideMerge(OfferIndex.layer({ feedSellersRefreshMillis: 60_000 })))
    )
  ),
  Layer.provideMerge(Infrastructure)
)

const register = SimulatedSellers.registerActive

const header = "listingid\tisbn\ttitle\tauthor\tprice\tquantity\tbookcondition\tbindingtext\tdescription"
const line = (id: string, isbn: string, price: string, quantity = "1", condition = "Very Good") =>
  [id, isbn, `Title ${id}`, "Doe, Jane", price, quantity, condition, "Paperback", "a nice copy"].join("\t")
const tsv = (...lines: ReadonlyArray<string>) => [header, ...lines].join("\n") + "\n"

/** The file as the socket delivers it: in small chunks. */
const body = (text: string | Uint8Array, chunk = 7) => {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text
  const chunks: Array<Uint8Array> = []
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk))
  return Stream.fromIterable(chunks)
}

const upload = (sellerId: string, text: string, mode: InventoryUploads.UploadMode = "snapshot") =>
  Effect.flatMap(InventoryUploads.InventoryUploads, (uploads) => uploads.upload(sellerId, { mode, format: "tsv", currency: "EUR" }, body(text)))

/**
 * Another transaction (another upload's books, not committed yet) inserting `isbn` into `books`:
 * an insert of the same book waits for it. `release` rolls it back.
 */
const holdBook = (isbn: Isbn.Isbn13) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const inserted = yield* Deferred.make<void>()
    const released = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(
      Effect.exit(
        sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`INSERT INTO books (isbn, title) VALUES (${isbn}, 'Held elsewhere')`
            yield* Deferred.succeed(inserted, undefined)
            yield* Deferred.await(released)
            return yield* Effect.fail("rolled back")
          })
        )
      )
    )
    yield* Deferred.await(inserted)
    return { release: Effect.andThen(Deferred.succeed(released, undefined), Fiber.join(fiber)) }
  })

/** Once the uploads' books are written and their staged rows gone (in the background, so polled): the book's title. */
const booksWritten = (isbn: Isbn.Isbn13, uploadIds: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.orDie(sql<{ title: string | null; staged: string }>`
      SELECT (SELECT title FROM books WHERE isbn = ${isbn}) AS title,
             (SELECT count(*) FROM inventory_staging WHERE upload_id = ANY(${uploadIds}::uuid[])) AS staged`).pipe(
      Effect.flatMap(([row]) => (row!.title !== null && Number(row!.staged) === 0 ? Effect.succeed(row!.title) : Effect.fail("not yet"))),
      Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 })
    )
  )

const listingIds = (sellerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ listing_id: string }>`SELECT listing_id FROM listings WHERE seller_id = ${sellerId} ORDER BY listing_id`, (rows) => rows.map((row) => row.listing_id))
  ).pipe(Effect.orDie)

describe("inventory uploads", () => {
  it.live("a snapshot replaces the inventory, a delta changes only what it lists, quantity 0 retires", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "feeder", stock: [] }]))
      const first = yield* upload(seller!.id, tsv(line("A1", isbnA, "12.50"), line("B1", isbnB, "8.00", "3"), line("C1", isbnC, "5.00")))
      expect(first).toMatchObject({ status: "applied", rowsRead: 3, rowsRejected: 0, rowsApplied: 3, listingsRetired: 0 })
      expect(yield* listingIds(seller!.id)).toEqual(["A1", "B1", "C1"])

      // A delta: B1 gone (quantity 0), A1 repriced, D1 new; C1 untouched.
      const delta = yield* upload(seller!.id, tsv(line("B1", isbnB, "", "0"), line("A1", isbnA, "11.00"), line("D1", isbnD, "4.00")), "delta")
      expect(delta).toMatchObject({ status: "applied", rowsApplied: 2, listingsRetired: 1 })
      expect(yield* listingIds(seller!.id)).toEqual(["A1", "C1", "D1"])
      const index = yield* OfferIndex.OfferIndex
      const listed = yield* index.lookup(isbnA)
      expect(listed.listings.map((listing) => [listing.listingId, listing.price, listing.shipping, listing.currency, listing.condition, listing.source])).toEqual([
        ["A1", 1100, 0, "EUR", "very_good", "feed"]
      ])

      // A snapshot without C1 and D1 retires them.
      const snapshot = yield* upload(seller!.id, tsv(line("A1", isbnA, "11.00")))
      expect(snapshot).toMatchObject({ status: "applied", rowsApplied: 1, listingsRetired: 2 })
      expect(yield* listingIds(seller!.id)).toEqual(["A1"])
      const summary = yield* (yield* InventoryUploads.InventoryUploads).summary(seller!.id)
      expect(summary).toMatchObject({ listings: 1, complete: true, trustSeconds: 86_400 })
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("a listing id named twice in a file takes its last line, on a seller's first upload and on a later one", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "repeater", stock: [] }]))
      const prices = (sellerId: string) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ listing_id: string; price: string; quantity: number }>`SELECT listing_id, price, quantity FROM listings WHERE seller_id = ${sellerId} ORDER BY listing_id`
        ).pipe(Effect.orDie, Effect.map((rows) => rows.map((row) => [row.listing_id, Number(row.price), row.quantity])))
      // First listings (inserted straight from the staged rows): A1 repriced further down, B1
      // listed then retired, C1 retired then listed again.
      const file = tsv(
        line("A1", isbnA, "5.00"),
        line("B1", isbnB, "8.00", "2"),
        line("C1", isbnC, "", "0"),
        line("A1", isbnA, "7.00", "3"),
        line("B1", isbnB, "", "0"),
        line("C1", isbnC, "6.00")
      )
      const first = yield* upload(seller!.id, file)
      expect(first).toMatchObject({ status: "applied", rowsRead: 6, rowsApplied: 2, listingsRetired: 0 })
      expect(yield* prices(seller!.id)).toEqual([["A1", 700, 3], ["C1", 600, 1]])
      // The same rules once the seller has listings (compared with them, through the upsert).
      const later = yield* upload(seller!.id, tsv(line("A1", isbnA, "9.00"), line("C1", isbnC, "", "0"), line("A1", isbnA, "4.00"), line("D1", isbnD, "1.00"), line("D1", isbnD, "", "0")), "delta")
      expect(later).toMatchObject({ status: "applied", rowsApplied: 1, listingsRetired: 1 })
      expect(yield* prices(seller!.id)).toEqual([["A1", 400, 1]])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("reports bad rows with line, field and reason, and applies the rest", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "sloppy", stock: [] }]))
      const result = yield* upload(
        seller!.id,
        tsv(line("A1", isbnA, "12.50"), line("BAD-ISBN", "9780000000000", "3.00"), line("B1", isbnB, "€8"), line("C1", isbnC, "5.00", "1", "Mint-ish"), line("D1", isbnD, "7.00"), line("E1", "123", "1.00"))
      )
      expect(result.status).toBe("applied")
      expect(result.rowsRead).toBe(6)
      expect(result.rowsRejected).toBe(4)
      expect(result.rowsApplied).toBe(2)
      // Three kept (maxErrors), each with its line (the header is line 1).
      expect(result.errors.map((error) => [error.line, error.field])).toEqual([
        [3, "isbn"],
        [4, "price"],
        [5, "bookcondition"]
      ])
      expect(yield* listingIds(seller!.id)).toEqual(["A1", "D1"])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("a file that cannot be read is refused and the inventory stays as it was", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "careful", stock: [] }]))
      yield* upload(seller!.id, tsv(line("A1", isbnA, "12.50"), line("B1", isbnB, "8.00")))
      const uploads = yield* InventoryUploads.InventoryUploads

      // Not tab-separated: refused at the header, no upload recorded.
      const csv = yield* Effect.flip(upload(seller!.id, "listingid,isbn,price,quantity,bookcondition\nZ1,9780000000002,1.00,1,New\n"))
      expect(csv._tag).toBe("UploadRefused")
      expect(csv.reason).toMatch(/tab/i)
      // Invalid UTF-8 after many good rows (several staged batches): refused, nothing applied, staging emptied.
      const good = Array.from({ length: 9 }, (_, i) => line(`N${i}`, isbnC, "1.00"))
      const bytes = new Uint8Array([...new TextEncoder().encode(tsv(...good)), 0xff, 0xfe, 0x0a])
      const broken = yield* Effect.flip(uploads.upload(seller!.id, { mode: "snapshot", format: "tsv", currency: "EUR" }, body(bytes)))
      expect(broken.reason).toMatch(/UTF-8/)
      expect(broken.uploadId).toBeDefined()
      expect(yield* listingIds(seller!.id)).toEqual(["A1", "B1"])
      const status = yield* uploads.status(seller!.id, broken.uploadId!)
      expect(status).toMatchObject({ status: "refused", rowsApplied: null })
      const sql = yield* SqlClient.SqlClient
      const [staged] = yield* sql<{ count: string }>`SELECT count(*) AS count FROM inventory_staging`
      expect(Number(staged!.count)).toBe(0)

      // Without a currency anywhere, the prices cannot be read.
      const noCurrency = yield* Effect.flip(uploads.upload(seller!.id, { mode: "delta", format: "tsv" }, body(tsv(line("Q1", isbnD, "1.00")))))
      expect(noCurrency.reason).toMatch(/currency/)
      expect(yield* listingIds(seller!.id)).toEqual(["A1", "B1"])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("two snapshots by one seller at once are applied one after the other: the last applied is the inventory", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "twice", stock: [] }]))
      const left = tsv(...Array.from({ length: 20 }, (_, i) => line(`L${i}`, isbnA, "3.00")))
      const right = tsv(...Array.from({ length: 20 }, (_, i) => line(`R${i}`, isbnB, "4.00")))
      const [a, b] = yield* Effect.all([upload(seller!.id, left), upload(seller!.id, right)], { concurrency: 2 })
      expect([a.status, b.status]).toEqual(["applied", "applied"])
      const last = a.finishedAt!.getTime() > b.finishedAt!.getTime() ? "L" : "R"
      const ids = yield* listingIds(seller!.id)
      expect(ids).toHaveLength(20)
      expect(ids.every((id) => id.startsWith(last))).toBe(true)
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("an unchanged snapshot rewrites no listing, a changed one only what changed; a book is described by the file's last line about it, never by a refused file", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "steady", stock: [] }]))
      const [isbnE, isbnF, isbnG] = isbns.slice(4) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]
      const sql = yield* SqlClient.SqlClient
      const versions = () =>
        Effect.map(
          Effect.orDie(sql<{ listing_id: string; version: string }>`SELECT listing_id, xmin::text AS version FROM listings WHERE seller_id = ${seller!.id} ORDER BY listing_id`),
          (rows) => new Map(rows.map((row) => [row.listing_id, row.version]))
        )
      const file = (priceOfF1: string) => tsv(line("E1", isbnE, "7.00"), line("F1", isbnF, priceOfF1), line("F2", isbnF, "9.00"))
      yield* upload(seller!.id, file("8.00"))
      const first = yield* versions()
      expect(yield* upload(seller!.id, file("8.00"))).toMatchObject({ status: "applied", rowsApplied: 3, listingsRetired: 0 })
      expect(yield* versions()).toEqual(first)
      yield* upload(seller!.id, file("8.50"))
      const third = yield* versions()
      expect([third.get("E1") === first.get("E1"), third.get("F1") === first.get("F1"), third.get("F2") === first.get("F2")]).toEqual([true, false, true])

      // F1 and F2 both describe isbnF: the later line's title is the book's.
      const [book] = yield* Effect.orDie(sql<{ title: string }>`SELECT title FROM books WHERE isbn = ${isbnF}`)
      expect(book?.title).toBe("Title F2")
      const bytes = new Uint8Array([...new TextEncoder().encode(tsv(line("G1", isbnG, "1.00"), line("G2", isbnG, "1.00"), line("G3", isbnG, "1.00"))), 0xff, 0x0a])
      const uploads = yield* InventoryUploads.InventoryUploads
      yield* Effect.flip(uploads.upload(seller!.id, { mode: "delta", format: "tsv", currency: "EUR" }, body(bytes)))
      const [described] = yield* Effect.orDie(sql<{ count: string }>`SELECT count(*) AS count FROM books WHERE isbn = ${isbnG}`)
      expect(Number(described!.count)).toBe(0)
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("a file bigger than booksInlineUpToRows answers once its listings are applied; its books and the end of its staging follow", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "bulky", stock: [] }]))
      const [isbnH] = isbns.slice(7) as [Isbn.Isbn13]
      const uploads = yield* InventoryUploads.InventoryUploads
      const status = yield* uploads.upload(seller!.id, { mode: "snapshot", format: "tsv", currency: "EUR" }, body(tsv(line("H1", isbnH, "6.00"), line("H2", isbnH, "6.50"))))
      expect(status).toMatchObject({ status: "applied", rowsApplied: 2 })
      expect(yield* listingIds(seller!.id)).toEqual(["H1", "H2"])
      expect(yield* booksWritten(isbnH, [status.id])).toBe("Title H2")
    }).pipe(Effect.provide(InventoryUploads.layer({ booksInlineUpToRows: 1 }).pipe(Layer.provideMerge(engineLayer))), Effect.scoped)
  )

  it.live("a small file whose books another upload holds up answers once its listings are applied (booksWaitMillis); its books follow", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "patient", stock: [] }]))
      const [isbnX] = generateIsbns({ size: 1, seed: 4242 }) as [Isbn.Isbn13]
      // Another upload's books, not committed yet (a big snapshot's, written in the background), describe the same book.
      const other = yield* holdBook(isbnX)
      const uploads = yield* InventoryUploads.InventoryUploads
      // Without the bound this waits until the other transaction ends, which is only after the answer.
      const status = yield* uploads.upload(seller!.id, { mode: "delta", format: "tsv", currency: "EUR" }, body(tsv(line("X1", isbnX, "7.00"))))
      expect(status).toMatchObject({ status: "applied", rowsApplied: 1 })
      expect(yield* listingIds(seller!.id)).toEqual(["X1"])
      yield* other.release
      expect(yield* booksWritten(isbnX, [status.id])).toBe("Title X1")
    }).pipe(Effect.provide(InventoryUploads.layer({ booksWaitMillis: 300 }).pipe(Layer.provideMerge(engineLayer))), Effect.scoped)
  )

  it.live("while this process still writes a big file's books, a small file does not wait for its own", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "busy", stock: [] }]))
      const [isbnY] = generateIsbns({ size: 1, seed: 4343 }) as [Isbn.Isbn13]
      const blocker = yield* holdBook(isbnY)
      const uploads = yield* InventoryUploads.InventoryUploads
      // Above booksInlineUpToRows: answered at once, its books left waiting in the background.
      const big = yield* uploads.upload(seller!.id, { mode: "delta", format: "tsv", currency: "EUR" }, body(tsv(line("Y1", isbnY, "7.00"), line("Y2", isbnY, "7.50"))))
      expect(big).toMatchObject({ status: "applied", rowsApplied: 2 })
      // A one-row file would wait up to a minute (booksWaitMillis) for its books; it does not.
      const small = yield* uploads.upload(seller!.id, { mode: "delta", format: "tsv", currency: "EUR" }, body(tsv(line("Y3", isbnY, "8.00"))))
      expect(small).toMatchObject({ status: "applied", rowsApplied: 1 })
      expect(yield* listingIds(seller!.id)).toEqual(["Y1", "Y2", "Y3"])
      yield* blocker.release
      expect(yield* booksWritten(isbnY, [big.id, small.id])).toMatch(/^Title Y[23]$/)
    }).pipe(Effect.provide(InventoryUploads.layer({ booksInlineUpToRows: 1, booksWaitMillis: 60_000 }).pipe(Layer.provideMerge(engineLayer))), Effect.scoped)
  )

  it.live("a seller's upload never touches another seller's listings, even with the same listing ids", () =>
    Effect.gen(function* () {
      const [one, two] = yield* register(yield* SimulatedSellers.startSellers([{ name: "one", stock: [] }, { name: "two", stock: [] }]))
      yield* upload(one!.id, tsv(line("A1", isbnA, "10.00"), line("B1", isbnB, "10.00")))
      yield* upload(two!.id, tsv(line("A1", isbnC, "20.00")))
      yield* upload(two!.id, tsv(line("B1", isbnB, "", "0")), "delta")
      expect(yield* listingIds(one!.id)).toEqual(["A1", "B1"])
      expect(yield* listingIds(two!.id)).toEqual(["A1"])
      const uploads = yield* InventoryUploads.InventoryUploads
      const [oneUpload] = yield* uploads.uploads(one!.id)
      const foreign = yield* Effect.flip(uploads.status(two!.id, oneUpload!.id))
      expect(foreign._tag).toBe("UploadNotFound")
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )
})

describe("quoting with the offer index", () => {
  it.live("asks only sellers without a feed; a complete feed without the book is not asked; indexed prices say where they come from", () =>
    Effect.gen(function* () {
      const running = yield* SimulatedSellers.startSellers([
        { name: "listed", stock: [{ isbn: isbnA, price: 900, quantity: 2 }] },
        { name: "unlisted", stock: [{ isbn: isbnA, price: 100, quantity: 2 }] },
        { name: "no-feed", stock: [{ isbn: isbnA, price: 1500, quantity: 2 }] }
      ])
      const [listed, unlisted] = yield* register(running)
      yield* upload(listed!.id, tsv(line("A1", isbnA, "9.00")))
      yield* upload(unlisted!.id, tsv(line("B1", isbnB, "1.00")))
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbnA, { currency: "EUR" })
      expect(running.map((seller) => seller.simulator.calls.quote)).toEqual([0, 0, 1])
      expect(book.offers.map((offer) => [offer.sellerName, offer.total.amount, offer.source])).toEqual([
        ["listed", 900, "feed"],
        ["no-feed", 1500, "live"]
      ])
      expect(book.offers[0]!.seenAt).toBeInstanceOf(Date)
      expect(book.outcomes.find((outcome) => outcome.sellerName === "unlisted")).toMatchObject({ status: "unavailable", reason: "not_listed" })
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("a stale feed is not believed: its seller is asked live", () =>
    Effect.gen(function* () {
      const running = yield* SimulatedSellers.startSellers([{ name: "stale", stock: [{ isbn: isbnA, price: 700, quantity: 1 }] }])
      const [seller] = yield* register(running)
      yield* upload(seller!.id, tsv(line("B1", isbnB, "1.00")))
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE seller_feeds SET last_upload_at = now() - interval '25 hours', last_snapshot_at = now() - interval '25 hours'`
      const book = yield* (yield* QuoteEngine.QuoteEngine).quotes(isbnA, { currency: "EUR" })
      expect(running[0]!.simulator.calls.quote).toBe(1)
      expect(book.offers.map((offer) => [offer.total.amount, offer.source])).toEqual([[700, "live"]])
      expect((yield* (yield* OfferIndex.OfferIndex).lookup(isbnB)).listings).toEqual([])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("confirming walks down the index when it was wrong, and corrects it", () =>
    Effect.gen(function* () {
      const running = yield* SimulatedSellers.startSellers([
        // Sold its copy elsewhere since the upload.
        { name: "gone", stock: [{ isbn: isbnA, price: 500, quantity: 0 }] },
        // Raised its price since the upload.
        { name: "dearer", stock: [{ isbn: isbnA, price: 800, quantity: 1 }] },
        { name: "true", stock: [{ isbn: isbnA, price: 700, quantity: 1 }] },
        { name: "last", stock: [{ isbn: isbnA, price: 2000, quantity: 1 }] }
      ])
      const sellers = yield* register(running)
      yield* upload(sellers[0]!.id, tsv(line("G", isbnA, "5.00")))
      yield* upload(sellers[1]!.id, tsv(line("D", isbnA, "6.00")))
      yield* upload(sellers[2]!.id, tsv(line("T", isbnA, "7.00")))
      yield* upload(sellers[3]!.id, tsv(line("L", isbnA, "20.00")))
      const engine = yield* QuoteEngine.QuoteEngine
      const book = yield* engine.quotes(isbnA, { currency: "EUR" })
      expect(book.offers.map((offer) => offer.sellerName)).toEqual(["gone", "dearer", "true", "last"])
      const confirmed = yield* engine.confirm(isbnA, book.offers, { currency: "EUR", deadlineMillis: 5_000, best: 2 })
      expect(confirmed.offers.map((offer) => [offer.sellerName, offer.total.amount, offer.source])).toEqual([
        ["true", 700, "live"],
        ["dearer", 800, "live"]
      ])
      expect(confirmed.offers.every((offer) => !offer.offer.quoteId.startsWith("feed-"))).toBe(true)
      // gone and dearer first (the best two), then true (one live offer was still missing); never last.
      expect(running.map((seller) => seller.simulator.calls.quote)).toEqual([1, 1, 1, 0])
      expect(confirmed.outcomes.find((outcome) => outcome.sellerName === "last")).toMatchObject({ status: "skipped", reason: "not_needed" })
      const after = yield* (yield* OfferIndex.OfferIndex).lookup(isbnA)
      expect(after.listings.map((listing) => [listing.listingId, listing.price])).toEqual([
        ["T", 700],
        ["D", 800],
        ["L", 2000]
      ])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )

  it.live("with the index unreadable (PostgreSQL away), every seller is asked live: quotes still answer", () =>
    Effect.gen(function* () {
      const running = yield* SimulatedSellers.startSellers([{ name: "live", stock: [{ isbn: isbnA, price: 1200, quantity: 1 }] }])
      yield* register(running)
      const book = yield* (yield* QuoteEngine.QuoteEngine).quotes(isbnA, { currency: "EUR" })
      expect(book.offers.map((offer) => [offer.sellerName, offer.total.amount, offer.source])).toEqual([["live", 1200, "live"]])
      expect(running[0]!.simulator.calls.quote).toBe(1)
    }).pipe(
      Effect.provide(
        QuoteEngine.layer({ stragglers: false }).pipe(
          Layer.provideMerge(
            Layer.mergeAll(
              SellerDirectory.layer({ refreshMillis: 60_000 }),
              SellerPool.layer(),
              SharedState.layerMemory(),
              Layer.succeed(OfferIndex.OfferIndex, {
                lookup: () => Effect.die(new Error("connection refused")),
                learn: () => Effect.void,
                recordPushes: () => Effect.void,
                changed: Effect.void
              })
            )
          ),
          Layer.provideMerge(Infrastructure)
        )
      ),
      Effect.scoped
    )
  )

  it.live("pushed prices are kept durably, and a push of no stock removes the seller's listings of the book", () =>
    Effect.gen(function* () {
      const [seller] = yield* register(yield* SimulatedSellers.startSellers([{ name: "pusher", stock: [] }]))
      const index = yield* OfferIndex.OfferIndex
      yield* upload(seller!.id, tsv(line("F1", isbnB, "3.00")))
      yield* index.recordPushes(seller!.id, [
        { isbn: isbnA, available: true, price: 1234, shipping: 100, currency: "EUR", condition: "new", quantity: 2, validForSeconds: 300 },
        { isbn: isbnB, available: false }
      ])
      const a = yield* index.lookup(isbnA)
      expect(a.listings.map((listing) => [listing.listingId, listing.price, listing.shipping, listing.source])).toEqual([[OfferIndex.pushListingId(isbnA), 1234, 100, "push"]])
      expect((yield* index.lookup(isbnB)).listings).toEqual([])
    }).pipe(Effect.provide(engineLayer), Effect.scoped)
  )
})
