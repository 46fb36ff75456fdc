/**
 * How bookbroker reads PostgreSQL values. @effect/sql-pg decodes `bigint` (int8) columns, amounts
 * and counts among them, to JavaScript `bigint`s, which `JSON.stringify` refuses and which do not
 * mix with `number`s. Here they decode to decimal strings instead (exact for any int8, the way
 * PostgreSQL prints them), and the stores convert with `Number(...)` where a value is money or a
 * count — every amount bookbroker stores is far below 2^53.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { PgTypes } from "@effect/sql-pg"
import { Result, Schema } from "effect"

const int8AsString: PgTypes.Codec<string> = {
  decode: (bytes) => Result.succeed(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigInt64(0).toString()),
  read: (bytes, offset, size) =>
    size === 8 ? Result.succeed(new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigInt64(0).toString()) : Result.fail(new PgTypes.CodecError({ message: `int8 of ${size} bytes` })),
  encode: (value) => {
    try {
      const bytes = new Uint8Array(8)
      new DataView(bytes.buffer).setBigInt64(0, BigInt(value))
      return Result.succeed(bytes)
    } catch {
      return Result.fail(new PgTypes.CodecError({ message: `not an int8: ${String(value)}` }))
    }
  }
}

/** A registry per client: the library's codecs, with int8 read as a decimal string. */
export const registry = (): PgTypes.Registry => {
  const types = PgTypes.makeRegistry()
  types.register(PgTypes.OID.int8, int8AsString, { arrayOid: PgTypes.OID.int8Array })
  return types
}

/** An amount column (`int8`, read as its decimal string above, or a JSON number), decoded to integer minor units. */
export const AmountColumn = Schema.Union([Schema.NumberFromString, Schema.Number]).pipe(Schema.decodeTo(Money.MinorUnits))
/** A `char(3)` currency column, decoded to its checked ISO 4217 code. */
export const CurrencyColumn = Schema.Trim.pipe(Schema.decodeTo(Money.CurrencyCode))

/**
 * Decodes the columns `columns` (a struct) names in a row and keeps the others as they came: `{ ...row, ...decoded }`,
 * typed as the caller's decoded row. A column that does not decode throws (a defect).
 */
export const decodeColumns = (columns: Schema.ConstraintDecoder<object>) => {
  const decode = Schema.decodeUnknownSync(columns)
  return <Row>(stored: object): Row => ({ ...stored, ...decode(stored) }) as unknown as Row
}
