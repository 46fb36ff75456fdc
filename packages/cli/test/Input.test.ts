import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Input from "../src/Input.js"

const run = <A>(effect: Effect.Effect<A, { message: string }>) => Effect.runSyncExit(effect)

describe("Input", () => {
  it("prices are decimal strings turned into minor units exactly", () => {
    const ok = (raw: string, currency = "EUR") => {
      const exit = run(Input.price(raw, currency))
      return Exit.isSuccess(exit) ? exit.value.amount : exit
    }
    expect(ok("30.00")).toBe(3000)
    expect(ok("30")).toBe(3000)
    expect(ok("0.1")).toBe(10)
    expect(ok("19.99")).toBe(1999)
    expect(ok(" 12.5 ")).toBe(1250)
    expect(ok("1500", "JPY")).toBe(1500)
    expect(ok("1.5", "eur")).toBe(150)
    for (const bad of ["30,00", "abc", "", "-1", "1e3", "0", "0.00", "30.005", "NaN"]) {
      expect(Exit.isFailure(run(Input.price(bad, "EUR"))), bad).toBe(true)
    }
    expect(Exit.isFailure(run(Input.price("1.5", "JPY")))).toBe(true)
  })

  it("ISBNs: 10 or 13 digits, hyphens allowed, check digit checked", () => {
    expect(Exit.isSuccess(run(Input.isbn("978-0-14-044913-6")))).toBe(true)
    expect(run(Input.isbn("0-14-044913-2"))).toEqual(Exit.succeed("9780140449136"))
    expect(Exit.isFailure(run(Input.isbn("978-0-14-044913-7")))).toBe(true)
    expect(Exit.isFailure(run(Input.isbn("hello")))).toBe(true)
  })

  it("durations and counts", () => {
    expect(run(Input.duration("2s", "--duration", 60))).toEqual(Exit.succeed(2000))
    expect(run(Input.duration("500ms", "--duration", 60))).toEqual(Exit.succeed(500))
    expect(run(Input.duration("1m", "--duration", 60))).toEqual(Exit.succeed(60_000))
    expect(run(Input.duration(3, "--duration", 60))).toEqual(Exit.succeed(3000))
    expect(Exit.isFailure(run(Input.duration("2m", "--duration", 60)))).toBe(true)
    expect(run(Input.integer("5", "--sellers", 1, 50))).toEqual(Exit.succeed(5))
    expect(Exit.isFailure(run(Input.integer("5.5", "--sellers", 1, 50)))).toBe(true)
    expect(run(Input.positive("2.5", "--rate", 100))).toEqual(Exit.succeed(2.5))
  })
})
