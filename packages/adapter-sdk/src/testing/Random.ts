/**
 * Seeded randomness for simulations: the same seed gives the same run, so a failing load or
 * chaos test can be replayed.
 */

/** mulberry32: a tiny, fast 32-bit PRNG; plenty for simulations (not for secrets). */
export const seeded = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A log-normal sample with the given median; `sigma` widens the spread. */
export const logNormal = (random: () => number, median: number, sigma = 0.5): number => {
  const u1 = Math.max(random(), Number.EPSILON)
  const u2 = random()
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
  return median * Math.exp(sigma * z)
}
