/**
 * The lazy catalog of the end-to-end benchmark: what each simulated seller carries of a catalog
 * too big to list (1,000,000 ISBNs × 200 sellers), derived on first use from a cheap hash of
 * (seed, seller, ISBN) — the same answer in every process, nothing materialised up front.
 *
 * - Every ISBN has a base price (5.00–50.00) and a carrier share, uniform in 0..2 × `coverage`
 *   (rare books and common ones; the mean is `coverage`), independent of its popularity.
 * - A seller carries an ISBN when its hash falls under that share; it then offers the base price
 *   × a price level of its own (±8 %) × ±10 % for this offer, 1–5 copies — or none (sold out) for
 *   a `soldOut` share of what it carries.
 * - Shipping is flat per seller (0–4.00): the reference seller API has no shipping field, so
 *   bookbroker learns it from the seller's registered config (`shipping`), as a real operator
 *   would enter it.
 *
 * `fleet.ts --stock lazy` serves it; `e2e.ts` reads the base prices to set customers' maxima.
 */
import type { StockItem } from "@bookbroker/adapter-sdk/testing"

export interface LazyStockOptions {
  readonly seed: number
  /** Mean share of the sellers carrying an ISBN. */
  readonly coverage: number
  /** Share of carried ISBNs a seller has sold out of (quantity 0). */
  readonly soldOut: number
}

/** FNV-1a over the ISBN's characters, seeded with (seed, a, salt), then murmur3's finaliser: 0 ≤ u < 1. */
export const unit = (seed: number, a: number, isbn: string, salt: number): number => {
  let h = (0x811c9dc5 ^ Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(a + 7, 0x85ebca6b) ^ Math.imul(salt + 13, 0xc2b2ae35)) >>> 0
  for (let i = 0; i < isbn.length; i++) {
    h ^= isbn.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

const BOOK = -1

/** The book's base price in minor units, 500–5,000. */
export const basePrice = (seed: number, isbn: string): number => 500 + Math.floor(unit(seed, BOOK, isbn, 1) * 4_501)

/** Share of the sellers carrying the book: uniform in 0..2 × coverage (at most 1). */
export const carrierShare = (seed: number, isbn: string, coverage: number): number => Math.min(1, 2 * coverage * unit(seed, BOOK, isbn, 2))

/** The seller's price level: ×0.92–1.08. */
export const priceLevel = (seed: number, seller: number): number => 0.92 + 0.16 * unit(seed, seller, "", 3)

/** The seller's flat shipping in minor units: 0–400, in steps of 50. */
export const sellerShipping = (seed: number, seller: number): number => 50 * Math.floor(unit(seed, seller, "", 4) * 9)

/** What seller `seller` (its index in the fleet) has of `isbn`, or undefined when it does not carry it. */
export const stockFor =
  (options: LazyStockOptions, seller: number) =>
  (isbn: string): StockItem | undefined => {
    const { seed } = options
    if (unit(seed, seller, isbn, 5) >= carrierShare(seed, isbn, options.coverage)) return undefined
    const price = Math.max(100, Math.round(basePrice(seed, isbn) * priceLevel(seed, seller) * (0.9 + 0.2 * unit(seed, seller, isbn, 6))))
    const soldOut = unit(seed, seller, isbn, 7) < options.soldOut
    return { isbn, price, shipping: sellerShipping(seed, seller), quantity: soldOut ? 0 : 1 + Math.floor(unit(seed, seller, isbn, 8) * 5) }
  }
