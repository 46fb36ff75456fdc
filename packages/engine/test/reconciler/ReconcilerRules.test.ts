/** The reconciler's rules alone: what a provider's record against ours asks for, what to do about a live authorization. No database. */
import { describe, expect, it } from "@effect/vitest"
import type { Money } from "@bookbroker/adapter-sdk"
import type { PaymentOperationRow } from "../../src/purchases/store/PurchaseStore.js"
import * as OpenAuthorizations from "../../src/jobs/reconciler/OpenAuthorizations.js"
import * as ProviderComparison from "../../src/jobs/reconciler/ProviderComparison.js"
import * as SellerOrders from "../../src/jobs/reconciler/SellerOrders.js"
import type { PaymentRecord } from "../../src/payments/PaymentGateway.js"

const request = { id: "req-1", round: 0, currency: "EUR" }
const eur = (amount: number) => ({ amount, currency: "EUR" }) as Money.Money

const op = (kind: PaymentOperationRow["kind"], status: PaymentOperationRow["status"], overrides: Partial<PaymentOperationRow> = {}): PaymentOperationRow => ({
  id: `${kind}-${status}`,
  request_id: request.id,
  kind,
  round: 0,
  idempotency_key: `${request.id}:${kind}:0`,
  amount: 1500,
  currency: "EUR",
  status,
  provider_ref: "pi_1",
  live: false,
  detail: null,
  tries: 1,
  ...overrides
})

const record = (status: PaymentRecord["status"], authorized = 1500, captured = 0): PaymentRecord => ({
  providerRef: "pi_1",
  requestId: request.id,
  status,
  authorized: eur(authorized),
  captured: eur(captured)
})

describe("ProviderComparison.compare", () => {
  it("our live authorization and the provider's open one agree: nothing to do", () => {
    expect(ProviderComparison.compare(request, [op("authorize", "succeeded", { live: true })], false, [record("authorized")])).toEqual([])
  })

  it("an open authorization we never recorded is voided under the provider-reference key, unless an order may still need it", () => {
    const unrecorded = [op("authorize", "pending", { provider_ref: null })]
    const [step] = ProviderComparison.compare(request, unrecorded, false, [record("authorized")])
    expect(step).toMatchObject({ _tag: "Void", target: { requestId: "req-1", providerRef: "pi_1", idempotencyKey: "req-1:void:pi_1", round: 0, currency: "EUR" } })
    expect(step?._tag === "Void" && step.ours).toContain("our authorizations without one: round 0 authorize pending of 1500")
    expect(ProviderComparison.compare(request, unrecorded, true, [record("authorized")])).toEqual([
      { _tag: "Found", kind: "provider_mismatch", detail: expect.stringContaining("not voided: a seller order or a pending capture may still need it") }
    ])
  })

  it("a capture the provider made while ours was pending is adopted: our capture succeeded, the authorization ended", () => {
    const ops = [op("authorize", "succeeded", { live: true }), op("capture", "pending", { provider_ref: null, idempotency_key: "req-1:capture:0" })]
    expect(ProviderComparison.compare(request, ops, true, [record("captured", 1500, 1500)])).toEqual([
      { _tag: "Adopt", detail: expect.stringContaining("while our capture was pending: recorded as succeeded"), settle: "req-1:capture:0", endAuthorization: "pi_1" }
    ])
    // A pending capture of another amount is not the provider's: a person looks.
    const [other] = ProviderComparison.compare(request, ops, true, [record("captured", 1500, 1400)])
    expect(other).toMatchObject({ _tag: "Found", kind: "provider_mismatch" })
  })

  it("a void the provider made while ours was pending is adopted under the pipeline's key", () => {
    const ops = [op("authorize", "succeeded", { live: true }), op("void", "pending", { idempotency_key: "req-1:void:0" })]
    expect(ProviderComparison.compare(request, ops, false, [record("voided")])).toEqual([
      { _tag: "Adopt", detail: expect.stringContaining("although the provider voided it"), settle: "req-1:void:0", endAuthorization: "pi_1" }
    ])
  })

  it("money we think was collected and the provider says was not, or above the authorization, is for a person", () => {
    const captured = [op("authorize", "succeeded"), op("capture", "succeeded")]
    expect(ProviderComparison.compare(request, captured, false, [record("voided")]).map((step) => step._tag)).toEqual(["Found"])
    expect(ProviderComparison.compare(request, captured, false, [record("authorized")]).map((step) => step._tag)).toEqual(["Found"])
    expect(ProviderComparison.compare(request, captured, false, [record("captured", 1500, 1600)])).toEqual([
      { _tag: "Found", kind: "captured_above_authorized", detail: "the provider captured 1600 EUR on pi_1, authorized only 1500 EUR" },
      { _tag: "Found", kind: "provider_mismatch", detail: "we captured 1500 on pi_1, the provider shows 1600 EUR — needs a person" }
    ])
    // What we recorded as succeeded and the provider has never heard of.
    expect(ProviderComparison.compare(request, [op("capture", "succeeded", { provider_ref: "pi_9" })], false, [])).toEqual([
      { _tag: "Found", kind: "provider_mismatch", detail: "we recorded capture pi_9 of 1500 as succeeded, the provider has no such payment — needs a person" }
    ])
  })
})

describe("OpenAuthorizations.judge", () => {
  const row = (overrides: Partial<OpenAuthorizations.OpenAuthorization> = {}): OpenAuthorizations.OpenAuthorization => ({
    request_id: "req-1",
    round: 0,
    amount: "1500",
    provider_ref: "pi_1",
    status: "not_available",
    has_order: false,
    has_capture: false,
    void_status: null,
    ...overrides
  })

  it("voids the authorization of a request that ended without buying, with nothing to collect", () => {
    expect(OpenAuthorizations.judge(row())).toEqual({ _tag: "Void", what: "authorization pi_1 of 1500 is still live on a not_available request", providerRef: "pi_1" })
  })

  it("leaves it to a person when voiding could lose money or cannot be done", () => {
    for (const overrides of [{ status: "purchased" as const }, { has_order: true }, { has_capture: true }, { void_status: "rejected" }, { provider_ref: null }]) {
      expect(OpenAuthorizations.judge(row(overrides))._tag).toBe("LeaveIt")
    }
  })

  it("says what the void came to", () => {
    expect(OpenAuthorizations.voidedDetail("it", { _tag: "Voided" })).toBe("it: voided")
    expect(OpenAuthorizations.voidedDetail("it", { _tag: "Rejected", detail: "no" })).toContain("refused to void it (no) — needs a person")
    expect(OpenAuthorizations.voidedDetail("it", { _tag: "Unavailable", detail: "timeout" })).toContain("tried again next run")
  })
})

describe("SellerOrders.unknownOrder", () => {
  const order = { orderId: "o-7", total: eur(1500) }
  const attempt = { seller_name: "Books & Co", idempotency_key: "req-1:0:s1", live_authorization: false }
  it("names the repair by how the request ended", () => {
    expect(SellerOrders.unknownOrder({ ...attempt, request_status: "purchased" }, order)).toContain("a second order — cancel it at Books & Co")
    expect(SellerOrders.unknownOrder({ ...attempt, request_status: "failed", live_authorization: true }, order)).toContain("capture it for this order, or cancel the order")
    expect(SellerOrders.unknownOrder({ ...attempt, request_status: "failed" }, order)).toContain("nothing was charged: cancel the order at Books & Co")
  })
})
