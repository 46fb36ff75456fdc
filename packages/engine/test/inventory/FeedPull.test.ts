import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { SqlClient } from "effect/sql"
import { Effect, Layer, Redacted } from "effect"
import * as FeedPull from "../../src/inventory/FeedPull.js"
import * as InventoryUploads from "../../src/inventory/InventoryUploads.js"
import * as OutboundAddress from "../../src/outbound/OutboundAddress.js"
import * as AdapterRegistry from "../../src/sellers/AdapterRegistry.js"
import * as SecretBox from "../../src/sellers/SecretBox.js"
import * as SellerDirectory from "../../src/sellers/SellerDirectory.js"
import * as SellerPool from "../../src/sellers/SellerPool.js"
import * as SharedState from "../../src/state/SharedState.js"
import { SimulatedSellers, TestDatabase } from "../../src/testing/index.js"

const [isbnA, isbnB] = generateIsbns({ size: 2, seed: 1717 }) as [Isbn.Isbn13, Isbn.Isbn13]

const services = Layer.mergeAll(SellerDirectory.layer({ refreshMillis: 0 }), SellerPool.layer(), SharedState.layerMemory(), InventoryUploads.layer()).pipe(
    Layer.provideMerge(Layer.mergeAll(SecretBox.layer(Redacted.make(SecretBox.generateKey())), AdapterRegistry.layer([referenceAdapter]))),
    // The simulated sellers (and the feed servers) run on this machine.
    Layer.provideMerge(OutboundAddress.layerLoopback),
    Layer.provideMerge(TestDatabase.layer)
  )

/** Feed fetching under its own outbound policy (the directory allows loopback, for the simulated sellers). */
const testLayer = (outbound: OutboundAddress.OutboundPolicyService) =>
  FeedPull.layer({ batchSize: 4 }).pipe(Layer.provide(Layer.succeed(OutboundAddress.OutboundPolicy, outbound)), Layer.provideMerge(services))

/** A seller's web server publishing its inventory file with an ETag; counts what it was asked. */
const feedServer = (file: { body: string; etag: string; type?: string }) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const seen: Array<{ ifNoneMatch: string | undefined }> = []
      const server = createServer((request: IncomingMessage, response: ServerResponse) => {
        seen.push({ ifNoneMatch: request.headers["if-none-match"] })
        if (request.headers["if-none-match"] === file.etag) {
          response.writeHead(304, { etag: file.etag }).end()
          return
        }
        response.writeHead(200, { "content-type": file.type ?? "text/tab-separated-values", etag: file.etag }).end(file.body)
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      return { server, seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/inventory.tsv` }
    }),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

const tsv = (...rows: ReadonlyArray<string>) => ["listingid\tisbn\tprice\tquantity\tbookcondition", ...rows].join("\n")

/** An ONIX for Books 3.0 message: one Product per [record reference, ISBN-13, RRP incl. tax, on hand]. */
const onix = (...products: ReadonlyArray<readonly [string, string, string, number]>) =>
  [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference">`,
    `<Header><Sender><SenderName>Example Distributor</SenderName></Sender><SentDateTime>20260501T0900Z</SentDateTime></Header>`,
    ...products.map(
      ([reference, isbn, amount, onHand]) =>
        `<Product><RecordReference>${reference}</RecordReference><NotificationType>03</NotificationType>` +
        `<ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>${isbn}</IDValue></ProductIdentifier>` +
        `<ProductSupply><SupplyDetail><ProductAvailability>21</ProductAvailability><Stock><OnHand>${onHand}</OnHand></Stock>` +
        `<Price><PriceType>02</PriceType><PriceAmount>${amount}</PriceAmount></Price></SupplyDetail></ProductSupply></Product>`
    ),
    "</ONIXMessage>"
  ].join("\n")

const registerSeller = Effect.gen(function* () {
  const [seller] = yield* SimulatedSellers.registerActive(yield* SimulatedSellers.startSellers([{ name: "publisher", stock: [] }]))
  return seller!
})

/** Makes every feed due now (as if its interval had passed). */
const due = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE seller_feeds SET pull_next_at = now() - interval '1 second'`).pipe(Effect.orDie)

describe("inventory feeds bookbroker fetches", () => {
  it.live("a feed URL is fetched, applied as a snapshot; then 304 keeps it fresh without reading it again; a changed file is applied", () =>
    Effect.gen(function* () {
      const file = { body: tsv(`A\t${isbnA}\t9.00\t1\tNew`, `B\t${isbnB}\t4.00\t2\tGood`), etag: '"v1"' }
      const feed = yield* feedServer(file)
      const seller = yield* registerSeller
      const uploads = yield* InventoryUploads.InventoryUploads
      yield* uploads.configure(seller.id, { currency: "EUR", pull: { _tag: "Url", url: feed.url, format: null, everySeconds: 3_600 } })
      const pull = yield* FeedPull.FeedPull

      expect(yield* pull.runOnce).toBe(1)
      let summary = yield* uploads.summary(seller.id)
      expect(summary).toMatchObject({ listings: 2, complete: true, pullState: { lastResult: "applied: 2 listings, 0 rows rejected, 0 retired" } })
      expect((yield* uploads.uploads(seller.id)).map((upload) => [upload.source, upload.mode, upload.status])).toEqual([["url", "snapshot", "applied"]])
      // Not due again before its interval.
      expect(yield* pull.runOnce).toBe(0)

      yield* due
      const before = summary.lastUploadAt!.getTime()
      expect(yield* pull.runOnce).toBe(1)
      summary = yield* uploads.summary(seller.id)
      expect(feed.seen.map((request) => request.ifNoneMatch)).toEqual([undefined, '"v1"'])
      expect(summary.pullState.lastResult).toBe("not modified")
      expect(summary.lastUploadAt!.getTime()).toBeGreaterThanOrEqual(before)
      expect(yield* uploads.uploads(seller.id)).toHaveLength(1)

      file.body = tsv(`A\t${isbnA}\t8.50\t1\tNew`)
      file.etag = '"v2"'
      yield* due
      yield* pull.runOnce
      summary = yield* uploads.summary(seller.id)
      expect(summary).toMatchObject({ listings: 1, pullState: { lastResult: "applied: 1 listings, 0 rows rejected, 1 retired" } })
    }).pipe(Effect.provide(testLayer(OutboundAddress.loopback)), Effect.scoped)
  )

  it.live("an adapter that lists the seller's inventory is walked page by page, within the seller's limits, and applied as a snapshot", () =>
    Effect.gen(function* () {
      const [running] = yield* SimulatedSellers.startSellers([
        {
          name: "platform",
          stock: [
            { isbn: isbnA, price: 900, quantity: 2 },
            { isbn: isbnB, price: 400, quantity: 0 }
          ]
        }
      ])
      const [seller] = yield* SimulatedSellers.registerActive([running!])
      const uploads = yield* InventoryUploads.InventoryUploads
      yield* uploads.configure(seller!.id, { currency: "EUR", pull: { _tag: "Adapter", everySeconds: 3_600 } })
      expect(yield* (yield* FeedPull.FeedPull).runOnce).toBe(1)
      expect(running!.simulator.calls.inventory).toBeGreaterThanOrEqual(1)
      const summary = yield* uploads.summary(seller!.id)
      expect(summary).toMatchObject({ listings: 1, complete: true, pullState: { lastResult: expect.stringMatching(/^applied: 1 listings/) } })
      expect((yield* uploads.uploads(seller!.id)).map((upload) => [upload.source, upload.format, upload.status])).toEqual([["adapter", "jsonl", "applied"]])
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ isbn: string; price: string }>`SELECT isbn, price FROM listings`.pipe(Effect.orDie)
      expect(rows).toEqual([{ isbn: isbnA, price: "900" }])
    }).pipe(Effect.provide(testLayer(OutboundAddress.loopback)), Effect.scoped)
  )

  it.live("an ONIX feed is read as ONIX: told by its Content-Type (application/xml, application/onix+xml), or registered as onix whatever its server says", () =>
    Effect.gen(function* () {
      const file = { body: onix(["ref-a", isbnA, "9.99", 3], ["ref-b", isbnB, "12.00", 0]), etag: '"o1"', type: "application/xml; charset=utf-8" }
      const feed = yield* feedServer(file)
      const seller = yield* registerSeller
      const uploads = yield* InventoryUploads.InventoryUploads
      const sql = yield* SqlClient.SqlClient
      const listings = sql<{ listing_id: string; price: string; quantity: number }>`SELECT listing_id, price, quantity FROM listings ORDER BY listing_id`.pipe(Effect.orDie)
      yield* uploads.configure(seller.id, { currency: "GBP", pull: { _tag: "Url", url: feed.url, format: null, everySeconds: 3_600 } })
      const pull = yield* FeedPull.FeedPull

      expect(yield* pull.runOnce).toBe(1)
      expect((yield* uploads.summary(seller.id)).pullState.lastResult).toBe("applied: 1 listings, 0 rows rejected, 0 retired")
      expect(yield* listings).toEqual([{ listing_id: "ref-a", price: "999", quantity: 3 }])

      // A registered ONIX format holds even when the server calls the file something else.
      file.body = onix(["ref-a", isbnA, "8.50", 1], ["ref-b", isbnB, "12.00", 2])
      file.etag = '"o2"'
      file.type = "application/octet-stream"
      const registered = yield* uploads.configure(seller.id, { pull: { _tag: "Url", url: feed.url, format: "onix", everySeconds: 3_600 } })
      expect(registered.pull).toMatchObject({ _tag: "Url", format: "onix" })
      yield* pull.runOnce
      expect((yield* uploads.summary(seller.id)).pullState.lastResult).toBe("applied: 2 listings, 0 rows rejected, 0 retired")
      expect(yield* listings).toEqual([
        { listing_id: "ref-a", price: "850", quantity: 1 },
        { listing_id: "ref-b", price: "1200", quantity: 2 }
      ])

      // ONIX's own media type, format not registered.
      file.body = onix(["ref-b", isbnB, "11.00", 2])
      file.etag = '"o3"'
      file.type = "application/onix+xml"
      yield* uploads.configure(seller.id, { pull: { _tag: "Url", url: feed.url, format: null, everySeconds: 3_600 } })
      yield* pull.runOnce
      expect((yield* uploads.summary(seller.id)).pullState.lastResult).toBe("applied: 1 listings, 0 rows rejected, 1 retired")
      expect((yield* uploads.uploads(seller.id)).map((upload) => [upload.source, upload.format, upload.status])).toEqual([
        ["url", "onix", "applied"],
        ["url", "onix", "applied"],
        ["url", "onix", "applied"]
      ])
    }).pipe(Effect.provide(testLayer(OutboundAddress.loopback)), Effect.scoped)
  )

  it.live("a feed URL the outbound policy does not allow is never connected to; the failure is recorded and nothing changes", () =>
    Effect.gen(function* () {
      const feed = yield* feedServer({ body: tsv(`A\t${isbnA}\t9.00\t1\tNew`), etag: '"x"' })
      const seller = yield* registerSeller
      const uploads = yield* InventoryUploads.InventoryUploads
      yield* uploads.configure(seller.id, { currency: "EUR", pull: { _tag: "Url", url: feed.url, format: "tsv", everySeconds: 900 } })
      yield* (yield* FeedPull.FeedPull).runOnce
      expect(feed.seen).toEqual([])
      const summary = yield* uploads.summary(seller.id)
      expect(summary.listings).toBe(0)
      expect(summary.pullState.lastResult).toMatch(/^failed: .*not a public address/)
    }).pipe(Effect.provide(testLayer({ allowNetworks: [] })), Effect.scoped)
  )
})
