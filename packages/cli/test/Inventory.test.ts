/**
 * `bookbroker sellers inventory`: the commands run as a seller runs them (a separate process,
 * the file streamed from disk, exit codes) against a real server, and the services for what the
 * output says. One seller, registered through the public API and activated by the operator,
 * owns the feed the tests build up in order.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns, SellerSimulator, referenceSellerHandlers, serveHandlers } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as Api from "../src/Api.js"
import * as Inventory from "../src/services/Inventory.js"
import * as Offers from "../src/services/Offers.js"
import { figures, uploadLines, type UploadProgressProps } from "../src/ui/InventoryUploadView.js"
import * as Render from "../src/ui/Render.js"
import * as Command from "./support/Command.js"
import * as TestServer from "./support/TestServer.js"

const [listed, rejected, later, extra] = generateIsbns({ size: 4, seed: 5151 }) as unknown as [Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13, Isbn.Isbn13]

const header = "listingid\tisbn\ttitle\tauthor\tprice\tquantity\tbookcondition"
const tsv = (...rows: ReadonlyArray<ReadonlyArray<string>>) => [header, ...rows.map((row) => row.join("\t"))].join("\n") + "\n"

interface Feeder {
  readonly id: string
  readonly key: string
  /** The CLI's API as this seller (and as the test customer and the operator). */
  readonly api: Api.Api
  readonly url: string
  readonly dir: string
  /** Writes a file into the test's folder; its path. */
  readonly file: (name: string, text: string) => string
  /** `bookbroker args…` as this seller, without a terminal. */
  readonly cli: (args: ReadonlyArray<string>, env?: Record<string, string>) => Promise<Command.Finished>
}

class FeedSeller extends Context.Service<FeedSeller, Feeder>()("@bookbroker/cli/test/FeedSeller") {}

/** A seller registered as a seller registers (its key shown once), activated by the operator. */
const feedSeller = Layer.effect(
  FeedSeller,
  Effect.gen(function* () {
    const { api, url } = yield* TestServer.TestServer
    const simulator = new SellerSimulator({ name: "cli-feeder", apiKey: "feeder-key", stock: [] })
    const seller = yield* Effect.acquireRelease(
      Effect.promise(() => serveHandlers(referenceSellerHandlers(simulator, { mode: "hold" }))),
      (server) => Effect.promise(() => server.close())
    )
    const registered = yield* api.registerSeller({
      name: "cli-feeder",
      adapter: { kind: "reference", config: { baseUrl: seller.url, currency: "EUR", mode: "hold", batch: false }, credentials: { apiKey: "feeder-key" } }
    })
    yield* api.operator.activate(registered.id)
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "bookbroker-inventory-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const feeder: Feeder = {
      id: registered.id,
      key: registered.api_key,
      api: api.withSellerKey(registered.api_key),
      url,
      dir,
      file: (name, text) => {
        const path = join(dir, name)
        writeFileSync(path, text)
        return path
      },
      cli: (args, env = {}) => Command.run(args, { BOOKBROKER_URL: url, BOOKBROKER_SELLER_KEY: registered.api_key, CI: "true", ...env })
    }
    return feeder
  }).pipe(Effect.orDie)
)

const noStackTrace = (finished: Command.Finished) => {
  expect(finished.stderr).not.toMatch(/\n\s+at /)
  expect(finished.stderr).not.toMatch(/crashed|this is a bug/)
}

layer(TestServer.layer, { timeout: 120_000, excludeTestServices: true })("sellers inventory", (it) => {
  it.layer(feedSeller, { timeout: 60_000 })((it) => {
    it.effect("upload streams a TSV: exit 0, the bad row rejected and listed with its line, the rest applied", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const file = seller.file("inventory.tsv", tsv(["A1", listed, "Dune", "Herbert, Frank", "11.00", "2", "New"], ["B1", rejected, "Emma", "Austen, Jane", "x", "1", "Good"]))
        const done = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file, "--snapshot", "--currency", "EUR"]))
        expect(done.stderr).toBe("")
        expect(done.code).toBe(0)
        const out = done.stdout
        expect(out).toContain(`uploading ${file} (`)
        expect(out).toContain("tsv, snapshot: the whole inventory, listings missing from it are retired")
        expect(out).toMatch(/100%\s+\d+ B of \d+ B\s+~2 rows/)
        expect(out).toMatch(/sent in [\d.]+ s; the server is applying it…/)
        expect(out).toContain(`✓ ${file} applied (snapshot), but 1 row rejected: it was skipped, the rest is applied`)
        expect(out).toMatch(/rows read\s+2\n/)
        expect(out).toMatch(/applied\s+1\n/)
        expect(out).toMatch(/rejected\s+1\n/)
        expect(out).toMatch(/listings retired\s+0 \(missing from the file or quantity 0\)/)
        expect(out).toMatch(/took\s+[\d.]+ s \(\d+ rows\/s\)/)
        expect(out).toMatch(/rejected rows\nline\s+field\s+reason\n\s*3\s+price\s+price "x" is not a plain amount/)
        // The key is never printed.
        expect(out).not.toContain(seller.key)
      })
    )

    it.effect("search finds the uploaded book by words with a typo, shows its feed offer, and refuses bad input with a non-zero exit", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const { customerKey } = yield* TestServer.TestServer
        const asCustomer = { BOOKBROKER_API_KEY: customerKey }
        const found = yield* Effect.promise(() => seller.cli(["search", "dune", "herbret"], asCustomer))
        expect(found.stderr).toBe("")
        expect(found.code).toBe(0)
        expect(found.stdout).toMatch(/^1 book\n/)
        expect(found.stdout).toMatch(/#\s+isbn\s+title\s+author\s+year\s+best offer\s+condition\s+seller\s+offers\s+age/)
        expect(found.stdout).toMatch(new RegExp(`1\\s+${listed}\\s+Dune\\s+Herbert, Frank\\s+—\\s+€11\\.00\\s+new\\s+cli-feeder\\s+1\\s+\\d+s`))
        expect(found.stdout).toContain("buying confirms the price with the seller")
        // Asked in dollars without exchange rates: offered in euros, and the footer says how to see the price.
        const dollars = yield* Effect.promise(() => seller.cli(["search", "dune", "herbert", "--currency", "USD"], asCustomer))
        expect(dollars.code).toBe(0)
        expect(dollars.stdout).toMatch(new RegExp(`1\\s+${listed}\\s+Dune\\s+Herbert, Frank\\s+—\\s+in EUR\\s+—\\s+—\\s+0`))
        expect(dollars.stdout).toContain("offered only in that currency, not comparable with USD here (no exchange rate): search again with --currency EUR")
        const json = yield* Effect.promise(() => seller.cli(["search", listed, "--json"], asCustomer))
        expect(JSON.parse(json.stdout)).toMatchObject({ isbn: listed, hits: [{ isbn: listed, title: "Dune", best_offer: { total: { amount: 1100 } } }] })
        for (const args of [["search", "dune", "--sort", "cheapest"], ["search", "dune", "--condition", "mint"], ["search", "dune", "--limit", "0"], ["search", "dune", "--max", "-3"]]) {
          const refused = yield* Effect.promise(() => seller.cli(args, asCustomer))
          expect(refused.code).not.toBe(0)
          expect(refused.stdout).toBe("")
          expect(refused.stderr).toMatch(/sort|condition|limit|max/)
          noStackTrace(refused)
        }
      })
    )

    it.effect("a comma-separated file: refused before sending by its name; sent as tsv, refused by the server with its reason; the inventory stays", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const csv = seller.file("export.csv", `listingid,isbn,price,quantity,bookcondition\nZ1,${later},5.00,1,New\n`)
        const byName = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", csv, "--snapshot"]))
        expect(byName.code).toBe(1)
        expect(byName.stderr).toMatch(/^error: export\.csv looks comma-separated: inventory files are tab-separated/)
        expect(byName.stderr).toMatch(/hint: .*--format tsv/)
        expect(byName.stdout).toBe("")

        const refused = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", csv, "--snapshot", "--format", "tsv", "--currency", "EUR"]))
        expect(refused.code).toBe(1)
        expect(refused.stderr).toMatch(/^error: the file was refused and nothing of it applied: .*tab/im)
        expect(refused.stderr).toContain("hint: nothing of the file was applied: your inventory is as it was")
        noStackTrace(refused)

        const status = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "status", "--json"]))
        expect(status.code).toBe(0)
        const { inventory, uploads } = JSON.parse(status.stdout) as { inventory: Api.InventorySummary; uploads: ReadonlyArray<Api.InventoryUpload> }
        expect(inventory).toMatchObject({ listings: 1, complete: true })
        // Refused at the header: the server keeps no upload for it; the last one is the applied snapshot.
        expect(uploads.map((upload) => [upload.mode, upload.status, upload.rows_applied])).toEqual([["snapshot", "applied", 1]])
      })
    )

    it.effect("a large file refused at its header: the server's reason, not a broken connection", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const line = `Z1,${later},5.00,1,New,${"x".repeat(200)}\n`
        const file = seller.file("big-export.tsv", "listingid,isbn,price,quantity,bookcondition,description\n" + line.repeat(150_000))
        const refused = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file, "--snapshot", "--currency", "EUR"]))
        expect(refused.stderr).toMatch(/^error: the file was refused and nothing of it applied: .*tab/im)
        expect(refused.code).toBe(1)
        expect((yield* seller.api.seller.inventory).listings).toBe(1)
      })
    )

    it.effect("status: the feed and the uploads as a table; one upload with its rejected rows", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const ui = Render.capture()
        const { uploads } = (yield* Inventory.status(seller.api, ui, {})) as { uploads: ReadonlyArray<Api.InventoryUpload> }
        const text = ui.text()
        expect(text).toMatch(/^inventory feed\n\s+listings\s+1\n\s+complete\s+yes: books your feed does not list are not asked for/)
        expect(text).toMatch(/fresh until\s+.+ \(in 2\dh \d\dm\)/)
        expect(text).toMatch(/trust\s+24h after each upload/)
        expect(text).toMatch(/currency\s+— \(set it: bookbroker sellers inventory settings --currency EUR\)/)
        expect(text).toMatch(/uploads, newest first\nupload\s+when\s+mode\s+format\s+status\s+read\s+applied\s+rejected\s+retired\s+took/)
        expect(text).toMatch(new RegExp(`${uploads[0]!.id}\\s+\\d+s ago\\s+snapshot\\s+tsv\\s+applied\\s+2\\s+1\\s+1\\s+0\\s+[\\d.]+ s`))

        const one = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "status", uploads[0]!.id]))
        expect(one.code).toBe(0)
        expect(one.stdout).toMatch(new RegExp(`^✓ upload ${uploads[0]!.id} applied \\(snapshot\\), but 1 row rejected`))
        expect(one.stdout).toMatch(/\n\s*3\s+price\s+\S/)

        const missing = yield* Effect.flip(Inventory.status(seller.api, Render.capture(), { id: "00000000-0000-0000-0000-000000000000" }))
        expect(missing.message).toMatch(/00000000-0000-0000-0000-000000000000/)
      })
    )

    it.effect("no currency for the prices, neither the feed's nor --currency: refused, the hint names the flags", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const file = seller.file("no-currency.tsv", tsv(["N1", later, "T", "A", "1.00", "1", "New"]))
        const refused = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file]))
        expect(refused.code).toBe(1)
        expect(refused.stderr).toMatch(/^error: the file was refused and nothing of it applied: the prices' currency is not known/)
        expect(refused.stderr).toContain("hint: nothing was applied; say the prices' currency once (bookbroker sellers inventory settings --currency EUR) or with the upload (--currency EUR)")
      })
    )

    it.effect("offers shows the feed's price as source feed with its age; live sellers as live", () =>
      Effect.gen(function* () {
        const { api } = yield* TestServer.TestServer
        const ui = Render.capture()
        const book = yield* Offers.offers(api, ui, { isbn: listed, currency: "EUR" })
        expect(book.offers.map((offer) => [offer.seller_name, offer.source])).toEqual([["cli-feeder", "feed"]])
        expect(ui.stdout[1]).toMatch(/^#\s+seller\s+price\s+shipping\s+total\s+condition\s+qty\s+source\s+age\s+valid until$/)
        expect(ui.stdout[2]).toMatch(/^1\s+cli-feeder\s+€11\.00\s+€0\.00\s+€11\.00\s+new\s+2\s+feed\s+\d+s\s/)
        expect(ui.text()).toContain("a purchase confirms them with the seller first")

        const json = Render.capture({ json: true })
        yield* Offers.offers(api, json, { isbn: listed, currency: "EUR" })
        expect(json.values[0]).toMatchObject({ offers: [{ seller_name: "cli-feeder", source: "feed", age_seconds: expect.any(Number), as_of: expect.any(String) }] })
      })
    )

    it.effect("settings: trust, currency and shipping (exact minor units); bad values refused before any call", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const noCurrency = yield* Effect.flip(Inventory.settings(seller.api, Render.capture(), { shipping: "3.50" }))
        expect(noCurrency.message).toBe("--shipping needs the feed's currency, and none is set yet")
        expect(noCurrency.hint).toBe("add it: --currency EUR --shipping 3.50")

        const ui = Render.capture()
        const feed = yield* Inventory.settings(seller.api, ui, { trust: "1h30m", currency: "eur", shipping: "3.5" })
        expect(feed).toMatchObject({ trust_seconds: 5_400, currency: "EUR", shipping: { amount: 350 } })
        expect(ui.text()).toMatch(/^inventory feed settings saved\n/)
        expect(ui.text()).toMatch(/trust\s+90m after each upload/)
        expect(ui.text()).toMatch(/default shipping\s+€3\.50/)
        // --shipping is in the feed's currency once it has one; in the currency given with it otherwise.
        const again = yield* Inventory.settings(seller.api, Render.capture(), { shipping: "0.10" })
        expect(again.shipping.amount).toBe(10)
        const tooPrecise = yield* Effect.flip(Inventory.settings(seller.api, Render.capture(), { currency: "JPY", shipping: "3.50" }))
        expect(tooPrecise.message).toBe('--shipping "3.50" has more than 0 decimals for JPY')

        const cli = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "settings", "--trust", "2d", "--shipping", "0", "--json"]))
        expect(cli.code).toBe(0)
        expect(JSON.parse(cli.stdout)).toMatchObject({ trust_seconds: 172_800, currency: "EUR", shipping: { amount: 0 } })

        for (const trust of ["5s", "31d", "soon", "1.5h"]) {
          const bad = yield* Effect.flip(Inventory.settings(TestServer.deadApi, Render.capture(), { trust }))
          expect(bad.message).toBe(`--trust must be a duration like 24h, 90m or 2d, from 1m to 30d (got "${trust}")`)
        }
        const badShipping = yield* Effect.flip(Inventory.settings(TestServer.deadApi, Render.capture(), { currency: "EUR", shipping: "-1" }))
        expect(badShipping.message).toBe('--shipping "-1" is not a non-negative decimal amount')

        // A feed bookbroker fetches itself: from a URL (on a public address), or through the adapter; --no-pull goes back to uploads.
        const pulled = yield* Inventory.settings(seller.api, Render.capture(), { pullUrl: "https://shop.example/inventory.tsv", every: "2h" })
        expect(pulled.pull).toMatchObject({ url: "https://shop.example/inventory.tsv", adapter: false, every_seconds: 7_200 })
        const privateUrl = yield* Effect.flip(Inventory.settings(seller.api, Render.capture(), { pullUrl: "http://10.0.0.7/inventory.tsv" }))
        expect(privateUrl.message).toMatch(/not a public address/)
        // An ONIX feed URL, registered from the CLI (before --pull-format this took an HTTP PATCH).
        const onix = yield* Effect.promise(() =>
          seller.cli(["sellers", "inventory", "settings", "--pull-url", "https://shop.example/onix.xml", "--pull-format", "ONIX", "--json"])
        )
        expect(onix.code).toBe(0)
        expect(JSON.parse(onix.stdout).pull).toMatchObject({ url: "https://shop.example/onix.xml", format: "onix" })
        const badFormat = yield* Effect.promise(() =>
          seller.cli(["sellers", "inventory", "settings", "--pull-url", "https://shop.example/other.xml", "--pull-format", "xml"])
        )
        expect(badFormat.code).toBe(1)
        expect(badFormat.stderr).toMatch(/^error: --pull-format must be tsv, jsonl or onix \(got "xml"\)\nhint: leave it out to have the file's Content-Type decide/)
        expect(badFormat.stdout).toBe("")
        noStackTrace(badFormat)
        expect((yield* seller.api.seller.inventory).pull).toMatchObject({ url: "https://shop.example/onix.xml", format: "onix" })
        const formatAlone = yield* Effect.flip(Inventory.settings(TestServer.deadApi, Render.capture(), { pullFormat: "onix" }))
        expect(formatAlone.message).toBe("--pull-format says how to read the file at --pull-url: give it with --pull-url")
        const viaAdapter = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "settings", "--pull-adapter", "--json"]))
        expect(viaAdapter.code).toBe(0)
        expect(JSON.parse(viaAdapter.stdout).pull).toMatchObject({ url: null, adapter: true, every_seconds: 3_600 })
        const off = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "settings", "--no-pull", "--json"]))
        expect(JSON.parse(off.stdout).pull).toBeNull()
        const both = yield* Effect.flip(Inventory.settings(TestServer.deadApi, Render.capture(), { pullUrl: "https://a.example/f.tsv", pullAdapter: true }))
        expect(both.message).toBe("--pull-url, --pull-adapter and --no-pull exclude each other: choose one")
        const tooOften = yield* Effect.flip(Inventory.settings(TestServer.deadApi, Render.capture(), { pullAdapter: true, every: "5m" }))
        expect(tooOften.message).toBe('--every must be at least 15m (got "5m")')
      })
    )

    it.effect("a JSON Lines delta with --json: the upload as the API answers it; the feed's currency applies", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const file = seller.file("changes.ndjson", `${JSON.stringify({ listingid: "C1", isbn: extra, price: "4.00", quantity: 1, bookcondition: "Good" })}\n`)
        const done = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file, "--json"]))
        expect(done.code).toBe(0)
        expect(JSON.parse(done.stdout)).toMatchObject({ mode: "delta", format: "jsonl", status: "applied", rows_read: 1, rows_applied: 1, rows_rejected: 0, errors: [] })
        const feed = yield* seller.api.seller.inventory
        expect(feed.listings).toBe(2)
      })
    )

    it.effect("an ONIX for Books file (.xml) is sent as ONIX: its Products applied, a bad one listed with its line and element", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const onix = [
          `<?xml version="1.0" encoding="UTF-8"?>`,
          `<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference">`,
          `<Header><Sender><SenderName>Example</SenderName></Sender></Header>`,
          `<Product><RecordReference>O1</RecordReference><NotificationType>03</NotificationType>`,
          `<ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>${later}</IDValue></ProductIdentifier>`,
          `<ProductSupply><SupplyDetail><ProductAvailability>21</ProductAvailability><Price><PriceType>02</PriceType><PriceAmount>8.50</PriceAmount><CurrencyCode>EUR</CurrencyCode></Price></SupplyDetail></ProductSupply></Product>`,
          `<Product><RecordReference>O2</RecordReference><NotificationType>03</NotificationType>`,
          `<ProductSupply><SupplyDetail><ProductAvailability>21</ProductAvailability><Price><PriceType>02</PriceType><PriceAmount>3.00</PriceAmount></Price></SupplyDetail></ProductSupply></Product>`,
          `</ONIXMessage>`,
          ""
        ].join("\n")
        const file = seller.file("catalogue.xml", onix)
        const done = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file]))
        expect(done.stderr).toBe("")
        expect(done.code).toBe(0)
        expect(done.stdout).toContain(`uploading ${file} (`)
        expect(done.stdout).toContain("onix, delta")
        expect(done.stdout).toContain(`✓ ${file} applied (delta), but 1 row rejected`)
        expect(done.stdout).toMatch(/rows read\s+2\n/)
        expect(done.stdout).toMatch(/rejected rows\nline\s+field\s+reason\n\s*7\s+ProductIdentifier\s+no ISBN/)
        const [upload] = yield* seller.api.seller.uploads
        expect(upload).toMatchObject({ format: "onix", mode: "delta", rows_applied: 1, rows_rejected: 1 })
        expect((yield* seller.api.seller.inventory).listings).toBe(3)
      })
    )

    it.effect("a large file streams in chunks: progress lines as it goes, every row applied", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const isbns = generateIsbns({ size: 20_000, seed: 6262 })
        const rows = isbns.map((isbn, index) => [`BULK-${index}`, isbn, `A book with a long enough title to take some room ${index}`, "Someone, Anyone", "9.99", "1", "Good"])
        const file = seller.file("bulk.tsv", tsv(...rows))
        const done = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file, "--delta"]))
        expect(done.stderr).toBe("")
        expect(done.code).toBe(0)
        const percents = [...done.stdout.matchAll(/^\s+(\d+)%\s/gm)].map((match) => Number(match[1]))
        expect(percents.length).toBeGreaterThan(3)
        expect(percents.at(-1)).toBe(100)
        expect(percents).toEqual([...percents].sort((a, b) => a - b))
        expect(done.stdout).toContain(`✓ ${file} applied (delta)`)
        expect(done.stdout).toMatch(/rows read\s+20,000\n/)
        expect(done.stdout).not.toContain("rejected rows")
      })
    )

    it.effect("a missing file, a folder, no seller key, a wrong key: one readable line, non-zero, nothing sent", () =>
      Effect.gen(function* () {
        const seller = yield* FeedSeller
        const before = (yield* seller.api.seller.inventory).listings
        const missing = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", join(seller.dir, "nowhere.tsv")]))
        expect(missing.code).toBe(1)
        expect(missing.stderr).toMatch(/^error: no file .*nowhere\.tsv\nhint: check the path/)
        expect(missing.stdout).toBe("")
        noStackTrace(missing)

        // Checked before any call (the API here answers nothing).
        const folder = join(seller.dir, "folder.tsv")
        mkdirSync(folder)
        const isFolder = yield* Effect.flip(Inventory.upload(TestServer.deadApi, Render.capture(), { file: folder, mode: "delta" }))
        expect(isFolder.message).toBe(`${folder} is a folder, not a file`)
        const empty = yield* Effect.flip(Inventory.upload(TestServer.deadApi, Render.capture(), { file: seller.file("empty.tsv", ""), mode: "snapshot" }))
        expect(empty.message).toMatch(/empty\.tsv is empty: there is nothing to upload$/)
        const unknown = yield* Effect.flip(Inventory.upload(TestServer.deadApi, Render.capture(), { file: seller.file("stock.xlsx", "x"), mode: "delta" }))
        expect(unknown.message).toBe("cannot tell the format of stock.xlsx from its name")
        expect(unknown.hint).toMatch(/--format tsv\|jsonl/)
        const badCurrency = yield* Effect.flip(Inventory.upload(TestServer.deadApi, Render.capture(), { file: seller.file("c.tsv", "x"), mode: "delta", currency: "euro" }))
        expect(badCurrency.message).toBe('"euro" is not an ISO 4217 currency code')

        const file = seller.file("one.tsv", tsv(["K1", later, "T", "A", "1.00", "1", "New"]))
        const noKey = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "upload", file], { BOOKBROKER_SELLER_KEY: "" }))
        expect(noKey.code).toBe(1)
        expect(noKey.stderr).toMatch(/^error: no seller API key\nhint: pass --seller-key or set BOOKBROKER_SELLER_KEY/)
        expect(noKey.stdout).toBe("")

        const wrongKey = yield* Effect.promise(() => seller.cli(["sellers", "inventory", "status", "--seller-key", "bb_sel_wrong"]))
        expect(wrongKey.code).toBe(1)
        expect(wrongKey.stderr).toMatch(/--seller-key/)
        noStackTrace(wrongKey)

        const customerKey = yield* Effect.flip(Inventory.status(seller.api.withSellerKey((yield* TestServer.TestServer).customerKey), Render.capture(), {}))
        expect(customerKey.message).toMatch(/seller API key/)
        expect((yield* seller.api.seller.inventory).listings).toBe(before)
      })
    )
  })
})

describe("sellers inventory (no server)", () => {
  it("the format comes from the file's name; --format overrides", () => {
    const format = (file: string, override?: string) => Effect.runSync(Effect.result(Inventory.formatOf(file, override)))
    expect(format("a.TSV")).toMatchObject({ success: "tsv" })
    expect(format("abebooks.txt")).toMatchObject({ success: "tsv" })
    expect(format("a.tab")).toMatchObject({ success: "tsv" })
    expect(format("a.jsonl")).toMatchObject({ success: "jsonl" })
    expect(format("a.ndjson")).toMatchObject({ success: "jsonl" })
    expect(format("a.csv", "tsv")).toMatchObject({ success: "tsv" })
    expect(format("catalogue.XML")).toMatchObject({ success: "onix" })
    expect(format("feed.onix")).toMatchObject({ success: "onix" })
    expect(format("export.dat", "ONIX")).toMatchObject({ success: "onix" })
    expect(format("a.tsv", "xml")).toMatchObject({ failure: { message: '--format must be tsv, jsonl or onix (got "xml")' } })
    expect(format("inventory")).toMatchObject({ failure: { message: "cannot tell the format of inventory from its name" } })
  })

  it("trust durations: 24h, 90m, 2d, 1h30m, plain seconds", () => {
    const seconds = (raw: string) => Effect.runSync(Effect.result(Inventory.trustSeconds(raw)))
    expect(seconds("24h")).toMatchObject({ success: 86_400 })
    expect(seconds("90m")).toMatchObject({ success: 5_400 })
    expect(seconds("2d")).toMatchObject({ success: 172_800 })
    expect(seconds("1h 30m")).toMatchObject({ success: 5_400 })
    expect(seconds("3600")).toMatchObject({ success: 3_600 })
    expect(seconds("59s")._tag).toBe("Failure")
    expect([86_400, 5_400, 172_800, 90, 3_600].map(Inventory.everyText)).toEqual(["24h", "90m", "2d", "90s", "1h"])
  })

  it("progress: the bar's figures from bytes sent and the rows per byte of the file's beginning", () => {
    const props: UploadProgressProps = {
      file: "inventory.tsv",
      bytes: 1_000_000,
      format: "tsv",
      mode: "delta",
      rowsPerByte: 0.01,
      headerLines: 1,
      sentBytes: 250_000,
      elapsedMillis: 5_000,
      sentMillis: null,
      finished: false,
      waits: [],
      checkpoints: [
        { sentBytes: 100_000, elapsedMillis: 2_000 },
        { sentBytes: 250_000, elapsedMillis: 5_000 }
      ]
    }
    expect(figures(props)).toEqual({ fraction: 0.25, rows: 2_499, rowsPerSecond: 499.8, etaMillis: 15_000 })
    expect(uploadLines(props)).toEqual([
      "uploading inventory.tsv (1.0 MB, tsv, delta: only the listings in it change)",
      "   10%  100 KB of 1.0 MB  ~999 rows  500 rows/s  ETA 18.0 s",
      "   25%  250 KB of 1.0 MB  ~2,499 rows  500 rows/s  ETA 15.0 s"
    ])
    const sent = { ...props, sentBytes: 1_000_000, sentMillis: 20_000, elapsedMillis: 81_000, waits: [60_000], checkpoints: [...props.checkpoints, { sentBytes: 1_000_000, elapsedMillis: 20_000 }] }
    expect(uploadLines(sent).slice(3)).toEqual([
      "  100%  1.0 MB of 1.0 MB  ~9,999 rows  500 rows/s",
      "  sent in 20.0 s; the server is applying it…",
      "  still applying after 1m 00s"
    ])
  })

  it("the feed's details: a fresh complete feed, and one bookbroker fetches from a URL", () => {
    const now = Date.now()
    const feed: Api.InventorySummary = {
      listings: 1234,
      trust_seconds: 86_400,
      currency: "EUR",
      shipping: { amount: 350 },
      last_snapshot_at: new Date(now - 120_000).toISOString(),
      last_upload_at: new Date(now - 120_000).toISOString(),
      fresh_until: new Date(now + 3_600_000).toISOString(),
      complete: true,
      pull: null
    }
    const fields = new Map(Inventory.feedDetails(feed).fields)
    expect(fields.get("listings")).toBe("1,234")
    expect(fields.get("default shipping")).toBe("€3.50")
    expect(fields.get("last upload")).toBe("2m ago")
    expect(fields.get("fresh until")).toMatch(/\(in (59m \d\ds|1h 00m)\)$/)
    expect(fields.has("fetched")).toBe(false)
    const pulled = new Map(
      Inventory.feedDetails({
        ...feed,
        complete: false,
        fresh_until: new Date(now - 60_000).toISOString(),
        pull: { url: "https://shop.example/inventory.tsv", adapter: false, format: null, every_seconds: 3_600, last_at: new Date(now - 60_000).toISOString(), next_at: null, last_result: "not modified" }
      }).fields
    )
    expect(pulled.get("fresh until")).toMatch(/\(expired 1m ago: bookbroker asks you live until you upload again\)$/)
    expect(pulled.get("fetched")).toBe("from https://shop.example/inventory.tsv every 1h")
    expect(pulled.get("last fetch")).toBe("1m ago: not modified")
    const onix = new Map(
      Inventory.feedDetails({ ...feed, pull: { url: "https://shop.example/onix.xml", adapter: false, format: "onix", every_seconds: 3_600, last_at: null, next_at: null, last_result: null } }).fields
    )
    expect(onix.get("fetched")).toBe("from https://shop.example/onix.xml as onix every 1h")
  })

  it("the rejected rows table says how many more there are", () => {
    const upload: Api.InventoryUpload = {
      id: "u1",
      mode: "snapshot",
      format: "tsv",
      source: "upload",
      status: "applied",
      rows_read: 500,
      rows_rejected: 150,
      rows_applied: 350,
      listings_retired: 3,
      errors: Array.from({ length: 100 }, (_, index) => ({ line: index + 2, field: index % 2 === 0 ? "price" : null, reason: "wrong" })),
      refusal: null,
      created_at: "2025-01-01T10:00:00.000Z",
      finished_at: "2025-01-01T10:00:05.000Z"
    }
    const table = Inventory.errorsTable(upload, 20)
    expect(table.title).toBe("rejected rows (the first 20 of 150)")
    expect(table.rows[1]).toEqual(["3", "—", "wrong"])
    expect(table.footer).toEqual(["130 more rejected rows; the server keeps the first 100: bookbroker sellers inventory status u1"])
    expect(Inventory.errorsTable(upload, 100).footer).toEqual(["50 more rejected rows"])
    expect(Inventory.uploadDetails(upload).fields.find(([label]) => label === "took")).toEqual(["took", "5.0 s (100 rows/s)"])
  })
})
