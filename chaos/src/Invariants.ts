/**
 * The invariant checker: reads bookbroker's database (purchase requests), the payment ledger
 * (the sandbox's own `sandbox_payments`) and the simulated sellers' own order books, and counts
 * every way money or books could have gone wrong. `check` is pure (unit-tested against
 * hand-made violating data); `readDatabase` gathers its input from a database URL.
 */
import pg from "pg"
import type { FleetOrder } from "./Fleet.js"

export interface RequestRecord {
  readonly id: string
  readonly status: string
  /** The most the customer agreed to pay (minor units), after any accepted counter-offer. */
  readonly maxAmount: number
  readonly finalAmount: number | null
  readonly orderId: string | null
}

/** One payment in the provider's own records (sandbox ledger, or a fake Stripe's). */
export interface PaymentRecord {
  readonly id: string
  readonly requestId: string
  readonly authorized: number
  readonly captured: number
  /** `authorized` means money still held: an open authorization. */
  readonly status: string
}

/** One order in a seller's own order book. */
/** An order from a simulated seller's own book. */
export type SellerOrder = FleetOrder

export interface CheckInput {
  readonly requests: ReadonlyArray<RequestRecord>
  readonly payments: ReadonlyArray<PaymentRecord>
  readonly orders: ReadonlyArray<SellerOrder>
  /** Calls the simulated sellers received over their rate or concurrency limits. */
  readonly sellerViolations?: { readonly rate: number; readonly concurrency: number }
}

export const invariants = [
  /** More than one seller order for one purchase request (a double purchase). */
  "ordersPerRequest",
  /** Money captured for a request no seller has an order for. */
  "captureWithoutOrder",
  /** A seller order whose request captured nothing (a book given away). */
  "orderWithoutCapture",
  /** Captured amount differs from the seller's order total. */
  "captureNotOrderTotal",
  /** A capture above its authorization, or above the customer's maximum. */
  "capturedOverAuthorized",
  /** An authorization still holding the customer's money after the run. */
  "authorizationOpen",
  /** A request not in a terminal status after the run. */
  "requestNotTerminal",
  /** bookbroker's outcome disagrees with the seller's book: purchased without an order, an order for a request not purchased or unknown. */
  "outcomeMismatch",
  /** Calls over a seller's declared rate or concurrency limit. */
  "sellerLimitViolations"
] as const
export type Invariant = (typeof invariants)[number]

export interface Report {
  readonly requests: number
  readonly orders: number
  readonly payments: number
  readonly statuses: Readonly<Record<string, number>>
  readonly counts: Readonly<Record<Invariant, number>>
  /** Up to five examples per broken invariant. */
  readonly examples: Readonly<Record<Invariant, ReadonlyArray<string>>>
  /** The sum of all counts: 0 when everything holds. */
  readonly violations: number
}

const terminal = new Set(["purchased", "price_not_met", "not_available", "failed"])

export const check = (input: CheckInput): Report => {
  const counts = Object.fromEntries(invariants.map((name) => [name, 0])) as Record<Invariant, number>
  const examples = Object.fromEntries(invariants.map((name) => [name, [] as Array<string>])) as Record<Invariant, Array<string>>
  const flag = (name: Invariant, example: string, by = 1) => {
    counts[name] += by
    if (examples[name].length < 5) examples[name].push(example)
  }

  const requests = new Map(input.requests.map((request) => [request.id, request]))
  const ordersBy = new Map<string, Array<SellerOrder>>()
  for (const order of input.orders) ordersBy.set(order.buyerReference, [...(ordersBy.get(order.buyerReference) ?? []), order])
  const paymentsBy = new Map<string, Array<PaymentRecord>>()
  for (const payment of input.payments) paymentsBy.set(payment.requestId, [...(paymentsBy.get(payment.requestId) ?? []), payment])

  const statuses: Record<string, number> = {}
  for (const request of input.requests) {
    statuses[request.status] = (statuses[request.status] ?? 0) + 1
    if (!terminal.has(request.status)) flag("requestNotTerminal", `${request.id} is ${request.status}`)
    const orders = ordersBy.get(request.id) ?? []
    if (orders.length > 1) flag("ordersPerRequest", `${request.id}: ${orders.length} orders (${orders.map((o) => `${o.seller}/${o.orderId}`).join(", ")})`)
    const payments = paymentsBy.get(request.id) ?? []
    const captured = payments.reduce((sum, payment) => sum + payment.captured, 0)
    if (captured > 0 && orders.length === 0) flag("captureWithoutOrder", `${request.id}: captured ${captured}, no seller order`)
    if (orders.length > 0 && captured === 0) flag("orderWithoutCapture", `${request.id}: order ${orders[0]!.seller}/${orders[0]!.orderId}, nothing captured`)
    if (orders.length === 1 && captured > 0 && captured !== orders[0]!.total) {
      flag("captureNotOrderTotal", `${request.id}: captured ${captured}, order total ${orders[0]!.total}`)
    }
    if (captured > request.maxAmount) flag("capturedOverAuthorized", `${request.id}: captured ${captured} > customer maximum ${request.maxAmount}`)
    if (request.status === "purchased" && orders.length === 0) flag("outcomeMismatch", `${request.id}: purchased, but no seller has an order`)
    if (request.status === "purchased" && orders.length > 0 && request.orderId !== null && !orders.some((o) => o.orderId === request.orderId)) {
      flag("outcomeMismatch", `${request.id}: purchased as order ${request.orderId}, sellers hold ${orders.map((o) => o.orderId).join(", ")}`)
    }
    if (request.status !== "purchased" && orders.length > 0) flag("outcomeMismatch", `${request.id}: ${request.status}, but ${orders[0]!.seller} has order ${orders[0]!.orderId}`)
  }
  for (const [reference, orders] of ordersBy) {
    if (!requests.has(reference)) flag("outcomeMismatch", `order ${orders[0]!.seller}/${orders[0]!.orderId} for unknown request ${reference}`)
  }
  for (const payment of input.payments) {
    if (payment.captured > payment.authorized) flag("capturedOverAuthorized", `payment ${payment.id} (${payment.requestId}): captured ${payment.captured} > authorized ${payment.authorized}`)
    if (payment.status === "authorized") flag("authorizationOpen", `payment ${payment.id} (${payment.requestId}): ${payment.authorized} still authorized`)
  }
  const sellerViolations = (input.sellerViolations?.rate ?? 0) + (input.sellerViolations?.concurrency ?? 0)
  if (sellerViolations > 0) {
    flag("sellerLimitViolations", `rate ${input.sellerViolations?.rate ?? 0}, concurrency ${input.sellerViolations?.concurrency ?? 0}`, sellerViolations)
  }
  return {
    requests: input.requests.length,
    orders: input.orders.length,
    payments: input.payments.length,
    statuses,
    counts,
    examples,
    violations: Object.values(counts).reduce((sum, count) => sum + count, 0)
  }
}

/** Requests and the sandbox payment ledger, as the database holds them. */
export const readDatabase = async (url: string): Promise<Pick<CheckInput, "requests" | "payments">> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const requests = await client.query<{ id: string; status: string; max_amount: string; final_amount: string | null; order_id: string | null }>(
      "SELECT id, status, max_amount, final_amount, order_id FROM purchase_requests"
    )
    const payments = await client.query<{ id: string; request_id: string; authorized: string; captured: string; status: string }>(
      "SELECT id, request_id, authorized, captured, status FROM sandbox_payments"
    )
    return {
      requests: requests.rows.map((row) => ({
        id: row.id,
        status: row.status,
        maxAmount: Number(row.max_amount),
        finalAmount: row.final_amount === null ? null : Number(row.final_amount),
        orderId: row.order_id
      })),
      payments: payments.rows.map((row) => ({
        id: row.id,
        requestId: row.request_id,
        authorized: Number(row.authorized),
        captured: Number(row.captured),
        status: row.status
      }))
    }
  } finally {
    await client.end()
  }
}

/** Reads everything and checks it. */
export const checkAll = async (options: {
  readonly databaseUrl: string
  readonly orders: ReadonlyArray<SellerOrder>
  readonly sellerViolations?: { readonly rate: number; readonly concurrency: number }
}): Promise<Report> => {
  const database = await readDatabase(options.databaseUrl)
  return check({ ...database, orders: options.orders, ...(options.sellerViolations === undefined ? {} : { sellerViolations: options.sellerViolations }) })
}

/** One line per broken invariant (or "0 violations"), for test output. */
export const describe = (report: Report): string => {
  const broken = invariants.filter((name) => report.counts[name] > 0)
  const head = `${report.requests} requests ${JSON.stringify(report.statuses)}, ${report.orders} seller orders, ${report.payments} payments: ${report.violations} violations`
  return [head, ...broken.map((name) => `  ${name}: ${report.counts[name]} — ${report.examples[name].join("; ")}`)].join("\n")
}
