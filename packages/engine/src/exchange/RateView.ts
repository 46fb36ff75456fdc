/**
 * The rates a request was priced at, as people read them — on its status and in its webhooks:
 * one mapping, in TypeScript (`lockedRatesView`) and as SQL over the request's `exchange` column
 * for the statements that end requests in bulk (`lockedRatesViewSql`), key for key.
 */
import type { Locked } from "./Conversion.js"
import * as RateTable from "./RateTable.js"

/** One currency's rate as a request was priced at it: 1 `from` = `rate` `to`, plus `marginPercent`. */
export interface ExchangeRateView {
  readonly from: string
  readonly to: string
  /** Decimal, rounded to 6 places for reading (the price used the exact rate). */
  readonly rate: string
  readonly marginPercent: string
  /** The day of the rates and where they came from. */
  readonly date: string
  readonly source: string
}

/** The rates `locked` keeps, into `to` (the request's currency), by currency. */
export const lockedRatesView = (locked: Locked | null, to: string): ReadonlyArray<ExchangeRateView> =>
  Object.entries(locked?.rates ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([from, kept]) => {
      const rate = RateTable.decodeRate(kept.rate)
      return {
        from,
        to,
        rate: rate === undefined ? kept.rate : RateTable.toDecimal(rate),
        marginPercent: RateTable.toDecimal({ numerator: BigInt(locked!.marginBasisPoints), denominator: 100n }, 2),
        date: kept.date,
        source: kept.source
      }
    })

/** `lockedRatesView` on the wire (snake case), as webhooks carry it. */
export const lockedRatesWire = (locked: Locked | null, to: string) =>
  lockedRatesView(locked, to).map((view) => ({ from: view.from, to: view.to, rate: view.rate, margin_percent: view.marginPercent, date: view.date, source: view.source }))

/**
 * `lockedRatesWire` as SQL over a request row's `exchange` and `currency` columns: the same
 * rounding (6 places, half up, trailing zeros dropped; the margin to 2), the same order.
 */
export const lockedRatesWireSql =
  "COALESCE((SELECT jsonb_agg(jsonb_build_object(" +
  "'from', e.key, 'to', btrim(currency), " +
  "'rate', trim_scale(round(split_part(e.value->>'rate', '/', 1)::numeric / split_part(e.value->>'rate', '/', 2)::numeric, 6))::text, " +
  "'margin_percent', trim_scale(round((exchange->>'marginBasisPoints')::numeric / 100, 2))::text, " +
  "'date', e.value->>'date', 'source', e.value->>'source') ORDER BY e.key) " +
  "FROM jsonb_each(exchange->'rates') e), '[]'::jsonb)"
