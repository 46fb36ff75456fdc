/**
 * The edge in front of the API: bodies must be JSON, not too large and well-formed before the
 * typed handlers see them, and every error leaves as problem details — the framework's decode
 * errors become 422 (400 for headers) with one entry per offending field, unknown routes 404,
 * and a defect a bare 500 problem without a stack trace. Bad input never changes state.
 */
import { HttpApp, HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Chunk, Effect } from "effect"
import * as Problem from "./Problem.js"

const json = (status: number, body: unknown) =>
  HttpServerResponse.unsafeJson(body, { status, contentType: "application/problem+json" })

const headerFields = new Set(["idempotency-key", "authorization", "content-type"])

interface DecodeIssue {
  readonly path?: ReadonlyArray<unknown>
  readonly message?: string
}

const pointer = (path: ReadonlyArray<unknown>) => {
  if (path.length === 1 && typeof path[0] === "string" && headerFields.has(path[0])) return `header:${path[0]}`
  return `/${path.map((part) => String(part).replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`
}

const rewriteDecodeError = (decoded: { readonly issues?: ReadonlyArray<DecodeIssue>; readonly message?: string }) => {
  const errors = (decoded.issues ?? []).map((issue) => ({ pointer: pointer(issue.path ?? []), detail: issue.message ?? "is invalid" }))
  const aboutHeaders = errors.length > 0 && errors.every((error) => error.pointer.startsWith("header:"))
  return aboutHeaders
    ? json(400, Problem.body(400, "bad-request", "Bad request", errors.map((e) => `${e.pointer.slice(7)}: ${e.detail}`).join("; "), errors))
    : json(422, Problem.body(422, "validation-failed", "The request is not valid", errors.map((e) => `${e.pointer} ${e.detail}`).join("; ") || "the request does not match the schema", errors))
}

const bodyText = (response: HttpServerResponse.HttpServerResponse): string | undefined =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : undefined

const rewrite = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status === 400) {
    const text = bodyText(response)
    if (text !== undefined && text.includes('"HttpApiDecodeError"')) return rewriteDecodeError(JSON.parse(text) as { issues?: ReadonlyArray<DecodeIssue> })
  }
  if (response.status === 404 && response.body._tag === "Empty") {
    return json(404, Problem.body(404, "not-found", "Not found", `no endpoint ${request.method} ${request.url.split("?")[0]}`))
  }
  if (response.status >= 500 && response.body._tag === "Empty") {
    return json(response.status, Problem.body(response.status, "internal-error", "Internal error", "something went wrong on our side; it has been logged"))
  }
  if (response.status >= 400 && response.body._tag === "Uint8Array" && response.body.contentType === "application/json") {
    // Handlers fail with problem classes; HttpApi encodes them as plain JSON.
    return HttpServerResponse.uint8Array(response.body.body, { status: response.status, headers: response.headers, contentType: "application/problem+json" })
  }
  return response
}

/** The router signals an unknown route by dying with a 404 response: not a bug. */
const isResponse = (defect: unknown) =>
  HttpServerResponse.isServerResponse(defect) || (typeof defect === "object" && defect !== null && "status" in defect && "body" in defect && "cookies" in defect)

export const middleware = (options: { readonly maxBodyBytes: number }) =>
  HttpMiddleware.make((app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.method === "POST" || request.method === "PUT" || request.method === "PATCH") {
        const type = request.headers["content-type"] ?? ""
        const length = Number(request.headers["content-length"] ?? "0")
        if (length > options.maxBodyBytes) {
          return json(413, Problem.body(413, "payload-too-large", "The body is too large", `bodies are limited to ${options.maxBodyBytes} bytes`))
        }
        const text = yield* Effect.either(request.text)
        if (text._tag === "Left") {
          return json(413, Problem.body(413, "payload-too-large", "The body is too large", `bodies are limited to ${options.maxBodyBytes} bytes`))
        }
        if (text.right.length > 0 || length > 0) {
          if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
            return json(415, Problem.body(415, "unsupported-media-type", "The body must be application/json", `send "Content-Type: application/json" (got "${type || "none"}")`))
          }
          try {
            JSON.parse(text.right)
          } catch (error) {
            return json(400, Problem.body(400, "malformed-json", "The body is not valid JSON", error instanceof Error ? error.message : "unparseable JSON"))
          }
        }
      }
      // The server sends a response as soon as the app produces it, so errors are rewritten in a
      // pre-response handler, which also sees the framework's own failures (decode errors, defects).
      yield* HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(rewrite(request, response)))
      return yield* app
    }).pipe(
      // By now the response has been sent (see above); what is left is to log real bugs.
      Effect.tapDefect((cause) =>
        Chunk.toReadonlyArray(Cause.defects(cause)).every(isResponse) ? Effect.void : Effect.logError("request failed", cause)
      )
    )
  )
