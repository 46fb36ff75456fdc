/**
 * What this process has seen of each seller: success rate and latency as exponentially
 * weighted averages. Breaks ties between equal offers and feeds seller selection.
 */
export interface SellerStat {
  /** 0..1, 1 = every recent call answered. */
  readonly reliability: number
  readonly latencyMillis: number
  readonly calls: number
}

const alpha = 0.1

export class SellerStats {
  private readonly stats = new Map<string, { reliability: number; latencyMillis: number; calls: number }>()

  record(sellerId: string, answered: boolean, latencyMillis: number): void {
    const stat = this.stats.get(sellerId)
    if (stat === undefined) {
      this.stats.set(sellerId, { reliability: answered ? 1 : 0, latencyMillis, calls: 1 })
      return
    }
    stat.reliability += alpha * ((answered ? 1 : 0) - stat.reliability)
    stat.latencyMillis += alpha * (latencyMillis - stat.latencyMillis)
    stat.calls += 1
  }

  get(sellerId: string): SellerStat {
    return this.stats.get(sellerId) ?? { reliability: 1, latencyMillis: 0, calls: 0 }
  }
}
