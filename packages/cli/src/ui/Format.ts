/** Small text helpers shared by the views: money, durations, padding. */
import { Money } from "@bookbroker/adapter-sdk"

export interface MoneyLike {
  readonly amount: number
  readonly currency: string
}

/** `€12.50`; never through a float on the way in (minor units → decimal string → Intl). */
export const money = (value: MoneyLike | null | undefined): string => {
  if (value === null || value === undefined) return "—"
  try {
    return Money.format(Money.make(value.amount, value.currency))
  } catch {
    return `${value.amount} ${value.currency} (minor units)`
  }
}

/** `12.50` in the currency's decimals, for commands people copy (`--max 12.50`). */
export const decimal = (value: MoneyLike): string => {
  try {
    return Money.toDecimal(Money.make(value.amount, value.currency))
  } catch {
    return String(value.amount)
  }
}

export const millis = (value: number | null | undefined): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—"
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`
  if (value >= 100) return `${Math.round(value)} ms`
  return `${Number(value.toFixed(1))} ms`
}

export const percent = (value: number | null | undefined): string =>
  value === null || value === undefined || !Number.isFinite(value) ? "—" : `${Math.round(value * 100)}%`

export const rate = (perSecond: number | null | undefined): string =>
  perSecond === null || perSecond === undefined || !Number.isFinite(perSecond) ? "—" : `${perSecond >= 10 ? Math.round(perSecond) : perSecond.toFixed(1)}/s`

/** Column widths for a table (by the longest cell). */
export const widths = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<number> => {
  const result: Array<number> = []
  for (const row of rows) row.forEach((cell, index) => (result[index] = Math.max(result[index] ?? 0, cell.length)))
  return result
}

export const pad = (text: string, width: number, align: "left" | "right" = "left") => (align === "right" ? text.padStart(width) : text.padEnd(width))

/** Whether a column reads better right-aligned (numbers, money). */
export const numeric = (cells: ReadonlyArray<string>) =>
  cells.length > 0 && cells.every((cell) => cell === "—" || (!/^\d{8,}$/.test(cell.trim()) && /^[-+€$£¥]?\s?[\d.,]+\s?(%|ms|s|\/s|[A-Z]{3})?$/.test(cell.trim()))) // long digit runs are ids (ISBNs), not numbers

export const ago = (iso: string | null | undefined, now = Date.now()): string => {
  if (iso === null || iso === undefined) return "—"
  const seconds = Math.round((now - Date.parse(iso)) / 1000)
  if (!Number.isFinite(seconds)) return iso
  if (seconds < 60) return `${Math.max(0, seconds)}s ago`
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`
  if (seconds < 86_400) return `${Math.round(seconds / 3600)}h ago`
  return `${Math.round(seconds / 86_400)}d ago`
}
