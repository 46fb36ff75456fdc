import { Isbn } from "@bookbroker/adapter-sdk"
import { describe, expect, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import { waitMillis, throttledWaitMillis, refill } from "../src/internal/costBucket.js"
import { barcodeQuery, formatQuoteId, isbn10Of, keyTag, parseQuoteId } from "../src/internal/identifiers.js"

const isbn = Schema.decodeSync(Isbn.Isbn13)

describe("identifiers", () => {
  it("spells 978 ISBNs as ISBN-10 (check digit X included), and 979 ISBNs not at all", () => {
    expect(isbn10Of(isbn("9780141439518"))).toBe("0141439513")
    expect(isbn10Of(isbn("9780804429573"))).toBe("080442957X")
    expect(isbn10Of(isbn("9791032305690"))).toBeUndefined()
    expect(barcodeQuery([isbn("9780804429573")])).toBe('barcode:9780804429573 OR barcode:080442957X OR barcode:"978-0-8044-2957-3"')
  })

  it("tags a key with a short, search-safe, stable hash; different keys differ", () => {
    const tag = keyTag("550e8400-e29b-41d4-a716-446655440000:seller-with-a-long-name/eu,1")
    expect(tag).toMatch(/^bb-[0-9a-f]{32}$/)
    expect(keyTag("550e8400-e29b-41d4-a716-446655440000:seller-with-a-long-name/eu,1")).toBe(tag)
    expect(keyTag("550e8400-e29b-41d4-a716-446655440000:seller-with-a-long-name/eu,2")).not.toBe(tag)
  })

  it("round-trips quote ids and refuses others", () => {
    const quote = { variantId: "gid://shopify/ProductVariant/4441", issuedAtSeconds: 1893456000 }
    expect(parseQuoteId(formatQuoteId(quote))).toEqual(Option.some(quote))
    expect(Option.isNone(parseQuoteId("gid://shopify/Product/4441#t=1"))).toBe(true)
    expect(Option.isNone(parseQuoteId("gid://shopify/ProductVariant/4441"))).toBe(true)
  })
})

describe("cost bucket", () => {
  const status = { maximumAvailable: 1000, currentlyAvailable: 2, restoreRate: 50 }

  it("waits (cost − available) / restoreRate, nothing when affordable, never for more than the bucket holds", () => {
    expect(waitMillis(status, 152)).toBe(3000)
    expect(waitMillis(status, 2)).toBe(0)
    expect(waitMillis(status, 5000)).toBe(Math.ceil(((1000 - 2) / 50) * 1000))
  })

  it("falls back to one second for a THROTTLED answer without cost, and refills up to the maximum", () => {
    expect(throttledWaitMillis(undefined)).toBe(1000)
    expect(throttledWaitMillis({ requestedQueryCost: 152, throttleStatus: status })).toBe(3000)
    expect(refill(status, 2000).currentlyAvailable).toBe(102)
    expect(refill(status, 60_000).currentlyAvailable).toBe(1000)
  })
})
