/**
 * What a server that stopped mid-upload leaves behind is finished by the next one
 * (`InventoryUploads.recover`): uploads still receiving or applying are refused with nothing
 * applied, an applied upload's books are written from its leftover staged rows, and no staged row
 * stays. Real PostgreSQL; the stopped server's state is written as it leaves it.
 */
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Deferred, Effect, Exit, Fiber, Layer, Redacted, Stream } from "effect"
import * as InventoryUploads from "../../src/inventory/InventoryUploads.js"
import * as OfferIndex from "../../src/inventory/OfferIndex.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import { SimulatedSellers, TestDatabase } from "../../src/testing/index.js"

const [isbnA, isbnB, isbnC, isbnD] = generateIsbns({ size: 4, seed: 1818 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]

/** Uploads given up after 1 s without progress; `recover` called by the tests only; every row staged as it comes. */
const TestLayer = InventoryUploads.layer({ abandonedAfterMillis: 1_000, recoverEveryMillis: 0, batchRows: 1 }).pipe(
  Layer.provideMerge(OfferIndex.layer({ feedSellersRefreshMillis: 60_000 })),
  Layer.provideMerge(SellerDirectory.layer({ refreshMillis: 60_000 })),
  Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]), OutboundAddress.layerLoopback)),
  Layer.provideMerge(TestDatabase.layer)
)

const header = "listingid\tisbn\ttitle\tprice\tquantity\tbookcondition"
const tsv = (...lines: ReadonlyArray<ReadonlyArray<string>>) => [header, ...lines.map((line) => line.join("\t"))].join("\n") + "\n"
const bytes = (text: string) => Stream.make(new TextEncoder().encode(text))

const seller = Effect.gen(function* () {
  const [registered] = yield* SimulatedSellers.registerActive(yield* SimulatedSellers.startSellers([{ name: "feeder", stock: [] }]))
  return registered!.id
})

/** An upload row as a stopped server left it, `ago` seconds since its last progress, with staged rows. */
const leftBehind = (sellerId: string, status: InventoryUploads.UploadStatusName, ago: number, staged: ReadonlyArray<{ listingId: string; isbn: string; title: string }>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      INSERT INTO inventory_uploads (seller_id, mode, format, status, updated_at, finished_at)
      VALUES (${sellerId}, 'snapshot', 'tsv', ${status}, now() - make_interval(secs => ${ago}),
              ${status === "applied" ? sql`now() - make_interval(secs => ${ago})` : sql`NULL`})
      RETURNING id`
    for (const [line, listing] of staged.entries()) {
      yield* sql`
        INSERT INTO inventory_staging (upload_id, line, listing_id, isbn, price, shipping, currency, condition, binding, quantity, title)
        VALUES (${row!.id}, ${line + 2}, ${listing.listingId}, ${listing.isbn}, 900, 0, 'EUR', 'good', NULL, 1, ${listing.title})`
    }
    return row!.id
  }).pipe(Effect.orDie)

const state = (sellerId: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const uploads = yield* sql<{ id: string; status: string; refusal: string | null }>`SELECT id, status, refusal FROM inventory_uploads WHERE seller_id = ${sellerId}`
    const staged = yield* sql<{ upload_id: string }>`SELECT DISTINCT upload_id FROM inventory_staging`
    const listings = yield* sql<{ listing_id: string }>`SELECT listing_id FROM listings WHERE seller_id = ${sellerId} ORDER BY listing_id`
    const books = yield* sql<{ isbn: string; title: string | null }>`SELECT isbn, title FROM books WHERE isbn IN (${isbnC}, ${isbnD}) ORDER BY isbn`
    return {
      upload: (id: string) => uploads.find((upload) => upload.id === id),
      staged: staged.map((row) => row.upload_id),
      listings: listings.map((row) => row.listing_id),
      books
    }
  }).pipe(Effect.orDie)

describe("InventoryUploads.recover: what a stopped server left is finished", () => {
  it.live("uploads still receiving or applying are refused with nothing applied; an applied one gets its books; no staged row stays", () =>
    Effect.gen(function* () {
      const uploads = yield* InventoryUploads.InventoryUploads
      const sellerId = yield* seller
      // The inventory before: two listings from a finished snapshot.
      const before = yield* uploads.upload(sellerId, { mode: "snapshot", format: "tsv", currency: "EUR" }, bytes(tsv(["A1", isbnA, "A", "10.00", "1", "Good"], ["B1", isbnB, "B", "11.00", "1", "Good"])))
      expect(before.status).toBe("applied")

      // Stopped while applying a snapshot that lists only C1: had any of it been applied, A1 and B1 would be gone.
      const applying = yield* leftBehind(sellerId, "applying", 60, [{ listingId: "C1", isbn: isbnC, title: "Half Applied" }])
      // Stopped while receiving.
      const receiving = yield* leftBehind(sellerId, "receiving", 60, [{ listingId: "C2", isbn: isbnC, title: "Half Read" }])
      // Stopped after the answer (its listings applied), before the books it describes were written.
      const applied = yield* leftBehind(sellerId, "applied", 60, [{ listingId: "D1", isbn: isbnD, title: "Described Late" }])
      // Still in progress in a live server (progress a moment ago): left alone.
      const live = yield* leftBehind(sellerId, "receiving", 0, [{ listingId: "C3", isbn: isbnC, title: "In Progress" }])

      const report = yield* uploads.recover
      expect(report).toEqual({ refused: 2, booksWritten: 1, stagingCleared: 1 })
      const after = yield* state(sellerId)
      expect(after.upload(applying)).toEqual({ id: applying, status: "refused", refusal: "the server stopped while applying the file: nothing of it was applied; send it again" })
      expect(after.upload(receiving)).toEqual({ id: receiving, status: "refused", refusal: "the upload stopped before the file was complete" })
      expect(after.upload(applied)?.status).toBe("applied")
      expect(after.upload(live)?.status).toBe("receiving")
      expect(after.staged).toEqual([live])
      expect(after.listings).toEqual(["A1", "B1"])
      expect(after.books).toEqual([{ isbn: isbnD, title: "Described Late" }])
      // The seller sees why in its uploads.
      expect((yield* uploads.status(sellerId, applying)).refusal).toContain("send it again")

      // Nothing left to do: a second run changes nothing.
      expect(yield* uploads.recover).toEqual({ refused: 0, booksWritten: 0, stagingCleared: 0 })
    }).pipe(Effect.provide(TestLayer))
  )

  it.live("an upload given up while it was still being read is refused, not applied, when its file finally ends", () =>
    Effect.gen(function* () {
      const uploads = yield* InventoryUploads.InventoryUploads
      const sellerId = yield* seller
      const sql = yield* SqlClient.SqlClient
      const rest = yield* Deferred.make<void>()
      const encoder = new TextEncoder()
      // The header and one row arrive, then the connection stalls.
      const body = Stream.concat(
        Stream.make(encoder.encode(tsv(["E1", isbnA, "E", "10.00", "1", "Good"]))),
        Stream.fromEffect(Effect.as(Deferred.await(rest), encoder.encode("")))
      )
      const running = yield* Effect.forkChild(Effect.exit(uploads.upload(sellerId, { mode: "snapshot", format: "tsv", currency: "EUR" }, body)))
      // Its row is staged, and the progress saying so written (rows_read 1), before it is taken for
      // dead: backdated any earlier, that progress write would make it live again (a busy machine
      // got there: the recovery then found nothing to refuse). Then the stream stalls: no more writes.
      const staged = sql<{ n: number }>`SELECT count(*)::int AS n FROM inventory_uploads WHERE seller_id = ${sellerId} AND rows_read >= 1`
      for (let i = 0; i < 1_500 && (yield* staged)[0]!.n === 0; i++) yield* Effect.sleep(20)
      yield* sql`UPDATE inventory_uploads SET updated_at = now() - interval '1 minute' WHERE seller_id = ${sellerId}`
      expect((yield* uploads.recover).refused).toBe(1)
      yield* Deferred.succeed(rest, undefined)
      const exit = yield* Fiber.join(running)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("the upload stopped before the file was complete")
      const after = yield* state(sellerId)
      expect(after.listings).toEqual([])
    }).pipe(Effect.provide(TestLayer))
  )
})
