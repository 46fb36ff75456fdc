/**
 * eBay's refusals in bookbroker's seller error taxonomy. Every Buy API answers an error as
 * `{ errors: [{ errorId, domain, category, message, … }] }` with an HTTP status; the errorId
 * decides, the status is the fallback. Item-level refusals (sold out, ended, not buyable through
 * the API, not shippable to our address, seller away) are `out_of_stock`: bookbroker should buy
 * the book elsewhere. Payment and request problems are `invalid_request`: the seller entry's
 * config needs fixing. eBay has no "price changed" error; 15020 ("the item changed during
 * checkout") is the nearest and maps to `price_changed`. Pure, tested without eBay.
 */
import type { Contract } from "@bookbroker/adapter-sdk"
import { SellerError } from "@bookbroker/adapter-sdk"
import { Option, Schema } from "effect"
import { type WireError, WireErrorEnvelope } from "./Wire.js"

const outOfStock: ReadonlySet<number> = new Set([
  11001, // item not found
  11004, // item not available (being revised)
  15012, // per-buyer quantity limit reached
  15013, // quantity above what is available
  15017, // not available for purchase at this time
  15018, // listing ended / not purchasable
  15026, // not shippable to the address
  15028, // not shippable to the country
  15031, // buyer blocked by the seller
  15043, // cannot be bought through the API (removed from the cart)
  15044, // cannot be bought through the API
  15045, // seller away
  15053, // unavailable (out of stock)
  15055, // removed from the cart (out of stock)
  20002 // currently unavailable from the seller
])

const invalidRequest: ReadonlySet<number> = new Set([
  11011, 11012, // marketplace not supported, bad item id
  12001, 12004, 12005, 12006, 12007, 12019, 12023, 12029, // search parameters, marketplace
  15001, 15002, 15003, 15011, 15014, 15019, 15027, 15029, 15030, 15046, 15048, 17002, // request fields, session
  15004, 15015, 15023, 15024, 15033, 17000, // payment details (the configured card)
  16002 // purchase order not found
])

const authFailed: ReadonlySet<number> = new Set([
  1001, // invalid access token
  1100, // insufficient permissions (scope)
  15025, // the app is not authorized for this resource
  16003 // access to the purchase order not authorized
])

/** eBay 15020: the item changed during checkout; a new session is needed. */
export const itemChanged = 15020

/** The `errors[]` of an eBay answer (empty for bodies of another shape). */
export const errorsOf = (body: unknown): ReadonlyArray<WireError> =>
  Option.match(Schema.decodeUnknownOption(WireErrorEnvelope)(body), { onNone: () => [], onSome: (envelope) => envelope.errors ?? [] })

/** `409 errorId 15013 (API_ORDER/BUSINESS): The quantity value is greater…` */
export const describe = (status: number, errors: ReadonlyArray<WireError>): string =>
  errors.length === 0
    ? `${status} without an eBay error body`
    : errors.map((error) => `${status} errorId ${error.errorId} (${error.domain ?? "?"}/${error.category ?? "?"}): ${error.longMessage ?? error.message ?? ""}`).join("; ")

/** Which taxonomy reason one errorId is, if the adapter knows it. */
export const reasonOf = (errorId: number): SellerError.RejectedReason | undefined =>
  errorId === itemChanged
    ? "price_changed"
    : outOfStock.has(errorId)
      ? "out_of_stock"
      : authFailed.has(errorId)
        ? "auth_failed"
        : invalidRequest.has(errorId)
          ? "invalid_request"
          : undefined

const authHint = " — check the keyset (client id/secret) and that it is granted the scope; the Order API is a Limited Release that eBay must approve"

/**
 * An eBay error answer (a 400, 401, 403, 404 or 409 the adapter reads itself) as a seller error.
 * Known errorIds decide; otherwise 401/403 are `auth_failed`, 400/404 `invalid_request`, and a
 * 409 the adapter does not know is `SellerUnavailable(conflict)`.
 */
export const toSellerError = (operation: Contract.Operation, status: number, body: unknown): SellerError.SellerError => {
  const errors = errorsOf(body)
  const detail = describe(status, errors)
  const known = errors.map((error) => reasonOf(error.errorId)).find((reason) => reason !== undefined)
  const reason = known ?? (status === 401 || status === 403 ? "auth_failed" : status === 400 || status === 404 ? "invalid_request" : undefined)
  if (reason === undefined) return new SellerError.SellerUnavailable({ operation, reason: "conflict", status, detail })
  return new SellerError.SellerRejected({ operation, reason, status, detail: reason === "auth_failed" ? `${detail}${authHint}` : detail })
}
