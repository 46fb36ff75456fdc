/**
 * The operator's exchange rates: read from a file or a URL (the ECB's daily reference rates, or
 * JSON — `RateTable.ts`), read again every `refreshMillis` (a failed read keeps the last good
 * table, and says so), and trusted only while they are at most `maxAgeDays` old. Without rates
 * (none configured, none read yet, or stale) offers in other currencies are not compared, and a
 * request says which currencies the book is offered in (`FallbackPolicy.notAvailableReason`).
 */
import { Clock, Context, Duration, Effect, Layer, Result, Schedule } from "effect"
import { readFile } from "node:fs/promises"
import { basename } from "node:path"
import type { Pricing } from "./Conversion.js"
import { ageInDays, parse, type RateTable } from "./RateTable.js"

export interface ExchangeRatesOptions {
  /** A file path, or an http(s) URL (e.g. https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml). */
  readonly source: string
  /** Added to every converted price, in basis points (200 = 2 %). Default 200. */
  readonly marginBasisPoints?: number
  /** How often the source is read again. Default one hour. */
  readonly refreshMillis?: number
  /** Rates older than this many days are not used. Default 4 (a central bank skips weekends and holidays). */
  readonly maxAgeDays?: number
}

export interface ExchangeRatesStatus {
  readonly configured: boolean
  readonly source?: string
  /** The day of the rates in use (or last read, when stale). */
  readonly date?: string
  readonly stale?: boolean
  readonly marginBasisPoints?: number
  /** The last read's failure, while it lasts. */
  readonly error?: string
}

export interface ExchangeRatesService {
  /** The rates to price new offers with now; `undefined` without usable rates. */
  readonly pricing: Effect.Effect<Pricing | undefined>
  readonly status: Effect.Effect<ExchangeRatesStatus>
}

export class ExchangeRates extends Context.Service<ExchangeRates, ExchangeRatesService>()("@bookbroker/engine/ExchangeRates") {}

/** The source could not be read or understood at start: the operator's setting is wrong. */
export class ExchangeRatesUnreadable extends Error {
  readonly _tag = "ExchangeRatesUnreadable"
}

/** No rates: every offer in another currency stays uncompared (the default). */
export const none: Layer.Layer<ExchangeRates> = Layer.succeed(ExchangeRates, {
  pricing: Effect.succeed(undefined),
  status: Effect.succeed({ configured: false })
})

const isUrl = (source: string) => /^https?:\/\//i.test(source)

/**
 * How the rates' origin is shown with a price: a URL without its query (which may carry a key),
 * a file by its name only (the operator's paths are not the customer's business).
 */
export const sourceLabel = (source: string): string => {
  if (!isUrl(source)) return basename(source)
  const url = new URL(source)
  return `${url.protocol}//${url.host}${url.pathname}`
}

/** Reads and parses the source once. */
export const read = (source: string): Effect.Effect<RateTable, string> =>
  Effect.tryPromise({
    try: async () => {
      if (!isUrl(source)) return readFile(source, "utf8")
      const response = await fetch(source, { signal: AbortSignal.timeout(10_000), headers: { accept: "application/xml, application/json;q=0.9, */*;q=0.5" } })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      return response.text()
    },
    catch: (cause) => `cannot read ${source}: ${cause instanceof Error ? cause.message : String(cause)}`
  }).pipe(
    Effect.flatMap((text) => {
      const parsed = parse(text, sourceLabel(source))
      return Result.isSuccess(parsed) ? Effect.succeed(parsed.success) : Effect.fail(`${source}: ${parsed.failure}`)
    })
  )

/**
 * Reads the rates at start — a file that cannot be read or understood fails the start (the
 * operator asked for it); a URL that does not answer yet is only logged, and asked again —
 * then keeps them fresh in the background.
 */
export const layer = (options: ExchangeRatesOptions): Layer.Layer<ExchangeRates, ExchangeRatesUnreadable> =>
  Layer.effect(
    ExchangeRates,
    Effect.gen(function* () {
      const marginBasisPoints = options.marginBasisPoints ?? 200
      const maxAgeDays = options.maxAgeDays ?? 4
      let table: RateTable | undefined
      let error: string | undefined
      const first = yield* Effect.result(read(options.source))
      if (Result.isSuccess(first)) table = first.success
      else if (!isUrl(options.source)) return yield* Effect.fail(new ExchangeRatesUnreadable(`exchange rates: ${first.failure}`))
      else {
        error = first.failure
        yield* Effect.logWarning(`exchange rates: ${first.failure}; offers in other currencies are not compared until they can be read`)
      }
      const refresh = read(options.source).pipe(
        Effect.tap((fresh) =>
          Effect.sync(() => {
            table = fresh
            error = undefined
          })
        ),
        Effect.catch((failure) =>
          Effect.sync(() => {
            error = failure
          }).pipe(Effect.andThen(Effect.logWarning(`exchange rates: ${failure}; still using the rates of ${table?.date ?? "(none)"}`)))
        )
      )
      yield* refresh.pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(options.refreshMillis ?? 3_600_000))),
        Effect.delay(Duration.millis(options.refreshMillis ?? 3_600_000)),
        Effect.forkScoped
      )
      const stale = (now: number) => table === undefined || ageInDays(table, new Date(now)) > maxAgeDays
      return {
        pricing: Effect.map(Clock.currentTimeMillis, (now) => (table === undefined || stale(now) ? undefined : { table, marginBasisPoints })),
        status: Effect.map(Clock.currentTimeMillis, (now) => ({
          configured: true,
          source: options.source,
          ...(table === undefined ? {} : { date: table.date, stale: stale(now) }),
          marginBasisPoints,
          ...(error === undefined ? {} : { error })
        }))
      } satisfies ExchangeRatesService
    })
  )
