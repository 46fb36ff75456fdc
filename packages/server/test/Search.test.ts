/** `GET /v1/books?q=`: search over the books the sellers' feeds describe, with each one's best offer; bad input is a problem. */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as TestServer from "./support/TestServer.js"

const [dune, messiah, emma] = generateIsbns({ size: 3, seed: 1919 }) as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]

const tsv = (...rows: ReadonlyArray<ReadonlyArray<string>>) =>
  ["listingid\tisbn\ttitle\tauthor\tpublishername\tprice\tquantity\tbookcondition", ...rows.map((row) => row.join("\t"))].join("\n")

const problem = (reply: TestServer.Reply, status: number) => {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { status } })
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
}

describe("book search", () => {
  it.live("finds books by words (typos too) or ISBN, with the best offer, filters and pages", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const [feeder] = yield* server.registerSellers([{ name: "feeder", stock: [] }])
      const uploaded = yield* server.call("POST", "/v1/sellers/me/inventory/uploads?mode=snapshot&currency=EUR", {
        token: feeder!.key,
        raw: tsv(
          ["A1", dune, "Dune", "Herbert, Frank", "Chilton", "11.00", "2", "Very Good"],
          ["A2", messiah, "Dune Messiah", "Herbert, Frank", "Putnam", "7.00", "1", "Acceptable"],
          ["A3", emma, "Emma", "Austen, Jane", "John Murray", "5.00", "1", "New"]
        ),
        headers: { "content-type": "text/tab-separated-values" }
      })
      expect(uploaded.status).toBe(201)
      const ada = yield* server.customer("Ada")
      const get = (query: string) => server.call("GET", `/v1/books?${query}`, { token: ada.key })

      const words = yield* get("q=dune%20herbert")
      expect(words.status).toBe(200)
      expect(words.body).toMatchObject({ isbn: null, currency: "EUR", next_cursor: null })
      expect(words.body.hits.map((hit: { title: string }) => hit.title).sort()).toEqual(["Dune", "Dune Messiah"])
      const first = words.body.hits.find((hit: { title: string }) => hit.title === "Dune")
      expect(first).toMatchObject({
        isbn: dune,
        author: "Herbert, Frank",
        publisher: "Chilton",
        offers: 1,
        best_offer: { seller_id: feeder!.id, seller_name: "feeder", total: { amount: 1100, currency: "EUR" }, condition: "very_good", source: "feed", age_seconds: expect.any(Number) }
      })

      expect((yield* get("q=austin%20emma")).body.hits.map((hit: { isbn: string }) => hit.isbn)).toEqual([emma])
      // Asked in another currency, without exchange rates: offered, in EUR, not missing.
      expect((yield* get("q=emma&currency=USD")).body.hits).toMatchObject([{ isbn: emma, offers: 0, best_offer: null, other_currencies: ["EUR"] }])
      expect(first.other_currencies).toEqual([])
      const byIsbn = yield* get(`q=${dune.slice(0, 3)}-${dune.slice(3, 4)}-${dune.slice(4)}`)
      expect(byIsbn.body).toMatchObject({ isbn: dune, hits: [{ isbn: dune, title: "Dune" }] })

      expect((yield* get("q=dune&condition=very_good")).body.hits.filter((hit: { offers: number }) => hit.offers > 0).map((hit: { title: string }) => hit.title)).toEqual(["Dune"])
      expect((yield* get("q=dune&max_total=8.00")).body.hits.map((hit: { title: string }) => hit.title)).toEqual(["Dune Messiah"])
      expect((yield* get("q=dune&sort=price")).body.hits.map((hit: { title: string }) => hit.title)).toEqual(["Dune Messiah", "Dune"])

      const page1 = yield* get("q=dune&sort=price&limit=1")
      expect(page1.body.hits.map((hit: { title: string }) => hit.title)).toEqual(["Dune Messiah"])
      const page2 = yield* get(`q=dune&sort=price&limit=1&cursor=${page1.body.next_cursor}`)
      expect(page2.body).toMatchObject({ hits: [{ title: "Dune" }], next_cursor: null })
    })
  )

  it.live("bad input is a problem that names the parameter", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const get = (query: string) => server.call("GET", `/v1/books${query}`, { token: ada.key })
      for (const query of ["", "?q=", "?q=%20%20", `?q=${"x".repeat(201)}`, "?q=dune&limit=0", "?q=dune&limit=51", "?q=dune&sort=cheapest", "?q=dune&condition=mint", "?q=dune&max_total=-1", "?q=dune&max_total=1.2.3", "?q=dune&currency=euro", "?q=dune&in_stock=maybe"]) {
        problem(yield* get(query), 422)
      }
      // What PostgreSQL cannot hold (a NUL) is refused at the door; bytes that are not UTF-8 are read as U+FFFD: never a 500.
      for (const query of ["?q=du%00ne", "?q=dune&cursor=%00"]) problem(yield* get(query), 400)
      expect((yield* get("?q=%ED%A0%80")).status).toBe(200)
      const forged = yield* get("?q=dune&cursor=bm90LWEtY3Vyc29y")
      problem(forged, 400)
      expect(forged.body.errors).toEqual([{ pointer: "query:cursor", detail: expect.any(String) }])
      const anonymous = yield* server.call("GET", "/v1/books?q=dune", {})
      expect(anonymous.status).toBe(401)
    })
  )
})
