/**
 * A simulated seller's business: stock, prices, quotes, holds, an order book with idempotency
 * keys, a paged listing of its inventory, and the ways real sellers misbehave (latency with a slow tail, server errors, hangs,
 * lost responses, price drift, stock running out, expiry, rate limits). It is protocol-free:
 * msw handlers (see `ReferenceSeller`) translate a seller's wire API onto it, so every
 * simulated seller shares one tested model, and the conformance kit can steer any of them.
 */
import { seeded, logNormal } from "./Random.js"

export interface StockItem {
  readonly isbn: string
  /** Item price in minor units. */
  readonly price: number
  /** Shipping in minor units; default 0. */
  readonly shipping?: number
  readonly quantity: number
  readonly condition?: "new" | "like_new" | "very_good" | "good" | "acceptable"
}

export type SimulatedOperation = "quote" | "hold" | "release" | "purchase" | "lookupOrder" | "inventory"

/** What can go wrong on one call, by choice of a test (`inject`) or by chance (rates). */
export type FaultKind =
  | "server_error"
  | "hang"
  | "lost_response"
  | "commit_then_hang"
  | "malformed"
  | "rate_limited"
  | "out_of_stock"
  | "price_changed"
  /** 409: "a request with this idempotency key is in progress" — not an answer about the key. */
  | "in_progress"
  /** The order is placed and confirmed at a higher price than the hold or quote it came from (+ 5.00). */
  | "overcharge"

/** How a seller answers replays of a purchase whose first answer was lost: it refuses to process them. */
export type ReplayRefusal = "rate_limited" | "in_progress"

export interface Fault {
  readonly operation: SimulatedOperation | "any"
  readonly kind: FaultKind
  /** How many calls it hits; default 1. */
  readonly times?: number
}

export interface SellerSimulatorOptions {
  readonly name?: string
  readonly currency?: string
  readonly stock?: Iterable<StockItem>
  /**
   * Stock looked up on first use instead of listed up front: what the seller carries of a
   * catalog too big to list (a million ISBNs × hundreds of sellers). Called once per ISBN;
   * the answer is kept in `stock` from then on (so quantities go down as orders are placed).
   */
  readonly stockFor?: (isbn: string) => StockItem | undefined
  readonly quoteTtlMillis?: number
  readonly holdTtlMillis?: number
  /** Log-normal latency around `medianMillis`; a `tailProbability` share waits up to `tailMaxMillis`. */
  readonly latency?: { readonly medianMillis: number; readonly tailProbability?: number; readonly tailMaxMillis?: number }
  /** Share of calls answered with a server error. */
  readonly errorRate?: number
  /** Share of calls that never answer. */
  readonly hangRate?: number
  /** Share of purchases placed, then answered by a dropped connection. */
  readonly lostResponseRate?: number
  /** Share of purchases placed, then never answered (the caller's timeout is all it gets). */
  readonly commitThenHangRate?: number
  /** Share of purchases confirmed at more than the agreed price (a seller charging 5.00 extra). */
  readonly overchargeRate?: number
  /** Share of holds/purchases where the price rose since the quote, by up to `maxMinor`. */
  readonly priceDrift?: { readonly probability: number; readonly maxMinor: number }
  /** Token bucket; calls beyond it are answered 429 + Retry-After and counted as violations. */
  readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst: number }
  /** Concurrent calls beyond this are counted as violations (and still served). */
  readonly maxConcurrency?: number
  /**
   * After a purchase whose answer was lost (`lost_response`, `commit_then_hang`), the next
   * `times` replays of that idempotency key are refused with `kind` (429, or 409 "in progress")
   * instead of being answered: what real sellers do while their first try is still settling.
   */
  readonly replayRefusal?: { readonly kind: ReplayRefusal; readonly times: number }
  /** The API key the seller expects, when it checks one. */
  readonly apiKey?: string
  readonly seed?: number
}

/** A business answer the wire layer renders as the seller's own error format. */
export class SimulatedRejection extends Error {
  constructor(
    readonly code:
      | "unknown_book"
      | "out_of_stock"
      | "price_changed"
      | "quote_expired"
      | "hold_expired"
      | "unknown_quote"
      | "unknown_hold"
      | "invalid_request"
      | "unauthorized",
    readonly currentPrice?: number
  ) {
    super(code)
  }
}

export interface SimulatedQuote {
  readonly quoteId: string
  readonly isbn: string
  readonly price: number
  readonly shipping: number
  readonly quantity: number
  readonly condition: NonNullable<StockItem["condition"]>
  readonly expiresAt: number
}

export interface SimulatedHold {
  readonly holdId: string
  readonly quoteId: string
  readonly isbn: string
  readonly price: number
  readonly shipping: number
  readonly quantity: number
  readonly expiresAt: number
  /** The key it is kept under, when the hold was asked for with one. */
  readonly idempotencyKey?: string
  released: boolean
  used: boolean
}

export interface SimulatedOrder {
  readonly orderId: string
  readonly idempotencyKey: string
  readonly isbn: string
  readonly price: number
  readonly shipping: number
  readonly quantity: number
  readonly buyerReference: string
  readonly placedAt: number
}

/** One listing of the seller's inventory: its stock of one ISBN, sold out or not. */
export interface SimulatedListing {
  /** The seller's id for the listing (its SKU): `sku-{isbn}`. */
  readonly listingId: string
  readonly isbn: string
  readonly price: number
  readonly shipping: number
  readonly quantity: number
  readonly condition: NonNullable<StockItem["condition"]>
}

export interface SimulatedInventoryPage {
  readonly listings: ReadonlyArray<SimulatedListing>
  /** Opaque; `null` on the last page. */
  readonly nextCursor: string | null
}

/** What an `overcharge` adds to the agreed price. */
const overchargeMinor = 500

type PurchaseOutcome = { readonly order: SimulatedOrder } | { readonly rejection: SimulatedRejection }

export class SellerSimulator {
  readonly name: string
  readonly currency: string
  readonly apiKey: string | undefined
  readonly stock = new Map<string, { price: number; shipping: number; quantity: number; condition: NonNullable<StockItem["condition"]> }>()
  readonly quotes = new Map<string, SimulatedQuote>()
  readonly holds = new Map<string, SimulatedHold>()
  /** Every order ever placed, in order: the seller's own order book. */
  readonly orders: Array<SimulatedOrder> = []
  /** Calls received, by operation (including the ones answered with an error). */
  readonly calls: Record<SimulatedOperation, number> = { quote: 0, hold: 0, release: 0, purchase: 0, lookupOrder: 0, inventory: 0 }
  /** Calls that arrived over the rate limit or the concurrency limit. Must stay 0 behind bookbroker. */
  readonly violations = { rate: 0, concurrency: 0 }
  /** ISBNs asked for, per quote call (to see batching). */
  readonly quoteCalls: Array<ReadonlyArray<string>> = []
  inFlight = 0
  maxInFlight = 0

  private options: SellerSimulatorOptions
  private readonly random: () => number
  private readonly faults: Array<{ operation: Fault["operation"]; kind: FaultKind; remaining: number }> = []
  private readonly outcomes = new Map<string, PurchaseOutcome>()
  /** The hold each hold idempotency key took last. */
  private readonly holdsByKey = new Map<string, string>()
  private readonly hangs = new Set<() => void>()
  private readonly looked = new Set<string>()
  private readonly refusals = new Map<string, { kind: ReplayRefusal; remaining: number }>()
  private offsetMillis = 0
  private sequence = 0
  private tokens: number
  private refilledAt: number

  constructor(options: SellerSimulatorOptions = {}) {
    this.options = options
    this.name = options.name ?? "simulated-seller"
    this.currency = options.currency ?? "EUR"
    this.apiKey = options.apiKey
    this.random = seeded(options.seed ?? 42)
    for (const item of options.stock ?? []) this.setStock(item)
    this.tokens = options.rateLimit?.burst ?? 0
    this.refilledAt = this.now()
  }

  /** The seller's clock: real time plus whatever `advance` added. */
  now(): number {
    return Date.now() + this.offsetMillis
  }

  /** Moves the seller's clock forward (to expire quotes and holds). */
  advance(millis: number): void {
    this.offsetMillis += millis
  }

  /** The seller's stock of one ISBN (asking `stockFor` the first time), or undefined. */
  stockItem(isbn: string) {
    const known = this.stock.get(isbn)
    if (known !== undefined || this.options.stockFor === undefined || this.looked.has(isbn)) return known
    this.looked.add(isbn)
    const item = this.options.stockFor(isbn)
    if (item === undefined) return undefined
    this.setStock(item)
    return this.stock.get(isbn)
  }

  setStock(item: StockItem): void {
    this.stock.set(item.isbn, {
      price: item.price,
      shipping: item.shipping ?? 0,
      quantity: item.quantity,
      condition: item.condition ?? "new"
    })
  }

  /** Makes the next matching call(s) fail in the given way. */
  inject(fault: Fault): void {
    this.faults.push({ operation: fault.operation, kind: fault.kind, remaining: fault.times ?? 1 })
  }

  /** The fault for this call, if any: injected first, then by chance. */
  takeFault(operation: SimulatedOperation): FaultKind | undefined {
    const index = this.faults.findIndex((fault) => fault.operation === operation || fault.operation === "any")
    if (index >= 0) {
      const fault = this.faults[index]!
      fault.remaining -= 1
      if (fault.remaining <= 0) this.faults.splice(index, 1)
      return fault.kind
    }
    const { errorRate = 0, hangRate = 0, lostResponseRate = 0, commitThenHangRate = 0, overchargeRate = 0 } = this.options
    const roll = this.random()
    if (roll < hangRate) return "hang"
    if (roll < hangRate + errorRate) return "server_error"
    if (operation === "purchase") {
      const after = this.random()
      if (after < lostResponseRate) return "lost_response"
      if (after < lostResponseRate + commitThenHangRate) return "commit_then_hang"
      if (after < lostResponseRate + commitThenHangRate + overchargeRate) return "overcharge"
    }
    return undefined
  }

  /** Takes a rate-limit token; `undefined` when allowed, else the seconds to wait. */
  admit(): number | undefined {
    const limit = this.options.rateLimit
    if (limit === undefined) return undefined
    const now = this.now()
    this.tokens = Math.min(limit.burst, this.tokens + ((now - this.refilledAt) / 1000) * limit.requestsPerSecond)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return undefined
    }
    this.violations.rate += 1
    return Math.max(1, Math.ceil((1 - this.tokens) / limit.requestsPerSecond))
  }

  /** Marks a call in flight; returns the function that marks it done. */
  enter(): () => void {
    this.inFlight += 1
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    if (this.options.maxConcurrency !== undefined && this.inFlight > this.options.maxConcurrency) this.violations.concurrency += 1
    return () => {
      this.inFlight -= 1
    }
  }

  /** Changes how long calls take from now on (`undefined`: at once). */
  setLatency(latency: SellerSimulatorOptions["latency"]): void {
    const { latency: _previous, ...rest } = this.options
    this.options = latency === undefined ? rest : { ...rest, latency }
  }

  /** How long this call takes, from the latency options. */
  sampleLatency(): number {
    const latency = this.options.latency
    if (latency === undefined) return 0
    if (latency.tailProbability !== undefined && this.random() < latency.tailProbability) {
      return latency.medianMillis + this.random() * ((latency.tailMaxMillis ?? latency.medianMillis * 10) - latency.medianMillis)
    }
    return logNormal(this.random, latency.medianMillis)
  }

  /** A promise that never settles until `close()`: a seller that stopped answering. */
  hang(): Promise<void> {
    return new Promise((resolve) => this.hangs.add(resolve))
  }

  /** Lets hung calls go (servers call this when they shut down). */
  close(): void {
    for (const resolve of this.hangs) resolve()
    this.hangs.clear()
  }

  checkApiKey(presented: string | null | undefined): void {
    if (this.apiKey !== undefined && presented !== this.apiKey) throw new SimulatedRejection("unauthorized")
  }

  quote(isbn: string): SimulatedQuote | { readonly unavailable: "out_of_stock" } {
    const item = this.stockItem(isbn)
    if (item === undefined) throw new SimulatedRejection("unknown_book")
    if (item.quantity <= 0) return { unavailable: "out_of_stock" }
    const quote: SimulatedQuote = {
      quoteId: this.id("q"),
      isbn,
      price: item.price,
      shipping: item.shipping,
      quantity: item.quantity,
      condition: item.condition,
      expiresAt: this.now() + (this.options.quoteTtlMillis ?? 60_000)
    }
    this.quotes.set(quote.quoteId, quote)
    return quote
  }

  /**
   * Reserves a quoted copy. With an idempotency key the seller keeps one hold per key: a replay
   * while that hold still reserves its copy (used by an order counts) answers the same hold; once
   * it was released or expired, the key takes a new one. A replay for another quote is refused.
   */
  hold(quoteId: string, quantity: number, fault?: FaultKind, idempotencyKey?: string): SimulatedHold {
    if (idempotencyKey !== undefined) {
      const kept = this.holds.get(this.holdsByKey.get(idempotencyKey) ?? "")
      if (kept !== undefined) {
        if (kept.quoteId !== quoteId || kept.quantity !== quantity) throw new SimulatedRejection("invalid_request")
        if (kept.used || (!kept.released && kept.expiresAt > this.now())) return kept
      }
    }
    const quote = this.quotes.get(quoteId)
    if (quote === undefined) throw new SimulatedRejection("unknown_quote")
    if (quote.expiresAt <= this.now()) throw new SimulatedRejection("quote_expired")
    const item = this.stockItem(quote.isbn)
    if (item === undefined || item.quantity < quantity || fault === "out_of_stock") throw new SimulatedRejection("out_of_stock")
    this.drift(quote.isbn, fault)
    const price = this.stockItem(quote.isbn)!.price
    item.quantity -= quantity
    const hold: SimulatedHold = {
      holdId: this.id("h"),
      quoteId,
      isbn: quote.isbn,
      price,
      shipping: quote.shipping,
      quantity,
      expiresAt: this.now() + (this.options.holdTtlMillis ?? 120_000),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      released: false,
      used: false
    }
    this.holds.set(hold.holdId, hold)
    if (idempotencyKey !== undefined) this.holdsByKey.set(idempotencyKey, hold.holdId)
    return hold
  }

  release(holdId: string): void {
    const hold = this.holds.get(holdId)
    if (hold === undefined) throw new SimulatedRejection("unknown_hold")
    if (hold.released || hold.used) return
    hold.released = true
    const item = this.stockItem(hold.isbn)
    if (item !== undefined) item.quantity += hold.quantity
  }

  /**
   * Places an order from a hold or (sellers without holds) a quote. The first outcome for an
   * idempotency key — order or rejection — is the answer to every replay of that key.
   */
  purchase(
    request: { readonly idempotencyKey: string; readonly buyerReference: string } & ({ readonly holdId: string } | { readonly quoteId: string }),
    fault?: FaultKind
  ): SimulatedOrder {
    if ((fault === "lost_response" || fault === "commit_then_hang") && this.options.replayRefusal !== undefined) {
      this.refuseReplays(request.idempotencyKey, this.options.replayRefusal.kind, this.options.replayRefusal.times)
    }
    const previous = this.outcomes.get(request.idempotencyKey)
    if (previous !== undefined) {
      if ("order" in previous) return previous.order
      throw previous.rejection
    }
    try {
      const order = "holdId" in request ? this.purchaseHold(request.holdId, request, fault) : this.purchaseQuote(request.quoteId, request, fault)
      this.outcomes.set(request.idempotencyKey, { order })
      this.orders.push(order)
      return order
    } catch (error) {
      if (error instanceof SimulatedRejection && error.code !== "unauthorized" && error.code !== "invalid_request") {
        this.outcomes.set(request.idempotencyKey, { rejection: error })
      }
      throw error
    }
  }

  /**
   * Refuse this replay? Takes one of the refusals armed for the key by a lost answer
   * (`replayRefusal`, or `refuseReplays`); the wire layer answers it as 429 or 409.
   */
  takeReplayRefusal(idempotencyKey: string): ReplayRefusal | undefined {
    const refusal = this.refusals.get(idempotencyKey)
    if (refusal === undefined) return undefined
    refusal.remaining -= 1
    if (refusal.remaining <= 0) this.refusals.delete(idempotencyKey)
    return refusal.kind
  }

  /** Makes the next `times` replays of an idempotency key be refused with `kind`. */
  refuseReplays(idempotencyKey: string, kind: ReplayRefusal, times: number): void {
    if (times > 0) this.refusals.set(idempotencyKey, { kind, remaining: times })
  }

  lookupOrder(idempotencyKey: string): SimulatedOrder | undefined {
    const outcome = this.outcomes.get(idempotencyKey)
    return outcome !== undefined && "order" in outcome ? outcome.order : undefined
  }

  /**
   * One page of the seller's inventory: up to `limit` listings from `cursor` (`null`: the
   * start), sold-out ones included with quantity 0. The order is the order stock was first set
   * (or looked up with `stockFor`) and a listing never leaves it, so the cursor — an opaque
   * offset — stays good while stock changes: new books come at the end. Only stock already set
   * or looked up is listed: a seller built on `stockFor` lists what it has been asked about.
   */
  inventory(cursor: string | null, limit: number): SimulatedInventoryPage {
    if (!Number.isInteger(limit) || limit < 1) throw new SimulatedRejection("invalid_request")
    const offset = cursor === null ? 0 : this.offsetOf(cursor)
    const items = [...this.stock].slice(offset, offset + limit)
    const next = offset + items.length
    return {
      listings: items.map(([isbn, item]) => ({ listingId: `sku-${isbn}`, isbn, price: item.price, shipping: item.shipping, quantity: Math.max(0, item.quantity), condition: item.condition })),
      nextCursor: next < this.stock.size ? btoa(`offset:${next}`) : null
    }
  }

  /** Orders placed per buyer reference: more than one is a double purchase. */
  ordersByBuyer(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const order of this.orders) counts.set(order.buyerReference, (counts.get(order.buyerReference) ?? 0) + 1)
    return counts
  }

  private purchaseHold(holdId: string, request: { idempotencyKey: string; buyerReference: string }, fault?: FaultKind): SimulatedOrder {
    const hold = this.holds.get(holdId)
    if (hold === undefined) throw new SimulatedRejection("unknown_hold")
    if (hold.used || hold.released || hold.expiresAt <= this.now()) throw new SimulatedRejection("hold_expired")
    if (fault === "out_of_stock") throw new SimulatedRejection("out_of_stock")
    hold.used = true
    return this.placeOrder(hold.isbn, hold.price + (fault === "overcharge" ? overchargeMinor : 0), hold.shipping, hold.quantity, request)
  }

  private purchaseQuote(quoteId: string, request: { idempotencyKey: string; buyerReference: string }, fault?: FaultKind): SimulatedOrder {
    const quote = this.quotes.get(quoteId)
    if (quote === undefined) throw new SimulatedRejection("unknown_quote")
    if (quote.expiresAt <= this.now()) throw new SimulatedRejection("quote_expired")
    const item = this.stockItem(quote.isbn)
    if (item === undefined || item.quantity < 1 || fault === "out_of_stock") throw new SimulatedRejection("out_of_stock")
    this.drift(quote.isbn, fault)
    if (item.price !== quote.price) throw new SimulatedRejection("price_changed", item.price)
    item.quantity -= 1
    return this.placeOrder(quote.isbn, quote.price + (fault === "overcharge" ? overchargeMinor : 0), quote.shipping, 1, request)
  }

  private drift(isbn: string, fault?: FaultKind): void {
    const item = this.stockItem(isbn)
    const drift = this.options.priceDrift
    if (item === undefined) return
    if (fault === "price_changed" || (drift !== undefined && this.random() < drift.probability)) {
      item.price += 1 + Math.floor(this.random() * (drift?.maxMinor ?? 100))
    }
  }

  private placeOrder(isbn: string, price: number, shipping: number, quantity: number, request: { idempotencyKey: string; buyerReference: string }): SimulatedOrder {
    return {
      orderId: this.id("o"),
      idempotencyKey: request.idempotencyKey,
      isbn,
      price,
      shipping,
      quantity,
      buyerReference: request.buyerReference,
      placedAt: this.now()
    }
  }

  /** The offset a cursor of `inventory` stands for; anything else is an invalid request. */
  private offsetOf(cursor: string): number {
    let decoded: string
    try {
      decoded = atob(cursor)
    } catch {
      throw new SimulatedRejection("invalid_request")
    }
    const match = /^offset:(\d{1,9})$/.exec(decoded)
    const offset = match === null ? NaN : Number(match[1])
    if (!(offset > 0 && offset <= this.stock.size)) throw new SimulatedRejection("invalid_request")
    return offset
  }

  private id(prefix: string): string {
    this.sequence += 1
    return `${prefix}-${this.name}-${this.sequence}`
  }
}
