/**
 * Staging rows with COPY (`StagingCopy`): every value arrives in PostgreSQL as it was parsed —
 * tabs, newlines, carriage returns and backslashes in the text, missing values as NULL, the
 * widest Unicode — over real connections opened from the engine pool's own settings, never more
 * of them than the staging pool allows.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "effect/sql"
import { Effect } from "effect"
import type { ListingRow } from "../../src/inventory/InventoryFile.js"
import * as StagingCopy from "../../src/inventory/StagingCopy.js"
import { TestDatabase } from "../../src/testing/index.js"

const row = (line: number, fields: Partial<ListingRow>): ListingRow => ({
  line,
  listingId: `L${line}`,
  isbn: "9780306406157" as Isbn.Isbn13,
  price: 1234,
  shipping: null,
  currency: null,
  quantity: 1,
  condition: "good",
  binding: null,
  title: null,
  author: null,
  publisher: null,
  year: null,
  ...fields
})

describe("StagingCopy", () => {
  it("escapes what COPY's text format gives a meaning to, and nothing else", () => {
    expect(StagingCopy.field(null)).toBe("\\N")
    expect(StagingCopy.field(0)).toBe("0")
    expect(StagingCopy.field("a\tb\nc\rd\\e")).toBe("a\\tb\\nc\\rd\\\\e")
    expect(StagingCopy.field("\\N")).toBe("\\\\N")
    expect(StagingCopy.field("Straße 𝔘 \"quoted\" 'single'")).toBe("Straße 𝔘 \"quoted\" 'single'")
  })

  it.effect("rows arrive in PostgreSQL exactly as parsed, batch after batch", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const staging = yield* StagingCopy.make((yield* PgClient.PgClient).config, { maxConnections: 1 })
      const uploadId = "00000000-0000-4000-8000-000000000001"
      const rows = [
        row(2, { title: "Tabs\tand\nnewlines\r\nand a back\\slash", author: "\\N", publisher: "Éditions 𝔘", listingId: "id\twith tab", year: 1999 }),
        row(3, { price: null, quantity: 0, condition: null, title: "" }),
        row(4, { shipping: 350, currency: "USD", binding: "hardcover", author: "Ada \"the Countess\" Lovelace" })
      ]
      yield* staging.write(uploadId, rows.slice(0, 2))
      yield* staging.write(uploadId, [])
      yield* staging.write(uploadId, rows.slice(2))
      const stored = yield* sql<Record<string, unknown>>`
        SELECT line, listing_id, isbn, price, shipping, currency, condition, binding, quantity, title, author, publisher, year
        FROM inventory_staging WHERE upload_id = ${uploadId} ORDER BY line`
      expect(stored).toEqual(
        rows.map((r) => ({
          line: r.line,
          listing_id: r.listingId,
          isbn: r.isbn,
          price: r.price === null ? null : String(r.price),
          shipping: r.shipping === null ? null : String(r.shipping),
          currency: r.currency,
          condition: r.condition,
          binding: r.binding,
          quantity: r.quantity,
          title: r.title,
          author: r.author,
          publisher: r.publisher,
          year: r.year
        }))
      )
    }).pipe(Effect.provide(TestDatabase.layer), Effect.scoped)
  )

  it.effect("uploads staging at once share the pool's connections: no more are opened than it allows", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const staging = yield* StagingCopy.make((yield* PgClient.PgClient).config, { maxConnections: 2 })
      const uploads = Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-00000000010${i}`)
      const batch = Array.from({ length: 2_000 }, (_, i) => row(i + 2, {}))
      yield* Effect.forEach(uploads, (uploadId) => Effect.forEach([1, 2, 3], () => staging.write(uploadId, batch), { discard: true }), { concurrency: "unbounded", discard: true })
      // The pool keeps what it opened for 10 s after its last use: what is there is what it opened.
      const [opened] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE '%(inventory staging)' AND datname = current_database()`
      const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM inventory_staging WHERE upload_id = ANY(${uploads}::uuid[])`
      expect(count!.n).toBe(8 * 3 * 2_000)
      expect(opened!.n).toBe(2)
    }).pipe(Effect.provide(TestDatabase.layer), Effect.scoped)
  )

  it.effect("a COPY PostgreSQL refuses is a defect that says why, and the batch leaves nothing behind", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const staging = yield* StagingCopy.make((yield* PgClient.PgClient).config, { maxConnections: 1 })
      const uploadId = "00000000-0000-4000-8000-000000000002"
      // A quantity the column cannot hold (int4): the whole batch is refused.
      const exit = yield* Effect.exit(staging.write(uploadId, [row(2, {}), row(3, { quantity: 2 ** 40 })]))
      expect(exit._tag === "Failure" && String(exit.cause)).toContain("out of range")
      const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM inventory_staging WHERE upload_id = ${uploadId}`
      expect(count!.n).toBe(0)
      // The next batch gets a good connection.
      yield* staging.write(uploadId, [row(4, {})])
      const [after] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM inventory_staging WHERE upload_id = ${uploadId}`
      expect(after!.n).toBe(1)
    }).pipe(Effect.provide(TestDatabase.layer), Effect.scoped)
  )
})
