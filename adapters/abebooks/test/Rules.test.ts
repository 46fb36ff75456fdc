/**
 * The pure rules that decide truth: response codes, order statuses, the request id, the search
 * answer reader and the choice of a listing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { readBooks } from "../src/internal/searchXml.js"
import { choose, conditionOf, listingOf } from "../src/Listings.js"
import { OrderStatus, ResponseCode, Signing } from "../src/index.js"

describe("Signing", () => {
  it("checksums the documented test vector and the empty body", () => {
    expect(Signing.contentChecksum("sample payload")).toBe("eee57820203860ea469843dfba7bbb970021cae59fcc6e99056937bdec33fd02")
    expect(Signing.contentChecksum(undefined)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  })

  it("derives version-5 UUIDs (Python's uuid5(NAMESPACE_DNS, 'python.org')) and the same request id for the same key", () => {
    expect(Signing.uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org")).toBe("886313e1-3b8a-5372-9b90-0c9aee199e5d")
    expect(Signing.requestIdFor("req-1:abebooks")).toBe(Signing.requestIdFor("req-1:abebooks"))
    expect(Signing.requestIdFor("req-1:abebooks")).not.toBe(Signing.requestIdFor("req-2:abebooks"))
  })

  it("formats Abe-Date without milliseconds", () => {
    expect(Signing.timestamp(Date.parse("2017-06-26T19:54:58.123Z"))).toBe("2017-06-26T19:54:58Z")
  })
})

describe("ResponseCode", () => {
  it("reads duplicates, refusals and retryable codes; an undocumented code is unknown", () => {
    expect(ResponseCode.meaningOf(2003)).toEqual({ _tag: "Duplicate", sameBody: true })
    expect(ResponseCode.meaningOf(4090)).toEqual({ _tag: "Duplicate", sameBody: false })
    expect(ResponseCode.meaningOf(4017)).toMatchObject({ _tag: "Rejected", reason: "auth_failed" })
    expect(ResponseCode.meaningOf(4002)).toMatchObject({ _tag: "Rejected", reason: "invalid_request" })
    expect(ResponseCode.meaningOf(4291)).toMatchObject({ _tag: "Unavailable", reason: "rate_limited" })
    expect(ResponseCode.meaningOf(4041)).toEqual({ _tag: "Unknown" })
    expect(ResponseCode.meaningOf(4099)).toEqual({ _tag: "Unknown" })
  })
})

describe("OrderStatus", () => {
  it("confirms Ordered, Shipped and accepted extra shipping; refuses unavailable, over max, cancelled; waits on no status and 93", () => {
    for (const status of ["05", "35", "04"]) expect(OrderStatus.outcomeOf(status)._tag).toBe("Confirmed")
    expect(OrderStatus.outcomeOf("14")).toMatchObject({ _tag: "Refused", reason: "out_of_stock" })
    expect(OrderStatus.outcomeOf("53")).toMatchObject({ _tag: "Refused", reason: "price_changed" })
    expect(OrderStatus.outcomeOf("17")).toMatchObject({ _tag: "Refused" })
    expect(OrderStatus.outcomeOf(null)).toMatchObject({ _tag: "Pending", needsOperator: false })
    expect(OrderStatus.outcomeOf("93")).toMatchObject({ _tag: "Pending", needsOperator: true })
    expect(OrderStatus.outcomeOf("77")).toMatchObject({ _tag: "Pending", needsOperator: true })
  })
})

describe("search answers and listings", () => {
  it("reads flat Book records with entities and CDATA, and refuses what is not a search answer", () => {
    const read = readBooks(`<?xml version="1.0"?><SearchResults><Book><bookId>1</bookId><title><![CDATA[A & B]]></title><vendorName>X &amp; Y &#233;</vendorName></Book></SearchResults>`)
    expect(read).toEqual({ books: [{ bookId: "1", title: "A & B", vendorName: "X & Y é" }] })
    expect("error" in readBooks("<html>down</html>")).toBe(true)
    expect("error" in readBooks("<searchResults><Book><bookId><x>1</x></bookId></Book></searchResults>")).toBe(true)
  })

  it("maps condition words, never better than the bookseller said", () => {
    expect(conditionOf({ listingCondition: "NEW BOOK" })).toBe("new")
    expect(conditionOf({ listingCondition: "NOT NEW BOOK", itemCondition: "Fine" })).toBe("like_new")
    expect(conditionOf({ itemCondition: "Used - Very Good" })).toBe("very_good")
    expect(conditionOf({ itemCondition: "Collectible, signed" })).toBe("acceptable")
  })

  it("converts decimals to minor units exactly and chooses the cheapest eligible total", () => {
    const a = listingOf({ bookId: "a", isbn13: "9780141439518", listingPrice: "0.1", firstBookShipCost: "0.2", quantity: "1", itemCondition: "Good" }, "USD")
    const b = listingOf({ bookId: "b", isbn13: "9780141439518", listingPrice: "0.25", firstBookShipCost: "0", quantity: "0", itemCondition: "Good" }, "USD")
    expect(Result.isSuccess(a) && a.success.price.amount + a.success.shipping.amount).toBe(30)
    if (Result.isFailure(a) || Result.isFailure(b)) throw new Error("expected listings")
    expect(choose("9780141439518", [a.success, b.success], "acceptable")).toMatchObject({ _tag: "Offer", listing: { listingId: "a" } })
    expect(choose("9780141439518", [b.success], "acceptable")).toEqual({ _tag: "Unavailable", reason: "out_of_stock" })
    expect(choose("9780141439518", [a.success], "very_good")).toEqual({ _tag: "Unavailable", reason: "out_of_stock" })
    expect(Result.isFailure(listingOf({ bookId: "c", listingPrice: "1.999", firstBookShipCost: "0" }, "USD"))).toBe(true)
  })
})
