/**
 * Book catalogs for simulations: N distinct valid ISBN-13s (checked by the same ISBN library
 * the SDK uses) and a Zipf popularity sampler, so a load run asks for a few books often and
 * most books rarely, as real traffic does.
 */
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the ambient types for isbn3's check-digit module travel with this file into every program that compiles it
/// <reference path="../internal/isbn3.d.ts" />
import ISBN from "isbn3"
// isbn3 keeps its check-digit function in a module of its own; using it keeps generation and
// validation on one implementation.
import calculateCheckDigit from "isbn3/lib/calculate_check_digit.js"
import type { Isbn13 } from "../Isbn.js"
import { seeded } from "./Random.js"

export interface CatalogOptions {
  readonly size: number
  readonly seed?: number
}

/** `size` distinct valid ISBN-13s, the same for the same seed. */
export const generateIsbns = (options: CatalogOptions): ReadonlyArray<Isbn13> => {
  const random = seeded(options.seed ?? 1)
  const seen = new Set<string>()
  const isbns: Array<Isbn13> = []
  while (isbns.length < options.size) {
    const body = `978${String(Math.floor(random() * 1e9)).padStart(9, "0")}`
    const isbn = body + (calculateCheckDigit(body) as string)
    if (seen.has(isbn) || ISBN.parse(isbn) === null) continue
    seen.add(isbn)
    isbns.push(isbn as Isbn13)
  }
  return isbns
}

/**
 * Samples indexes 0..n-1 with Zipf probabilities (index 0 the most popular): P(k) ∝ 1/(k+1)^s.
 * Builds the cumulative table once (8 bytes per item), then samples by binary search.
 */
export const zipfSampler = (n: number, options: { readonly exponent?: number; readonly seed?: number } = {}): (() => number) => {
  const exponent = options.exponent ?? 1
  const random = seeded(options.seed ?? 7)
  const cumulative = new Float64Array(n)
  let total = 0
  for (let k = 0; k < n; k++) {
    total += 1 / Math.pow(k + 1, exponent)
    cumulative[k] = total
  }
  return () => {
    const target = random() * total
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if (cumulative[mid]! < target) low = mid + 1
      else high = mid
    }
    return low
  }
}
