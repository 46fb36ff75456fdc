/**
 * The gauges that are computed when they are read rather than kept up to date: the purchase
 * queue's depth (one count over the requests not yet terminal) and how many active sellers'
 * circuits are not closed. A scrape (the server's `/metrics`) refreshes them, then renders the
 * registry. A count that fails or takes longer than `refreshWithin` is logged and the gauge
 * keeps its last value: a slow database must not make the metrics unreadable.
 */
import { SqlClient } from "effect/sql"
import { Context, Effect, Layer } from "effect"
import { activeStatuses } from "../purchases/store/PurchaseStore.js"
import * as Metrics from "../Metrics.js"
import { SellerDirectory } from "../sellers/SellerDirectory.js"
import { SharedState } from "../state/SharedState.js"

export interface GaugesService {
  /** Sets `bookbroker_purchase_queue_depth` and `bookbroker_seller_circuits_open`; never fails. */
  readonly refresh: Effect.Effect<void>
}

export class Gauges extends Context.Service<Gauges, GaugesService>()("@bookbroker/engine/Gauges") {}

/** How long each count may take before the scrape goes on without it. */
export const refreshWithin = "2 seconds"

/** Seller circuits read at once. */
const circuitConcurrency = 16

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const state = yield* SharedState
  const directory = yield* SellerDirectory

  const queueDepth = sql<{ n: number }>`
    SELECT count(*)::int AS n FROM purchase_requests WHERE status IN ${sql.in(activeStatuses)}`.pipe(
    Effect.timeout(refreshWithin),
    Effect.flatMap((rows) => Metrics.setQueueDepth(rows[0]?.n ?? 0)),
    Effect.catch((error) => Effect.logWarning("metrics: could not count the purchase queue", error))
  )

  const circuitsOpen = directory.active.pipe(
    Effect.flatMap((sellers) => Effect.forEach(sellers, (seller) => state.circuit(seller.id), { concurrency: circuitConcurrency })),
    Effect.flatMap((circuits) => Metrics.setCircuitsOpen(circuits.filter((circuit) => circuit.state !== "closed").length)),
    Effect.timeout(refreshWithin),
    Effect.catch((error) => Effect.logWarning("metrics: could not read the sellers' circuits", error))
  )

  const service: GaugesService = {
    refresh: Effect.all([queueDepth, circuitsOpen], { concurrency: 2, discard: true }).pipe(Effect.withSpan("Gauges.refresh"))
  }
  return service
})

export const layer: Layer.Layer<Gauges, never, SqlClient.SqlClient | SharedState | SellerDirectory> = Layer.effect(Gauges, make)
