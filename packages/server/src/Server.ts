/**
 * The HTTP server: the API's handlers over the engine, the edge middleware, `/openapi.json`
 * and `/docs`, on node:http. Entry points (the CLI's `serve`) provide the engine's layers and
 * the settings; nothing here builds infrastructure.
 */
import { HttpApiBuilder, HttpApiScalar, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Layer, type Redacted } from "effect"
import { createServer } from "node:http"
import { BookbrokerApi } from "./Api.js"
import { CustomerAuthLive, OperatorAuthLive, OperatorToken, SellerAuthLive } from "./Auth.js"
import { defaultSettings, Settings, type ServerSettings } from "./Config.js"
import * as Edge from "./Edge.js"
import { BooksLive } from "./http/Books.js"
import { HealthLive } from "./http/Health.js"
import * as Metrics from "./http/Metrics.js"
import { OperatorLive } from "./http/Operator.js"
import { PurchasesLive } from "./http/Purchases.js"
import { SellersLive } from "./http/Sellers.js"

export interface ServerOptions {
  readonly port: number
  readonly host?: string
  readonly operatorToken: Redacted.Redacted<string>
  readonly settings?: Partial<ServerSettings>
}

/** The API with its handlers, needing the engine's services. */
export const ApiLive = HttpApiBuilder.api(BookbrokerApi).pipe(
  Layer.provide([PurchasesLive, BooksLive, SellersLive, OperatorLive, HealthLive]),
  Layer.provide([CustomerAuthLive, SellerAuthLive, OperatorAuthLive, Metrics.layer])
)

/** The whole server on a port (0 picks a free one; read it from `HttpServer.HttpServer`). */
export const layer = (options: ServerOptions) => {
  const settings = { ...defaultSettings, ...options.settings }
  return HttpApiBuilder.serve(Edge.middleware({ maxBodyBytes: settings.maxBodyBytes })).pipe(
    Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(ApiLive),
    Layer.provide(Layer.mergeAll(Layer.succeed(Settings, settings), Layer.succeed(OperatorToken, options.operatorToken))),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: options.port, host: options.host ?? "127.0.0.1" })),
    Layer.provideMerge(HttpServer.layerContext)
  )
}
