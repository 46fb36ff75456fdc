/**
 * Seller selection at 10,000 sellers, offline: how often the waves seller selection chooses
 * still find the true cheapest offer, against asking every seller.
 *
 * Nothing goes over HTTP (10,000 seller processes are too many for one machine). What is real:
 * `SellerSelection.plan` and `SellerSelection.lessons` — the engine's code — the engine's
 * `SellerStats` learner and the in-process `SharedState` (carrier history). What is simulated:
 * - the sellers: 10 big ones carrying 20–50 % of the catalog, 190 middling ones 2–10 %, the rest
 *   0.1–2 % (log-uniform), each book carried or not independently of its popularity;
 * - prices: a base price per book (log-normal, median 15.00), times a price level per seller
 *   (log-normal, ±8 %), ±10 % per (seller, book), plus the seller's shipping (0–4.00);
 * - calls: a per-seller median latency (log-normal, median 300 ms), ±40 % per call, 3 s timeout;
 *   2 % of calls fail; a seller's catalog and prices don't change during the run;
 * - time: waves start as the engine starts them (previous wave done or 1.5 s, whichever is
 *   first, while the 10 s deadline leaves the 3 s timeout); answers after the deadline are lost.
 * Requests are for books drawn with Zipf popularity (s = 1) over the catalog; no quote cache,
 * no coalescing, no rate limits: every request is a fresh fan-out.
 *
 *   pnpm bench:selection [--sellers 10000] [--catalog 1000000] [--warmup 15000] [--requests 10000] [--seed 1]
 *
 * With `--feeds all` (every seller publishes a feed) or `--feeds half` (the even-numbered half
 * does), the same world is loaded into a real offer index in PostgreSQL and each request reads it
 * through the engine's `OfferIndex.lookup`; see `selection-feeds.ts`.
 *
 *   pnpm bench:selection --feeds all|half [--gone 0.05] [--repriced 0.05] [--learn true|false] [--margin 0]   (= pnpm bench:selection-feeds)
 */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns, Random, zipfSampler } from "@bookbroker/adapter-sdk/testing"
import { SellerSelection, SharedState } from "@bookbroker/engine"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { percentile, round } from "./support.js"

const { values } = parseArgs({
  options: {
    sellers: { type: "string", default: "10000" },
    catalog: { type: "string", default: "1000000" },
    warmup: { type: "string", default: "15000" },
    requests: { type: "string", default: "10000" },
    seed: { type: "string", default: "1" },
    /** `none` (this file's run), `all` or `half`: sellers with feeds in a real offer index (selection-feeds.ts). */
    feeds: { type: "string", default: "none" },
    /** With feeds: the share of listings sold elsewhere since the feed, and the share repriced (±10 %). */
    gone: { type: "string", default: "0.05" },
    repriced: { type: "string", default: "0.05" },
    /** With feeds: whether confirm's answers correct the index (`OfferIndex.learn`), as the engine's do. */
    learn: { type: "string", default: "true" },
    margin: { type: "string", default: "0" }
  }
})
if (!["none", "all", "half"].includes(values.feeds)) throw new Error(`--feeds must be none, all or half, not ${values.feeds}`)
const sellerCount = Number(values.sellers)
const catalogSize = Number(values.catalog)
const warmup = Number(values.warmup)
const measured = Number(values.requests)
const seed = Number(values.seed)

const deadlineMillis = 10_000
const timeoutMillis = 3_000
const waveIntervalMillis = 1_500
const failureRate = 0.02
const runStarted = performance.now()

// --- The simulated world -------------------------------------------------------------------

/** A 32-bit hash of (a, b) under a salt: every per-(seller, book) and per-(seller, call) draw. */
const fmix = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
const hash = (a: number, b: number, salt: number): number => fmix(fmix(a ^ Math.imul(salt, 0x9e3779b1)) ^ b) / 4294967296
const saltCarry = seed * 7 + 1
const saltPrice = seed * 7 + 2
const saltFail = seed * 7 + 3
const saltLatency = seed * 7 + 4
const saltBook = seed * 7 + 5

const random = Random.seeded(seed)
const logUniform = (low: number, high: number) => Math.exp(Math.log(low) + random() * (Math.log(high) - Math.log(low)))
const sellerIds = Array.from({ length: sellerCount }, (_, s) => `seller-${String(s).padStart(5, "0")}`)
const coverage = new Float64Array(sellerCount)
const priceLevel = new Float64Array(sellerCount)
const shipping = new Float64Array(sellerCount)
const medianLatency = new Float64Array(sellerCount)
for (let s = 0; s < sellerCount; s++) {
  coverage[s] = s < 10 ? 0.2 + random() * 0.3 : s < 200 ? logUniform(0.02, 0.1) : logUniform(0.001, 0.02)
  priceLevel[s] = Random.logNormal(random, 1, 0.08)
  shipping[s] = random() < 0.3 ? 0 : Math.round(random() * 400)
  medianLatency[s] = Random.logNormal(random, 300, 0.5)
}
// Sellers' order in the directory says nothing about their size.
const directoryOrder = [...sellerIds.keys()].sort(() => random() - 0.5)
const candidates = directoryOrder.map((s) => sellerIds[s]!)
const indexOf = new Map(sellerIds.map((id, s) => [id, s]))

console.error(`generating ${catalogSize} ISBNs…`)
const isbns = generateIsbns({ size: catalogSize, seed }) as ReadonlyArray<Isbn.Isbn13>
const sample = zipfSampler(catalogSize, { seed: seed + 2 })
/** Log-normal from two uniform draws (Box–Muller). */
const logNormal = (median: number, sigma: number, u1: number, u2: number) =>
  median * Math.exp(sigma * Math.sqrt(-2 * Math.log(Math.max(u1, 1e-12))) * Math.cos(2 * Math.PI * u2))
const basePrice = (book: number) => logNormal(1_500, 0.5, hash(book, 0, saltBook), hash(book, 1, saltBook))

const carries = (s: number, book: number) => hash(s, book, saltCarry) < coverage[s]!
const price = (s: number, book: number, base: number) => Math.round(base * priceLevel[s]! * (0.9 + 0.2 * hash(s, book, saltPrice)))
const total = (s: number, book: number, base: number) => price(s, book, base) + shipping[s]!

/** One call: failed, or answered after `latency` ms (timeouts count as failures). */
const callOf = (s: number, request: number): { readonly failed: boolean; readonly latency: number } => {
  const latency = logNormal(medianLatency[s]!, 0.4, hash(s, request, saltLatency), hash(s, request + 0x5bd1e995, saltLatency))
  const failed = hash(s, request, saltFail) < failureRate || latency > timeoutMillis
  return { failed, latency: Math.min(latency, timeoutMillis) }
}

// --- The engine's side: the real selection, stats and carrier history ------------------------

const state = Effect.runSync(Effect.provide(SharedState.SharedState, SharedState.layerMemory()))
const stats = new SellerSelection.SellerStats()
const selectionRandom = Random.seeded(seed + 3)

interface Outcome {
  /** The cheapest total found after wave 1, waves 1–2, all waves (Infinity: none). */
  readonly bestByWave: ReadonlyArray<number>
  /** Offers received. */
  readonly offers: number
  readonly asked: number
  readonly hadHistory: boolean
  readonly durationMillis: number
  readonly planMillis: number
  /** The offers that came back in time, and every seller asked (by seller number). */
  readonly live: ReadonlyArray<{ readonly seller: number; readonly total: number }>
  readonly askedSellers: ReadonlyArray<number>
}

const select = (book: number, request: number, among: ReadonlyArray<string> = candidates): Outcome => {
  const isbn = isbns[book]!
  const known = Effect.runSync(state.carriers(isbn, 64))
  const planStarted = performance.now()
  const waves = SellerSelection.plan({
    candidates: among,
    carriers: known,
    stats: (id) => stats.get(id),
    now: 0,
    options: { random: selectionRandom }
  })
  const planMillis = performance.now() - planStarted
  const base = basePrice(book)
  const observations: Array<SellerSelection.Observation> = []
  const bestByWave: Array<number> = []
  const live: Array<{ seller: number; total: number }> = []
  const askedSellers: Array<number> = []
  let best = Number.POSITIVE_INFINITY
  let asked = 0
  let start = 0
  let end = 0
  for (const [index, wave] of waves.entries()) {
    if (index > 0 && !SellerSelection.waveFits(deadlineMillis - start, wave.map(() => timeoutMillis))) break
    let waveEnd = start
    for (const id of wave) {
      const s = indexOf.get(id)!
      const call = callOf(s, request)
      asked += 1
      askedSellers.push(s)
      waveEnd = Math.max(waveEnd, start + call.latency)
      if (start + call.latency > deadlineMillis) continue // still out at the deadline: learns nothing
      stats.record(id, !call.failed, call.latency)
      if (call.failed) continue
      if (carries(s, book)) {
        const offer = total(s, book, base)
        best = Math.min(best, offer)
        live.push({ seller: s, total: offer })
        observations.push({ sellerId: id, offered: true, total: offer })
      } else {
        observations.push({ sellerId: id, offered: false })
      }
    }
    bestByWave.push(best)
    end = Math.max(end, waveEnd)
    start = Math.min(waveEnd, start + waveIntervalMillis)
  }
  while (bestByWave.length < 3) bestByWave.push(best)
  const learned = SellerSelection.lessons(observations, { knownCarriers: new Set(known.map((carrier) => carrier.sellerId)) })
  stats.learn(learned)
  Effect.runSync(state.recordCarriers(isbn, learned.carriers, learned.notCarrying))
  return { bestByWave, offers: learned.carriers.length, asked, hadHistory: known.length > 0, durationMillis: Math.min(end, deadlineMillis), planMillis, live, askedSellers }
}

/** Every seller's offer for the book, and what asking them all would have found. */
const truth = (book: number, request: number) => {
  const base = basePrice(book)
  let cheapest = Number.POSITIVE_INFINITY
  let carriers = 0
  let everyone = Number.POSITIVE_INFINITY
  for (let s = 0; s < sellerCount; s++) {
    if (!carries(s, book)) continue
    carriers += 1
    const offer = total(s, book, base)
    cheapest = Math.min(cheapest, offer)
    if (!callOf(s, request).failed) everyone = Math.min(everyone, offer)
  }
  return { cheapest, carriers, everyone }
}

// --- The run ---------------------------------------------------------------------------------

interface Tally {
  requests: number
  withOffers: number
  foundCheapest: Array<number>
  foundAny: number
  everyoneCheapest: number
  everyoneAny: number
  asked: number
  withHistory: number
  withHistoryFound: number
  coldFound: number
  carriers: number
  /** Sum over requests of the share of the ISBN's carriers whose offer came back (all; without history). */
  offersShare: number
  coldOffersShare: number
  durations: Array<number>
  planMillis: Array<number>
  /** How much dearer the best offer found was than the true cheapest (0 when it was the cheapest). */
  excess: Array<number>
  everyoneExcess: Array<number>
}
const tally = (): Tally => ({
  requests: 0,
  withOffers: 0,
  foundCheapest: [0, 0, 0],
  foundAny: 0,
  everyoneCheapest: 0,
  everyoneAny: 0,
  asked: 0,
  withHistory: 0,
  withHistoryFound: 0,
  coldFound: 0,
  carriers: 0,
  offersShare: 0,
  coldOffersShare: 0,
  durations: [],
  planMillis: [],
  excess: [],
  everyoneExcess: []
})

const run = (from: number, count: number, into: Tally, curve?: Array<unknown>, block = 5_000) => {
  let blockTally = tally()
  for (let request = from; request < from + count; request++) {
    const book = sample()
    const outcome = select(book, request)
    const world = truth(book, request)
    for (const t of [into, blockTally]) {
      t.requests += 1
      t.asked += outcome.asked
      t.durations.push(outcome.durationMillis)
      t.planMillis.push(outcome.planMillis)
      if (world.carriers === 0) continue
      t.withOffers += 1
      t.carriers += world.carriers
      t.offersShare += outcome.offers / world.carriers
      if (!outcome.hadHistory) t.coldOffersShare += outcome.offers / world.carriers
      outcome.bestByWave.forEach((best, wave) => {
        if (best === world.cheapest) t.foundCheapest[wave]! += 1
      })
      const found = outcome.bestByWave[2] === world.cheapest
      if (outcome.bestByWave[2]! < Number.POSITIVE_INFINITY) t.excess.push(outcome.bestByWave[2]! / world.cheapest - 1)
      if (world.everyone < Number.POSITIVE_INFINITY) t.everyoneExcess.push(world.everyone / world.cheapest - 1)
      if (outcome.bestByWave[2]! < Number.POSITIVE_INFINITY) t.foundAny += 1
      if (world.everyone === world.cheapest) t.everyoneCheapest += 1
      if (world.everyone < Number.POSITIVE_INFINITY) t.everyoneAny += 1
      if (outcome.hadHistory) {
        t.withHistory += 1
        if (found) t.withHistoryFound += 1
      } else if (found) t.coldFound += 1
    }
    if (curve !== undefined && (request - from + 1) % block === 0) {
      curve.push({ requests: request + 1, foundCheapest: share(blockTally.foundCheapest[2]!, blockTally.withOffers) })
      console.error(`after ${request + 1} requests:`, JSON.stringify(curve.at(-1)), `${round((performance.now() - runStarted) / 1000, 1)} s`)
      blockTally = tally()
    }
  }
}

const share = (part: number, whole: number) => (whole === 0 ? null : round(part / whole, 3))

/** Excess over the true cheapest, in percent: mean over requests, and percentiles over the misses. */
const excessOf = (excess: ReadonlyArray<number>) => {
  const missed = excess.filter((e) => e > 0).sort((a, b) => a - b)
  const percent = (value: number) => round(value * 100, 1)
  return {
    meanPercent: percent(excess.reduce((a, b) => a + b, 0) / Math.max(1, excess.length)),
    whenMissedP50Percent: missed.length === 0 ? 0 : percent(percentile(missed, 50)),
    whenMissedP90Percent: missed.length === 0 ? 0 : percent(percentile(missed, 90))
  }
}

const withoutFeeds = () => {
  const curve: Array<unknown> = []
  const warm = tally()
  run(0, warmup, warm, curve)
  const result = tally()
  run(warmup, measured, result, curve)

  result.durations.sort((a, b) => a - b)
  result.planMillis.sort((a, b) => a - b)
  const report = {
    sellers: sellerCount,
    catalog: catalogSize,
    warmupRequests: warmup,
    measuredRequests: measured,
    seed,
    node: process.version,
    requestsWithAnOffer: result.withOffers,
    carriersPerIsbn: round(result.carriers / result.withOffers, 1),
    selection: {
      sellersAskedPerRequest: round(result.asked / result.requests, 1),
      foundCheapest: share(result.foundCheapest[2]!, result.withOffers),
      foundCheapestByWave: result.foundCheapest.map((found) => share(found, result.withOffers)),
      foundAnyOffer: share(result.foundAny, result.withOffers),
      excessOverCheapest: excessOf(result.excess),
      shareOfCarriersAnswering: share(result.offersShare, result.withOffers),
      shareOfCarriersAnsweringWithoutHistory: share(result.coldOffersShare, result.withOffers - result.withHistory),
      requestsWithHistory: share(result.withHistory, result.withOffers),
      foundCheapestWithHistory: share(result.withHistoryFound, result.withHistory),
      foundCheapestWithoutHistory: share(result.coldFound, result.withOffers - result.withHistory),
      simulatedDurationMillis: { p50: round(percentile(result.durations, 50), 0), p99: round(percentile(result.durations, 99), 0) },
      planCpuMillis: { p50: round(percentile(result.planMillis, 50), 2), p99: round(percentile(result.planMillis, 99), 2) }
    },
    askEveryone: {
      sellersAskedPerRequest: sellerCount,
      foundCheapest: share(result.everyoneCheapest, result.withOffers),
      foundAnyOffer: share(result.everyoneAny, result.withOffers),
      excessOverCheapest: excessOf(result.everyoneExcess)
    },
    foundCheapestPerBlockOf5000: curve,
    runtimeSeconds: round((performance.now() - runStarted) / 1000, 1)
  }
  console.log(JSON.stringify(report, null, 2))
}

if (values.feeds === "none") withoutFeeds()
else {
  const { runWithFeeds } = await import("./selection-feeds.js")
  await runWithFeeds({
    sellerCount,
    catalogSize,
    seed,
    warmup,
    measured,
    isbns,
    sample,
    sellerIds,
    carries,
    price,
    shipping,
    basePrice,
    callOf,
    select,
    hash,
    deadlineMillis,
    timeoutMillis,
    runStarted,
    options: { feeds: values.feeds as "all" | "half", goneShare: Number(values.gone), repricedShare: Number(values.repriced), learn: values.learn !== "false", margin: Number(values.margin) }
  })
}
