/**
 * Input that does not match the API's schemas, as problem details that name every offending
 * field: a header is a 400 (`header:idempotency-key`), a body, query or path value a 422 (a JSON
 * pointer into the body such as `/max_price/amount`, or `query:limit`, `path:id`). Declared on
 * the whole API, so every operation documents both answers. The request changes nothing.
 */
import { Effect, type Schema, SchemaIssue } from "effect"
import { HttpServerResponse } from "effect/http"
import { type HttpApiError, HttpApiMiddleware } from "effect/http-api"
import * as Problem from "./Problem.js"

/** Also declares the edge's answers to bodies it refuses before decoding (see `Edge.ts`): 413 and 415. */
export class InputErrors extends HttpApiMiddleware.Service<InputErrors>()("InputErrors", {
  error: [Problem.BadRequest, Problem.PayloadTooLarge, Problem.UnsupportedMediaType, Problem.Unprocessable]
}) {}

const format = SchemaIssue.makeFormatterStandardSchemaV1()

const escape = (part: PropertyKey) => String(part).replace(/~/g, "~0").replace(/\//g, "~1")

const pointer = (kind: HttpApiError.HttpApiSchemaError["kind"], path: ReadonlyArray<PropertyKey>): string => {
  switch (kind) {
    case "Headers":
    case "ResponseHeaders":
      return `header:${path.map(String).join(".")}`
    case "Query":
      return `query:${path.map(String).join(".")}`
    case "Params":
      return `path:${path.map(String).join(".")}`
    case "Body":
    case "Payload":
      return `/${path.map(escape).join("/")}`
  }
}

const problemJson = (status: number, body: unknown) => HttpServerResponse.jsonUnsafe(body, { status, contentType: "application/problem+json" })

/** The problem a failed decode answers: one entry per offending field. */
export const toProblem = (kind: HttpApiError.HttpApiSchemaError["kind"], error: Schema.SchemaError) => {
  const issues = format(error.issue).issues
  const errors = issues.map((issue) => ({
    pointer: pointer(kind, (issue.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))),
    detail: issue.message
  }))
  if (kind === "Headers") {
    return { status: 400, body: Problem.body(400, "bad-request", "Bad request", errors.map((e) => `${e.pointer.slice(7)}: ${e.detail}`).join("; "), errors) }
  }
  const detail = errors.map((e) => `${e.pointer} ${e.detail}`).join("; ") || "the request does not match the schema"
  return { status: 422, body: Problem.body(422, "validation-failed", "The request is not valid", detail, errors) }
}

export const layer = HttpApiMiddleware.layerSchemaErrorTransform(InputErrors, (error) => {
  const problem = toProblem(error.kind, error.cause)
  return Effect.succeed(problemJson(problem.status, problem.body))
})
