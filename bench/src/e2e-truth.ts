/**
 * Were bookbroker's answers true? Checked against the simulated sellers' own books, not against
 * what bookbroker recorded: what each seller had of a book (the lazy catalog, `e2e-stock.ts`,
 * less what it sold before), which ISBNs it was asked to quote and when, and its orders.
 *
 * - A **false answer**: a request ended `not_available` while some seller had the book in stock
 *   and was never asked about it, or `price_not_met` while some seller had it at a total within
 *   the customer's maximum and was never asked. "Asked" counts any quote call for the ISBN from
 *   `cacheMillis` before the request was accepted (a cached answer is an answer) until it ended.
 *   `sellers_busy` is never false: it says sellers were not asked.
 * - **At the cheapest**: a purchase whose price is the lowest total among the sellers that had the
 *   book in stock when the request was accepted and answered about it cleanly (no injected
 *   error) while it was open — the cheapest *clean* in-stock seller.
 */
import { sellerShipping, stockFor, type LazyStockOptions } from "./e2e-stock.js"
import type { FleetAsked, FleetOrder } from "./support.js"

export interface FinishedRequest {
  readonly id: string
  readonly isbn: string
  readonly status: string
  readonly maxMinor: number
  readonly finalMinor: number | null
  /** Epoch ms. */
  readonly createdAt: number
  readonly completedAt: number
}

export interface Truth {
  /** Requests whose outcome a seller never asked contradicts, with one such seller each. */
  readonly falseAnswers: ReadonlyArray<{ readonly id: string; readonly status: string; readonly seller: string; readonly total: number; readonly max: number }>
  readonly purchases: number
  readonly purchasesAtCheapest: number
  /** Purchases above the cheapest in-stock total: how much above, at most. */
  readonly worstOverpayMinor: number
  /**
   * Of the purchases above the cheapest, those where every cheaper seller's last copy went to
   * another order while this request was open: it raced another request for it, and lost.
   */
  readonly overpaidRaced: number
  /** The purchases above the cheapest that did not race for its copies: the request, the cheapest seller and its total, what was paid. */
  readonly overpaidUnraced: ReadonlyArray<{ readonly id: string; readonly seller: string; readonly total: number; readonly paid: number }>
}

/** Index of calls about which ISBN: seller → ISBN → times. */
const index = (asked: FleetAsked, which: "asked" | "answered"): Array<Map<string, Array<number>>> =>
  asked.sellers.map((seller) => {
    const byIsbn = new Map<string, Array<number>>()
    for (const [isbn, at] of seller[which]) {
      const times = byIsbn.get(isbn)
      if (times === undefined) byIsbn.set(isbn, [at])
      else times.push(at)
    }
    return byIsbn
  })

export const check = (
  requests: ReadonlyArray<FinishedRequest>,
  fleet: { readonly asked: FleetAsked; readonly orders: ReadonlyArray<FleetOrder> },
  stock: LazyStockOptions,
  cacheMillis: number
): Truth => {
  const askedIndex = index(fleet.asked, "asked")
  const answeredIndex = index(fleet.asked, "answered")
  const sellerIndex = new Map(fleet.asked.sellers.map((seller, index) => [seller.name, index]))
  const sold = new Map<string, Array<{ at: number; quantity: number }>>()
  for (const order of fleet.orders) {
    if (order.isbn === undefined) continue
    const key = `${sellerIndex.get(order.seller)}|${order.isbn}`
    const list = sold.get(key) ?? []
    list.push({ at: order.placedAt ?? 0, quantity: order.quantity ?? 1 })
    sold.set(key, list)
  }
  const stockers = fleet.asked.sellers.map((_, index) => stockFor(stock, index))
  /** What the seller had of the ISBN at `at`: its catalog quantity less what it sold before then. */
  const inStockAt = (seller: number, isbn: string, at: number) => {
    const item = stockers[seller]!(isbn)
    if (item === undefined) return undefined
    const before = (sold.get(`${seller}|${isbn}`) ?? []).filter((order) => order.at < at).reduce((sum, order) => sum + order.quantity, 0)
    return item.quantity - before > 0 ? { total: item.price + sellerShipping(stock.seed, seller) } : undefined
  }
  const within = (times: ReadonlyArray<number> | undefined, from: number, to: number) => (times ?? []).some((at) => at >= from && at <= to)
  const wasAsked = (seller: number, isbn: string, from: number, to: number) => within(askedIndex[seller]!.get(isbn), from, to)
  const answeredCleanly = (seller: number, isbn: string, from: number, to: number) => within(answeredIndex[seller]!.get(isbn), from, to)

  const falseAnswers: Array<Truth["falseAnswers"][number]> = []
  let purchases = 0
  let purchasesAtCheapest = 0
  let worstOverpayMinor = 0
  let overpaidRaced = 0
  const overpaidUnraced: Array<Truth["overpaidUnraced"][number]> = []
  for (const request of requests) {
    if (request.status === "not_available" || request.status === "price_not_met") {
      for (let seller = 0; seller < stockers.length; seller++) {
        const had = inStockAt(seller, request.isbn, request.createdAt)
        if (had === undefined) continue
        if (request.status === "price_not_met" && had.total > request.maxMinor) continue
        if (wasAsked(seller, request.isbn, request.createdAt - cacheMillis, request.completedAt)) continue
        falseAnswers.push({ id: request.id, status: request.status, seller: fleet.asked.sellers[seller]!.name, total: had.total, max: request.maxMinor })
        break
      }
    }
    if (request.status === "purchased" && request.finalMinor !== null) {
      purchases += 1
      let cheapest = Number.POSITIVE_INFINITY
      let cheapestSeller = -1
      const cheaper: Array<number> = []
      for (let seller = 0; seller < stockers.length; seller++) {
        const had = inStockAt(seller, request.isbn, request.createdAt)
        if (had !== undefined && answeredCleanly(seller, request.isbn, request.createdAt - cacheMillis, request.completedAt)) {
          if (had.total < cheapest) {
            cheapest = had.total
            cheapestSeller = seller
          }
          if (had.total < request.finalMinor) cheaper.push(seller)
        }
      }
      if (request.finalMinor <= cheapest) purchasesAtCheapest += 1
      else {
        worstOverpayMinor = Math.max(worstOverpayMinor, request.finalMinor - cheapest)
        // Sold out by the time the request ended (not its own order: it bought elsewhere).
        if (cheaper.every((seller) => inStockAt(seller, request.isbn, request.completedAt + 1) === undefined)) overpaidRaced += 1
        else overpaidUnraced.push({ id: request.id, seller: fleet.asked.sellers[cheapestSeller]!.name, total: cheapest, paid: request.finalMinor })
      }
    }
  }
  return { falseAnswers, purchases, purchasesAtCheapest, worstOverpayMinor, overpaidRaced, overpaidUnraced }
}
