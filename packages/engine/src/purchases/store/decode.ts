/**
 * The purchase records decoded once, where they leave PostgreSQL: an `int8` amount (a decimal
 * string, `internal/pgTypes.ts`) becomes integer minor units, a `char(3)` currency a checked ISO
 * 4217 code. Every read of a request, an attempt, a payment operation or a quote goes through
 * here, so nothing after it converts or trims (`rows.ts` gives the decoded types).
 *
 * A column that does not decode is a defect: the tables' types and checks admit only what
 * decodes (intake checks the currency; amounts are whole by type).
 */
import { Schema } from "effect"
import { AmountColumn as Amount, CurrencyColumn as Currency, decodeColumns } from "../../internal/pgTypes.js"
import type { AttemptRow, PaymentOperationRow, QuoteRow, RequestRow } from "./rows.js"

// Each optional: a statement may read only some of a request's columns (a customer's view, a want's).
const requestColumns = decodeColumns(
  Schema.Struct({
    original_max: Schema.optionalKey(Amount),
    max_amount: Schema.optionalKey(Amount),
    final_amount: Schema.optionalKey(Schema.NullOr(Amount)),
    currency: Schema.optionalKey(Currency)
  })
)
const attemptColumns = decodeColumns(Schema.Struct({ order_total: Schema.NullOr(Amount), order_currency: Schema.NullOr(Currency) }))
const paymentColumns = decodeColumns(Schema.Struct({ amount: Amount, currency: Currency }))
const quoteColumns = decodeColumns(Schema.Struct({ total: Amount, currency: Currency }))

/** A row as PostgreSQL sends it: the decoded columns `Columns` still as stored. */
export type Stored<Row, Columns extends object> = Omit<Row, keyof Columns> & Columns

type RequestColumns = { original_max: string; max_amount: string; final_amount: string | null; currency: string }
type AttemptColumns = { order_total: string | number | null; order_currency: string | null }

/** A request row, some of its columns, or a row that extends one (a claimed row, a locked one with flags). */
export type StoredRequest<Row extends Partial<RequestRow> = RequestRow> = Stored<Row, Pick<RequestColumns, keyof Row & keyof RequestColumns>>
export const request = <Row extends Partial<RequestRow> = RequestRow>(stored: StoredRequest<Row>): Row => requestColumns<Row>(stored)

/** An attempt row; `order_total` may come as a JSON number (an attempt aggregated with `json_build_object`). */
export type StoredAttempt<Row extends Pick<AttemptRow, "order_total" | "order_currency"> = AttemptRow> = Stored<Row, AttemptColumns>
export const attempt = <Row extends Pick<AttemptRow, "order_total" | "order_currency"> = AttemptRow>(stored: StoredAttempt<Row>): Row =>
  attemptColumns<Row>(stored)

export type StoredPayment = Stored<PaymentOperationRow, { amount: string; currency: string }>
export const payment = (stored: StoredPayment): PaymentOperationRow => paymentColumns<PaymentOperationRow>(stored)

export type StoredQuote = Stored<QuoteRow, { total: string; currency: string }>
export const quote = (stored: StoredQuote): QuoteRow => quoteColumns<QuoteRow>(stored)

/** Each of `rows`, decoded. */
export const each =
  <A, B>(decode: (stored: A) => B) =>
  (rows: ReadonlyArray<A>): Array<B> =>
    rows.map(decode)
