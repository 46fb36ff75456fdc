/**
 * `bookbroker requests list|show|accept|retry`: a customer's purchase requests (their API key),
 * or everyone's with `--operator` (the operator token); accepting a counter-offer; retrying a
 * failed request (operators).
 */
import { Duration, Effect } from "effect"
import * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import * as Input from "../Input.js"
import { outcomeLines, tried } from "../ui/BuyView.js"
import { ago, money } from "../ui/Format.js"
import type { Ui } from "../ui/Render.js"
import { detailsView, tableView, type DetailsProps, type TableProps } from "../ui/Table.js"
import { exitCodes } from "./Buy.js"

const statuses: ReadonlyArray<Api.PurchaseStatus> = ["received", "authorized", "quoting", "deciding", "purchasing", "watching", ...Api.terminalStatuses]

export interface ListOptions {
  readonly operator: boolean
  /** Only requests a person has to look at (operators). */
  readonly stuck?: boolean
  readonly status?: string
  /** Only watching wants (`--watching`: the same as `--status watching`). */
  readonly watching?: boolean
  readonly limit?: string | number
  readonly cursor?: string
}

export const listTable = (page: Api.Page<Api.PurchaseRequest>, options: { readonly operator: boolean; readonly stuck?: boolean }, now = Date.now()): TableProps => ({
  headers: ["id", "status", "isbn", "max", "price", ...(options.operator ? ["customer"] : []), "created", ...(options.stuck === true ? ["needs"] : [])],
  rows: page.items.map((request) => [
    request.id,
    request.status,
    request.isbn,
    money(request.max_price),
    request.final_price === null ? (request.counter_offer === null ? "—" : `offer ${money(request.counter_offer.price)}`) : money(request.final_price),
    ...(options.operator ? [request.customer_id ?? "—"] : []),
    ago(request.created_at, now),
    ...(options.stuck === true ? [request.attention === null || request.attention === undefined ? "—" : `${attentionWords[request.attention.kind]} (${ago(request.attention.since, now)})`] : [])
  ]),
  empty: options.stuck === true ? "nothing needs a person" : "no purchase requests",
  ...(page.next_cursor === null
    ? {}
    : { footer: [`more: bookbroker requests list${options.operator ? " --operator" : ""}${options.stuck === true ? " --stuck" : ""} --cursor ${page.next_cursor}`] })
})

/** What each attention kind asks of the operator, in a few words. */
const attentionWords: Record<NonNullable<Api.PurchaseRequest["attention"]>["kind"], string> = {
  unresolved_attempt: "ask the seller whether the order exists",
  dead_letter: "internal errors: fix, then requests retry",
  order_mismatch: "settle the order's terms with the seller"
}

export const list = (api: Api.Api, ui: Ui, options: ListOptions): Effect.Effect<Api.Page<Api.PurchaseRequest>, CliError> =>
  Effect.gen(function* () {
    if (options.watching === true && options.status !== undefined && options.status !== "watching") {
      return yield* Effect.fail(fail(`--watching lists watching wants; it cannot be combined with --status ${options.status}`))
    }
    const wanted = options.watching === true ? "watching" : options.status
    const status = statuses.find((known) => known === wanted)
    if (options.status !== undefined && status === undefined) {
      return yield* Effect.fail(fail(`unknown status "${options.status}"`, `use one of: ${statuses.join(", ")}`))
    }
    const limit = options.limit === undefined ? undefined : yield* Input.integer(options.limit, "--limit", 1, 100)
    if (options.stuck === true && !options.operator) {
      return yield* Effect.fail(fail("--stuck lists every customer's requests that need a person", "add --operator (it needs the operator token)"))
    }
    const query = {
      ...(status === undefined ? {} : { status }),
      ...(options.stuck === true ? { stuck: true } : {}),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
      ...(limit === undefined ? {} : { limit })
    }
    const page = options.operator ? yield* api.operator.purchases(query) : yield* api.purchases(query)
    ui.result(page, tableView, listTable(page, { operator: options.operator, ...(options.stuck === true ? { stuck: true } : {}) }))
    return page
  })

export const details = (request: Api.PurchaseRequest): DetailsProps => {
  const names = new Map(request.attempts.map((attempt) => [attempt.seller_id, attempt.seller_name]))
  const seller = request.seller_id === null ? null : (names.get(request.seller_id) ?? null)
  return {
    title: `purchase request ${request.id}`,
    fields: [
      ["status", request.status],
      ["isbn", request.isbn],
      ["max price", money(request.max_price)],
      ...(request.final_price === null ? [] : ([["price", money(request.final_price)]] as const)),
      ...(request.seller_price === null || request.seller_price === undefined ? [] : ([["seller's price", money(request.seller_price)]] as const)),
      ...(request.exchange_rates ?? []).map(
        (rate) => ["exchange rate", `1 ${rate.from} = ${rate.rate} ${rate.to} + ${rate.margin_percent} % (${rate.source}, ${rate.date})`] as const
      ),
      ...(request.seller_id === null ? [] : ([["seller", seller ?? request.seller_id]] as const)),
      ...(request.order_id === null ? [] : ([["order", request.order_id]] as const)),
      ...(request.reason === null ? [] : ([["reason", request.reason]] as const)),
      ...(request.quote_progress === null
        ? []
        : ([
            [
              "sellers",
              `${request.quote_progress.answered + request.quote_progress.failed} of ${request.quote_progress.sellers} asked, ${request.quote_progress.answered} answered, ${request.quote_progress.offers} offers` +
                (request.quote_progress.not_asked === 0 ? "" : `, ${request.quote_progress.not_asked} not asked (their request limits were full)`)
            ]
          ] as const)),
      ...(request.waiting === null ? [] : ([["waiting", request.waiting]] as const)),
      ...(request.wait_until === null ? [] : ([["wait until", request.wait_until]] as const)),
      ...(request.attention === null || request.attention === undefined
        ? []
        : ([["needs a person", `${request.attention.detail} (since ${request.attention.since}; see bookbroker findings --request ${request.id})`]] as const)),
      ...(request.customer_id === undefined ? [] : ([["customer", request.customer_id]] as const)),
      ["created", request.created_at],
      ...(request.completed_at === null ? [] : ([["completed", request.completed_at]] as const)),
      ...request.attempts.filter(tried).map(
        (attempt) =>
          [
            `attempt #${attempt.rank + 1}`,
            `${attempt.seller_name} — ${attempt.status}${attempt.total === null ? "" : ` at ${money(attempt.total)}`}${attempt.reason === null ? "" : ` (${attempt.reason})`}${attempt.order_id === null ? "" : `, order ${attempt.order_id}`}`
          ] as const
      )
    ],
    footer:
      request.terminal || request.status === "watching" ? outcomeLines(request, seller) : [`… still ${request.status}; run this again to see how it ends`]
  }
}

export const show = (api: Api.Api, ui: Ui, options: { readonly id: string; readonly operator: boolean }): Effect.Effect<Api.PurchaseRequest, CliError> =>
  Effect.gen(function* () {
    const request = options.operator ? yield* api.operator.purchase(options.id) : yield* api.purchase(options.id)
    ui.result(request, detailsView, details(request))
    return request
  })

/** Polls a request until it ends (bounded). */
export const awaitTerminal = (api: Api.Api, id: string, options: { readonly timeoutMillis?: number; readonly pollMillis?: number; readonly operator?: boolean } = {}) =>
  Effect.gen(function* () {
    for (;;) {
      const request = options.operator === true ? yield* api.operator.purchase(id) : yield* api.purchase(id)
      if (request.terminal) return request
      yield* Effect.sleep(Duration.millis(options.pollMillis ?? 200))
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: Duration.millis(options.timeoutMillis ?? 120_000),
      orElse: () => Effect.fail(fail(`request ${id} has not finished yet; it goes on on the server`, `follow it with: bookbroker requests show ${id}`))
    })
  )

export interface AcceptOptions {
  readonly id: string
  readonly paymentToken: string
  readonly wait: boolean
  readonly timeoutMillis?: number
}

/** Accepts a counter-offer; with `wait`, follows the purchase to its end (exit code as `buy`). */
export const accept = (api: Api.Api, ui: Ui, options: AcceptOptions): Effect.Effect<{ readonly request: Api.PurchaseRequest; readonly exitCode: number }, CliError> =>
  Effect.gen(function* () {
    const accepted = yield* api.acceptCounterOffer(options.id, options.paymentToken)
    if (!options.wait || accepted.terminal) {
      ui.result(accepted, detailsView, details(accepted))
      return { request: accepted, exitCode: accepted.terminal ? (exitCodes[accepted.status] ?? 4) : 0 }
    }
    ui.print(`accepted the counter-offer for ${options.id}; buying…`)
    const final = yield* awaitTerminal(api, options.id, options.timeoutMillis === undefined ? {} : { timeoutMillis: options.timeoutMillis })
    ui.result(final, detailsView, details(final))
    return { request: final, exitCode: exitCodes[final.status] ?? 4 }
  })

/** Cancels a watching want. */
export const cancel = (api: Api.Api, ui: Ui, options: { readonly id: string }): Effect.Effect<Api.PurchaseRequest, CliError> =>
  Effect.gen(function* () {
    const request = yield* api.cancelPurchase(options.id)
    ui.result(request, detailsView, details(request))
    return request
  })

/** Operators: runs a failed (or stuck) request's pipeline again. */
export const retry = (api: Api.Api, ui: Ui, options: { readonly id: string; readonly paymentToken?: string }): Effect.Effect<Api.PurchaseRequest, CliError> =>
  Effect.gen(function* () {
    const request = yield* api.operator.retry(options.id, options.paymentToken).pipe(
      Effect.mapError((error) => (options.paymentToken === undefined && /keeps no payment method token/.test(error.message) ? fail(error.message, "pass --payment-token <token>") : error))
    )
    ui.result(request, detailsView, {
      ...details(request),
      title: `retrying purchase request ${request.id}`,
      footer: [`follow it with: bookbroker requests show ${request.id} --operator`]
    })
    return request
  })
