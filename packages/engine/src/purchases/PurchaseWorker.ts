/**
 * Workers take purchase requests from the PostgreSQL queue (`FOR UPDATE SKIP LOCKED`, under a
 * lease with a fencing version) and run them through the pipeline. Any number of workers, in
 * any number of processes, share one queue; a crashed or paused worker's lease expires and its
 * requests are taken over. An idle worker sleeps `pollMillis`, or less: with @effect/sql-pg it
 * listens for the "there is work" signal (`workSignal.ts`) and claims at once.
 */
import { randomUUID } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Queue, Schedule, Semaphore, Stream } from "effect"
import type { RequestRow } from "./store/PurchaseStore.js"
import { orDie } from "../internal/sql.js"
import { signalWork, workChannel } from "./workSignal.js"
import { SimulatedCrash } from "./CrashPoints.js"
import { PurchasePipeline, type RunResult } from "./PurchasePipeline.js"

const describeDefect = (defect: unknown): string => (defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)).slice(0, 500)

export interface WorkerOptions {
  readonly workerId?: string
  /**
   * Requests processed at once. Default 128: most of a request's time is waiting for sellers (in
   * their queues, where turns are fair), and a request waiting in the database queue instead is
   * waiting for nothing.
   */
  readonly concurrency?: number
  /** Sleep when the queue is empty (unless woken by the work signal). Default 100 ms. */
  readonly pollMillis?: number
  /**
   * Runs of one request in a row that may end in a defect (a bug, not a seller or a database
   * being down) before the request is set aside for an operator (`attention = dead_letter`,
   * `requests list --stuck`). Default 5.
   */
  readonly maxDefects?: number
  /** How often the worker checks that its LISTEN connection still hears the work signal. Default 4 s. */
  readonly listenCheckMillis?: number
}

export interface PurchaseWorkerService {
  readonly workerId: string
  /** Claims up to `concurrency` runnable requests and runs them; returns what happened to each. */
  readonly runOnce: Effect.Effect<ReadonlyArray<RunResult>>
  /** Runs forever (until interrupted). */
  readonly run: Effect.Effect<never>
}

/** A worker's own ping on the work channel (see `run`); every other payload means work. */
const pingPrefix = "ping:"

export class PurchaseWorker extends Context.Service<PurchaseWorker, PurchaseWorkerService>()("@bookbroker/engine/PurchaseWorker") {}

export const make = (options: WorkerOptions = {}) =>
  Effect.gen(function* () {
    const pipeline = yield* PurchasePipeline
    const workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`
    const concurrency = options.concurrency ?? 128
    const pollMillis = options.pollMillis ?? 100
    const maxDefects = options.maxDefects ?? 5
    const listenCheckMillis = options.listenCheckMillis ?? 4_000
    const pg = yield* Effect.serviceOption(PgClient.PgClient)

    /**
     * A run that died with a defect: the lease is given back with a growing delay, and after
     * `maxDefects` such runs in a row the request waits for an operator instead of failing
     * forever. A simulated crash stands for a process that died: it leaves the lease to expire.
     */
    const onDefect = (row: RequestRow) => (defect: unknown) =>
      defect instanceof SimulatedCrash
        ? Effect.void
        : Effect.andThen(
            Effect.logError(`processing purchase request ${row.id} failed with a defect; it will be retried`, defect),
            pipeline.store.recordDefect(row.id, row.fence, maxDefects, describeDefect(defect)).pipe(
              Effect.catchCause((cause) => Effect.logError("could not record the defect; the lease will expire instead", cause))
            )
          )

    const runOnce = Effect.gen(function* () {
      const claimed = yield* orDie(pipeline.store.claim(workerId, pipeline.leaseMillis, concurrency))
      return yield* Effect.forEach(
        claimed,
        (row) => pipeline.process(row, workerId).pipe(Effect.tapDefect(onDefect(row))),
        { concurrency: "unbounded" }
      )
    }).pipe(Effect.withSpan("PurchaseWorker.runOnce", { attributes: { worker: workerId } }))

    // Keeps up to `concurrency` requests in flight: claims whenever a slot frees up instead of
    // waiting for a whole batch to finish (one slow request must not hold up the rest).
    const run = Effect.gen(function* () {
      const slots = yield* Semaphore.make(concurrency)
      let inFlight = 0
      // Woken by the work signal. @effect/sql-pg keeps quiet about a listen connection that died
      // (killed, PostgreSQL restarted), and a worker that no longer hears the signal would lose
      // every race for new work to those that do. So the worker pings itself through the
      // channel every few seconds and, when its ping does not come back, drops the listener (a
      // new connection once nothing holds the old one). Polling covers any gap.
      const wake = yield* Queue.sliding<void>(1)
      if (Option.isSome(pg)) {
        const ping = `${pingPrefix}${workerId}:${randomUUID()}`
        let heard = false
        const listen = Effect.scoped(
          Effect.flatMap(pg.value.listen(workChannel), (notifications) =>
            Stream.fromQueue(notifications).pipe(
              Stream.runForEach(({ payload }) => {
                if (!payload.startsWith(pingPrefix)) return Queue.offer(wake, undefined)
                if (payload === ping) heard = true
                return Effect.void
              })
            )
          )
        )
        const deaf = Effect.gen(function* () {
          while (true) {
            yield* Effect.sleep(listenCheckMillis)
            heard = false
            // Not `PgClient.notify`: it sends `NOTIFY channel, $1`, which PostgreSQL refuses (no parameters there).
            yield* signalWork(pg.value, ping)
            yield* Effect.sleep(listenCheckMillis / 2)
            if (!heard) return yield* Effect.fail("the listen connection stopped delivering" as const)
          }
        })
        yield* Effect.forkChild(
          Effect.raceFirst(listen, deaf).pipe(
            Effect.catchCause((cause) => Effect.logWarning("purchase worker: listening for new work failed; polling until it is back", cause)),
            Effect.repeat(Schedule.spaced("1 second"))
          )
        )
      }
      while (true) {
        const free = concurrency - inFlight
        const claimed =
          free === 0
            ? []
            : yield* orDie(pipeline.store.claim(workerId, pipeline.leaseMillis, free)).pipe(
                Effect.catchDefect((defect) => Effect.logError("purchase worker could not claim work; retrying", defect).pipe(Effect.as([])))
              )
        for (const row of claimed) {
          inFlight += 1
          yield* Effect.forkChild(
            Semaphore.withPermits(slots, 1, pipeline.process(row, workerId)).pipe(
              Effect.catchDefect(onDefect(row)),
              Effect.ensuring(Effect.sync(() => (inFlight -= 1)))
            )
          )
        }
        if (claimed.length === 0) yield* Effect.raceFirst(Effect.sleep(pollMillis), Queue.take(wake))
        else yield* Effect.yieldNow
      }
    })

    return { workerId, runOnce, run: run as Effect.Effect<never> } satisfies PurchaseWorkerService
  })

export const layer = (options: WorkerOptions = {}): Layer.Layer<PurchaseWorker, never, PurchasePipeline> =>
  Layer.effect(PurchaseWorker, make(options))

/** Runs a worker in the background for as long as the layer lives. */
export const layerRunning = (options: WorkerOptions = {}): Layer.Layer<PurchaseWorker, never, PurchasePipeline> =>
  Layer.effect(
    PurchaseWorker,
    Effect.tap(make(options), (worker) => Effect.forkScoped(worker.run))
  )
