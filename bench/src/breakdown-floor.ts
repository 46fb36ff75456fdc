/**
 * The floor for `breakdown.ts`: Effect HttpApi on node:http serving bookbroker's own
 * `GET /v1/purchase-requests/:id` and `POST /v1/purchase-requests` (same paths, same schemas)
 * with constant answers — no middleware, no engine, no database. Same stdin/stdout
 * protocol as `intake-server.ts`.
 */
import { Api } from "@bookbroker/server"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"
import { createInterface } from "node:readline"

const FloorApi = HttpApi.make("floor").add(
  HttpApiGroup.make("purchases").add(
    HttpApiEndpoint.get("get", "/v1/purchase-requests/:id").setPath(Schema.Struct({ id: Schema.String })).addSuccess(Api.PurchaseRequest)
  ).add(
    HttpApiEndpoint.post("create", "/v1/purchase-requests")
      .setHeaders(Schema.Struct({ "idempotency-key": Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)) }))
      .setPayload(Api.NewPurchaseRequest)
      .addSuccess(Api.AcceptedPurchase, { status: 202 })
  )
)
const now = new Date().toISOString()
const answer = {
  id: "0b7e0c8e-1c7a-4f4b-9d55-0f1e6f6f0a11",
  status: "received" as const,
  terminal: false,
  isbn: "9780306406157",
  max_price: { amount: 2999, currency: "EUR" },
  reason: null,
  final_price: null,
  seller_id: null,
  order_id: null,
  counter_offer: null,
  attempts: [],
  waiting: null,
  quote_progress: null,
  created_at: now,
  updated_at: now,
  completed_at: null
}
const handlers = HttpApiBuilder.group(FloorApi, "purchases", (handlers) =>
  handlers
    .handle("get", () => Effect.succeed(answer))
    .handle("create", () => Effect.succeed({ id: answer.id, status: "received" as const, status_url: `/v1/purchase-requests/${answer.id}`, queue: { depth: 1, eta_seconds: null } }))
)
const layer = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(FloorApi).pipe(Layer.provide(handlers))),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(HttpServer.layerContext)
)

const program = Effect.gen(function* () {
  const context = yield* Layer.build(layer)
  const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}`, key: "none", id: answer.id })}\n`)
  const lines = createInterface({ input: process.stdin })
  yield* Effect.async<void>((resume) => {
    lines.on("line", () => {
      const cpu = process.cpuUsage()
      process.stdout.write(`${JSON.stringify({ rows: 0, cpuMicros: cpu.user + cpu.system })}\n`)
    })
    lines.on("close", () => resume(Effect.void))
  })
})

await Effect.runPromise(Effect.scoped(program))
process.exit(0)
