/**
 * Liveness is the process answering; readiness is the database answering (503 otherwise) and
 * the shared state's health (Redis down is `degraded`, not unready: the engine falls back to
 * in-process limits). `/metrics` samples the queue depth and open circuits at each scrape.
 */
import { HttpApiBuilder } from "effect/http-api"
import { Metrics as EngineMetrics, SellerDirectory, SharedState } from "@bookbroker/engine"
import { SqlClient } from "effect/sql"
import { Effect } from "effect"
import { BookbrokerApi } from "../Api.js"
import * as Problem from "../Problem.js"
import { Metrics } from "./Metrics.js"

export const HealthLive = HttpApiBuilder.group(BookbrokerApi, "health", (handlers) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const state = yield* SharedState.SharedState
    const directory = yield* SellerDirectory.SellerDirectory
    const metrics = yield* Metrics

    /** Gauges computed when scraped: one count over the queue, the circuits of the active sellers. */
    const sample = Effect.all(
      [
        sql<{ n: number }>`
          SELECT count(*)::int AS n FROM purchase_requests
          WHERE status IN ('received', 'authorized', 'quoting', 'deciding', 'purchasing')`.pipe(
          Effect.timeout("2 seconds"),
          Effect.flatMap((rows) => EngineMetrics.setQueueDepth(rows[0]?.n ?? 0)),
          Effect.catch((error) => Effect.logWarning("metrics: could not count the purchase queue", error))
        ),
        directory.active.pipe(
          Effect.flatMap((sellers) => Effect.forEach(sellers, (seller) => state.circuit(seller.id), { concurrency: 16 })),
          Effect.flatMap((circuits) => EngineMetrics.setCircuitsOpen(circuits.filter((circuit) => circuit.state !== "closed").length)),
          Effect.timeout("2 seconds"),
          Effect.catch((error) => Effect.logWarning("metrics: could not read the sellers' circuits", error))
        )
      ],
      { concurrency: 2, discard: true }
    )

    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        Effect.gen(function* () {
          const [database, shared] = yield* Effect.all(
            [
              sql`SELECT 1`.pipe(
                Effect.timeout("2 seconds"),
                Effect.as(undefined),
                Effect.catch((error) => Effect.succeed(String(error)))
              ),
              state.ping
            ],
            { concurrency: 2 }
          )
          if (database !== undefined) {
            return yield* Effect.fail(Problem.unavailable(`database not reachable: ${database}; shared state ${shared}`))
          }
          return { status: "ready" as const, checks: { database: "ok", shared_state: shared } }
        })
      )
      .handle("metrics", () => Effect.andThen(sample, metrics.render))
  })
)
