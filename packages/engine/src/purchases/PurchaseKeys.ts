/**
 * The idempotency keys of every external call a purchase request makes. A key names one
 * operation for its whole life: the intent is stored under it before the call, and every retry —
 * by this worker, the next one after a crash, the sweeper or the reconciler — repeats it with
 * the same key, so the seller or the payment provider sees one operation, never two.
 *
 * SQL that matches these keys (`Sweeper.ts`, `Reconciler.ts`) builds them the same way:
 * `r.id::text || ':void:' || round::text`.
 */

/** The seller's key for the purchase at one seller: one order per request and seller, ever. */
export const attempt = (requestId: string, sellerId: string): string => `${requestId}:${sellerId}`

/**
 * The seller's key for the hold of an attempt in one round: every try of that hold in the round
 * (a replay after a worker stopped mid-call) is one hold at a seller that keeps holds per key; a
 * later round holds afresh.
 */
export const hold = (attemptKey: string, round: number): string => `${attemptKey}:hold:${round}`

/** The payment provider's key for one payment call of one round (a retried or re-offered request starts a new round). */
export const payment = (requestId: string, kind: "authorize" | "capture" | "void", round: number): string => `${requestId}:${kind}:${round}`

/** Voiding an authorization bookbroker never recorded as live (found only by asking the provider). */
export const providerVoid = (requestId: string, providerRef: string): string => `${requestId}:void:${providerRef}`

/**
 * The payment provider's key for keeping a want's payment method for its later rounds (Stripe:
 * creating the request's Customer): once per request, whatever the round.
 */
export const savedPaymentMethod = (requestId: string): string => `${requestId}:customer`
