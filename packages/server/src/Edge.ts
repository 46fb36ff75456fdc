/**
 * The edge in front of the API: bodies must be `application/json`, not too large, well-formed
 * and free of text PostgreSQL refuses (`SafeText`: NUL and control characters, lone surrogates,
 * nesting past 32 levels; query strings too) before the typed handlers see them, and every error leaves as problem details — unknown routes 404, and
 * a defect a bare 500 problem without a stack trace. (Bodies, queries and paths that do not
 * match the schemas are answered by `InputErrors`.) Bad input never changes state.
 */
import { ByteSize, Cause, Effect } from "effect"
import { HttpEffect, HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { tooLargeDetail, uploadPath } from "./api/Inventory.js"
import * as Problem from "./Problem.js"
import * as SafeText from "./SafeText.js"

const json = (status: number, body: unknown) => HttpServerResponse.jsonUnsafe(body, { status, contentType: "application/problem+json" })

const tooLarge = (detail: string) => json(413, Problem.body(413, "payload-too-large", "The body is too large", detail))

/** Past the limit the rest of the body is never read: the connection cannot carry another request, and says so. */
const tooLargeAndClose = (maxBodyBytes: number) => HttpServerResponse.setHeader(tooLarge(`bodies are limited to ${maxBodyBytes} bytes`), "connection", "close")

const unsupportedType = (type: string) =>
  json(415, Problem.body(415, "unsupported-media-type", "The body must be application/json", `send "Content-Type: application/json" (got "${type || "none"}")`))

/** node's HTTP version of the request ("1.1", "1.0"), when the server is node's. */
const httpVersion = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const source = request.source as { readonly httpVersion?: unknown }
  return typeof source.httpVersion === "string" ? source.httpVersion : undefined
}

const rewrite = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status === 404 && response.body._tag === "Empty") {
    return json(404, Problem.body(404, "not-found", "Not found", `no endpoint ${request.method} ${Problem.shownId(request.url.split("?")[0]!)}`))
  }
  // The framework's own 413: an inventory file whose length is past its limit, refused before a byte is read.
  if (response.status === 413 && response.body._tag === "Empty") return tooLarge(isStreamedBody(request) ? tooLargeDetail : "the body is larger than this endpoint takes")
  // The framework's own refusals of a content type (a text body) are problems too.
  if (response.status === 415 && response.body._tag !== "Empty" && response.headers["content-type"]?.startsWith("application/problem+json") !== true) {
    if (isStreamedBody(request)) {
      return json(415, Problem.body(415, "unsupported-media-type", "Unsupported file type", `send the inventory as text/tab-separated-values (TSV), application/jsonl (JSON Lines) or application/xml (ONIX for Books 3.0); got "${request.headers["content-type"] ?? "none"}"`))
    }
    return unsupportedType(request.headers["content-type"] ?? "")
  }
  if (response.status >= 500 && response.body._tag === "Empty") {
    return json(response.status, Problem.internalErrorBody(response.status))
  }
  return response
}

/**
 * Routes whose body is a file streamed to its handler, not JSON: they set their own content types
 * and size limit (the inventory upload), and the edge does not read their body.
 */
const streamedBodies = new Set([uploadPath])

const isStreamedBody = (request: HttpServerRequest.HttpServerRequest) => request.method === "POST" && streamedBodies.has(request.url.split("?")[0]!)

/**
 * A streamed body refused (a wrong key, a wrong type, a file refused midway) may be left partly
 * unread on the socket, where the server would read it as the next request: the answer closes the
 * connection, and says so (found by the fuzz suite: a 401 to a 1 MB upload said keep-alive, and
 * the client's next request on that connection was lost).
 */
const closingUnread = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) =>
  response.status >= 400 && isStreamedBody(request) ? HttpServerResponse.setHeader(response, "connection", "close") : response

/** Checks a request's body before the API decodes it; `undefined` when it may go on. */
const checkBody = (request: HttpServerRequest.HttpServerRequest, maxBodyBytes: number) =>
  Effect.gen(function* () {
    if (request.method !== "POST" && request.method !== "PUT" && request.method !== "PATCH") return undefined
    if (isStreamedBody(request)) return undefined
    const type = request.headers["content-type"] ?? ""
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > maxBodyBytes) return tooLargeAndClose(maxBodyBytes)
    // Also bounds a chunked body, which announces no length: reading stops past the limit.
    const text = yield* Effect.result(Effect.provideService(request.text, HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBodyBytes)))
    if (text._tag === "Failure") return tooLargeAndClose(maxBodyBytes)
    // Only `application/json` (with parameters): another type the framework would not read as
    // JSON — refused whether or not a body came with it. No type and no body: the schemas say.
    const isJson = /^application\/json\s*(;|$)/i.test(type)
    if (type !== "" && !isJson) return unsupportedType(type)
    if (text.success.length === 0 && !(length > 0)) return undefined
    if (!isJson) return unsupportedType(type)
    const body = jsonBody(text.success)
    return body._tag === "Refused" ? json(body.status, body.problem) : undefined
  })

/**
 * A JSON body as the edge lets it through: well-formed, and free of text PostgreSQL refuses
 * (`SafeText`). Otherwise the problem it is refused with (400 malformed JSON, 422 unsafe text).
 * Also the fast intake lane's check (`FastIntake.ts`), so both answer the same.
 */
export const jsonBody = (
  text: string
): { readonly _tag: "Parsed"; readonly value: unknown } | { readonly _tag: "Refused"; readonly status: 400 | 422; readonly problem: ReturnType<typeof Problem.body> } => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { _tag: "Refused", status: 400, problem: Problem.body(400, "malformed-json", "The body is not valid JSON", error instanceof Error ? error.message : "unparseable JSON") }
  }
  const unsafe = SafeText.checkJson(value)
  if (unsafe.length > 0) {
    return { _tag: "Refused", status: 422, problem: Problem.body(422, "validation-failed", "The request is not valid", unsafe.map((e) => `${e.pointer} ${e.detail}`).join("; "), unsafe) }
  }
  return { _tag: "Parsed", value }
}

/** The edge for every route (and for requests that match none). */
export const layer = (options: { readonly maxBodyBytes: number }) =>
  HttpRouter.middleware(
    (httpEffect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        // HTTP/1.1 requires Host (node's own check is off, so that the refusal is a problem too).
        if (request.headers["host"] === undefined && httpVersion(request) === "1.1") {
          return HttpServerResponse.setHeader(json(400, Problem.body(400, "missing-host", "The request has no Host header", "HTTP/1.1 requests must carry a Host header")), "connection", "close")
        }
        const query = SafeText.checkQuery(request.url)
        if (query.length > 0) {
          return json(400, Problem.body(400, "bad-request", "Bad request", query.map((e) => `${e.pointer.slice(6)}: ${e.detail}`).join("; "), query))
        }
        const refused = yield* checkBody(request, options.maxBodyBytes)
        if (refused !== undefined) return refused
        // Errors (the router's own among them: an unknown route, a defect) become responses
        // after this middleware, so they are rewritten just before the response is sent.
        yield* HttpEffect.appendPreResponseHandler((_request, response) => Effect.succeed(closingUnread(request, rewrite(request, response))))
        // A defect is a bug: logged with its cause (the client sees a bare 500 problem).
        return yield* httpEffect.pipe(Effect.tapCause((cause) => (Cause.hasDies(cause) ? Effect.logError("request failed", cause) : Effect.void)))
      }),
    { global: true }
  )
