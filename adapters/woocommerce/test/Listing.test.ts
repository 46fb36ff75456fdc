/**
 * The listing rules on their own: cursors that name a page and its size, and when a page has
 * a next one — from `X-WP-TotalPages`, else the `Link` header, else a full page.
 */
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { formatCursor, nextPosition, parseCursor, positionOf } from "../src/Listing.js"

describe("WooCommerce listing rules", () => {
  it("starts at page 1 in pages of the asked size, at most 100, and reads its own cursors back", () => {
    expect(positionOf(null, 500)).toEqual(Result.succeed({ page: 1, perPage: 100 }))
    expect(positionOf(null, 2)).toEqual(Result.succeed({ page: 1, perPage: 2 }))
    expect(parseCursor(formatCursor({ page: 7, perPage: 100 }))).toEqual({ page: 7, perPage: 100 })
    for (const foreign of ["page=1&per_page=100", "page=2&per_page=101", "page=2&per_page=0", "page=2", "offset:2"]) {
      expect(parseCursor(foreign)).toBeUndefined()
    }
  })

  it("goes on below X-WP-TotalPages, whatever the Link header says", () => {
    const position = { page: 2, perPage: 100 }
    expect(nextPosition(position, 100, { totalPages: "3", link: undefined })).toEqual({ page: 3, perPage: 100 })
    expect(nextPosition(position, 100, { totalPages: "2", link: '<https://x/?page=3>; rel="next"' })).toBeUndefined()
  })

  it("without a page count follows Link rel=next, and without either a full page", () => {
    const position = { page: 1, perPage: 2 }
    expect(nextPosition(position, 2, { link: '<https://x/?page=2>; rel="next"' })).toEqual({ page: 2, perPage: 2 })
    expect(nextPosition(position, 2, { link: '<https://x/?page=0>; rel="prev"' })).toBeUndefined()
    expect(nextPosition(position, 2, {})).toEqual({ page: 2, perPage: 2 })
    expect(nextPosition(position, 1, {})).toBeUndefined()
    // An empty page is past the end, whatever the headers say.
    expect(nextPosition(position, 0, { totalPages: "5" })).toBeUndefined()
  })
})
