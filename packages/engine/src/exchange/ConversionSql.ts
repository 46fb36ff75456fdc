/**
 * `Conversion.convertAmount` as SQL, for statements that compare listings in many currencies at
 * once (waking wants, search's best offer): × rate × (1 + margin), minor digits adjusted, rounded
 * half up, over the current rates sent as a small table. PostgreSQL's numeric division is not the
 * exact fraction `Conversion` uses, so a result may differ from it in the last minor unit: use it
 * to choose and order, and price what is shown or bought with `Conversion`.
 */
import { Money } from "@bookbroker/adapter-sdk"
import type { SqlClient, Statement } from "effect/sql"
import type { Pricing } from "./Conversion.js"

/** The currencies `pricing` converts between (its base included). */
export const currencies = (pricing: Pricing): ReadonlyArray<string> => [pricing.table.base, ...pricing.table.rates.keys()]

/**
 * `amount` (minor units of the currency `from`) in minor units of `to`, both SQL expressions; NULL
 * when `from` has no rate. Equal currencies give the amount itself.
 */
export const convertedSql = (sql: SqlClient.SqlClient, pricing: Pricing, amount: Statement.Fragment, from: Statement.Fragment, to: Statement.Fragment): Statement.Fragment => {
  const table = JSON.stringify(
    [[pricing.table.base, "1"] as const, ...pricing.table.rates].map(([currency, perBase]) => ({ currency, per_base: perBase, digits: Money.minorDigits(currency) }))
  )
  return sql`(CASE WHEN ${from} = ${to} THEN ${amount} ELSE (
      SELECT round(${amount} * t.per_base / f.per_base * power(10::numeric, t.digits - f.digits) * ${10_000 + pricing.marginBasisPoints}::numeric / 10000)
      FROM jsonb_to_recordset(${table}::jsonb) AS f (currency text, per_base numeric, digits int),
           jsonb_to_recordset(${table}::jsonb) AS t (currency text, per_base numeric, digits int)
      WHERE f.currency = ${from} AND t.currency = ${to}) END)`
}
