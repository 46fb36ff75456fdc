/**
 * Seller selection at 10,000 sellers with inventory feeds (issue 16): the simulated world of
 * `selection.ts`, loaded into a real offer index in PostgreSQL, and every request read through the
 * engine's `OfferIndex.lookup` and its answers written back through `OfferIndex.learn` — so the
 * index's cost at this size (tens of millions of listings) is measured, not assumed.
 *
 * - The load is a bulk SQL load (`INSERT … SELECT FROM unnest(…)` in batches of 100,000 rows, two
 *   connections, the table's indexes dropped during the load and rebuilt after, the table made
 *   UNLOGGED and foreign-key triggers off for the load), not the upload path (`bench:feeds`
 *   measures that, ≈25k rows/s). Every fed seller's listings are exactly the books it carries in
 *   the simulation, at its price and shipping; each fed seller has a fresh snapshot.
 * - Churn since the feeds: a share of listings sold elsewhere (a confirm call answers
 *   unavailable) and a share repriced (±10 %), drawn per (seller, book).
 * - Per request: the real lookup (timed), the indexed offers ranked as `QuoteEngine.readIndex`
 *   leaves them, then `QuoteEngine.confirm`'s walk — the engine's own rule, `ConfirmWalk`: cheapest
 *   first, as many per batch as live offers are missing, until `best` = 2 live offers are at least
 *   as cheap as the next lead, a failed call asked once more — driven by the simulation's call
 *   latencies and failures (a second call is a draw of its own); the lessons go to the
 *   real `OfferIndex.learn`, timed. With `half`, the sellers without feeds are asked first by the
 *   simulation's selection waves (as `QuoteEngine.quotes` does after reading the index), and their
 *   offers count as live ones in confirm.
 * - Decision latency = lookup (real) + fan-out (simulated, `half` only) + confirm calls
 *   (simulated) + learn (real). The true cheapest is the cheapest offer of any seller that still
 *   has the book, at its live price.
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { ConfirmWalk, Database, OfferIndex } from "@bookbroker/engine"
import { Effect, Layer, ManagedRuntime } from "effect"
import { batchInserter, withLoadConnections, withoutListingIndexes } from "./bulk-listings.js"
import * as Processes from "./e2e-processes.js"
import { percentile, round } from "./support.js"

/** What `selection.ts` simulates, handed over whole so both runs see the same world. */
export interface World {
  readonly sellerCount: number
  readonly catalogSize: number
  readonly seed: number
  readonly warmup: number
  readonly measured: number
  readonly isbns: ReadonlyArray<Isbn.Isbn13>
  readonly sample: () => number
  readonly sellerIds: ReadonlyArray<string>
  readonly carries: (s: number, book: number) => boolean
  /** The seller's price for the book (without shipping), as its feed states it. */
  readonly price: (s: number, book: number, base: number) => number
  readonly shipping: Float64Array
  readonly basePrice: (book: number) => number
  readonly callOf: (s: number, request: number) => { readonly failed: boolean; readonly latency: number }
  readonly select: (
    book: number,
    request: number,
    among: ReadonlyArray<string>
  ) => { readonly durationMillis: number; readonly asked: number; readonly live: ReadonlyArray<{ readonly seller: number; readonly total: number }>; readonly askedSellers: ReadonlyArray<number> }
  readonly hash: (a: number, b: number, salt: number) => number
  readonly deadlineMillis: number
  readonly timeoutMillis: number
  readonly runStarted: number
  readonly options: FeedsOptions
}

export interface FeedsOptions {
  readonly feeds: "all" | "half"
  readonly goneShare: number
  readonly repricedShare: number
  readonly learn: boolean
  /** `ConfirmWalk`'s margin for prices that fell since the feed (`--margin`, default 0 as the engine). */
  readonly margin: number
}

/** `QuoteEngine.confirm`'s default: one offer to buy, one to fall back to. */
const best = 2
const batchRows = 100_000
/** The run stops itself (and drops its database) after this long, whatever happens. */
const maxRunMillis = 60 * 60 * 1_000

const log = (message: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`)
const sellerUuid = (s: number) => `00000000-0000-4000-8000-${s.toString(16).padStart(12, "0")}`
const sellerUuidSql = (column: string) => `('00000000-0000-4000-8000-' || lpad(to_hex(${column}), 12, '0'))::uuid`
const sellerOf = (uuid: string) => Number.parseInt(uuid.slice(24), 16)
const fmt = (n: number) => n.toLocaleString("en")

// ---------------------------------------------------------------- the bulk load

interface Loaded {
  readonly rows: number
  readonly loadSeconds: number
  readonly rowsSeconds: number
  readonly indexSeconds: number
  readonly tableBytes: number
  readonly listingsTotalBytes: number
}

const load = (url: string, world: World, fed: ReadonlyArray<number>): Promise<Loaded> =>
  withLoadConnections(url, "1GB", async (clients) => {
    const started = performance.now()
    const db = clients[0]
    await db.query(
      `INSERT INTO sellers (id, name, adapter_kind, adapter_version, config, status)
       SELECT ${sellerUuidSql("i")}, 'seller-' || lpad(i::text, 5, '0'), 'reference', '1.0.0', '{}'::jsonb, 'active'
       FROM generate_series(0, $1::int - 1) AS i`,
      [world.sellerCount]
    )
    await db.query(
      `INSERT INTO seller_feeds (seller_id, currency, last_snapshot_at, last_upload_at)
       SELECT ${sellerUuidSql("i")}, 'USD', now(), now() FROM unnest($1::int4[]) AS i`,
      [fed]
    )
    // A bench database of its own: no WAL for the listings.
    await db.query("ALTER TABLE listings SET UNLOGGED")
    let rowsDone = started
    const { result: rows } = await withoutListingIndexes(db, async () => {
      const inserter = batchInserter(
        clients,
        `INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, quantity, source, seen_at)
         SELECT ${sellerUuidSql("r.s")}, 'L' || r.b, r.isbn, r.price, r.shipping, 'USD', 'good', 1, 'feed', now()
         FROM unnest($1::int4[], $2::int4[], $3::text[], $4::int8[], $5::int8[]) AS r (s, b, isbn, price, shipping)`
      )
      const literal = (values: ReadonlyArray<number | string>) => `{${values.join(",")}}`
      let sellers: Array<number> = []
      let books: Array<number> = []
      let isbns: Array<string> = []
      let prices: Array<number> = []
      let shippings: Array<number> = []
      let nextLog = 5_000_000
      for (const s of fed) {
        for (let book = 0; book < world.catalogSize; book++) {
          if (!world.carries(s, book)) continue
          sellers.push(s)
          books.push(book)
          isbns.push(world.isbns[book]!)
          prices.push(world.price(s, book, world.basePrice(book)))
          shippings.push(world.shipping[s]!)
          if (sellers.length === batchRows) {
            await inserter.send([literal(sellers), literal(books), literal(isbns), literal(prices), literal(shippings)])
            sellers = []
            books = []
            isbns = []
            prices = []
            shippings = []
            if (inserter.rows() >= nextLog) {
              log(`loaded ${fmt(inserter.rows())} listings (${round((performance.now() - started) / 1000, 0)} s)`)
              nextLog += 5_000_000
            }
          }
        }
      }
      if (sellers.length > 0) await inserter.send([literal(sellers), literal(books), literal(isbns), literal(prices), literal(shippings)])
      const inserted = await inserter.done()
      rowsDone = performance.now()
      log(`${fmt(inserted)} listings inserted in ${round((rowsDone - started) / 1000, 0)} s; rebuilding the indexes`)
      return inserted
    })
    await db.query("ANALYZE seller_feeds, sellers")
    const finished = performance.now()
    const sizes = (
      await db.query<{ table: string; total: string }>("SELECT pg_relation_size('listings') AS table, pg_total_relation_size('listings') AS total")
    ).rows[0]!
    return {
      rows,
      loadSeconds: round((finished - started) / 1000, 0),
      rowsSeconds: round((rowsDone - started) / 1000, 0),
      indexSeconds: round((finished - rowsDone) / 1000, 0),
      tableBytes: Number(sizes.table),
      listingsTotalBytes: Number(sizes.total)
    }
  })

// ---------------------------------------------------------------- one request

interface Lead {
  readonly seller: number
  readonly listingId: string
  /** The indexed total (price + shipping). */
  readonly total: number
}

interface RequestOutcome {
  readonly lookupMillis: number
  readonly learnMillis: number
  readonly fanOutMillis: number
  readonly confirmCallsMillis: number
  readonly decisionMillis: number
  readonly leads: number
  readonly fanOutCalls: number
  readonly confirmCalls: number
  /** Confirm calls answered "unavailable" (sold elsewhere since the feed). */
  readonly goneAnswers: number
  readonly indexedCheapestGone: boolean
  readonly found: number
  readonly cheapest: number
  readonly miss: MissReason | undefined
  /** Would confirming every lead and asking every seller find the cheapest (its call not failing)? */
  readonly cheapestReachable: boolean
  readonly indexMismatches: number
}

type MissReason = "cheapest's call failed" | "cheapest repriced down, not confirmed" | "cheapest not confirmed (other)" | "cheapest had no feed and was not selected"

const summary = (values: Array<number>, digits = 0) => {
  values.sort((a, b) => a - b)
  return values.length === 0 ? null : { p50: round(percentile(values, 50), digits), p99: round(percentile(values, 99), digits) }
}
const share = (part: number, whole: number) => (whole === 0 ? null : round(part / whole, 4))
const mean = (values: ReadonlyArray<number>) => (values.length === 0 ? null : round(values.reduce((a, b) => a + b, 0) / values.length, 2))

export const runWithFeeds = async (world: World): Promise<void> => {
  const { options } = world
  const isFed = (s: number) => options.feeds === "all" || s % 2 === 0
  const fed = Array.from({ length: world.sellerCount }, (_, s) => s).filter(isFed)
  const liveCandidates = world.sellerIds.filter((_, s) => !isFed(s))
  const saltGone = world.seed * 7 + 6
  const saltReprice = world.seed * 7 + 7
  /** Churn since the feed, per (seller, book): sold elsewhere, repriced, or as the feed says. */
  const churn = (s: number, book: number): "gone" | "repriced" | "same" => {
    const u = world.hash(s, book, saltGone)
    return u < options.goneShare ? "gone" : u < options.goneShare + options.repricedShare ? "repriced" : "same"
  }
  const livePrice = (s: number, book: number, base: number) => {
    const listed = world.price(s, book, base)
    return churn(s, book) === "repriced" ? Math.round(listed * (0.9 + 0.2 * world.hash(s, book, saltReprice))) : listed
  }
  /** Listings the index learned were gone (and deleted). */
  const learnedGone = new Set<string>()

  const database = await Processes.createDatabase(`bb_bench_selection_${process.pid}`)
  /** Drops the database, retrying: PostgreSQL may be out of connections for a moment (other sessions' tests). */
  const dropDatabase = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Processes.dropDatabase(database.name)
      } catch (error) {
        if (attempt === 10) return console.error(`could not drop ${database.name}: ${String(error)}; drop it by hand`)
        await new Promise((resolve) => setTimeout(resolve, 3_000))
      }
    }
  }
  const stop = async (code: number) => {
    await dropDatabase()
    process.exit(code)
  }
  const timer = setTimeout(() => {
    log(`still running after ${maxRunMillis / 60_000} minutes: stopping`)
    void stop(2)
  }, maxRunMillis)
  timer.unref()
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop(130))

  const runtime = ManagedRuntime.make(
    OfferIndex.layer().pipe(Layer.provideMerge(Database.layer({ url: database.url, maxConnections: 6, applicationName: "bench-selection" })), Layer.orDie)
  )
  try {
    const index = await runtime.runPromise(OfferIndex.OfferIndex) // migrates the fresh database
    log(`database ${database.name}: loading the listings of ${fmt(fed.length)} sellers × ${fmt(world.catalogSize)} ISBNs (bulk SQL)`)
    const loaded = await load(database.url, world, fed)
    log(`loaded ${fmt(loaded.rows)} listings in ${loaded.loadSeconds} s; listings ${round(loaded.listingsTotalBytes / 2 ** 30, 1)} GiB with indexes`)

    const request = async (r: number, book: number): Promise<RequestOutcome> => {
      const isbn = world.isbns[book]!
      const base = world.basePrice(book)
      const lookupStarted = performance.now()
      const listed = await runtime.runPromise(index.lookup(isbn))
      const lookupMillis = performance.now() - lookupStarted

      // As `readIndex` leaves them: one offer per seller (its cheapest), then `confirm` sorts by total.
      const bySeller = new Map<number, Lead>()
      for (const listing of listed.listings) {
        const s = sellerOf(listing.sellerId)
        const total = listing.price + listing.shipping
        const known = bySeller.get(s)
        if (known === undefined || total < known.total) bySeller.set(s, { seller: s, listingId: listing.listingId, total })
      }
      const leads = [...bySeller.values()].sort((a, b) => a.total - b.total || a.seller - b.seller)
      // A check on the load and on learn: the index lists what the fed sellers carry, less what it learned was gone.
      let indexMismatches = 0
      for (const s of fed) {
        const listing = world.carries(s, book) && !learnedGone.has(`${s}:${book}`)
        if (listing !== bySeller.has(s) || listing === listed.unlistedBy.has(sellerUuid(s))) indexMismatches += 1
      }

      // `quotes`: the sellers neither listing the book nor unlisting it are asked live, by selection.
      const fanOut = options.feeds === "half" ? world.select(book, r, liveCandidates) : undefined
      const live = fanOut === undefined ? [] : fanOut.live.map((offer) => ({ ...offer }))

      // `confirm`: the engine's own rule (`ConfirmWalk`), with the simulation's calls.
      const asked = new Set<number>()
      const failed = new Set<number>()
      const tries = new Map<number, number>()
      let elapsed = 0
      let learnMillis = 0
      let confirmCalls = 0
      let goneAnswers = 0
      const walk = ConfirmWalk.make(
        leads.map((lead) => ({ ...lead, sellerId: String(lead.seller) })),
        live.map((offer) => offer.total),
        best,
        { margin: options.margin }
      )
      while (true) {
        const left = world.deadlineMillis - elapsed
        if (left <= 0) break
        const batch = walk.next()
        if (batch.length === 0) break
        let duration = 0
        const lessons: Array<{ readonly lead: Lead; readonly lesson: OfferIndex.Lesson }> = []
        for (const lead of batch) {
          confirmCalls += 1
          asked.add(lead.seller)
          // A second call to a seller is a draw of its own (its own latency, its own chance to fail).
          const attempt = tries.get(lead.seller) ?? 0
          tries.set(lead.seller, attempt + 1)
          const call = world.callOf(lead.seller, r + attempt * 0x3fffffff)
          duration = Math.max(duration, Math.min(call.latency, left))
          if (call.failed || call.latency > left) {
            failed.add(lead.seller)
            walk.answered(lead, { _tag: "Failed" })
            continue
          }
          failed.delete(lead.seller)
          if (churn(lead.seller, book) === "gone") {
            goneAnswers += 1
            lessons.push({ lead, lesson: { _tag: "Gone" } })
            walk.answered(lead, { _tag: "NoOffer" })
            continue
          }
          const price = livePrice(lead.seller, book, base)
          const shipping = world.shipping[lead.seller]!
          live.push({ seller: lead.seller, total: price + shipping })
          lessons.push({ lead, lesson: { _tag: "Offered", price, shipping, currency: "USD", condition: "good", quantity: 1 } })
          walk.answered(lead, { _tag: "Offered", total: price + shipping })
        }
        elapsed += duration
        if (options.learn && lessons.length > 0) {
          const learnStarted = performance.now()
          await runtime.runPromise(
            Effect.forEach(lessons, ({ lead, lesson }) => index.learn(sellerUuid(lead.seller), lead.listingId, lesson), { concurrency: 4, discard: true })
          )
          learnMillis += performance.now() - learnStarted
          for (const { lead, lesson } of lessons) if (lesson._tag === "Gone") learnedGone.add(`${lead.seller}:${book}`)
        }
      }
      const found = live.reduce((min, offer) => Math.min(min, offer.total), Number.POSITIVE_INFINITY)

      // The truth: every seller that still has the book, at its live price.
      let cheapest = Number.POSITIVE_INFINITY
      let cheapestSeller = -1
      for (let s = 0; s < world.sellerCount; s++) {
        const carried = world.carries(s, book)
        if (!carried || (isFed(s) && churn(s, book) === "gone")) continue
        const offer = isFed(s) ? livePrice(s, book, base) + world.shipping[s]! : world.price(s, book, base) + world.shipping[s]!
        if (offer < cheapest) {
          cheapest = offer
          cheapestSeller = s
        }
      }
      let miss: MissReason | undefined
      if (cheapestSeller >= 0 && found !== cheapest) {
        if (isFed(cheapestSeller)) {
          if (failed.has(cheapestSeller)) miss = "cheapest's call failed"
          else if (churn(cheapestSeller, book) === "repriced" && !asked.has(cheapestSeller)) miss = "cheapest repriced down, not confirmed"
          else miss = "cheapest not confirmed (other)"
        } else {
          miss = fanOut?.askedSellers.includes(cheapestSeller) === true ? "cheapest's call failed" : "cheapest had no feed and was not selected"
        }
      }
      const fanOutMillis = fanOut?.durationMillis ?? 0
      return {
        lookupMillis,
        learnMillis,
        fanOutMillis,
        confirmCallsMillis: elapsed,
        decisionMillis: lookupMillis + fanOutMillis + elapsed + learnMillis,
        leads: leads.length,
        fanOutCalls: fanOut?.asked ?? 0,
        confirmCalls,
        goneAnswers,
        indexedCheapestGone: leads.length > 0 && churn(leads[0]!.seller, book) === "gone",
        found,
        cheapest,
        miss,
        cheapestReachable: cheapestSeller >= 0 && !world.callOf(cheapestSeller, r).failed,
        indexMismatches
      }
    }

    // The same books and call draws as the run without feeds: the warm-up's draws are taken too,
    // and with `half` they train the selection for the sellers without feeds.
    const warmupStarted = performance.now()
    for (let r = 0; r < world.warmup; r++) {
      const book = world.sample()
      if (options.feeds === "half") world.select(book, r, liveCandidates)
    }
    // Connections and JIT warm, outside the measured requests (lookups only: nothing learned).
    for (let k = 0; k < 200; k++) await runtime.runPromise(index.lookup(world.isbns[(k * 7_919) % world.catalogSize]!))
    log(`warm-up done in ${round((performance.now() - warmupStarted) / 1000, 0)} s; measuring ${fmt(world.measured)} requests`)

    const outcomes: Array<RequestOutcome> = []
    const measureStarted = performance.now()
    for (let r = world.warmup; r < world.warmup + world.measured; r++) {
      outcomes.push(await request(r, world.sample()))
      if (outcomes.length % 2_000 === 0) log(`${fmt(outcomes.length)} requests (${round((performance.now() - measureStarted) / 1000, 0)} s)`)
    }

    const withOffer = outcomes.filter((outcome) => outcome.cheapest < Number.POSITIVE_INFINITY)
    const gone = withOffer.filter((outcome) => outcome.indexedCheapestGone)
    const notGone = withOffer.filter((outcome) => !outcome.indexedCheapestGone && outcome.leads > 0)
    const misses: Record<string, number> = {}
    for (const outcome of withOffer) if (outcome.miss !== undefined) misses[outcome.miss] = (misses[outcome.miss] ?? 0) + 1
    const calls = (outcome: RequestOutcome) => outcome.fanOutCalls + outcome.confirmCalls
    const report = {
      feeds: options.feeds,
      sellers: world.sellerCount,
      sellersWithFeeds: fed.length,
      catalog: world.catalogSize,
      warmupRequests: world.warmup,
      measuredRequests: world.measured,
      seed: world.seed,
      churn: { goneShare: options.goneShare, repricedShare: options.repricedShare, learn: options.learn, margin: options.margin },
      node: process.version,
      index: {
        listings: loaded.rows,
        loadSeconds: loaded.loadSeconds,
        insertSeconds: loaded.rowsSeconds,
        indexBuildSeconds: loaded.indexSeconds,
        listingsRowsPerSecond: Math.round(loaded.rows / Math.max(1, loaded.rowsSeconds)),
        tableGiB: round(loaded.tableBytes / 2 ** 30, 2),
        totalWithIndexesGiB: round(loaded.listingsTotalBytes / 2 ** 30, 2)
      },
      requestsWithAnOffer: withOffer.length,
      leadsPerRequest: mean(withOffer.map((outcome) => outcome.leads)),
      foundCheapest: share(withOffer.filter((outcome) => outcome.found === outcome.cheapest).length, withOffer.length),
      foundAnyOffer: share(withOffer.filter((outcome) => outcome.found < Number.POSITIVE_INFINITY).length, withOffer.length),
      cheapestReachableIfEveryoneAsked: share(withOffer.filter((outcome) => outcome.cheapestReachable).length, withOffer.length),
      misses,
      excessWhenMissedMeanPercent: mean(
        withOffer.filter((outcome) => outcome.found !== outcome.cheapest && outcome.found < Number.POSITIVE_INFINITY).map((outcome) => (outcome.found / outcome.cheapest - 1) * 100)
      ),
      sellerCallsPerRequest: { mean: mean(outcomes.map(calls)), fanOut: mean(outcomes.map((outcome) => outcome.fanOutCalls)), confirm: mean(outcomes.map((outcome) => outcome.confirmCalls)) },
      decisionMillis: summary(outcomes.map((outcome) => outcome.decisionMillis)),
      lookupMillis: summary(outcomes.map((outcome) => outcome.lookupMillis), 1),
      learnMillis: summary(outcomes.map((outcome) => outcome.learnMillis), 1),
      fanOutMillis: options.feeds === "half" ? summary(outcomes.map((outcome) => outcome.fanOutMillis)) : null,
      confirmCallsMillis: summary(outcomes.map((outcome) => outcome.confirmCallsMillis)),
      churnCost: {
        indexedCheapestGone: share(gone.length, withOffer.length),
        requestsMeetingAGoneListing: share(withOffer.filter((outcome) => outcome.goneAnswers > 0).length, withOffer.length),
        callsWhenCheapestGone: mean(gone.map(calls)),
        callsOtherwise: mean(notGone.map(calls)),
        decisionMillisWhenCheapestGone: summary(gone.map((outcome) => outcome.decisionMillis)),
        decisionMillisOtherwise: summary(notGone.map((outcome) => outcome.decisionMillis))
      },
      indexMismatches: outcomes.reduce((sum, outcome) => sum + outcome.indexMismatches, 0),
      measuredSeconds: round((performance.now() - measureStarted) / 1000, 0),
      runtimeSeconds: round((performance.now() - world.runStarted) / 1000, 0)
    }
    console.log(JSON.stringify(report, null, 2))
  } finally {
    clearTimeout(timer)
    await runtime.dispose().catch(() => undefined)
    await dropDatabase()
  }
}
