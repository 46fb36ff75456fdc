/**
 * The floor for `breakdown.ts`: Effect HttpApi on node:http serving bookbroker's own
 * `GET /v1/purchase-requests/:id` and `POST /v1/purchase-requests` (same paths, same schemas)
 * with constant answers — no middleware, no engine, no database. Same stdin/stdout
 * protocol as `intake-server.ts`.
 */
import { Api } from "@bookbroker/server"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import type { NetAddress } from "effect/net"
import { createServer } from "node:http"
import { createInterface } from "node:readline"

const FloorApi = HttpApi.make("floor").add(
  HttpApiGroup.make("purchases").add(
    HttpApiEndpoint.get("get", "/v1/purchase-requests/:id", { params: { id: Schema.String }, success: Api.PurchaseRequest }),
    HttpApiEndpoint.post("create", "/v1/purchase-requests", {
      headers: { "idempotency-key": Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)) },
      payload: Api.NewPurchaseRequest,
      success: Api.AcceptedPurchase.pipe(HttpApiSchema.status(202))
    })
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
  seller_price: null,
  exchange_rates: [],
  attempts: [],
  waiting: null,
  quote_progress: null,
  wait_until: null,
  created_at: now,
  updated_at: now,
  completed_at: null
}
const handlers = HttpApiBuilder.group(FloorApi, "purchases", (handlers) =>
  handlers
    .handle("get", () => Effect.succeed(answer))
    .handle("create", () => Effect.succeed({ id: answer.id, status: "received" as const, status_url: `/v1/purchase-requests/${answer.id}`, queue: { depth: 1, eta_seconds: null } }))
)
const layer = HttpRouter.serve(HttpApiBuilder.layer(FloorApi).pipe(Layer.provide(handlers)), { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

const program = Effect.gen(function* () {
  const context = yield* Layer.build(layer)
  const address = Context.get(context, HttpServer.HttpServer).address as NetAddress.InetAddress
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}`, key: "none", id: answer.id })}\n`)
  const lines = createInterface({ input: process.stdin })
  yield* Effect.callback<void>((resume) => {
    lines.on("line", () => {
      const cpu = process.cpuUsage()
      process.stdout.write(`${JSON.stringify({ rows: 0, cpuMicros: cpu.user + cpu.system })}\n`)
    })
    lines.on("close", () => resume(Effect.void))
  })
})

await Effect.runPromise(Effect.scoped(program))
process.exit(0)
