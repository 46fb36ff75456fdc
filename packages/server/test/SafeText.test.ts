/** The text rule on its own: what is refused, where it is named, and that depth is bounded without recursion. */
import { describe, expect, it } from "vitest"
import * as SafeText from "../src/SafeText.js"

describe("SafeText", () => {
  it("refuses NUL, control characters and lone surrogates; tab, newlines, emoji and accents pass", () => {
    expect(SafeText.problemWith("Ad\u0000a")).toBe("contains a NUL character")
    expect(SafeText.problemWith("bell\u0007")).toBe("contains a control character")
    expect(SafeText.problemWith("del\u007f")).toBe("contains a control character")
    expect(SafeText.problemWith("\ud800")).toMatch(/unpaired UTF-16 surrogate/)
    expect(SafeText.problemWith("x\udc00")).toMatch(/unpaired UTF-16 surrogate/)
    expect(SafeText.problemWith("\udc00\ud800")).toMatch(/unpaired UTF-16 surrogate/)
    for (const fine of ["", "line\nnext\r\n\tend", "Łódź — “Müller” 📚", "\ud83d\udcda"]) expect(SafeText.problemWith(fine)).toBeUndefined()
  })

  it("names every offending place as a JSON pointer, keys included (escaped as RFC 6901 says)", () => {
    const errors = SafeText.checkJson({ a: ["ok", "n\u0000"], "b/c~d": { e: "\ud800" }, "k\u0001": 1, fine: 12, nothing: null })
    expect([...errors].sort((a, b) => a.pointer.localeCompare(b.pointer))).toEqual([
      { pointer: "/a/1", detail: "contains a NUL character" },
      { pointer: "/b~1c~0d/e", detail: expect.stringMatching(/surrogate/) },
      { pointer: "/k\u0001", detail: "the key contains a control character" }
    ])
    expect(SafeText.checkJson("\u0000")).toEqual([{ pointer: "/", detail: "contains a NUL character" }])
    expect(SafeText.checkJson({ clean: ["a", { b: "c" }] })).toEqual([])
  })

  it("bounds nesting at maxDepth, iteratively (100,000 levels do not exhaust the stack)", () => {
    const nested = (depth: number) => JSON.parse("[".repeat(depth) + "]".repeat(depth)) as unknown
    expect(SafeText.checkJson(nested(SafeText.maxDepth))).toEqual([])
    expect(SafeText.checkJson(nested(SafeText.maxDepth + 1))).toEqual([{ pointer: `${"/0".repeat(SafeText.maxDepth)}`, detail: `nested deeper than ${SafeText.maxDepth} levels` }])
    expect(SafeText.checkJson(nested(100_000))).toHaveLength(1)
  })

  it("checks query parameters as decoded", () => {
    expect(SafeText.checkQuery("/v1/x?status=ok&cursor=%00a")).toEqual([{ pointer: "query:cursor", detail: "contains a NUL character" }])
    expect(SafeText.checkQuery("/v1/x?q=%E2%80%9Cd%C3%BCne%E2%80%9D")).toEqual([])
    expect(SafeText.checkQuery("/v1/x")).toEqual([])
  })
})
