import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect } from "node:net"
import * as TestServer from "./support/TestServer.js"

const [isbn, other, third] = generateIsbns({ size: 3, seed: 1616 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]

const problem = (reply: TestServer.Reply, status: number) => {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { status } })
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.text).not.toMatch(/\n\s+at /)
}

const tsv = (...rows: ReadonlyArray<ReadonlyArray<string>>) =>
  ["listingid\tisbn\ttitle\tauthor\tprice\tquantity\tbookcondition", ...rows.map((row) => row.join("\t"))].join("\r\n")

const upload = (server: TestServer.TestServer, key: string, text: string, query = "?mode=snapshot&currency=EUR", type = "text/tab-separated-values") =>
  server.call("POST", `/v1/sellers/me/inventory/uploads${query}`, { token: key, raw: text, headers: { "content-type": type } })

const purchase = {
  isbn,
  max_price: { amount: 3000, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
}

describe("inventory feeds", () => {
  it.live("a seller uploads its inventory; offers show the feed's price and age; a purchase confirms it live and buys", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [feeder, live] = yield* server.registerSellers([
        { name: "feeder", stock: [{ isbn, price: 1100, quantity: 2 }] },
        { name: "live-only", stock: [{ isbn, price: 1900, quantity: 2 }] }
      ])
      const reply = yield* upload(server, feeder!.key, tsv(["A1", isbn, "Dune", "Herbert, Frank", "11.00", "2", "New"], ["B1", other, "Emma", "Austen, Jane", "x", "1", "New"]))
      expect(reply.status).toBe(201)
      expect(reply.body).toMatchObject({ mode: "snapshot", format: "tsv", status: "applied", rows_read: 2, rows_rejected: 1, rows_applied: 1, listings_retired: 0 })
      expect(reply.body.errors).toEqual([{ line: 3, field: "price", reason: expect.any(String) }])

      const status = yield* server.call("GET", `/v1/sellers/me/inventory/uploads/${reply.body.id}`, { token: feeder!.key })
      expect(status.body).toEqual(reply.body)
      const inventory = yield* server.call("GET", "/v1/sellers/me/inventory", { token: feeder!.key })
      expect(inventory.body).toMatchObject({ listings: 1, complete: true, trust_seconds: 86_400, currency: null })

      const ada = yield* server.customer("Ada")
      const offers = yield* server.call("GET", `/v1/books/${isbn}/offers`, { token: ada.key })
      expect(offers.body.offers.map((offer: { seller_name: string; source: string }) => [offer.seller_name, offer.source])).toEqual([
        ["feeder", "feed"],
        ["live-only", "live"]
      ])
      expect(offers.body.offers[0]).toMatchObject({ total: { amount: 1100 }, age_seconds: expect.any(Number), as_of: expect.any(String) })
      // The feed answered for the seller: it was not asked.
      expect(feeder!.seller.simulator.calls.quote).toBe(0)

      const accepted = yield* server.call("POST", "/v1/purchase-requests", { token: ada.key, body: purchase, headers: { "idempotency-key": "feed-1" } })
      expect(accepted.status).toBe(202)
      const done = yield* server.awaitTerminal(accepted.body.id, ada.key)
      expect(done.body).toMatchObject({ status: "purchased", seller_id: feeder!.id, final_price: { amount: 1100 } })
      // Confirmed live before buying: one quote, then the purchase.
      expect(feeder!.seller.simulator.calls.quote).toBe(1)
      expect(feeder!.seller.simulator.orders).toHaveLength(1)
      expect(live!.seller.simulator.orders).toHaveLength(0)
    })
  )

  it.live("a malformed file is refused with a problem that says what is wrong, and the inventory stays; wrong types and other sellers' uploads are refused", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [seller, stranger] = yield* server.registerSellers([{ name: "careful", stock: [] }, { name: "stranger", stock: [] }])
      const first = yield* upload(server, seller!.key, tsv(["A1", isbn, "Dune", "Herbert, Frank", "11.00", "2", "New"]))
      expect(first.status).toBe(201)

      const csv = yield* upload(server, seller!.key, "listingid,isbn,price,quantity,bookcondition\nZ,9780000000002,1,1,New\n")
      problem(csv, 422)
      expect(csv.body.detail).toMatch(/tab/i)
      const missing = yield* upload(server, seller!.key, "listingid\tisbn\tquantity\nA\t" + third + "\t1\n")
      problem(missing, 422)
      expect(missing.body.detail).toMatch(/price/)
      const json = yield* upload(server, seller!.key, "{}", "?mode=snapshot&currency=EUR", "application/json")
      problem(json, 415)
      // The refusal names every type an inventory file may be sent as.
      expect(json.body.detail).toBe('send the inventory as text/tab-separated-values (TSV), application/jsonl (JSON Lines) or application/xml (ONIX for Books 3.0); got "application/json"')
      const badMode = yield* upload(server, seller!.key, tsv(), "?mode=everything")
      problem(badMode, 422)
      const noCurrency = yield* upload(server, seller!.key, tsv(["Q", third, "T", "A", "1.00", "1", "New"]), "?mode=delta")
      problem(noCurrency, 422)
      expect(noCurrency.body.detail).toMatch(/currency/)

      // Text PostgreSQL cannot store is a bad row (named), not a 500.
      const nul = yield* upload(server, seller!.key, tsv(["N1", third, "Du\u0000ne", "Herbert, Frank", "1.00", "1", "New"]), "?mode=delta&currency=EUR")
      expect(nul.status).toBe(201)
      expect(nul.body).toMatchObject({ rows_rejected: 1, rows_applied: 0, errors: [{ line: 2, field: "title", reason: "title contains a NUL character, which cannot be stored" }] })
      const escaped = yield* upload(
        server,
        seller!.key,
        `{"listingid":"J1","isbn":"${third}","price":"1.00","quantity":1,"bookcondition":"New","author":"\\ud800"}\n`,
        "?mode=delta&currency=EUR",
        "application/jsonl"
      )
      expect(escaped.status).toBe(201)
      expect(escaped.body).toMatchObject({ rows_rejected: 1, rows_applied: 0, errors: [{ line: 1, field: "author" }] })

      const inventory = yield* server.call("GET", "/v1/sellers/me/inventory", { token: seller!.key })
      expect(inventory.body.listings).toBe(1)
      const listings = yield* server.sql<{ listing_id: string }>`SELECT listing_id FROM listings`.pipe(Effect.orDie)
      expect(listings).toEqual([{ listing_id: "A1" }])

      const foreign = yield* server.call("GET", `/v1/sellers/me/inventory/uploads/${first.body.id}`, { token: stranger!.key })
      problem(foreign, 404)
      const anonymous = yield* server.call("POST", "/v1/sellers/me/inventory/uploads?mode=snapshot&currency=EUR", { raw: tsv(), headers: { "content-type": "text/tab-separated-values" } })
      expect(anonymous.status).toBe(401)
      // A refused upload's body may be left unread on the socket: the answer closes the connection (found by the fuzz suite).
      expect(anonymous.headers["connection"]).toBe("close")
      expect(csv.headers["connection"]).toBe("close")
      expect(first.headers["connection"]).not.toBe("close")
    })
  )

  it.live("a file whose length is past the limit is refused up front with a problem naming the limit, not a limit of 0 bytes", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [seller] = yield* server.registerSellers([{ name: "huge", stock: [] }])
      // Headers only, announcing 3 GiB: the answer comes before any of it is sent.
      const answer = yield* Effect.promise(
        () =>
          new Promise<string>((resolve, reject) => {
            const socket = connect(Number(new URL(server.url).port), "127.0.0.1", () =>
              socket.write(
                `POST /v1/sellers/me/inventory/uploads?mode=snapshot&currency=EUR HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${seller!.key}\r\n` +
                  `Content-Type: text/tab-separated-values\r\nContent-Length: ${3 * 1024 ** 3}\r\n\r\n`
              )
            )
            let text = ""
            socket.on("data", (chunk) => (text += chunk.toString("utf8")))
            socket.on("close", () => resolve(text))
            socket.on("error", reject)
          })
      )
      expect(answer).toMatch(/^HTTP\/1\.1 413 /)
      expect(answer).toMatch(/content-type: application\/problem\+json/i)
      expect(answer).toMatch(/connection: close/i)
      expect(answer).toContain(`"detail":"inventory files are limited to ${2 * 1024 ** 3} bytes; nothing of this one was applied"`)
      expect(yield* server.count("inventory_uploads")).toBe(0)
    })
  )

  it.live("an ONIX for Books message posted as application/xml is read as ONIX; XML that is not ONIX is refused as text/xml", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [seller] = yield* server.registerSellers([{ name: "distributor", stock: [] }])
      const onixProduct = (ref: string, id: string, body: string) =>
        `<Product><RecordReference>${ref}</RecordReference><NotificationType>03</NotificationType>` +
        `<ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>${id}</IDValue></ProductIdentifier>` +
        `<DescriptiveDetail><ProductForm>BB</ProductForm><TitleDetail><TitleType>01</TitleType><TitleElement><TitleElementLevel>01</TitleElementLevel><TitleText>Dune</TitleText></TitleElement></TitleDetail></DescriptiveDetail>` +
        `<ProductSupply><SupplyDetail>${body}</SupplyDetail></ProductSupply></Product>\n`
      const onix =
        `<?xml version="1.0" encoding="UTF-8"?>\n<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference">\n<Header><Sender><SenderName>Example</SenderName></Sender></Header>\n` +
        onixProduct("R1", isbn, "<ProductAvailability>21</ProductAvailability><Stock><OnHand>4</OnHand></Stock><Price><PriceType>02</PriceType><PriceAmount>12.40</PriceAmount><CurrencyCode>EUR</CurrencyCode></Price>") +
        onixProduct("R2", other, "<ProductAvailability>21</ProductAvailability><Price><PriceType>05</PriceType><PriceAmount>6.00</PriceAmount><CurrencyCode>EUR</CurrencyCode></Price>") +
        "</ONIXMessage>\n"
      const reply = yield* upload(server, seller!.key, onix, "?mode=snapshot&currency=EUR", "application/xml; charset=utf-8")
      expect(reply.status).toBe(201)
      expect(reply.body).toMatchObject({ mode: "snapshot", format: "onix", status: "applied", rows_read: 2, rows_rejected: 1, rows_applied: 1 })
      // The trade-price-only Product, with the line it starts on.
      expect(reply.body.errors).toEqual([{ line: 5, field: "PriceAmount", reason: expect.stringMatching(/consumer price/) }])
      const rows = yield* server.sql<{ listing_id: string; price: string; quantity: number; condition: string; binding: string }>`
        SELECT listing_id, price, quantity, condition, binding FROM listings`.pipe(Effect.orDie)
      expect(rows).toEqual([{ listing_id: "R1", price: "1240", quantity: 4, condition: "new", binding: "hardcover" }])

      const notOnix = yield* upload(server, seller!.key, `<?xml version="1.0"?>\n<catalog/>\n`, "?mode=snapshot&currency=EUR", "text/xml")
      problem(notOnix, 422)
      expect(notOnix.body.detail).toMatch(/not an ONIX message/)
      const still = yield* server.sql<{ listing_id: string }>`SELECT listing_id FROM listings`.pipe(Effect.orDie)
      expect(still).toEqual([{ listing_id: "R1" }])
    })
  )

  it.live("settings: the feed's currency and default shipping apply to rows that do not say", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [seller] = yield* server.registerSellers([{ name: "settled", stock: [] }])
      const set = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { currency: "GBP", shipping: { amount: 350 }, trust_seconds: 3_600 } })
      expect(set.status).toBe(200)
      expect(set.body).toMatchObject({ currency: "GBP", shipping: { amount: 350 }, trust_seconds: 3_600, complete: false })
      const bad = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { trust_seconds: 5 } })
      problem(bad, 422)
      const reply = yield* upload(server, seller!.key, tsv(["A1", isbn, "Dune", "Herbert, Frank", "7.25", "", "Good"]), "?mode=delta")
      expect(reply.status).toBe(201)
      const [row] = yield* server.sql<{ price: string; shipping: string; currency: string; quantity: number }>`SELECT price, shipping, currency, quantity FROM listings`.pipe(Effect.orDie)
      expect(row).toEqual({ price: "725", shipping: "350", currency: "GBP", quantity: 1 })
      const inventory = yield* server.call("GET", "/v1/sellers/me/inventory", { token: seller!.key })
      // A delta alone is not a whole inventory: books it does not list are still asked for.
      expect(inventory.body).toMatchObject({ listings: 1, complete: false, last_snapshot_at: null, pull: null })

      // A feed URL bookbroker fetches itself: only where it may call (as sellers' base URLs).
      const privateUrl = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: { url: "http://10.1.2.3/inventory.tsv" } } })
      problem(privateUrl, 422)
      expect(privateUrl.body.errors).toEqual([{ pointer: "/pull/url", detail: expect.stringMatching(/not a public address/) }])
      const tooOften = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: { url: "https://feeds.example/inv.tsv", every_seconds: 60 } } })
      problem(tooOften, 422)
      const pulled = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: { url: "https://feeds.example/inv.tsv", format: "tsv" } } })
      expect(pulled.status).toBe(200)
      expect(pulled.body.pull).toMatchObject({ url: "https://feeds.example/inv.tsv", adapter: false, format: "tsv", every_seconds: 3_600, last_result: null })
      // A feed URL serving ONIX for Books, whatever Content-Type its server sends.
      const onixFeed = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: { url: "https://feeds.example/catalogue.xml", format: "onix" } } })
      expect(onixFeed.status).toBe(200)
      expect(onixFeed.body.pull).toMatchObject({ url: "https://feeds.example/catalogue.xml", format: "onix" })
      const unknownFormat = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: { url: "https://feeds.example/inv.csv", format: "csv" } } })
      problem(unknownFormat, 422)
      const viaAdapter = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: { adapter: true, every_seconds: 7_200 } } })
      expect(viaAdapter.body.pull).toMatchObject({ url: null, adapter: true, every_seconds: 7_200 })
      const off = yield* server.call("PATCH", "/v1/sellers/me/inventory", { token: seller!.key, body: { pull: null } })
      expect(off.body.pull).toBeNull()
    })
  )
})
