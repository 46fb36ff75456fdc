/**
 * A request priced in its own currency when sellers offer in others. Each offer's total is
 * converted at the operator's rate (`RateTable`) plus the operator's margin, rounded half up to
 * a minor unit of the request's currency; that is the price compared with the customer's
 * maximum and, for the offer bought, the price charged. The rate each currency was priced at is
 * kept with the request (`Locked`, in `purchase_requests.exchange`): the hold, the order and the
 * capture are converted at that same rate, never at a newer one. Pure.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { decodeRate, encodeRate, rate as crossRate, type Rate, type RateTable } from "./RateTable.js"

/** The rate one currency was priced at for a request. */
export interface LockedRate {
  /** Units of the request's currency per unit of this one, exact (`"10842/10000"`). */
  readonly rate: string
  /** The day of the rates and where they came from (shown with the price). */
  readonly date: string
  readonly source: string
}

/** What a request keeps: the margin it was priced with and the rate per currency converted. */
export interface Locked {
  readonly marginBasisPoints: number
  readonly rates: Readonly<Record<string, LockedRate>>
}

/** The rates to price new offers with: the current table and margin (absent: none configured, or stale). */
export interface Pricing {
  readonly table: RateTable
  readonly marginBasisPoints: number
}

/**
 * `amount` minor units of `from` in minor units of `to`: × rate × (1 + margin), minor digits
 * adjusted (EUR cents to JPY yen), rounded half up. Exact (bigint) throughout.
 */
export const convertAmount = (amount: number, from: string, to: string, rate: Rate, marginBasisPoints: number): number => {
  const shift = Money.minorDigits(to) - Money.minorDigits(from)
  let numerator = BigInt(amount) * rate.numerator * BigInt(10_000 + marginBasisPoints)
  let denominator = rate.denominator * 10_000n
  if (shift > 0) numerator *= 10n ** BigInt(shift)
  else if (shift < 0) denominator *= 10n ** BigInt(-shift)
  return Number((numerator * 2n + denominator) / (denominator * 2n))
}

export interface Converter {
  /** The request's currency. */
  readonly to: string
  /**
   * `money` in the request's currency: itself when it is in it, else converted at the rate the
   * request locked for its currency, else (for new offers) at the current rate, which is then
   * locked. `undefined`: no rate for that currency.
   */
  readonly convert: (money: Money.Money) => Money.Money | undefined
  /** The rates to keep with the request: those it had plus every currency converted since; null when none. */
  readonly locked: () => Locked | null
  /** The rate `currency` is (or would be) priced at, for people: `undefined` without one. */
  readonly rateOf: (currency: string) => (LockedRate & { readonly marginBasisPoints: number }) | undefined
}

/**
 * A request's converter. `locked`: what the request kept (null: nothing yet). `pricing`: the
 * current rates, for currencies not locked yet — absent where only locked rates may be used
 * (holds, orders and captures are never priced at a rate the offer was not compared at).
 */
export const make = (to: string, locked: Locked | null, pricing: Pricing | undefined): Converter => {
  const rates = new Map<string, LockedRate>(Object.entries(locked?.rates ?? {}))
  const marginBasisPoints = locked?.marginBasisPoints ?? pricing?.marginBasisPoints ?? 0
  let changed = false
  const rateFor = (currency: string): (LockedRate & { readonly parsed: Rate }) | undefined => {
    const kept = rates.get(currency)
    if (kept !== undefined) {
      const parsed = decodeRate(kept.rate)
      return parsed === undefined ? undefined : { ...kept, parsed }
    }
    if (pricing === undefined) return undefined
    const parsed = crossRate(pricing.table, currency, to)
    if (parsed === undefined) return undefined
    const fresh = { rate: encodeRate(parsed), date: pricing.table.date, source: pricing.table.source }
    rates.set(currency, fresh)
    changed = true
    return { ...fresh, parsed }
  }
  return {
    to,
    convert: (money) => {
      if (money.currency === to) return money
      const found = rateFor(money.currency)
      if (found === undefined) return undefined
      const amount = convertAmount(money.amount, money.currency, to, found.parsed, marginBasisPoints)
      return amount > Number.MAX_SAFE_INTEGER ? undefined : Money.make(amount, to)
    },
    locked: () => (rates.size === 0 ? null : changed || locked === null ? { marginBasisPoints, rates: Object.fromEntries(rates) } : locked),
    rateOf: (currency) => {
      const found = rateFor(currency)
      return found === undefined ? undefined : { rate: found.rate, date: found.date, source: found.source, marginBasisPoints }
    }
  }
}
