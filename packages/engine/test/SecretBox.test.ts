import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as SecretBox from "../src/sellers/SecretBox.js"

describe("SecretBox", () => {
  const box = SecretBox.make(Redacted.make(SecretBox.generateKey()))

  it.effect("seals and opens; the sealed bytes do not contain the plaintext", () =>
    Effect.gen(function* () {
      const sealed = box.seal(Redacted.make("api-key-123"))
      expect(sealed.toString("latin1")).not.toContain("api-key-123")
      expect(Redacted.value(yield* box.open(sealed))).toBe("api-key-123")
      expect(box.seal(Redacted.make("api-key-123")).equals(sealed)).toBe(false) // fresh IV each time
    })
  )

  it.effect("refuses tampered data and the wrong key", () =>
    Effect.gen(function* () {
      const sealed = box.seal(Redacted.make("secret"))
      const tampered = Buffer.from(sealed)
      tampered[tampered.length - 1]! ^= 1
      expect(Exit.isFailure(yield* Effect.exit(box.open(tampered)))).toBe(true)
      const other = SecretBox.make(Redacted.make(SecretBox.generateKey()))
      const error = yield* Effect.flip(other.open(sealed))
      expect(error.message).toMatch(/BOOKBROKER_SECRET_KEY/)
    })
  )

  it("refuses a key that is not 32 bytes", () => {
    expect(() => SecretBox.make(Redacted.make(Buffer.alloc(16).toString("base64")))).toThrow(/32 bytes/)
  })
})
