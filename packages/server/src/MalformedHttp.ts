/**
 * Requests that are not HTTP/1.1 at all — a garbage request line, a header with bytes HTTP
 * forbids, headers past node's size limit, a request that never finishes its headers — never
 * reach the router: node's HTTP parser refuses them. node then answers a bare `400 Bad Request`
 * with no body; here they get a problem+json like every other refusal, and the connection is
 * closed (after a parse error nothing more on it can be trusted). The detail names what was
 * wrong in node's words, never the bytes that were sent.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { Socket } from "node:net"
import * as Problem from "./Problem.js"

interface Refusal {
  readonly status: number
  readonly reason: string
  readonly slug: string
  readonly title: string
  readonly detail: string
}

const refusalFor = (error: Error & { readonly code?: string }): Refusal => {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        reason: "Request Header Fields Too Large",
        slug: "headers-too-large",
        title: "The request's headers are too large",
        detail: "the request line and headers together must stay within the server's limit (16 KiB)"
      }
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, reason: "Request Timeout", slug: "request-timeout", title: "The request took too long to arrive", detail: "the headers or body did not arrive in time" }
    default:
      return {
        status: 400,
        reason: "Bad Request",
        slug: "malformed-http",
        title: "The request is not valid HTTP/1.1",
        // node's parser messages ("Parse Error: Invalid header value char") carry no request bytes.
        detail: `${error.message.replace(/[^\x20-\x7e]/g, "?").slice(0, 200)}${error.code === undefined ? "" : ` (${error.code})`}`
      }
  }
}

/** The raw response for a request node's parser refused. */
export const response = (error: Error & { readonly code?: string }): string => {
  const refusal = refusalFor(error)
  const body = JSON.stringify(Problem.body(refusal.status, refusal.slug, refusal.title, refusal.detail))
  return (
    `HTTP/1.1 ${refusal.status} ${refusal.reason}\r\n` +
    "Content-Type: application/problem+json\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  )
}

/**
 * An `Expect` other than `100-continue`: node would answer a bare 417; a problem+json instead,
 * and the connection closed (the body, if any, was never read).
 */
const expectationFailed = (_request: IncomingMessage, response: ServerResponse): void => {
  const body = JSON.stringify(Problem.body(417, "expectation-failed", "The Expect header cannot be met", 'the only expectation this server meets is "100-continue"'))
  response.writeHead(417, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(body), connection: "close" })
  response.end(body)
}

/**
 * Answers what node's parser refuses with a problem+json (instead of its bare 400), and what
 * node would refuse before any handler (an unmet `Expect`). A missing `Host` is left to the
 * edge (`requireHostHeader: false`, see `Edge.ts`).
 */
export const answerWithProblems = <S extends Server>(server: S): S =>
  server.on("checkExpectation", expectationFailed).on("clientError", (error: Error & { readonly code?: string }, socket: Socket) => {
    // A reset or an already closed socket: nobody to answer.
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy()
      return
    }
    socket.end(response(error))
  })
