/** What an operator's approval covers: a seller's own change of config or credentials sends it back to review. */
import { describe, expect, it } from "@effect/vitest"
import { Redacted } from "effect"
import type { Seller } from "../src/sellers/SellerDirectory.js"
import * as SellerReview from "../src/sellers/SellerReview.js"

const seller = (status: Seller["status"]): Seller => ({
  id: "00000000-0000-0000-0000-000000000001",
  name: "Paper Moon",
  kind: "reference",
  adapterVersion: "1.0.0",
  config: { baseUrl: "https://api.papermoon.example", currency: "EUR", options: { batch: true, mode: "hold" } },
  credentials: { apiKey: Redacted.make("pm-key") },
  limits: { requestsPerSecond: 5 },
  status,
  contact: null,
  createdAt: new Date(0),
  updatedAt: new Date(0)
})

describe("SellerReview.needsReview", () => {
  it("a new base URL, any other config change, or new credentials send an active seller back to review", () => {
    const active = seller("active")
    expect(SellerReview.needsReview(active, { config: { ...(active.config as object), baseUrl: "http://10.0.0.7" } })).toBe(true)
    expect(SellerReview.needsReview(active, { config: { baseUrl: "https://api.papermoon.example", currency: "USD", options: { batch: true, mode: "hold" } } })).toBe(true)
    expect(SellerReview.needsReview(active, { credentials: { apiKey: "another-key" } })).toBe(true)
    expect(SellerReview.needsReview(active, { credentials: { apiKey: "pm-key", extra: "x" } })).toBe(true)
  })

  it("limits, the contact, or the same values sent again (in any key order) change nothing approved", () => {
    const active = seller("active")
    expect(SellerReview.needsReview(active, { limits: { requestsPerSecond: 1 }, contact: "ops@papermoon.example" })).toBe(false)
    expect(SellerReview.needsReview(active, { config: { options: { mode: "hold", batch: true }, currency: "EUR", baseUrl: "https://api.papermoon.example" } })).toBe(false)
    expect(SellerReview.needsReview(active, { credentials: { apiKey: Redacted.make("pm-key") } })).toBe(false)
  })

  it("a seller not active has nothing approved to lose", () => {
    expect(SellerReview.needsReview(seller("pending"), { config: { baseUrl: "https://elsewhere.example" } })).toBe(false)
    expect(SellerReview.needsReview(seller("disabled"), { credentials: { apiKey: "new" } })).toBe(false)
  })
})
