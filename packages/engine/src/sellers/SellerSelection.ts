/**
 * Which sellers to ask for one ISBN, in which order, once there are too many to ask them all.
 * Pure: candidates, the ISBN's carrier history and per-seller stats in, ordered waves of seller
 * ids out. The engine launches wave 1 at once and each next wave when the previous one has
 * finished or a wave interval has passed; sellers in no wave are not asked at all.
 *
 * Why the score looks the way it does:
 *
 * - Up to `threshold` candidates nobody is left out (one wave with everyone): a few hundred
 *   calls are cheap, and asking everyone is the only way to be sure of the cheapest offer.
 *
 * - Known carriers come first. "This seller offered this ISBN recently" is the only
 *   ISBN-specific knowledge there is; a seller-wide catalog share can't compete with it. Among
 *   them a cheaper recent total ranks higher, scaled within the ISBN's own carriers (cheapest
 *   1, dearest 0.5), because what matters is the order of these offers, not the absolute price.
 *   History keeps only the cheapest few carriers per ISBN, so this tier fits in wave 1.
 *
 * - Everyone else is ranked by the expected value of one call: P(carries) × P(answers) ×
 *   latency and price factors.
 *   - P(carries) is the seller's coverage (share of its recent answers that were offers),
 *     smoothed with a prior of 0.5 worth two answers. A new seller thus starts near the top and
 *     is asked until a few dozen answers show what it really carries; without the prior it would
 *     start at 0 and never be asked. The estimate only learns from answers that were not
 *     steered by the ISBN's history (see {@link lessons}), or known carriers would inflate it.
 *   - P(answers) is reliability: an unreliable seller's offers are worth less, but it is not
 *     excluded (its circuit breaker does that).
 *   - Latency halves the score at `latencyHalfMillis`: a slow seller risks the deadline and,
 *     in wave 1, holds up the next wave.
 *   - Seller-wide price competitiveness (where its offers usually rank among a fan-out's
 *     offers, smoothed towards the middle) moves the score by ±`priceWeight`: for an ISBN with
 *     no history a usually-cheap seller is more likely to hold the cheapest offer.
 *
 * - A seller that was refused admission in this process (circuit open, no rate budget, back-off)
 *   goes last until the refusal's retry-after has passed: it would be refused again now.
 *
 * - An exploration share of every wave is drawn at random from sellers with little history
 *   (then from anyone not chosen). Ranking alone is self-confirming: a seller that is never
 *   asked never shows its coverage has grown. Exploration keeps every estimate learning, at the
 *   price of a few calls per wave. Ties in score are broken at random too, so sellers nobody
 *   knows yet are tried in a different order by each request. All randomness comes from the
 *   `random` option, so a seeded source gives reproducible waves.
 *
 * Cost: one pass over the candidates plus a sort of only the part of the ranking a request can
 * reach (twice `maxSellers`), about 3 ms for 10,000 candidates — small next to the 600 calls.
 */
import { SellerStats as InternalSellerStats, type SellerStat as InternalSellerStat } from "./SellerStats.js"
import type { Carrier, Lessons, Observation, SellerProfile } from "../quotes/SellerProfile.js"

export type { Carrier, Lessons, Observation, SellerProfile } from "../quotes/SellerProfile.js"

export interface SelectionOptions {
  /** Up to this many candidates, no selection: one wave with everyone. Default 200. */
  readonly threshold?: number
  /** Sellers per wave. Default 200. */
  readonly waveSize?: number
  /** Sellers asked per request, at most. Default 600. */
  readonly maxSellers?: number
  /** Share of each wave (rounded down) drawn at random from sellers with little history. Default 0.1. */
  readonly explorationShare?: number
  /** Fewer counted answers than this is "little history". Default 30. */
  readonly littleHistory?: number
  /** P(carries) assumed for a seller nothing is known about. Default 0.5. */
  readonly priorCoverage?: number
  /** How many answers the prior is worth. Default 2. */
  readonly priorWeight?: number
  /** Latency at which a seller's score halves. Default 2,000 ms. */
  readonly latencyHalfMillis?: number
  /** How far seller-wide price competitiveness moves a score, 0..1. Default 0.25 (×0.75 … ×1.25). */
  readonly priceWeight?: number
  /** Uniform [0, 1) source for exploration and tie-breaks. Default `Math.random`. */
  readonly random?: () => number
}

export interface SelectionInput {
  /** Sellers that could be asked (active, with a working config, no fresh cached answer). */
  readonly candidates: ReadonlyArray<string>
  /** The ISBN's carrier history, cheapest first; sellers that are not candidates are ignored. */
  readonly carriers: ReadonlyArray<Carrier>
  /** Stats for a seller; `undefined` for one never seen. */
  readonly stats: (sellerId: string) => SellerProfile | undefined
  /** Now (epoch ms), against `blockedUntil`. */
  readonly now: number
  readonly options?: SelectionOptions
}

export const defaults = {
  threshold: 200,
  waveSize: 200,
  maxSellers: 600,
  explorationShare: 0.1,
  littleHistory: 30,
  priorCoverage: 0.5,
  priorWeight: 2,
  latencyHalfMillis: 2_000,
  priceWeight: 0.25
} as const

/** The profile of a seller nothing is known about. */
export const unknownProfile: SellerProfile = {
  reliability: 1,
  latencyMillis: 0,
  coverage: 0,
  answers: 0,
  priceRank: 0.5,
  priced: 0,
  blockedUntil: 0
}

const positiveInt = (value: number | undefined, fallback: number): number =>
  value === undefined || !Number.isFinite(value) ? fallback : Math.max(1, Math.floor(value))

const clamp01 = (value: number): number => (value < 0 ? 0 : value > 1 ? 1 : value)

/** Estimated P(carries), coverage smoothed with the prior. */
export const carryEstimate = (profile: SellerProfile, options: SelectionOptions = {}): number => {
  const prior = options.priorCoverage ?? defaults.priorCoverage
  const weight = options.priorWeight ?? defaults.priorWeight
  const answers = Math.max(0, profile.answers)
  return (clamp01(profile.coverage) * answers + prior * weight) / (answers + weight)
}

const latencyFactor = (profile: SellerProfile, halfMillis: number): number => 1 / (1 + Math.max(0, profile.latencyMillis) / halfMillis)

/** The score function for these options (see {@link score}), with the options resolved once. */
const scorer = (options: SelectionOptions): ((profile: SellerProfile) => number) => {
  const prior = options.priorCoverage ?? defaults.priorCoverage
  const weight = options.priorWeight ?? defaults.priorWeight
  const halfMillis = options.latencyHalfMillis ?? defaults.latencyHalfMillis
  const priceWeight = clamp01(options.priceWeight ?? defaults.priceWeight)
  return (profile) => {
    const answers = Math.max(0, profile.answers)
    const carries = (clamp01(profile.coverage) * answers + prior * weight) / (answers + weight)
    // ×(1 − w) for a seller whose offers are always dearest … ×(1 + w) for one always cheapest.
    const priced = Math.max(0, profile.priced)
    const rank = (clamp01(profile.priceRank) * priced + 0.5 * 2) / (priced + 2)
    return carries * clamp01(profile.reliability) * latencyFactor(profile, halfMillis) * (1 + priceWeight * (1 - 2 * rank))
  }
}

/** A seller's score outside the carrier tier: the expected value of asking it (see the header). */
export const score = (profile: SellerProfile, options: SelectionOptions = {}): number => scorer(options)(profile)

/**
 * The waves of seller ids to ask, in order: disjoint, each at most `waveSize` long, together at
 * most `maxSellers` (one wave with every candidate up to `threshold` candidates).
 */
export const plan = (input: SelectionInput): ReadonlyArray<ReadonlyArray<string>> => {
  const options = input.options ?? {}
  const candidates = [...new Set(input.candidates)]
  if (candidates.length === 0) return []
  const threshold = Math.max(0, Math.floor(options.threshold ?? defaults.threshold))
  if (candidates.length <= threshold) return [candidates]

  const waveSize = positiveInt(options.waveSize, defaults.waveSize)
  const budget = Math.min(positiveInt(options.maxSellers, defaults.maxSellers), candidates.length)
  const share = clamp01(options.explorationShare ?? defaults.explorationShare)
  const littleHistory = options.littleHistory ?? defaults.littleHistory
  const halfMillis = options.latencyHalfMillis ?? defaults.latencyHalfMillis
  const random = options.random ?? Math.random

  // The ISBN's carriers among the candidates: the first (cheapest) total per seller.
  const totals = new Map<string, number>()
  for (const carrier of input.carriers) if (!totals.has(carrier.sellerId)) totals.set(carrier.sellerId, carrier.total)
  let cheapest = Number.POSITIVE_INFINITY
  let dearest = Number.NEGATIVE_INFINITY
  for (const id of candidates) {
    const total = totals.get(id)
    if (total === undefined) continue
    cheapest = Math.min(cheapest, total)
    dearest = Math.max(dearest, total)
  }
  const spread = dearest - cheapest

  const scoreOf = scorer(options)
  const n = candidates.length
  // Sort keys: the score plus a random nudge far below any meaningful difference in score, so
  // equal scores are ordered at random (and the keys are distinct for the selection below).
  const keys = new Float64Array(n)
  const known: Array<number> = []
  const others: Array<number> = []
  const blocked: Array<number> = []
  const fresh: Array<number> = []
  const seasoned: Array<number> = []
  for (let i = 0; i < n; i++) {
    const id = candidates[i]!
    const profile = input.stats(id) ?? unknownProfile
    const nudge = random() * 1e-12
    const total = totals.get(id)
    if (total !== undefined) {
      const priceScore = spread > 0 ? 1 - (0.5 * (total - cheapest)) / spread : 1
      keys[i] = priceScore * (0.5 + 0.5 * clamp01(profile.reliability)) * latencyFactor(profile, halfMillis) + nudge
      known.push(i)
    } else if (profile.blockedUntil > input.now) {
      keys[i] = nudge
      blocked.push(i)
    } else {
      keys[i] = scoreOf(profile) + nudge
      others.push(i)
      ;(profile.answers < littleHistory ? fresh : seasoned).push(i)
    }
  }
  const byKey = (a: number, b: number) => keys[b]! - keys[a]!
  known.sort(byKey)
  blocked.sort(byKey)
  // Ranking goes no further than the budget plus what exploration takes out of it (at most the
  // budget again): only that many of the others are sorted; the rest follow unsorted.
  const reach = 2 * budget
  const ranked: Array<number> = [...known]
  if (others.length > reach) {
    const values = new Float64Array(others.length)
    for (let j = 0; j < others.length; j++) values[j] = keys[others[j]!]!
    const cut = kthLargest(values, reach)
    const top: Array<number> = []
    const rest: Array<number> = []
    for (const i of others) (keys[i]! >= cut ? top : rest).push(i)
    for (const i of top.sort(byKey)) ranked.push(i)
    for (const i of rest) ranked.push(i)
  } else {
    for (const i of others.sort(byKey)) ranked.push(i)
  }
  for (const i of blocked) ranked.push(i)

  const taken = new Uint8Array(n)
  let cursor = 0
  const nextRanked = (): number | undefined => {
    while (cursor < ranked.length && taken[ranked[cursor]!] === 1) cursor++
    return cursor < ranked.length ? ranked[cursor++] : undefined
  }
  // Exploration draws: a lazy Fisher–Yates shuffle of each pool, skipping sellers already taken.
  const pools = [fresh, seasoned]
  const nextExplored = (): number | undefined => {
    for (const pool of pools) {
      while (pool.length > 0) {
        const pick = Math.floor(random() * pool.length)
        const index = pool[pick]!
        pool[pick] = pool[pool.length - 1]!
        pool.pop()
        if (taken[index] === 0) return index
      }
    }
    return undefined
  }

  const waves: Array<Array<string>> = []
  let remaining = budget
  while (remaining > 0) {
    const size = Math.min(waveSize, remaining)
    const exploit = size - Math.floor(size * share)
    const wave: Array<string> = []
    const take = (index: number | undefined): boolean => {
      if (index === undefined) return false
      taken[index] = 1
      wave.push(candidates[index]!)
      return true
    }
    while (wave.length < exploit && take(nextRanked()));
    while (wave.length < size && (take(nextExplored()) || take(nextRanked())));
    if (wave.length === 0) break
    waves.push(wave)
    remaining -= wave.length
  }
  return waves
}

/** The k-th largest of `values` (k from 1); reorders `values` (quickselect). */
const kthLargest = (values: Float64Array, k: number): number => {
  const target = k - 1
  let low = 0
  let high = values.length - 1
  while (low < high) {
    const pivot = values[(low + high) >>> 1]!
    let i = low
    let j = high
    while (i <= j) {
      while (values[i]! > pivot) i++
      while (values[j]! < pivot) j--
      if (i <= j) {
        const swap = values[i]!
        values[i] = values[j]!
        values[j] = swap
        i++
        j--
      }
    }
    if (target <= j) high = j
    else if (target >= i) low = i
    else break
  }
  return values[target]!
}

/**
 * Whether a later wave may still start: only while at least the typical (median) call timeout
 * of its sellers is left before the deadline, so most of the wave can answer in time rather
 * than be cut off by the deadline it was started too close to.
 */
export const waveFits = (remainingMillis: number, timeoutsMillis: ReadonlyArray<number>): boolean => {
  if (timeoutsMillis.length === 0) return false
  const sorted = [...timeoutsMillis].sort((a, b) => a - b)
  return remainingMillis >= sorted[Math.floor((sorted.length - 1) / 2)]!
}

export interface LessonOptions {
  /**
   * Sellers asked because of the ISBN's history: their answers say nothing about their
   * coverage in general, so they don't count towards it.
   */
  readonly knownCarriers?: ReadonlySet<string>
  /** False when the request chose its sellers (e.g. re-quoting one seller): no coverage at all. */
  readonly coverage?: boolean
}

/** The rules by which the engine (and any simulation of it) learns from a fan-out's fresh answers. */
export const lessons = (observations: ReadonlyArray<Observation>, options: LessonOptions = {}): Lessons => {
  const carriers: Array<Carrier> = []
  const notCarrying: Array<string> = []
  const answers: Array<{ sellerId: string; offered: boolean }> = []
  for (const observation of observations) {
    if (observation.offered && observation.total !== undefined) carriers.push({ sellerId: observation.sellerId, total: observation.total })
    if (!observation.offered) notCarrying.push(observation.sellerId)
    if (options.coverage !== false && options.knownCarriers?.has(observation.sellerId) !== true) {
      answers.push({ sellerId: observation.sellerId, offered: observation.offered })
    }
  }
  carriers.sort((a, b) => a.total - b.total || (a.sellerId < b.sellerId ? -1 : a.sellerId > b.sellerId ? 1 : 0))
  const priceRanks: Array<{ sellerId: string; rank: number }> = []
  if (carriers.length >= 2) {
    let start = 0
    while (start < carriers.length) {
      let end = start
      while (end + 1 < carriers.length && carriers[end + 1]!.total === carriers[start]!.total) end++
      const rank = (start + end) / 2 / (carriers.length - 1)
      for (let i = start; i <= end; i++) priceRanks.push({ sellerId: carriers[i]!.sellerId, rank })
      start = end + 1
    }
  }
  return { carriers, notCarrying, answers, priceRanks }
}

/** The engine's per-seller learner, for simulations that should learn exactly as the engine does. */
export class SellerStats extends InternalSellerStats {}
export type SellerStat = InternalSellerStat
