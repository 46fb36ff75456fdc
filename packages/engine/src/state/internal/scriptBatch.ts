/**
 * Seller admission and completion scripts issued in the same turn of the event loop go to Redis
 * together: one pipeline, one write, one round trip. A quote fan-out forks one call per seller at
 * once, so its N admissions meet here and leave as one pipeline of N `EVALSHA`s instead of N
 * round trips; completions of answers read in the same turn leave together the same way.
 *
 * Why this keeps every limit exact: each call in the pipeline is still its own script, run
 * atomically by Redis on one seller's keys (they share the `{seller:id}` hash tag, so on Redis
 * Cluster each is valid on its own, in whatever slot its seller lives); the batch adds no
 * atomicity across sellers and relies on none. Two calls for the same seller in one pipeline run
 * one after the other, as two separate commands would. A pipeline is not a transaction: Redis
 * may interleave other clients' commands between its calls, which is what separate commands
 * allowed too.
 *
 * Each call gets its own answer (or error) through its own promise, so the caller's timeout,
 * late-answer and fallback handling (`redisState.ts`) apply per call as before. Nothing waits on
 * a timer: the batch is written at the end of the turn (`setImmediate`), so a lone call pays no
 * added latency beyond that turn.
 */
import type { Redis } from "ioredis"

/** The scripts `redisState.ts` defines (`defineCommand`) that may be batched. */
export type BatchedScript = "bookbrokerAdmit" | "bookbrokerComplete"

type Args = ReadonlyArray<string | number>

interface Queued {
  readonly script: BatchedScript
  readonly args: Args
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

type Callback = (error: Error | null | undefined, result?: unknown) => void
type ScriptCall = (...args: Array<string | number | Callback>) => unknown
/** The scripts as `defineCommand` adds them to a client and to its pipelines. */
type WithScripts<A> = A & Record<BatchedScript, ScriptCall>

export interface ScriptBatch {
  /** Queues the call for this turn's batch; settles with that call's own answer or error. */
  readonly send: (script: BatchedScript, args: Args) => Promise<unknown>
  /** Round trips written (a lone call is sent as itself) and calls sent through them, since the start. */
  readonly counts: () => { readonly roundTrips: number; readonly calls: number }
}

export const makeScriptBatch = (client: Redis): ScriptBatch => {
  let queued: Array<Queued> = []
  let roundTrips = 0
  let calls = 0

  const flush = () => {
    const batch = queued
    queued = []
    roundTrips += 1
    calls += batch.length
    if (batch.length === 1) {
      const only = batch[0]!
      ;((client as WithScripts<Redis>)[only.script](...only.args) as Promise<unknown>).then(only.resolve, only.reject)
      return
    }
    const pipeline = client.pipeline() as WithScripts<ReturnType<Redis["pipeline"]>>
    for (const item of batch) {
      // Per-call callbacks, not `exec`'s array: ioredis re-sends a call whose script Redis had
      // forgotten (NOSCRIPT) and settles that callback with the re-sent answer.
      pipeline[item.script](...item.args, (error, result) => (error ? item.reject(error) : item.resolve(result)))
    }
    // Refused as a whole (not connected): every call fails; a call already settled stays so.
    pipeline.exec().catch((error: unknown) => {
      for (const item of batch) item.reject(error)
    })
  }

  return {
    send: (script, args) =>
      new Promise((resolve, reject) => {
        queued.push({ script, args, resolve, reject })
        if (queued.length === 1) setImmediate(flush)
      }),
    counts: () => ({ roundTrips, calls })
  }
}
