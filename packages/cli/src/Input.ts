/**
 * Values people type, checked before anything is sent: ISBNs (ISBN-10 or -13, hyphens allowed),
 * prices as decimal strings (`30`, `30.00`) converted to integer minor units by the SDK — never
 * through a float — and currency codes.
 */
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Effect, Option, Result, Schema } from "effect"
import { fail, type CliError } from "./CliError.js"

export const isbn = (raw: string): Effect.Effect<Isbn.Isbn13, CliError> =>
  Option.match(Isbn.parse(raw.trim()), {
    onNone: () => Effect.fail(fail(`"${raw}" is not a valid ISBN`, "give an ISBN-10 or ISBN-13, e.g. 978-0-14-044913-6 (the check digit must match)")),
    onSome: Effect.succeed
  })

export const currency = (raw: string): Effect.Effect<Money.CurrencyCode, CliError> =>
  Result.match(Schema.decodeUnknownResult(Money.CurrencyCode)(raw.trim().toUpperCase()), {
    onFailure: () => Effect.fail(fail(`"${raw}" is not an ISO 4217 currency code`, "use a code such as EUR, USD or GBP")),
    onSuccess: Effect.succeed
  })

/** A positive price from a decimal string (`30`, `30.00`, `12.5`) in minor units. */
export const price = (raw: string, currencyCode: string, what = "price"): Effect.Effect<Money.Money, CliError> =>
  Effect.flatMap(currency(currencyCode), (code) =>
    Result.match(Money.fromDecimal(raw.trim(), code), {
      onFailure: (reason) => Effect.fail(fail(`${what} ${reason}`, `write it as a decimal amount in ${code}, e.g. 30.00`)),
      onSuccess: (money) =>
        money.amount > 0 ? Effect.succeed(money) : Effect.fail(fail(`${what} must be more than 0`, `write it as a decimal amount in ${code}, e.g. 30.00`))
    })
  )

/** A whole number within bounds. */
export const integer = (raw: string | number, what: string, min: number, max: number): Effect.Effect<number, CliError> => {
  const value = typeof raw === "number" ? raw : /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN
  return Number.isInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(fail(`${what} must be a whole number from ${min} to ${max} (got "${String(raw)}")`))
}

/** A positive number (rates: `5`, `2.5`). */
export const positive = (raw: string | number, what: string, max: number): Effect.Effect<number, CliError> => {
  const value = typeof raw === "number" ? raw : /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN
  return Number.isFinite(value) && value > 0 && value <= max
    ? Effect.succeed(value)
    : Effect.fail(fail(`${what} must be a number above 0 and at most ${max} (got "${String(raw)}")`))
}

/**
 * How long a want may watch (`buy --wait`): `14d`, `36h`, `90m`, `2w`; at most 30 days. Answers
 * the time it ends, from `nowMillis`.
 */
export const waitUntil = (raw: string, nowMillis: number): Effect.Effect<Date, CliError> => {
  const match = /^\s*(\d{1,4})\s*(m|h|d|w)\s*$/i.exec(raw)
  const unit = match === null ? 0 : { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2]!.toLowerCase() as "m" | "h" | "d" | "w"]
  const millis = match === null ? Number.NaN : Number(match[1]) * unit
  return Number.isFinite(millis) && millis >= 60_000 && millis <= 30 * 86_400_000
    ? Effect.succeed(new Date(nowMillis + millis))
    : Effect.fail(fail(`--wait must be how long to watch for a copy, like 14d, 36h, 90m or 2w: at least a minute and at most 30 days (got "${raw}")`))
}

/** Durations: `10` (seconds), `10s`, `2m`, `500ms`. */
export const duration = (raw: string | number, what: string, maxSeconds: number): Effect.Effect<number, CliError> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(String(raw))
  const millis = match === null ? Number.NaN : Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "m" ? 60_000 : 1_000)
  return Number.isFinite(millis) && millis > 0 && millis <= maxSeconds * 1000
    ? Effect.succeed(millis)
    : Effect.fail(fail(`${what} must be a duration like 10s, 2m or 500ms, at most ${maxSeconds} s (got "${String(raw)}")`))
}
