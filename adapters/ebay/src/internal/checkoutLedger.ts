/**
 * The adapter's memory of which checkout session it placed (or tried to place) for each
 * idempotency key. eBay has no idempotency key and no search of guest orders, but it does not
 * place a second order for one checkout session (place_order answers 15006): so a retry goes
 * back to the session its key was placed on, never to a new one. Kept in this process only,
 * for `retentionMillis`: a retry after a restart is not protected (see the README).
 */
export interface Placement {
  readonly checkoutSessionId: string
  readonly itemId: string
  readonly isbn: string
  readonly sentAt: number
  /** Known once eBay answered place_order (or its replay). */
  readonly purchaseOrderId?: string
}

const retentionMillis = 7 * 86_400_000

export class CheckoutLedger {
  private readonly placements = new Map<string, Placement>()

  get(idempotencyKey: string): Placement | undefined {
    return this.placements.get(idempotencyKey)
  }

  set(idempotencyKey: string, placement: Placement): void {
    const cutoff = Date.now() - retentionMillis
    for (const [key, old] of this.placements) if (old.sentAt < cutoff) this.placements.delete(key)
    this.placements.set(idempotencyKey, placement)
  }

  /** Only when eBay's answer proves no order exists for the key. */
  forget(idempotencyKey: string): void {
    this.placements.delete(idempotencyKey)
  }
}
