/**
 * Liveness is the process answering; readiness is the engine's `Readiness.check` (503 when the
 * database does not answer; Redis down is `degraded`, not unready: the engine falls back to
 * in-process limits). `/metrics` refreshes the gauges computed when scraped (the engine's
 * `Gauges`: queue depth, open circuits), then renders the registry.
 */
import { HttpApiBuilder } from "effect/http-api"
import { Gauges, Readiness } from "@bookbroker/engine"
import { Effect } from "effect"
import { BookbrokerApi } from "../Api.js"
import * as Problem from "../Problem.js"
import { Metrics } from "./Metrics.js"

export const HealthLive = HttpApiBuilder.group(BookbrokerApi, "health", (handlers) =>
  Effect.gen(function* () {
    const readiness = yield* Readiness.Readiness
    const gauges = yield* Gauges.Gauges
    const metrics = yield* Metrics

    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        Effect.gen(function* () {
          const { database, sharedState } = yield* readiness.check
          if (database !== "ok") {
            return yield* Effect.fail(Problem.unavailable(`database not reachable: ${database.unreachable}; shared state ${sharedState}`))
          }
          return { status: "ready" as const, checks: { database: "ok", shared_state: sharedState } }
        })
      )
      .handle("metrics", () => Effect.andThen(gauges.refresh, metrics.render))
  })
)
