/**
 * Every error the API answers is RFC 9457 problem details (`application/problem+json`): a
 * stable `type`, a human `title` and `detail`, and for validation the offending fields as JSON
 * pointers. One class per status, so the OpenAPI document lists what each endpoint can answer.
 */
import { Schema } from "effect"

export const FieldError = Schema.Struct({
  /** JSON pointer into the request body (`/max_price/amount`), or `header:idempotency-key`, `query:status`. */
  pointer: Schema.String,
  detail: Schema.String
})
export type FieldError = typeof FieldError.Type

// The literal status keeps the classes apart: HttpApi picks the error schema a failure matches.
const fields = <S extends number>(status: S) => ({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Literal(status),
  detail: Schema.String,
  errors: Schema.optionalKey(Schema.Array(FieldError))
})

const typeUri = (slug: string) => `urn:bookbroker:problem:${slug}`

/** What HttpApi reads off an error schema: its status, and that it is sent as problem+json. */
const annotate = (status: number) => ({
  httpApiStatus: status,
  "~httpApiEncoding": { _tag: "Json", contentType: "application/problem+json" },
  description: `${status} problem details`
})

export class BadRequest extends Schema.Class<BadRequest>("BadRequest")(fields(400), annotate(400)) {}
export class Unauthorized extends Schema.Class<Unauthorized>("Unauthorized")(fields(401), annotate(401)) {}
export class Forbidden extends Schema.Class<Forbidden>("Forbidden")(fields(403), annotate(403)) {}
export class NotFound extends Schema.Class<NotFound>("NotFound")(fields(404), annotate(404)) {}
export class Conflict extends Schema.Class<Conflict>("Conflict")(fields(409), annotate(409)) {}
export class PayloadTooLarge extends Schema.Class<PayloadTooLarge>("PayloadTooLarge")(fields(413), annotate(413)) {}
export class UnsupportedMediaType extends Schema.Class<UnsupportedMediaType>("UnsupportedMediaType")(fields(415), annotate(415)) {}
export class Unprocessable extends Schema.Class<Unprocessable>("Unprocessable")(fields(422), annotate(422)) {}
export class TooManyRequests extends Schema.Class<TooManyRequests>("TooManyRequests")(fields(429), annotate(429)) {}
export class ServiceUnavailable extends Schema.Class<ServiceUnavailable>("ServiceUnavailable")(fields(503), annotate(503)) {}

type ProblemClass<P, S extends number> = new (props: { type: string; title: string; status: S; detail: string; errors?: ReadonlyArray<FieldError> }) => P

const make =
  <P, S extends number>(Class: ProblemClass<P, S>, status: S, slug: string, title: string) =>
  (detail: string, errors?: ReadonlyArray<FieldError>): P =>
    new Class({ type: typeUri(slug), title, status, detail, ...(errors === undefined ? {} : { errors }) })

/**
 * An id (or path) from the URL as a problem's detail shows it: control characters (a `%00` in
 * the path) become U+FFFD and anything past 80 characters is cut — the detail says what was not
 * found without echoing bytes back.
 */
export const shownId = (id: string): string => {
  let shown = ""
  for (const char of id.slice(0, 80)) {
    const code = char.codePointAt(0)!
    shown += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? "\uFFFD" : char
  }
  return id.length > 80 ? `${shown}…` : shown
}

export const badRequest = make(BadRequest, 400, "bad-request", "Bad request")
export const malformedJson = make(BadRequest, 400, "malformed-json", "The body is not valid JSON")
export const unauthorized = make(Unauthorized, 401, "unauthorized", "Missing or unknown credentials")
export const forbidden = make(Forbidden, 403, "forbidden", "Not allowed")
export const notFound = make(NotFound, 404, "not-found", "Not found")
export const idempotencyInFlight = make(Conflict, 409, "idempotency-key-in-flight", "A request with this Idempotency-Key is still being processed")
export const conflict = make(Conflict, 409, "conflict", "Conflict with the current state")
export const payloadTooLarge = make(PayloadTooLarge, 413, "payload-too-large", "The body is too large")
export const unsupportedMediaType = make(UnsupportedMediaType, 415, "unsupported-media-type", "The body must be application/json")
export const validation = make(Unprocessable, 422, "validation-failed", "The request is not valid")
export const idempotencyMismatch = make(Unprocessable, 422, "idempotency-key-reused", "This Idempotency-Key was used for a different request")
export const tooManyRequests = make(TooManyRequests, 429, "rate-limited", "Too many requests")
export const unavailable = make(ServiceUnavailable, 503, "unavailable", "Temporarily unavailable")

/** The JSON body of a problem, for the edge middleware that answers before HttpApi does. */
export const body = (status: number, slug: string, title: string, detail: string, errors?: ReadonlyArray<FieldError>) => ({
  type: typeUri(slug),
  title,
  status,
  detail,
  ...(errors === undefined ? {} : { errors })
})

/** A problem as it goes on the wire (what HttpApi's error schemas encode), for answers written outside HttpApi. */
export const wire = (problem: { readonly type: string; readonly title: string; readonly status: number; readonly detail: string; readonly errors?: ReadonlyArray<FieldError> }) => ({
  type: problem.type,
  title: problem.title,
  status: problem.status,
  detail: problem.detail,
  ...(problem.errors === undefined ? {} : { errors: problem.errors })
})

/** A defect's answer: no detail beyond "it has been logged" (never a stack trace). */
export const internalErrorBody = (status = 500) => body(status, "internal-error", "Internal error", "something went wrong on our side; it has been logged")
