/**
 * Serves msw handlers over real HTTP on 127.0.0.1. msw intercepts `fetch` and `node:http` in
 * process but not undici's own dispatcher, which is what bookbroker uses for sellers; so the
 * same handlers are served by a `node:http` server through msw's `getResponse`. One set of
 * handlers for unit tests, engine tests, demos and load runs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"
import type { ReadableStream } from "node:stream/web"
import { getResponse, type RequestHandler } from "msw"

export interface HandlerServer {
  /** e.g. `http://127.0.0.1:43121` */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Swaps the handlers (e.g. another seller behaviour) without a restart. */
  readonly use: (handlers: ReadonlyArray<RequestHandler>) => void
  readonly close: () => Promise<void>
}

export interface ServeOptions {
  readonly port?: number
  readonly host?: string
  /** Called when the server shuts down (e.g. to release hung calls). */
  readonly onClose?: () => void
}

export const serveHandlers = async (
  handlers: ReadonlyArray<RequestHandler>,
  options: ServeOptions = {}
): Promise<HandlerServer> => {
  let current = [...handlers]
  const server = createServer((req, res) => {
    handle(current, req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: "simulator_crash", message: String(error) }))
      } else res.destroy()
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve())
  })
  const address = server.address() as AddressInfo
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${address.port}`,
    port: address.port,
    server,
    use: (next) => {
      current = [...next]
    },
    close: () =>
      new Promise<void>((resolve) => {
        options.onClose?.()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

const handle = async (handlers: Array<RequestHandler>, req: IncomingMessage, res: ServerResponse) => {
  const url = `http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`
  const method = req.method ?? "GET"
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value)
  }
  const hasBody = method !== "GET" && method !== "HEAD"
  const body = hasBody ? await readBody(req) : undefined
  const request = new Request(url, { method, headers, ...(body === undefined ? {} : { body }) })
  const response = await getResponse(handlers, request)
  if (response === undefined) {
    res.writeHead(404, { "content-type": "application/json" })
    res.end(JSON.stringify({ error: "no_handler", message: `no simulated route for ${method} ${req.url}` }))
    return
  }
  if (response.type === "error") {
    // msw's HttpResponse.error(): a network error — drop the connection without an answer.
    res.destroy()
    return
  }
  const outgoing: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    outgoing[name] = value
  })
  res.writeHead(response.status, outgoing)
  if (response.body === null) {
    res.end()
    return
  }
  Readable.fromWeb(response.body as ReadableStream).pipe(res)
}

const readBody = async (req: IncomingMessage): Promise<Buffer | undefined> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return chunks.length === 0 ? undefined : Buffer.concat(chunks)
}
