/**
 * Shopify's cost-based leaky bucket as the adapter sees it. Every answer reports the bucket
 * (`extensions.cost.throttleStatus`: maximumAvailable, currentlyAvailable, restoreRate); between
 * answers it refills at `restoreRate` points a second. The adapter uses it twice: a THROTTLED
 * answer becomes a wait of `(requestedQueryCost − currentlyAvailable) / restoreRate`, and a call
 * the bucket cannot pay for yet is not sent at all — its wait comes back as a rate-limited error
 * that bookbroker's shared limiter honours, instead of a call Shopify would refuse anyway.
 * Nothing here is hard-coded per plan: the numbers always come from the shop's own answers.
 */

export interface ThrottleStatus {
  readonly maximumAvailable: number
  readonly currentlyAvailable: number
  readonly restoreRate: number
}

export interface QueryCost {
  readonly requestedQueryCost?: number | undefined
  readonly throttleStatus?: ThrottleStatus | undefined
}

/** What a THROTTLED answer without a usable `extensions.cost` waits: one second. */
export const fallbackWaitMillis = 1_000

/**
 * Milliseconds until the bucket holds `cost` points. A cost above the bucket's size is capped at
 * the size (such a query is refused as too expensive, never by waiting); a bucket that does not
 * refill tells us nothing, so the fallback applies.
 */
export const waitMillis = (status: ThrottleStatus, cost: number): number => {
  const missing = Math.min(cost, status.maximumAvailable) - status.currentlyAvailable
  if (missing <= 0) return 0
  return status.restoreRate > 0 ? Math.ceil((missing / status.restoreRate) * 1000) : fallbackWaitMillis
}

/** The wait a THROTTLED answer asks for, from its own `extensions.cost`. */
export const throttledWaitMillis = (cost: QueryCost | undefined): number =>
  cost?.throttleStatus === undefined || cost.requestedQueryCost === undefined
    ? fallbackWaitMillis
    : Math.max(waitMillis(cost.throttleStatus, cost.requestedQueryCost), 1)

/** The bucket as last reported, refilled for the time since (never above its size). */
export const refill = (status: ThrottleStatus, elapsedMillis: number): ThrottleStatus => ({
  ...status,
  currentlyAvailable: Math.min(status.maximumAvailable, status.currentlyAvailable + (Math.max(0, elapsedMillis) / 1000) * status.restoreRate)
})

/**
 * The last bucket a shop reported and the cost it asked for each query document, so the next
 * call of the same document can be held back while the bucket refills. One per seller client.
 */
export class CostTracker {
  private last: { readonly status: ThrottleStatus; readonly at: number } | undefined
  private readonly costs = new Map<string, number>()

  observe(document: string, cost: QueryCost | undefined, at: number): void {
    if (cost?.requestedQueryCost !== undefined) this.costs.set(document, cost.requestedQueryCost)
    if (cost?.throttleStatus !== undefined) this.last = { status: cost.throttleStatus, at }
  }

  /** Milliseconds to wait before `document` can be paid for; 0 when unknown or affordable. */
  waitBefore(document: string, at: number): number {
    const cost = this.costs.get(document)
    if (cost === undefined || this.last === undefined) return 0
    return waitMillis(refill(this.last.status, at - this.last.at), cost)
  }
}
