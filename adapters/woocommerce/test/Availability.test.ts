import { describe, expect, it } from "@effect/vitest"
import { assess, parseQuoteId, quoteIdOf } from "../src/index.js"
import type { WireProduct } from "../src/Wire.js"

const product = (overrides: Partial<WireProduct> = {}): WireProduct => ({
  id: 794,
  type: "simple",
  status: "publish",
  sku: "9780141439518",
  parent_id: 0,
  price: "8.99",
  purchasable: true,
  manage_stock: true,
  stock_quantity: 3,
  stock_status: "instock",
  backorders: "no",
  ...overrides
})

const strict = { acceptBackorders: false }
const lenient = { acceptBackorders: true }

describe("assess", () => {
  it("sells a published, purchasable, priced product in stock, with its count when stock is managed", () => {
    expect(assess(product(), strict)).toEqual({ _tag: "Sellable", quantity: 3 })
    expect(assess(product({ manage_stock: false, stock_quantity: null }), strict)).toEqual({ _tag: "Sellable", quantity: null })
    // Fractional stock counts whole copies only.
    expect(assess(product({ stock_quantity: 1.5 }), strict)).toEqual({ _tag: "Sellable", quantity: 1 })
    expect(assess(product({ type: "variation", parent_id: 790 }), strict)._tag).toBe("Sellable")
  })

  it("does not carry what is not published or is not one orderable book", () => {
    for (const changed of [product({ status: "draft" }), product({ status: "private" }), product({ type: "variable" }), product({ type: "grouped" }), product({ type: "external" })]) {
      expect(assess(changed, strict)).toMatchObject({ _tag: "Unsellable", reason: "not_carried" })
    }
  })

  it("is out of stock when not purchasable, unpriced, out of stock, counted below one, or in an unknown stock status", () => {
    for (const changed of [
      product({ purchasable: false }),
      product({ price: "" }),
      product({ stock_status: "outofstock", stock_quantity: 0 }),
      product({ stock_quantity: 0 }),
      product({ stock_quantity: 0.5 }),
      product({ stock_status: "preorder" })
    ]) {
      expect(assess(changed, strict)).toMatchObject({ _tag: "Unsellable", reason: "out_of_stock" })
    }
  })

  it("buys on backorder only when configured to and the shop allows it", () => {
    const backordered = product({ stock_status: "onbackorder", stock_quantity: -2, backorders: "notify" })
    expect(assess(backordered, strict)).toMatchObject({ _tag: "Unsellable", reason: "out_of_stock" })
    expect(assess(backordered, lenient)).toEqual({ _tag: "Sellable", quantity: null })
    expect(assess({ ...backordered, backorders: "no" }, lenient)).toMatchObject({ _tag: "Unsellable" })
  })
})

describe("quote ids", () => {
  it("carry the product and its parent, and nothing else parses as one", () => {
    const id = quoteIdOf(product({ id: 795, parent_id: 790 }), Date.parse("2026-05-01T10:00:00.900Z"))
    expect(id).toBe("wc:795:790:1777629600")
    expect(parseQuoteId(id)).toEqual({ productId: 795, parentId: 790 })
    expect(parseQuoteId(quoteIdOf(product(), 0))).toEqual({ productId: 794, parentId: 0 })
    for (const foreign of ["ofr_01HZX4", "wc:0:0:1", "wc:794:0", "wc:794:x:1", " wc:794:0:1"]) expect(parseQuoteId(foreign)).toBeUndefined()
  })
})
