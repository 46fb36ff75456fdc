/**
 * Serves msw handlers over real HTTP on 127.0.0.1. msw intercepts `fetch` and `node:http` in
 * process but not undici's own dispatcher, which is what bookbroker uses for sellers; so the
 * same handlers are served by a `node:http` server. One set of handlers for unit tests, engine
 * tests, demos and load runs.
 *
 * Plain `http.<method>("<path>", resolver)` handlers are dispatched directly: their path is
 * compiled once and their resolver called with `{ request, params, cookies, requestId }`, as msw
 * would. msw's own `getResponse` costs about a millisecond of CPU per request here, which made a
 * 200-seller fleet the bottleneck of every load run. Any other handler (RegExp or predicate
 * paths, GraphQL) goes through `getResponse` unchanged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { randomUUID } from "node:crypto"
import { getResponse, HttpHandler, type RequestHandler } from "msw"

export interface HandlerServer {
  /** e.g. `http://127.0.0.1:43121` */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Swaps the handlers (e.g. another seller behaviour) without a restart. */
  readonly use: (handlers: ReadonlyArray<RequestHandler>) => void
  /**
   * Stops listening and drops every open connection: new calls are refused (ECONNREFUSED) —
   * a seller that is down, as opposed to one that answers badly — until `acceptConnections`.
   */
  readonly refuseConnections: () => Promise<void>
  /** Listens again, on the same port. */
  readonly acceptConnections: () => Promise<void>
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
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, options.host ?? "127.0.0.1", () => {
        server.off("error", reject)
        resolve()
      })
    })
  await listen(options.port ?? 0)
  const address = server.address() as AddressInfo
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${address.port}`,
    port: address.port,
    server,
    use: (next) => {
      current = [...next]
    },
    refuseConnections: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
    acceptConnections: () => (server.listening ? Promise.resolve() : listen(address.port)),
    close: () =>
      new Promise<void>((resolve) => {
        options.onClose?.()
        if (!server.listening) return resolve()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

interface Route {
  readonly method: string
  readonly pattern: RegExp
  readonly handler: HttpHandler
}

const compile = (path: string): RegExp => {
  const source = path
    .split(/(\*|:[A-Za-z_][A-Za-z0-9_]*)/)
    .map((part) => (part === "*" ? ".*" : part.startsWith(":") ? `(?<${part.slice(1)}>[^/?#]+)` : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("")
  return new RegExp(`^${source}/?$`)
}

const routeOf = (handler: RequestHandler): Route | undefined => {
  if (!(handler instanceof HttpHandler)) return undefined
  const { method, path } = handler.info
  if (typeof method !== "string" || typeof path !== "string") return undefined
  return { method: method.toUpperCase(), pattern: compile(path.includes("://") || path.startsWith("*") ? path : `*${path}`), handler }
}

/** Dispatches to a plain route directly; `undefined` when msw must decide. */
const dispatch = async (routes: ReadonlyArray<Route | undefined>, request: Request): Promise<Response | undefined | "msw"> => {
  const url = request.url.split("?")[0]!
  for (const route of routes) {
    if (route === undefined) return "msw"
    if (route.method !== "ALL" && route.method !== request.method) continue
    const match = route.pattern.exec(url)
    if (match === null) continue
    const params: Record<string, string> = {}
    for (const [name, value] of Object.entries(match.groups ?? {})) params[name] = decodeURIComponent(value)
    const resolver = (route.handler as unknown as { resolver: (info: unknown) => unknown }).resolver
    const response = (await resolver({ request, params, cookies: {}, requestId: randomUUID() })) as Response | undefined
    if (response !== undefined) return response
  }
  return undefined
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
  const direct = await dispatch(routesFor(handlers), request)
  const response = direct === "msw" ? await getResponse(handlers, request) : direct
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
  if (response.body === null) {
    res.writeHead(response.status, outgoing)
    res.end()
    return
  }
  // Whole bodies: web-stream piping costs more than every simulated answer is long.
  const payload = Buffer.from(await response.arrayBuffer())
  outgoing["content-length"] = String(payload.length)
  res.writeHead(response.status, outgoing)
  res.end(payload)
}

const compiled = new WeakMap<Array<RequestHandler>, ReadonlyArray<Route | undefined>>()
const routesFor = (handlers: Array<RequestHandler>) => {
  let routes = compiled.get(handlers)
  if (routes === undefined) {
    routes = handlers.map(routeOf)
    compiled.set(handlers, routes)
  }
  return routes
}

const readBody = async (req: IncomingMessage): Promise<Buffer | undefined> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return chunks.length === 0 ? undefined : Buffer.concat(chunks)
}
