/**
 * What this process has seen of each seller: success rate and latency as exponentially
 * weighted averages, and what seller selection learns from — coverage (share of answers that
 * were offers), where its offers usually rank on price, and until when admission refused it.
 * Breaks ties between equal offers and feeds seller selection.
 */
import type { Lessons, SellerProfile } from "../quotes/SellerProfile.js"

export interface SellerStat extends SellerProfile {
  /** 0..1, 1 = every recent call answered. */
  readonly reliability: number
  readonly latencyMillis: number
  readonly calls: number
}

const alpha = 0.1
/**
 * Coverage is a mean over the first answers, then a moving average over about this many: most
 * sellers carry a few percent of the catalog at most, so a short window would mostly read 0.
 */
const coverageWindow = 500
/** Price rank: a mean over the first samples, then a moving average over about this many. */
const priceWindow = 50

interface MutableStat {
  reliability: number
  latencyMillis: number
  calls: number
  coverage: number
  answers: number
  priceRank: number
  priced: number
  blockedUntil: number
}

const initial = (): MutableStat => ({
  reliability: 1,
  latencyMillis: 0,
  calls: 0,
  coverage: 0,
  answers: 0,
  priceRank: 0.5,
  priced: 0,
  blockedUntil: 0
})

const unknown: SellerStat = initial()

export class SellerStats {
  private readonly stats = new Map<string, MutableStat>()

  private entry(sellerId: string): MutableStat {
    let stat = this.stats.get(sellerId)
    if (stat === undefined) {
      stat = initial()
      this.stats.set(sellerId, stat)
    }
    return stat
  }

  /** A call that got an answer (`answered`) or failed. */
  record(sellerId: string, answered: boolean, latencyMillis: number): void {
    const stat = this.entry(sellerId)
    if (stat.calls === 0) {
      stat.reliability = answered ? 1 : 0
      stat.latencyMillis = latencyMillis
    } else {
      stat.reliability += alpha * ((answered ? 1 : 0) - stat.reliability)
      stat.latencyMillis += alpha * (latencyMillis - stat.latencyMillis)
    }
    stat.calls += 1
  }

  /** An answer that counts towards coverage: an offer, or "don't have it". */
  recordAnswer(sellerId: string, offered: boolean): void {
    const stat = this.entry(sellerId)
    stat.answers += 1
    stat.coverage += Math.max(1 / stat.answers, 1 / coverageWindow) * ((offered ? 1 : 0) - stat.coverage)
  }

  /** Where the seller's offer ranked among a fan-out's offers, 0 (cheapest) .. 1 (dearest). */
  recordPriceRank(sellerId: string, rank: number): void {
    const stat = this.entry(sellerId)
    stat.priced += 1
    stat.priceRank += Math.max(1 / stat.priced, 1 / priceWindow) * (rank - stat.priceRank)
  }

  /** Admission refused the seller; it would refuse it again until `untilMillis` (epoch ms). */
  recordDenial(sellerId: string, untilMillis: number): void {
    const stat = this.entry(sellerId)
    stat.blockedUntil = Math.max(stat.blockedUntil, untilMillis)
  }

  /** Applies what a fan-out taught (see `SellerSelection.lessons`). */
  learn(lessons: Lessons): void {
    for (const { sellerId, offered } of lessons.answers) this.recordAnswer(sellerId, offered)
    for (const { sellerId, rank } of lessons.priceRanks) this.recordPriceRank(sellerId, rank)
  }

  get(sellerId: string): SellerStat {
    return this.stats.get(sellerId) ?? unknown
  }
}
