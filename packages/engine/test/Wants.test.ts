/**
 * Wants (standing orders) over real PostgreSQL and simulated sellers over HTTP: a request with
 * `wait_until` that finds nothing within its maximum watches (no authorization held) instead of
 * ending, is woken when a copy is listed (first come, first served) or found live, buys through
 * the normal flow, expires at its `wait_until`, and can be cancelled while it watches — and a
 * cancel racing a match has exactly one winner.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer, Stream } from "effect"
import * as InventoryUploads from "../src/inventory/InventoryUploads.js"
import * as Wants from "../src/jobs/Wants.js"
import * as SandboxGateway from "../src/payments/SandboxGateway.js"
import * as Purchases from "../src/purchases/Purchases.js"
import * as Harness from "../src/testing/PurchaseHarness.js"

const isbns = generateIsbns({ size: 24, seed: 3131 }) as ReadonlyArray<Isbn.Isbn13>
const Infrastructure = InventoryUploads.layer().pipe(Layer.provideMerge(Harness.infrastructure(new SandboxGateway.SandboxFaults())))

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000)

/** The wants job of one process (its own quote engine over the index). */
const wantsJobWith = (options: Harness.HarnessOptions = {}) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(Wants.layer().pipe(Layer.provide(Harness.engine({ offerIndex: true, ...options }))))
    return Context.get(context, Wants.Wants)
  })
const wantsJob = wantsJobWith()

/** A seller with `quantity` copies of `isbn` at `price`, registered, its inventory uploaded as a snapshot listing them. */
const listedSeller = (name: string, isbn: Isbn.Isbn13, price: number, quantity = 1) =>
  Effect.gen(function* () {
    const [seller] = yield* Harness.SimulatedSellers.startSellers([{ name, stock: [{ isbn, price, shipping: 0, quantity }] }])
    const [registered] = yield* Harness.register([seller!])
    const uploads = yield* InventoryUploads.InventoryUploads
    const file = `listingid\tisbn\tprice\tquantity\tbookcondition\nL-${name}\t${isbn}\t${(price / 100).toFixed(2)}\t${quantity}\tNew\n`
    yield* uploads.upload(registered!.id, { mode: "snapshot", format: "tsv", currency: "EUR" }, Stream.make(new TextEncoder().encode(file)))
    return seller!
  })

const events = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ event: string; payload: { status: string; reason: string | null } }>`
    SELECT event, payload FROM outbox WHERE request_id = ${id} ORDER BY id`).pipe(Effect.orDie)

const liveAuthorizations = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`
    SELECT count(*)::int AS n FROM payment_operations WHERE request_id = ${id} AND kind = 'authorize' AND live`).pipe(
    Effect.map((rows) => rows[0]!.n),
    Effect.orDie
  )

describe("Wants", () => {
  it.live("watches instead of ending price_not_met, holding no money, and buys once a feed lists a copy within the maximum", () =>
    Effect.gen(function* () {
      const isbn = isbns[0]!
      const [dear] = yield* Harness.SimulatedSellers.startSellers([{ name: "dear", stock: [{ isbn, price: 2500, shipping: 0, quantity: 3 }] }])
      yield* Harness.register([dear!])
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(14) })
      const watching = yield* Harness.runUntilDone(worker, id, 200, true)
      expect(watching.status).toBe("watching")
      expect(watching.terminal).toBe(false)
      expect(watching.waiting).toContain("watching for a copy within the maximum until")
      expect(watching.waiting).toContain("25.00 EUR from dear")
      expect(watching.counterOffer).toBeNull()
      // No money held while watching: the first round's authorization was voided.
      expect(yield* liveAuthorizations(id)).toBe(0)
      expect((yield* Harness.ledger(id)).map((row) => row.status)).toEqual(["voided"])
      // Nothing listed yet: the job wakes nobody.
      expect((yield* wants.runOnce).woken).toBe(0)

      const cheap = yield* listedSeller("cheap", isbn, 1500)
      expect((yield* wants.runOnce).woken).toBe(1)
      const bought = yield* Harness.runUntilDone(worker, id)
      expect(bought.status).toBe("purchased")
      expect(bought.finalPrice?.amount).toBe(1500)
      expect(cheap.simulator.orders).toHaveLength(1)
      expect(dear!.simulator.orders).toHaveLength(0)
      expect((yield* Harness.ledger(id)).map((row) => [row.status, row.captured])).toEqual([
        ["voided", "0"],
        ["captured", "1500"]
      ])
      // A webhook for each change: watching, woken, bought.
      expect((yield* events(id)).map((event) => event.event)).toEqual([
        "purchase_request.watching",
        "purchase_request.received",
        "purchase_request.purchased"
      ])
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a request without wait_until still ends price_not_met with a counter-offer", () =>
    Effect.gen(function* () {
      const isbn = isbns[1]!
      const [dear] = yield* Harness.SimulatedSellers.startSellers([{ name: "dear", stock: [{ isbn, price: 2500, shipping: 0, quantity: 1 }] }])
      yield* Harness.register([dear!])
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const { id } = yield* Harness.submit(isbn, 2000)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("price_not_met")
      expect(view.counterOffer?.price.amount).toBe(2500)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("expires at wait_until, with its webhook, and keeps no payment token", () =>
    Effect.gen(function* () {
      const isbn = isbns[2]!
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: new Date(Date.now() + 3_000) })
      expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")
      expect((yield* wants.runOnce).expired).toBe(0)
      const purchases = yield* Purchases.Purchases
      while (Date.parse((yield* purchases.get(id)).request.wait_until!) > Date.now() - 50) yield* Effect.sleep(100)
      expect((yield* wants.runOnce).expired).toBe(1)
      const view = yield* purchases.get(id)
      expect(view.status).toBe("expired")
      expect(view.terminal).toBe(true)
      expect(view.reason).toContain("wait_until_passed")
      const last = (yield* events(id)).at(-1)!
      expect(last.event).toBe("purchase_request.expired")
      expect(last.payload).toMatchObject({ id, status: "expired", reason: view.reason, final_price: null })
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ payment_token: string | null }>`SELECT payment_token FROM purchase_requests WHERE id = ${id}`
      expect(row!.payment_token).toBeNull()
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a cancel racing a match: exactly one wins", () =>
    Effect.gen(function* () {
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      const purchases = yield* Purchases.Purchases
      const ids: Array<string> = []
      for (const isbn of isbns.slice(3, 11)) {
        const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(3) })
        expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")
        ids.push(id)
        yield* listedSeller(`seller-${isbn}`, isbn, 1000)
      }
      // Every want has a copy listed: each wake races the customer's cancel (the cancels spread
      // over the job's run, so some come before the wake and some after).
      const [run, cancels] = yield* Effect.all(
        [
          wants.runOnce,
          Effect.forEach(ids, (id, i) => Effect.result(Effect.andThen(Effect.sleep(i * 5), purchases.cancel(id))), { concurrency: "unbounded" })
        ],
        { concurrency: "unbounded" }
      )
      const cancelled = cancels.filter((result) => result._tag === "Success").length
      expect(cancelled + run.woken).toBe(ids.length)
      for (const [i, id] of ids.entries()) {
        const view = yield* purchases.get(id)
        const result = cancels[i]!
        if (result._tag === "Success") {
          expect(view.status).toBe("cancelled")
        } else {
          expect(result.failure._tag).toBe("CancelNotAllowed")
          expect(view.status).toBe("received")
        }
      }
      // A cancelled want is never woken afterwards.
      expect((yield* wants.runOnce).woken).toBe(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a want woken first can no longer be cancelled; one cancelled first is never woken", () =>
    Effect.gen(function* () {
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      const purchases = yield* Purchases.Purchases
      const [first, second] = isbns.slice(16, 18) as [Isbn.Isbn13, Isbn.Isbn13]
      const woken = yield* Harness.submit(first, 2000, { waitUntil: inDays(3) })
      expect((yield* Harness.runUntilDone(worker, woken.id, 200, true)).status).toBe("watching")
      yield* listedSeller("first-copy", first, 1000)
      expect((yield* wants.runOnce).woken).toBe(1)
      const refused = yield* Effect.flip(purchases.cancel(woken.id))
      expect(refused._tag).toBe("CancelNotAllowed")
      expect(refused.message).toContain("a copy was found and it is being bought")
      expect((yield* purchases.get(woken.id)).status).toBe("received")

      const cancelled = yield* Harness.submit(second, 2000, { waitUntil: inDays(3) })
      expect((yield* Harness.runUntilDone(worker, cancelled.id, 200, true)).status).toBe("watching")
      expect((yield* purchases.cancel(cancelled.id)).status).toBe("cancelled")
      yield* listedSeller("second-copy", second, 1000)
      expect((yield* wants.runOnce).woken).toBe(0)
      expect((yield* purchases.get(cancelled.id)).status).toBe("cancelled")
      expect((yield* events(cancelled.id)).map((event) => event.event)).toEqual(["purchase_request.watching", "purchase_request.cancelled"])
      const again = yield* Effect.flip(purchases.cancel(cancelled.id))
      expect(again.message).toContain("already cancelled")
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("k copies among n wants: the k oldest get them, across two workers, no copy twice", () =>
    Effect.gen(function* () {
      const isbn = isbns[12]!
      const w1 = yield* Harness.worker("w1", { offerIndex: true })
      const w2 = yield* Harness.worker("w2", { offerIndex: true })
      const wants = yield* wantsJob
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) {
        const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(7), customerId: `customer-${i}` })
        ids.push(id)
      }
      for (const id of ids) expect((yield* Harness.runUntilDone(w1, id, 200, true)).status).toBe("watching")
      const a = yield* listedSeller("copy-a", isbn, 1200)
      const b = yield* listedSeller("copy-b", isbn, 1300)
      expect((yield* wants.runOnce).woken).toBe(2)
      const purchases = yield* Purchases.Purchases
      const statuses = yield* Effect.forEach(ids, (id) => Effect.map(purchases.get(id), (view) => view.status))
      expect(statuses).toEqual(["received", "received", "watching", "watching", "watching"])
      const done = yield* Effect.all([Harness.runUntilDone(w1, ids[0]!), Harness.runUntilDone(w2, ids[1]!)], { concurrency: 2 })
      expect(done.map((view) => view.status)).toEqual(["purchased", "purchased"])
      expect(done.map((view) => view.finalPrice?.amount).sort()).toEqual([1200, 1300])
      expect(a.simulator.orders.length + b.simulator.orders.length).toBe(2)
      expect(a.simulator.orders).toHaveLength(1)
      expect(b.simulator.orders).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a card declined when a copy is found ends the want failed, with the reason, and buys nothing", () =>
    Effect.gen(function* () {
      const isbn = isbns[13]!
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(2), paymentToken: "tok_decline_later" })
      expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")
      const seller = yield* listedSeller("late", isbn, 1000)
      expect((yield* wants.runOnce).woken).toBe(1)
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("failed")
      expect(view.reason).toBe("payment_declined: expired_card")
      expect(seller.simulator.orders).toHaveLength(0)
      expect(seller.simulator.calls.hold).toBe(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a live look finds a copy at a seller without a feed", () =>
    Effect.gen(function* () {
      const isbn = isbns[14]!
      const [shop] = yield* Harness.SimulatedSellers.startSellers([{ name: "no-feed", stock: [] }])
      yield* Harness.register([shop!])
      const worker = yield* Harness.worker("w1", { offerIndex: true, pipeline: { wantRecheckMillis: 200 } })
      const wants = yield* wantsJobWith({ pipeline: { wantRecheckMillis: 200 } })
      const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(1) })
      expect((yield* Harness.runUntilDone(worker, id, 200, true)).status).toBe("watching")
      yield* Effect.sleep(300)
      const nothing = yield* wants.runOnce
      expect(nothing).toMatchObject({ looked: 1, foundLive: 0 })
      shop!.simulator.setStock({ isbn, price: 1800, shipping: 0, quantity: 1 })
      // Not due again yet: nobody is asked.
      expect(yield* wants.runOnce).toMatchObject({ looked: 0 })
      yield* Effect.sleep(300)
      const found = yield* wants.runOnce
      expect(found).toMatchObject({ looked: 1, foundLive: 1 })
      const view = yield* Harness.runUntilDone(worker, id)
      expect(view.status).toBe("purchased")
      expect(view.finalPrice?.amount).toBe(1800)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("wait_until in the past or more than 30 days away is refused, and nothing is stored", () =>
    Effect.gen(function* () {
      const isbn = isbns[15]!
      const past = yield* Effect.flip(Harness.submit(isbn, 2000, { waitUntil: new Date(Date.now() - 1_000) }))
      expect(past._tag).toBe("WaitUntilRefused")
      expect(past.message).toContain("is not in the future")
      const far = yield* Effect.flip(Harness.submit(isbn, 2000, { waitUntil: inDays(31) }))
      expect(far.message).toContain("more than 30 days away")
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM purchase_requests WHERE isbn = ${isbn}`
      expect(row!.n).toBe(0)
    }).pipe(Effect.provide(Infrastructure))
  )

  it.live("a seller whose hold said out of stock (nothing sent to it) is tried again once it lists the copy again", () =>
    Effect.gen(function* () {
      const isbn = isbns[12]!
      // Its only copy is held by someone (a hold of our own lost with a killed worker, say) when the want first tries it.
      const [shy] = yield* Harness.SimulatedSellers.startSellers([{ name: "shy", stock: [{ isbn, price: 1500, shipping: 0, quantity: 1 }] }])
      const [registered] = yield* Harness.register([shy!])
      const uploads = yield* InventoryUploads.InventoryUploads
      const list = uploads.upload(
        registered!.id,
        { mode: "snapshot", format: "tsv", currency: "EUR" },
        Stream.make(new TextEncoder().encode(`listingid\tisbn\tprice\tquantity\tbookcondition\nL-shy\t${isbn}\t15.00\t1\tNew\n`))
      )
      yield* list
      shy!.simulator.inject({ operation: "hold", kind: "out_of_stock" })
      const worker = yield* Harness.worker("w1", { offerIndex: true })
      const wants = yield* wantsJob
      const { id } = yield* Harness.submit(isbn, 2000, { waitUntil: inDays(14) })
      const watching = yield* Harness.runUntilDone(worker, id, 200, true)
      expect(watching.status).toBe("watching")
      expect(watching.attempts.map((attempt) => [attempt.sellerName, attempt.status, attempt.reason])).toEqual([["shy", "failed", "rejected:out_of_stock"]])
      // The listing it already failed on does not wake it again.
      expect((yield* wants.runOnce).woken).toBe(0)

      // The seller states the copy again: woken, and the seller is tried again under the same key (nothing was ever sent under it).
      yield* list
      expect((yield* wants.runOnce).woken).toBe(1)
      const bought = yield* Harness.runUntilDone(worker, id)
      expect(bought.status).toBe("purchased")
      expect(bought.attempts.map((attempt) => [attempt.sellerName, attempt.status])).toEqual([["shy", "confirmed"]])
      expect(shy!.simulator.orders).toHaveLength(1)
    }).pipe(Effect.provide(Infrastructure))
  )
})
