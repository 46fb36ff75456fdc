/**
 * Bytes on a raw TCP connection (node:net), for what an HTTP client library refuses to send:
 * malformed request lines, bare LF, NUL in headers, conflicting lengths, bad chunk sizes, headers
 * that arrive slowly. `exchange` writes the pieces (optionally with pauses), half-closes when told
 * to, and reads until one whole answer has arrived, the server closes, or the hang bound passes —
 * so a server that never answers is a `timeout`, never a stuck test.
 */
import { connect } from "node:net"

/** A piece of a request: bytes to write, or a pause (ms) before the next piece. */
export type Piece = string | Buffer | { readonly pauseMillis: number }

export interface RawAnswer {
  /** `answered`: a whole HTTP answer; `closed`: the server closed without one; `timeout`: neither within the bound. */
  readonly outcome: "answered" | "closed" | "timeout"
  readonly status: number | undefined
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Everything received (latin1), for reports. */
  readonly raw: string
  readonly millis: number
  /** The server closed the connection (before or after answering) within the bound. */
  readonly closedByServer: boolean
}

export interface ExchangeOptions {
  readonly port: number
  readonly host?: string
  /** How long to wait for a whole answer or a close (the hang bound). */
  readonly timeoutMillis: number
  /**
   * When to half-close (the server sees the request end): `at-once` after the last piece (the
   * default), `never`, or a number of milliseconds after the last piece when no answer has come
   * by then. node's server drops a request still in its handler when the client half-closes (a
   * clean close, not an answer), so a request that should be answered is given time first.
   */
  readonly halfClose?: "at-once" | "never" | number
  /** After a whole answer, wait for the server to close instead of returning at once. */
  readonly awaitClose?: boolean
  /** The request is a HEAD: its answer has no body whatever its length says. */
  readonly head?: boolean
}

interface Parsed {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
  /** The answer is complete (its length known and reached). */
  readonly complete: boolean
}

/** Decodes a chunked body; `undefined` while it is incomplete. */
const dechunk = (data: Buffer): Buffer | undefined => {
  const parts: Array<Buffer> = []
  let offset = 0
  for (;;) {
    const lineEnd = data.indexOf("\r\n", offset, "latin1")
    if (lineEnd < 0) return undefined
    const size = parseInt(data.subarray(offset, lineEnd).toString("latin1").split(";")[0]!.trim(), 16)
    if (!Number.isFinite(size)) return Buffer.concat(parts)
    offset = lineEnd + 2
    if (size === 0) return Buffer.concat(parts)
    if (data.length < offset + size + 2) return undefined
    parts.push(data.subarray(offset, offset + size))
    offset += size + 2
  }
}

/** The first HTTP answer in `data`, if its head has arrived. */
export const parseAnswer = (data: Buffer, closed: boolean, options: { readonly head?: boolean } = {}): Parsed | undefined => {
  const headEnd = data.indexOf("\r\n\r\n", 0, "latin1")
  if (headEnd < 0) return undefined
  const lines = data.subarray(0, headEnd).toString("latin1").split("\r\n")
  const status = Number(lines[0]?.split(" ")[1])
  // An interim answer (100 Continue) has no body: the real one follows it.
  if (status >= 100 && status < 200) return parseAnswer(data.subarray(headEnd + 4), closed, options)
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":")
    if (colon < 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  const rest = data.subarray(headEnd + 4)
  // The answer to a HEAD announces a length but carries no body.
  if (options.head === true) return { status, headers, body: "", complete: true }
  if (headers["transfer-encoding"]?.toLowerCase().includes("chunked") === true) {
    const body = dechunk(rest)
    return { status, headers, body: (body ?? rest).toString("utf8"), complete: body !== undefined }
  }
  const length = headers["content-length"]
  if (length !== undefined) {
    const n = Number(length)
    return { status, headers, body: rest.subarray(0, n).toString("utf8"), complete: rest.length >= n }
  }
  // 204 and 304 have no body; otherwise the body runs to the close.
  if (status === 204 || status === 304) return { status, headers, body: "", complete: true }
  return { status, headers, body: rest.toString("utf8"), complete: closed }
}

/** Writes `pieces` on a fresh connection and reads one answer (see the module comment). */
export const exchange = (pieces: ReadonlyArray<Piece>, options: ExchangeOptions): Promise<RawAnswer> =>
  new Promise((done) => {
    const started = performance.now()
    const chunks: Array<Buffer> = []
    let finished = false
    let closedByServer = false
    let answered: Parsed | undefined
    const socket = connect(options.port, options.host ?? "127.0.0.1")
    const finish = (outcome: RawAnswer["outcome"]) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      const data = Buffer.concat(chunks)
      const parsed = answered ?? parseAnswer(data, outcome === "closed", options)
      const whole = parsed !== undefined && parsed.complete && parsed.status >= 200
      socket.destroy()
      done({
        outcome: whole ? "answered" : outcome,
        status: parsed?.status,
        headers: parsed?.headers ?? {},
        body: parsed?.body ?? "",
        raw: data.toString("latin1"),
        millis: performance.now() - started,
        closedByServer
      })
    }
    const timer = setTimeout(() => finish("timeout"), options.timeoutMillis)
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      const parsed = parseAnswer(Buffer.concat(chunks), false, options)
      if (parsed?.complete === true && parsed.status >= 200) {
        answered = parsed
        if (options.awaitClose !== true) finish("answered")
      }
    })
    // A reset (the server refusing the rest of a body) counts as a close.
    socket.on("error", () => {
      closedByServer = true
      finish("closed")
    })
    socket.on("close", () => {
      closedByServer = true
      finish("closed")
    })
    socket.on("connect", async () => {
      for (const piece of pieces) {
        if (finished) return
        if (typeof piece === "object" && !Buffer.isBuffer(piece)) {
          await new Promise((resume) => setTimeout(resume, piece.pauseMillis))
          continue
        }
        if (socket.destroyed || !socket.writable) return
        socket.write(piece)
      }
      const halfClose = options.halfClose ?? "at-once"
      if (halfClose === "at-once") socket.end()
      else if (halfClose !== "never") setTimeout(() => finished || socket.destroyed || socket.end(), halfClose)
    })
  })

/** A request head (CRLF line ends) plus body: the usual shape, to be broken on purpose. */
export const request = (lines: ReadonlyArray<string>, body = ""): string => `${lines.join("\r\n")}\r\n\r\n${body}`
