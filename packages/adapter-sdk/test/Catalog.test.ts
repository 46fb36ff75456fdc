import { describe, expect, it } from "@effect/vitest"
import { generateIsbns, zipfSampler } from "../src/testing/Catalog.js"

describe("Catalog", () => {
  it("generates distinct ISBNs, the same for the same seed", () => {
    const a = generateIsbns({ size: 2000, seed: 11 })
    expect(new Set(a).size).toBe(2000)
    expect(generateIsbns({ size: 2000, seed: 11 })).toEqual(a)
    expect(generateIsbns({ size: 10, seed: 12 })).not.toEqual(a.slice(0, 10))
  })

  it("samples with Zipf popularity: rank 1 about twice rank 2, the head far above the tail", () => {
    const n = 1000
    const sample = zipfSampler(n, { seed: 5 })
    const counts = new Array<number>(n).fill(0)
    for (let i = 0; i < 200_000; i++) counts[sample()]! += 1
    const ratio = counts[0]! / counts[1]!
    expect(ratio).toBeGreaterThan(1.8)
    expect(ratio).toBeLessThan(2.2)
    const head = counts.slice(0, 10).reduce((a, b) => a + b, 0)
    const tail = counts.slice(500).reduce((a, b) => a + b, 0)
    expect(head).toBeGreaterThan(tail)
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(0)
  })
})
