import { Random } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as SellerSelection from "../src/sellers/SellerSelection.js"
import type { SellerProfile } from "../src/sellers/SellerSelection.js"

const ids = (count: number, prefix = "s") => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`)

const profile = (overrides: Partial<SellerProfile> = {}): SellerProfile => ({ ...SellerSelection.unknownProfile, ...overrides })

/** Stats from a record; sellers not in it are unknown. */
const statsOf = (record: Record<string, SellerProfile>) => (id: string) => record[id]

/** Sellers with long, distinct histories: coverage falls with the index, so s00000 scores best. */
const seasoned = (candidates: ReadonlyArray<string>): Record<string, SellerProfile> =>
  Object.fromEntries(candidates.map((id, i) => [id, profile({ coverage: 0.5 - (0.4 * i) / candidates.length, answers: 1_000 })]))

const flat = (waves: ReadonlyArray<ReadonlyArray<string>>) => waves.flat()

describe("SellerSelection.plan", () => {
  it("asks everyone in one wave, in the given order, up to the threshold", () => {
    const candidates = ids(200).reverse()
    const waves = SellerSelection.plan({ candidates, carriers: [], stats: () => undefined, now: 0 })
    expect(waves).toEqual([candidates])
    expect(SellerSelection.plan({ candidates: ["a", "b", "a"], carriers: [], stats: () => undefined, now: 0 })).toEqual([["a", "b"]])
    expect(SellerSelection.plan({ candidates: [], carriers: [], stats: () => undefined, now: 0 })).toEqual([])
    // One more than the threshold and selection starts: waves of at most waveSize.
    const over = SellerSelection.plan({ candidates: ids(201), carriers: [], stats: () => undefined, now: 0, options: { random: Random.seeded(1) } })
    expect(over.map((wave) => wave.length)).toEqual([200, 1])
    const low = SellerSelection.plan({ candidates: ids(4), carriers: [], stats: () => undefined, now: 0, options: { threshold: 3, waveSize: 2 } })
    expect(low.map((wave) => wave.length)).toEqual([2, 2])
  })

  it("waves of waveSize, at most maxSellers in all", () => {
    const random = Random.seeded(2)
    const sizes = (count: number, options: SellerSelection.SelectionOptions = {}) =>
      SellerSelection.plan({ candidates: ids(count), carriers: [], stats: () => undefined, now: 0, options: { random, ...options } }).map((w) => w.length)
    expect(sizes(10_000)).toEqual([200, 200, 200])
    expect(sizes(450)).toEqual([200, 200, 50])
    expect(sizes(10_000, { waveSize: 150, maxSellers: 400 })).toEqual([150, 150, 100])
    expect(sizes(10_000, { maxSellers: 50 })).toEqual([50])
  })

  it("asks known carriers first, the cheaper first, ignoring carriers that are not candidates", () => {
    const candidates = ids(1_000)
    const stats = statsOf(seasoned(candidates))
    const carriers = [
      { sellerId: "s00900", total: 900 },
      { sellerId: "gone", total: 950 },
      { sellerId: "s00500", total: 1_000 },
      { sellerId: "s00700", total: 2_000 }
    ]
    const waves = SellerSelection.plan({ candidates, carriers, stats, now: 0, options: { random: Random.seeded(3) } })
    expect(waves[0]!.slice(0, 3)).toEqual(["s00900", "s00500", "s00700"])
    expect(flat(waves)).not.toContain("gone")
    // Carriers in a different order: the order of their totals still wins.
    const shuffled = SellerSelection.plan({ candidates, carriers: [...carriers].reverse(), stats, now: 0, options: { random: Random.seeded(3) } })
    expect(shuffled[0]!.slice(0, 3)).toEqual(["s00900", "s00500", "s00700"])
  })

  it("ranks even the dearest known carrier above the best-looking stranger", () => {
    const candidates = ids(500)
    const stats = statsOf({ ...seasoned(candidates), s00000: profile({ coverage: 1, answers: 10_000, priceRank: 0, priced: 1_000 }) })
    const carriers = [
      { sellerId: "s00400", total: 1_000 },
      { sellerId: "s00499", total: 50_000 }
    ]
    const [first] = SellerSelection.plan({ candidates, carriers, stats, now: 0, options: { explorationShare: 0, random: Random.seeded(4) } })
    expect(first!.slice(0, 3)).toEqual(["s00400", "s00499", "s00000"])
  })

  it("ranks strangers by coverage, weighted by reliability and penalised by latency", () => {
    const candidates = ids(300)
    const background = Object.fromEntries(candidates.map((id) => [id, profile({ coverage: 0.1, answers: 1_000 })]))
    const stats = statsOf({
      ...background,
      s00299: profile({ coverage: 0.8, answers: 1_000 }),
      s00298: profile({ coverage: 0.8, answers: 1_000, reliability: 0.5 }),
      s00297: profile({ coverage: 0.8, answers: 1_000, latencyMillis: 6_000 }),
      s00296: profile({ coverage: 0.3, answers: 1_000 })
    })
    const [first] = SellerSelection.plan({ candidates, carriers: [], stats, now: 0, options: { explorationShare: 0, random: Random.seeded(5) } })
    // 0.8; 0.8 × 0.5 (answers half the time); 0.3; 0.8 / (1 + 6,000 / 2,000) = 0.2; then the 0.1s.
    expect(first!.slice(0, 4)).toEqual(["s00299", "s00298", "s00296", "s00297"])
  })

  it("usually-cheap sellers rank above usually-dear ones with the same coverage", () => {
    const cheap = profile({ coverage: 0.1, answers: 1_000, priceRank: 0, priced: 100 })
    const dear = profile({ coverage: 0.1, answers: 1_000, priceRank: 1, priced: 100 })
    const middling = profile({ coverage: 0.1, answers: 1_000 })
    expect(SellerSelection.score(cheap)).toBeGreaterThan(SellerSelection.score(middling))
    expect(SellerSelection.score(middling)).toBeGreaterThan(SellerSelection.score(dear))
    // The weight bounds the effect: ±25 % by default.
    expect(SellerSelection.score(cheap) / SellerSelection.score(middling)).toBeLessThanOrEqual(1.25)
  })

  it("tries sellers nobody knows yet before sellers known to rarely carry books", () => {
    const candidates = ids(1_000)
    const known = Object.fromEntries(candidates.map((id) => [id, profile({ coverage: 0.02, answers: 500 })]))
    const newcomers = ["new-1", "new-2", "new-3"]
    const [first] = SellerSelection.plan({
      candidates: [...candidates, ...newcomers],
      carriers: [],
      stats: statsOf(known),
      now: 0,
      options: { explorationShare: 0, random: Random.seeded(6) }
    })
    expect(first!.slice(0, 3).sort()).toEqual(newcomers)
    // The prior fades with answers: after 100 answers without an offer a seller is below 1 %.
    expect(SellerSelection.carryEstimate(profile())).toBe(0.5)
    expect(SellerSelection.carryEstimate(profile({ answers: 100 }))).toBeLessThan(0.01)
    expect(SellerSelection.carryEstimate(profile({ coverage: 0.3, answers: 10_000 }))).toBeCloseTo(0.3, 3)
  })

  it("draws the exploration share of each wave from sellers with little history", () => {
    const candidates = ids(1_000)
    // 900 seasoned sellers with good coverage; 100 with little history that look poor so far.
    const record = seasoned(candidates.slice(0, 900))
    for (const id of candidates.slice(900)) record[id] = profile({ coverage: 0, answers: 10 })
    const little = new Set(candidates.slice(900))
    const waves = SellerSelection.plan({ candidates, carriers: [], stats: statsOf(record), now: 0, options: { random: Random.seeded(7) } })
    expect(waves.map((wave) => wave.length)).toEqual([200, 200, 200])
    for (const [index, wave] of waves.entries()) {
      // 180 by rank, in rank order, then 20 explored.
      expect(wave.slice(0, 180)).toEqual(candidates.slice(index * 180, index * 180 + 180))
      expect(wave.slice(180).every((id) => little.has(id))).toBe(true)
    }
    // Without exploration the poor-looking newcomers are not asked at all.
    const greedy = SellerSelection.plan({ candidates, carriers: [], stats: statsOf(record), now: 0, options: { explorationShare: 0, random: Random.seeded(7) } })
    expect(flat(greedy).some((id) => little.has(id))).toBe(false)
  })

  it("explores beyond the ranking when nobody has little history left", () => {
    const candidates = ids(1_000)
    const [first] = SellerSelection.plan({
      candidates,
      carriers: [],
      stats: statsOf(seasoned(candidates)),
      now: 0,
      options: { random: Random.seeded(8), maxSellers: 200 }
    })
    expect(first!.slice(0, 180)).toEqual(candidates.slice(0, 180))
    const explored = first!.slice(180)
    expect(explored).toHaveLength(20)
    expect(explored.every((id) => !candidates.slice(0, 180).includes(id))).toBe(true)
    // Drawn from the whole rest, not just the next in rank.
    expect(explored.some((id) => candidates.indexOf(id) >= 400)).toBe(true)
  })

  it("at 10,000 candidates the waves are exactly the top of the full ranking", () => {
    const candidates = ids(10_000)
    // Distinct coverage, shuffled against the ids, so the ranking is not the input order.
    const order = Random.seeded(12)
    const shuffled = [...candidates].sort(() => order() - 0.5)
    const record = Object.fromEntries(shuffled.map((id, i) => [id, profile({ coverage: 1 - i / 10_000, answers: 100_000 })]))
    const waves = SellerSelection.plan({ candidates, carriers: [], stats: statsOf(record), now: 0, options: { explorationShare: 0, random: Random.seeded(13) } })
    expect(flat(waves)).toEqual(shuffled.slice(0, 600))
    // With exploration the ranked part of each wave still follows the ranking.
    const explored = SellerSelection.plan({ candidates, carriers: [], stats: statsOf(record), now: 0, options: { random: Random.seeded(13) } })
    expect(explored.flatMap((wave) => wave.slice(0, 180)).every((id) => shuffled.indexOf(id) < 1_200)).toBe(true)
    expect(explored[0]!.slice(0, 180)).toEqual(shuffled.slice(0, 180))
  })

  it("is deterministic for a seeded random, and varies with the seed", () => {
    const candidates = ids(3_000)
    const record = seasoned(candidates.slice(0, 1_000))
    const run = (seed: number) =>
      SellerSelection.plan({
        candidates,
        carriers: [{ sellerId: "s02000", total: 100 }],
        stats: statsOf(record),
        now: 0,
        options: { random: Random.seeded(seed) }
      })
    expect(run(9)).toEqual(run(9))
    expect(run(9)).not.toEqual(run(10))
  })

  it("puts sellers admission refused until later last, and takes them back afterwards", () => {
    const candidates = ids(300)
    const record = seasoned(candidates)
    record["s00000"] = profile({ coverage: 0.9, answers: 1_000, blockedUntil: 5_000 })
    const at = (now: number) =>
      SellerSelection.plan({ candidates, carriers: [], stats: statsOf(record), now, options: { explorationShare: 0, maxSellers: 299, random: Random.seeded(11) } })
    expect(flat(at(4_999))).not.toContain("s00000")
    expect(at(5_000)[0]![0]).toBe("s00000")
  })
})

describe("SellerSelection.plan properties", () => {
  const input = fc.record({
    candidates: fc.array(fc.integer({ min: 0, max: 400 }).map((i) => `s${i}`), { maxLength: 700 }),
    carriers: fc.array(fc.record({ sellerId: fc.integer({ min: 0, max: 450 }).map((i) => `s${i}`), total: fc.integer({ min: 1, max: 10_000 }) }), {
      maxLength: 80
    }),
    threshold: fc.integer({ min: 0, max: 300 }),
    waveSize: fc.integer({ min: 1, max: 250 }),
    maxSellers: fc.integer({ min: 1, max: 800 }),
    explorationShare: fc.double({ min: 0, max: 1, noNaN: true }),
    seed: fc.integer(),
    profiles: fc.dictionary(
      fc.integer({ min: 0, max: 400 }).map((i) => `s${i}`),
      fc.record({
        reliability: fc.double({ min: 0, max: 1, noNaN: true }),
        latencyMillis: fc.integer({ min: 0, max: 20_000 }),
        coverage: fc.double({ min: 0, max: 1, noNaN: true }),
        answers: fc.integer({ min: 0, max: 2_000 }),
        priceRank: fc.double({ min: 0, max: 1, noNaN: true }),
        priced: fc.integer({ min: 0, max: 500 }),
        blockedUntil: fc.integer({ min: 0, max: 2_000 })
      })
    )
  })

  type Input = typeof input extends fc.Arbitrary<infer T> ? T : never
  const planOf = (value: Input) =>
    SellerSelection.plan({
      candidates: value.candidates,
      carriers: value.carriers,
      stats: (id) => value.profiles[id],
      now: 1_000,
      options: {
        threshold: value.threshold,
        waveSize: value.waveSize,
        maxSellers: value.maxSellers,
        explorationShare: value.explorationShare,
        random: Random.seeded(value.seed)
      }
    })

  it("waves are disjoint, hold only candidates, respect waveSize and maxSellers, and cover the budget", () => {
    fc.assert(
      fc.property(input, (value) => {
        const waves = planOf(value)
        const unique = [...new Set(value.candidates)]
        const all = waves.flat()
        expect(new Set(all).size).toBe(all.length)
        for (const id of all) expect(unique).toContain(id)
        if (unique.length === 0 || unique.length <= value.threshold) {
          expect(waves).toEqual(unique.length === 0 ? [] : [unique])
          return
        }
        expect(all).toHaveLength(Math.min(value.maxSellers, unique.length))
        for (const wave of waves) {
          expect(wave.length).toBeGreaterThan(0)
          expect(wave.length).toBeLessThanOrEqual(value.waveSize)
        }
        // Only the last wave may be short.
        for (const wave of waves.slice(0, -1)) expect(wave).toHaveLength(value.waveSize)
      }),
      { numRuns: 300 }
    )
  })

  it("known carriers that fit in wave 1's ranked share lead it, cheapest first", () => {
    fc.assert(
      fc.property(input, (value) => {
        const unique = [...new Set(value.candidates)]
        if (unique.length <= value.threshold) return
        const candidates = new Set(unique)
        const firstTotal = new Map<string, number>()
        for (const carrier of value.carriers) if (candidates.has(carrier.sellerId) && !firstTotal.has(carrier.sellerId)) firstTotal.set(carrier.sellerId, carrier.total)
        const size = Math.min(value.waveSize, value.maxSellers, unique.length)
        const ranked = size - Math.floor(size * value.explorationShare)
        if (firstTotal.size === 0 || firstTotal.size > ranked) return
        const lead = planOf(value)[0]!.slice(0, firstTotal.size)
        expect(new Set(lead)).toEqual(new Set(firstTotal.keys()))
        // With equal reliability and latency the order is the order of totals.
        const plain = planOf({ ...value, profiles: {} })[0]!.slice(0, firstTotal.size)
        const totals = plain.map((id) => firstTotal.get(id)!)
        expect(totals).toEqual([...totals].sort((a, b) => a - b))
      }),
      { numRuns: 300 }
    )
  })
})

describe("SellerSelection.waveFits", () => {
  it("starts a wave only while its sellers' median timeout is left", () => {
    expect(SellerSelection.waveFits(3_000, [3_000, 3_000, 3_000])).toBe(true)
    expect(SellerSelection.waveFits(2_999, [3_000, 3_000, 3_000])).toBe(false)
    expect(SellerSelection.waveFits(2_000, [1_000, 2_000, 30_000])).toBe(true)
    expect(SellerSelection.waveFits(1_999, [1_000, 2_000, 30_000])).toBe(false)
    expect(SellerSelection.waveFits(1_000, [1_000, 5_000])).toBe(true)
    expect(SellerSelection.waveFits(10_000, [])).toBe(false)
  })
})

describe("SellerSelection.lessons", () => {
  it("carriers cheapest first in the request's currency; not carrying; coverage only from unsteered answers", () => {
    const learned = SellerSelection.lessons(
      [
        { sellerId: "b", offered: true, total: 1_500 },
        { sellerId: "a", offered: true, total: 1_200 },
        { sellerId: "usd", offered: true },
        { sellerId: "none", offered: false },
        { sellerId: "known", offered: true, total: 1_500 }
      ],
      { knownCarriers: new Set(["known", "elsewhere"]) }
    )
    expect(learned.carriers).toEqual([
      { sellerId: "a", total: 1_200 },
      { sellerId: "b", total: 1_500 },
      { sellerId: "known", total: 1_500 }
    ])
    expect(learned.notCarrying).toEqual(["none"])
    expect(learned.answers).toEqual([
      { sellerId: "b", offered: true },
      { sellerId: "a", offered: true },
      { sellerId: "usd", offered: true },
      { sellerId: "none", offered: false }
    ])
    // a cheapest (0); b and known share ranks 1 and 2 of 0..2.
    expect(learned.priceRanks).toEqual([
      { sellerId: "a", rank: 0 },
      { sellerId: "b", rank: 0.75 },
      { sellerId: "known", rank: 0.75 }
    ])
  })

  it("no coverage for a request that chose its sellers; no price rank from a lone offer", () => {
    const learned = SellerSelection.lessons([{ sellerId: "a", offered: true, total: 100 }], { coverage: false })
    expect(learned.answers).toEqual([])
    expect(learned.priceRanks).toEqual([])
    expect(learned.carriers).toEqual([{ sellerId: "a", total: 100 }])
  })
})

describe("SellerStats", () => {
  it("coverage is the mean of the first answers, then a slow moving average; price rank likewise", () => {
    const stats = new SellerSelection.SellerStats()
    expect(stats.get("x")).toMatchObject({ coverage: 0, answers: 0, reliability: 1, priceRank: 0.5, priced: 0, blockedUntil: 0 })
    for (let i = 0; i < 10; i++) stats.recordAnswer("x", i < 3)
    expect(stats.get("x").coverage).toBeCloseTo(0.3, 10)
    expect(stats.get("x").answers).toBe(10)
    for (let i = 0; i < 2_000; i++) stats.recordAnswer("x", false)
    expect(stats.get("x").coverage).toBeLessThan(0.01)
    expect(stats.get("x").coverage).toBeGreaterThan(0)
    stats.recordPriceRank("x", 1)
    stats.recordPriceRank("x", 0)
    expect(stats.get("x").priceRank).toBeCloseTo(0.5, 10)
    expect(stats.get("x").priced).toBe(2)
  })

  it("keeps reliability and latency as before, remembers denials, and learns lessons", () => {
    const stats = new SellerSelection.SellerStats()
    stats.recordAnswer("y", true)
    stats.record("y", false, 200)
    expect(stats.get("y")).toMatchObject({ reliability: 0, latencyMillis: 200, calls: 1 })
    stats.record("y", true, 100)
    expect(stats.get("y").reliability).toBeCloseTo(0.1, 10)
    expect(stats.get("y").latencyMillis).toBeCloseTo(190, 10)
    stats.recordDenial("y", 5_000)
    stats.recordDenial("y", 4_000)
    expect(stats.get("y").blockedUntil).toBe(5_000)
    stats.learn(SellerSelection.lessons([{ sellerId: "y", offered: false }, { sellerId: "z", offered: true, total: 1 }, { sellerId: "w", offered: true, total: 2 }]))
    expect(stats.get("y").coverage).toBeCloseTo(0.5, 10)
    expect(stats.get("z")).toMatchObject({ coverage: 1, priceRank: 0, priced: 1 })
    expect(stats.get("w")).toMatchObject({ priceRank: 1 })
  })
})
