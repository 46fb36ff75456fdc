/**
 * `bookbroker sellers add|list|show|activate|disable|health`: registering a seller (the public
 * `POST /v1/sellers`, which answers with the seller's API key once) and the operator's view and
 * control of the directory.
 */
import { Effect } from "effect"
import type * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import * as Input from "../Input.js"
import { ago, millis, percent, rate } from "../ui/Format.js"
import type { Ui } from "../ui/Render.js"
import { detailsView, tableView, type DetailsProps, type TableProps } from "../ui/Table.js"
import { circuitOf, nameOf } from "./Dashboard.js"

const statuses: ReadonlyArray<Api.SellerStatus> = ["pending", "active", "disabled"]

export interface AddOptions {
  readonly name: string
  readonly kind: string
  /** The adapter config as JSON text (`{"baseUrl":"http://…","currency":"EUR"}`). */
  readonly config: string
  /** `name=value` pairs. */
  readonly credentials: ReadonlyArray<string>
  readonly contact?: string
  readonly requestsPerSecond?: string
  readonly burst?: string
  readonly maxConcurrency?: string
  readonly timeoutMillis?: string
}

const parseConfig = (raw: string): Effect.Effect<Record<string, unknown>, CliError> =>
  Effect.try({
    try: () => JSON.parse(raw) as unknown,
    catch: (error) => fail(`--adapter-config is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, `e.g. --adapter-config '{"baseUrl":"http://127.0.0.1:9001","currency":"EUR"}'`)
  }).pipe(
    Effect.filterOrFail(
      (value): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value),
      () => fail("--adapter-config must be a JSON object", `e.g. --adapter-config '{"baseUrl":"http://127.0.0.1:9001","currency":"EUR"}'`)
    )
  )

const parseCredentials = (pairs: ReadonlyArray<string>): Effect.Effect<Record<string, string>, CliError> =>
  Effect.forEach(pairs, (pair) => {
    const at = pair.indexOf("=")
    return at <= 0 ? Effect.fail(fail(`--credential "${pair.split("=")[0]}…" must be name=value`, "e.g. --credential apiKey=sk_live_…")) : Effect.succeed([pair.slice(0, at), pair.slice(at + 1)] as const)
  }).pipe(Effect.map((entries) => Object.fromEntries(entries)))

export const add = (api: Api.Api, ui: Ui, options: AddOptions): Effect.Effect<Api.RegisteredSeller & { readonly name: string }, CliError> =>
  Effect.gen(function* () {
    const config = yield* parseConfig(options.config)
    const credentials = yield* parseCredentials(options.credentials)
    const limits: { requests_per_second?: number; burst?: number; max_concurrency?: number; timeout_ms?: number } = {}
    if (options.requestsPerSecond !== undefined) limits.requests_per_second = yield* Input.positive(options.requestsPerSecond, "--rps", 10_000)
    if (options.burst !== undefined) limits.burst = yield* Input.integer(options.burst, "--burst", 1, 100_000)
    if (options.maxConcurrency !== undefined) limits.max_concurrency = yield* Input.integer(options.maxConcurrency, "--max-concurrency", 1, 10_000)
    if (options.timeoutMillis !== undefined) limits.timeout_ms = yield* Input.integer(options.timeoutMillis, "--timeout-ms", 1, 120_000)
    const registered = yield* api.registerSeller({
      name: options.name,
      ...(options.contact === undefined ? {} : { contact: options.contact }),
      adapter: { kind: options.kind, config, ...(Object.keys(credentials).length === 0 ? {} : { credentials }) },
      ...(Object.keys(limits).length === 0 ? {} : { limits })
    })
    const result = { ...registered, name: options.name }
    ui.result(result, detailsView, {
      title: `registered seller ${options.name}`,
      fields: [
        ["id", registered.id],
        ["status", registered.status],
        ["seller API key", `${registered.api_key}   (shown only this once)`]
      ],
      footer: registered.status === "pending" ? [`an operator activates it with: bookbroker sellers activate ${registered.id}`] : []
    })
    return result
  })

export const listTable = (sellers: ReadonlyArray<Api.Seller>, now = Date.now()): TableProps => ({
  headers: ["id", "name", "status", "adapter", "rps", "timeout", "created"],
  rows: sellers.map((seller) => [
    seller.id,
    seller.name,
    seller.status + (seller.config_error === null ? "" : " (config error)"),
    `${seller.adapter.kind} ${seller.adapter.version}`,
    seller.limits === null ? "—" : String(seller.limits.requests_per_second),
    seller.limits === null ? "—" : millis(seller.limits.timeout_ms),
    ago(seller.created_at, now)
  ]),
  empty: "no sellers (register one with bookbroker sellers add, or run the demo: pnpm start)",
  footer: [`${sellers.length} seller${sellers.length === 1 ? "" : "s"}, ${sellers.filter((seller) => seller.status === "active").length} active`]
})

export const list = (api: Api.Api, ui: Ui, options: { readonly status?: string }): Effect.Effect<ReadonlyArray<Api.Seller>, CliError> =>
  Effect.gen(function* () {
    const status = statuses.find((known) => known === options.status)
    if (options.status !== undefined && status === undefined) {
      return yield* Effect.fail(fail(`unknown seller status "${options.status}"`, `use one of: ${statuses.join(", ")}`))
    }
    const sellers = yield* api.operator.sellers(status)
    ui.result(sellers, tableView, listTable(sellers))
    return sellers
  })

const flatten = (value: unknown, prefix = ""): Array<readonly [string, string]> => {
  if (value === null || value === undefined) return prefix === "" ? [] : [[prefix, "—"]]
  if (Array.isArray(value)) return [[prefix, value.length === 0 ? "—" : value.map((item) => (typeof item === "object" ? JSON.stringify(item) : String(item))).join(", ")]]
  if (typeof value === "object") return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix === "" ? key : `${prefix}.${key}`))
  return [[prefix, String(value)]]
}

export const sellerDetails = (seller: Api.Seller): DetailsProps => ({
  title: `seller ${seller.name} (${seller.status})`,
  fields: flatten(seller).filter(([label]) => label !== "name" && label !== "status"),
  ...(seller.status === "pending" ? { footer: [`activate it with: bookbroker sellers activate ${seller.id}`] } : {})
})

export const show = (api: Api.Api, ui: Ui, options: { readonly id: string }): Effect.Effect<Api.Seller, CliError> =>
  Effect.gen(function* () {
    const seller = yield* api.operator.seller(options.id)
    ui.result(seller, detailsView, sellerDetails(seller))
    return seller
  })

const setStatus = (which: "activate" | "disable") => (api: Api.Api, ui: Ui, options: { readonly id: string }): Effect.Effect<Api.Seller, CliError> =>
  Effect.gen(function* () {
    const seller = which === "activate" ? yield* api.operator.activate(options.id) : yield* api.operator.disable(options.id)
    if (ui.json) ui.printJson(seller)
    else ui.print(`seller ${seller.name} is ${seller.status}${seller.status === "active" ? " — it gets quote requests from now on" : seller.status === "disabled" ? " — no more calls to it" : ""}`)
    return seller
  })

export const activate = setStatus("activate")
export const disable = setStatus("disable")

export const healthTable = (entries: ReadonlyArray<Api.SellerHealth>): TableProps => ({
  headers: ["seller", "status", "circuit", "calls (rate use)", "errors", "denied", "latency", "blocked until"],
  rows: entries.map((entry) => [
    nameOf(entry),
    entry.status,
    circuitOf(entry).replace("_", "-") + (entry.circuit.consecutive_failures > 0 ? ` (${entry.circuit.consecutive_failures} failures)` : ""),
    `${rate(entry.rate.sent_per_second)}${entry.limits === null ? "" : ` of ${rate(entry.limits.requests_per_second)}`}${entry.rate.utilization === null ? "" : ` (${percent(entry.rate.utilization)})`}`,
    percent(entry.error_rate),
    String(entry.rate.denied),
    millis(entry.latency_ms),
    entry.blocked_until === null ? "—" : new Date(entry.blocked_until).toLocaleTimeString("en-GB")
  ]),
  empty: "no sellers",
  footer: entries.length === 0 ? [] : [`calls over the last ${entries[0]!.rate.window_seconds} s, as this server process saw them; latency and errors are recent averages`]
})

export const health = (api: Api.Api, ui: Ui, options: { readonly id?: string }): Effect.Effect<unknown, CliError> =>
  Effect.gen(function* () {
    if (options.id !== undefined) {
      const entry = yield* api.operator.sellerHealth(options.id)
      ui.result(entry, detailsView, { title: `health of ${nameOf(entry)} (${entry.status})`, fields: flatten(entry).filter(([label]) => label !== "seller_name" && label !== "status") })
      return entry
    }
    const entries = yield* api.operator.health
    ui.result(entries, tableView, healthTable(entries))
    return entries
  })
