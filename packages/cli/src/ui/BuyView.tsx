/**
 * `bookbroker buy` live: the request's status as it moves, the sellers that answered and their
 * offers, the purchase attempts, and the outcome — the price, seller and order, or the
 * counter-offer and the exact command that accepts it.
 *
 * The service records what happened as an ordered list of events; the ink view draws sections
 * from them and the plain view prints one line per event (so piped output is a clean log).
 */
import { Box, Text } from "ink"
import type { Attempt, BookOffer, PurchaseRequest, PurchaseStatus, SellerOutcome } from "../Api.js"
import { money, millis, type MoneyLike } from "./Format.js"
import type { View } from "./Render.js"

export type BuyEvent =
  | { readonly _tag: "Submitted"; readonly id: string }
  | { readonly _tag: "Status"; readonly status: PurchaseStatus; readonly atMillis: number }
  | { readonly _tag: "Sellers"; readonly sellers: ReadonlyArray<SellerOutcome>; readonly offers: ReadonlyArray<BookOffer>; readonly durationMillis: number }
  | { readonly _tag: "SellersFailed"; readonly message: string }
  | { readonly _tag: "Attempt"; readonly attempt: Attempt }
  | { readonly _tag: "Outcome"; readonly request: PurchaseRequest; readonly sellerName: string | null }

export interface BuyViewProps {
  readonly isbn: string
  readonly maxPrice: MoneyLike
  readonly events: ReadonlyArray<BuyEvent>
  readonly elapsedMillis: number
}

/** The command that accepts a counter-offer. */
export const acceptCommand = (id: string) => `bookbroker requests accept ${id}`

const statusWords: Record<string, string> = {
  received: "received",
  authorized: "payment authorised",
  quoting: "asking sellers",
  deciding: "choosing the cheapest offer",
  purchasing: "buying",
  purchased: "purchased",
  price_not_met: "price not met",
  not_available: "not available",
  sellers_busy: "sellers busy",
  failed: "failed",
  watching: "watching for a copy within your maximum",
  expired: "expired: no copy was found in time",
  cancelled: "cancelled"
}

const reasonWords: Record<string, string> = {
  not_carried: "does not carry it",
  out_of_stock: "out of stock",
  timeout: "timed out",
  straggler: "too slow, not waited for",
  deadline: "no answer by the deadline",
  circuit_open: "skipped (circuit open)",
  rate_limited: "not asked yet (its request limit was full)",
  concurrency: "not asked yet (too many calls in flight)",
  backoff: "not asked yet (it asked us to slow down)",
  queued: "not asked yet (waiting behind other requests)",
  error: "error"
}

const describeStatus = (status: string) => statusWords[status] ?? status.replaceAll("_", " ")

const sellerLine = (seller: SellerOutcome, offer: BookOffer | undefined) =>
  offer !== undefined
    ? `${money(offer.total)}${offer.shipping.amount > 0 ? ` (incl. ${money(offer.shipping)} shipping)` : ""}`
    : seller.reason === null
      ? seller.status.replaceAll("_", " ")
      : (reasonWords[seller.reason] ?? `${seller.status.replaceAll("_", " ")}: ${seller.reason}`)

const attemptWords: Record<string, string> = {
  holding: "holding a copy",
  held: "copy held",
  purchasing: "ordering",
  unknown: "order outcome unknown, checking",
  confirmed: "order confirmed",
  failed: "failed"
}

/** Attempts still `pending` are candidates not tried yet, `not_tried` ones never were: neither is shown. */
export const tried = (attempt: Attempt) => attempt.status !== "pending" && attempt.status !== "not_tried"

const attemptLine = (attempt: Attempt) =>
  `attempt #${attempt.rank + 1} ${attempt.seller_name}: ${attemptWords[attempt.status] ?? attempt.status.replaceAll("_", " ")}${attempt.total === null ? "" : ` at ${money(attempt.total)}`}${attempt.reason === null ? "" : ` (${attempt.reason})`}`

/** The outcome as lines (first line is the headline). */
export const outcomeLines = (request: PurchaseRequest, sellerName: string | null): ReadonlyArray<string> => {
  const seller = sellerName ?? request.seller_id ?? "the seller"
  switch (request.status) {
    case "purchased":
      return [
        `✓ purchased from ${seller} for ${money(request.final_price)}${request.order_id === null ? "" : ` — order ${request.order_id}`}`,
        ...(request.seller_price === null || request.seller_price === undefined
          ? []
          : [`  the seller charged ${money(request.seller_price)}, converted at ${(request.exchange_rates ?? []).map((rate) => `1 ${rate.from} = ${rate.rate} ${rate.to} + ${rate.margin_percent} % (${rate.date})`).join(", ")}`])
      ]
    case "price_not_met": {
      const offer = request.counter_offer
      if (offer === null) return [`✗ price not met: no offer within ${money(request.max_price)}${request.reason === null ? "" : ` (${request.reason})`}`]
      return [
        `✗ price not met: the best offer is ${money(offer.price)} from ${offer.seller_name}, above your ${money(request.max_price)}`,
        `  counter-offer: ${money(offer.price)} from ${offer.seller_name}, valid until ${new Date(offer.expires_at).toLocaleTimeString("en-GB")}`,
        `  accept it with: ${acceptCommand(request.id)}`
      ]
    }
    case "not_available": {
      const other = request.reason?.match(/^offered_in_other_currency: (.*); not comparable with \w+ prices$/)
      if (other != null) {
        return [
          `✗ not available in ${request.max_price.currency}: offered only in another currency — ${other[1]}`,
          `  without exchange rates those prices cannot be compared with yours: buy in that currency (--currency) if you can pay in it`
        ]
      }
      return [`✗ not available: no seller has this book right now${request.reason === null ? "" : ` (${request.reason})`}`]
    }
    case "sellers_busy":
      return [
        `✗ sellers busy: ${request.reason ?? "some sellers could not be asked in time"} — nothing was charged`,
        `  they may have it: try again in a little while, or give more time with --answer-within`
      ]
    case "failed":
      return [`✗ failed${request.reason === null ? "" : `: ${request.reason}`} — nothing was charged`, `  details: bookbroker requests show ${request.id}`]
    case "watching":
      return [
        `◷ watching: nothing within ${money(request.max_price)} right now${request.wait_until === null ? "" : ` — bookbroker buys the first copy listed within it until ${request.wait_until}`}`,
        ...(request.waiting === null ? [] : [`  ${request.waiting}`]),
        `  follow it with: bookbroker requests show ${request.id}`,
        `  cancel it with: bookbroker requests cancel ${request.id}`
      ]
    case "expired":
      return [`✗ expired: no copy within ${money(request.max_price)} was found by ${request.wait_until ?? "its end"} — nothing was charged`]
    case "cancelled":
      return [`✗ cancelled while watching — nothing was charged`]
    default:
      return [`… ${describeStatus(request.status)}`]
  }
}

export const buyLines = (props: BuyViewProps): ReadonlyArray<string> => {
  const lines: Array<string> = []
  for (const event of props.events) {
    switch (event._tag) {
      case "Submitted":
        lines.push(`buying ${props.isbn} for at most ${money(props.maxPrice)} — request ${event.id}`)
        break
      case "Status":
        lines.push(`  ${(event.atMillis / 1000).toFixed(1).padStart(5)} s  ${describeStatus(event.status)}`)
        break
      case "Sellers": {
        const offering = event.sellers.filter((seller) => seller.status === "offer").length
        lines.push(`  ${event.sellers.length} sellers answered in ${millis(event.durationMillis)}, ${offering} with an offer:`)
        const width = Math.max(0, ...event.sellers.map((seller) => seller.seller_name.length))
        for (const seller of event.sellers) {
          const offer = event.offers.find((candidate) => candidate.seller_id === seller.seller_id)
          lines.push(`    ${offer === undefined ? "·" : "$"} ${seller.seller_name.padEnd(width)}  ${sellerLine(seller, offer)}`)
        }
        break
      }
      case "SellersFailed":
        lines.push(`  (could not list the sellers' offers: ${event.message})`)
        break
      case "Attempt":
        if (tried(event.attempt)) lines.push(`  ${attemptLine(event.attempt)}`)
        break
      case "Outcome":
        lines.push(...outcomeLines(event.request, event.sellerName))
        break
    }
  }
  return lines
}

const latest = <T extends BuyEvent["_tag"]>(events: ReadonlyArray<BuyEvent>, tag: T): Extract<BuyEvent, { _tag: T }> | undefined =>
  events.findLast((event): event is Extract<BuyEvent, { _tag: T }> => event._tag === tag)

const spinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

export const BuyView = (props: BuyViewProps) => {
  const submitted = latest(props.events, "Submitted")
  const statuses = props.events.filter((event): event is Extract<BuyEvent, { _tag: "Status" }> => event._tag === "Status")
  const sellers = latest(props.events, "Sellers")
  const sellersFailed = latest(props.events, "SellersFailed")
  const outcome = latest(props.events, "Outcome")
  const attempts = new Map<string, Attempt>()
  for (const event of props.events) if (event._tag === "Attempt" && tried(event.attempt)) attempts.set(`${event.attempt.rank}:${event.attempt.seller_id}`, event.attempt)
  const spinner = spinnerFrames[Math.floor(props.elapsedMillis / 100) % spinnerFrames.length]
  const cheapest = sellers?.offers[0]
  const width = Math.max(0, ...(sellers?.sellers ?? []).map((seller) => seller.seller_name.length))
  const answerWidth = Math.max(0, ...(sellers?.sellers ?? []).map((seller) => sellerLine(seller, sellers?.offers.find((offer) => offer.seller_id === seller.seller_id)).length))
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>buying {props.isbn}</Text> for at most <Text bold>{money(props.maxPrice)}</Text>
        {submitted === undefined ? <Text dimColor> — submitting…</Text> : <Text dimColor> — request {submitted.id}</Text>}
      </Text>
      <Text>
        {outcome === undefined ? <Text color="cyan">{spinner} </Text> : null}
        {statuses.map((event, index) => (
          <Text key={index}>
            {index > 0 ? <Text dimColor> → </Text> : null}
            <Text bold={index === statuses.length - 1}>{describeStatus(event.status)}</Text>
          </Text>
        ))}
        <Text dimColor> ({(props.elapsedMillis / 1000).toFixed(1)} s)</Text>
      </Text>
      <Box flexDirection="column" marginTop={1}>
        {sellers === undefined ? (
          sellersFailed === undefined ? (
            <Text dimColor>{outcome === undefined ? "asking sellers…" : "sellers' offers not shown"}</Text>
          ) : (
            <Text color="yellow">could not list the sellers' offers: {sellersFailed.message}</Text>
          )
        ) : (
          <>
            <Text>
              <Text bold>sellers</Text>
              <Text dimColor>
                {" "}
                {sellers.sellers.length} answered in {millis(sellers.durationMillis)}, {sellers.offers.length} with an offer
              </Text>
            </Text>
            {sellers.sellers.map((seller) => {
              const offer = sellers.offers.find((candidate) => candidate.seller_id === seller.seller_id)
              const best = offer !== undefined && cheapest !== undefined && offer.seller_id === cheapest.seller_id
              return (
                <Text key={seller.seller_id}>
                  {"  "}
                  {offer === undefined ? <Text dimColor>·</Text> : <Text color="green">$</Text>} {seller.seller_name.padEnd(width + 1)}
                  {offer === undefined ? <Text dimColor>{sellerLine(seller, offer).padEnd(answerWidth)}</Text> : <Text bold={best}>{sellerLine(seller, offer).padEnd(answerWidth)}</Text>}
                  <Text dimColor> {(seller.cached ? "cached" : millis(seller.latency_ms)).padStart(7)}</Text>
                  {best ? <Text color="green"> cheapest</Text> : null}
                </Text>
              )
            })}
          </>
        )}
      </Box>
      {attempts.size === 0 ? null : (
        <Box flexDirection="column" marginTop={1}>
          <Text bold>attempts</Text>
          {[...attempts.values()].map((attempt) => (
            <Text key={`${attempt.rank}:${attempt.seller_id}`} {...(attempt.status === "confirmed" ? { color: "green" } : attempt.status === "failed" ? { color: "red" } : {})}>
              {"  "}
              {attemptLine(attempt)}
            </Text>
          ))}
        </Box>
      )}
      {outcome === undefined ? null : (
        <Box flexDirection="column" marginTop={1}>
          {outcomeLines(outcome.request, outcome.sellerName).map((line, index) => (
            <Text key={index} bold={index === 0} {...(index === 0 ? { color: outcome.request.status === "purchased" ? "green" : outcome.request.status === "price_not_met" ? "yellow" : "red" } : {})}>
              {line}
            </Text>
          ))}
        </Box>
      )}
    </Box>
  )
}

export const buyView: View<BuyViewProps> = { component: BuyView, lines: buyLines, plain: "log" }
