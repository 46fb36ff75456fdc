/**
 * The HTTP server: the API's handlers over the engine, the edge middleware, `/openapi.json`
 * and `/docs`, on node:http. Entry points (the CLI's `serve`) provide the engine's layers and
 * the settings; nothing here builds infrastructure.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, type Redacted } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { createServer } from "node:http"
import { BookbrokerApi } from "./Api.js"
import { CustomerAuthLive, OperatorAuthLive, OperatorToken, SellerAuthLive } from "./Auth.js"
import { effectiveSettings, Settings, type ServerSettings } from "./Config.js"
import * as Edge from "./Edge.js"
import * as FastIntake from "./FastIntake.js"
import { BooksLive } from "./http/Books.js"
import { CustomersLive } from "./http/Customers.js"
import { HealthLive } from "./http/Health.js"
import { InventoryLive } from "./http/Inventory.js"
import * as Metrics from "./http/Metrics.js"
import { OperatorLive } from "./http/Operator.js"
import { PurchasesLive } from "./http/Purchases.js"
import { SellersLive } from "./http/Sellers.js"
import * as SubmitPurchase from "./http/SubmitPurchase.js"
import * as InputErrors from "./InputErrors.js"
import * as MalformedHttp from "./MalformedHttp.js"
import * as SignInFailures from "./SignInFailures.js"

export interface ServerOptions {
  readonly port: number
  readonly host?: string
  readonly operatorToken: Redacted.Redacted<string>
  readonly settings?: Partial<ServerSettings>
}

/**
 * The API's routes with their handlers, `/openapi.json` and `/docs`, needing the engine's
 * services, the settings and the parts the fast intake lane shares with them (`shared`).
 */
export const routes = (options: { readonly maxBodyBytes: number }) =>
  Layer.mergeAll(
    HttpApiBuilder.layer(BookbrokerApi, { openapiPath: "/openapi.json" }).pipe(
      Layer.provide([PurchasesLive, BooksLive, CustomersLive, SellersLive, InventoryLive, OperatorLive, HealthLive]),
      Layer.provide([CustomerAuthLive, SellerAuthLive, OperatorAuthLive, InputErrors.layer, Metrics.layer])
    ),
    HttpApiScalar.layer(BookbrokerApi, { path: "/docs" }),
    Edge.layer(options)
  )

/**
 * One record of blocked addresses for the three authentications and the fast lane, and one
 * acceptance of purchase requests (with its in-flight keys) for the handler and the fast lane.
 */
const shared = Layer.mergeAll(SignInFailures.layer, SubmitPurchase.layer)

/** The whole server on a port (0 picks a free one; read it from `HttpServer.HttpServer`). */
export const layer = (options: ServerOptions) => {
  const settings = effectiveSettings(options.settings)
  return Layer.unwrap(
    Effect.sync(() => {
      // node's own bare 400 for bytes that are not HTTP becomes a problem+json too.
      const server = MalformedHttp.answerWithProblems(createServer({ requireHostHeader: false }))
      // No access log and no "Listening on" line: entry points print their own banner, and a log
      // line per request costs more CPU than the request (defects are logged by the edge).
      const serve = HttpRouter.serve(routes({ maxBodyBytes: settings.maxBodyBytes }), { disableLogger: true, disableListenLog: true })
      return Layer.mergeAll(serve, settings.fastIntake ? FastIntake.layer(server) : Layer.empty).pipe(
        Layer.provide(shared),
        Layer.provideMerge(NodeHttpServer.layer(() => server, { port: options.port, host: options.host ?? "127.0.0.1" }))
      )
    })
  ).pipe(Layer.provide(Layer.mergeAll(Layer.succeed(Settings, settings), Layer.succeed(OperatorToken, options.operatorToken))))
}
