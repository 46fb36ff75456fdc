/**
 * Batch quotes: requests for different ISBNs to the same batch-capable seller that arrive
 * within a short window go out as one call (up to the seller's max batch). One collector fiber
 * per seller; each batch runs in its own fiber so a slow batch doesn't hold up the next window.
 */
import type { Contract, Isbn, SellerClient } from "@bookbroker/adapter-sdk"
import { Deferred, Effect, Queue, type Scope } from "effect"
import type { CallResult } from "./sellerCall.js"

export type ItemResult =
  | { readonly _tag: "Answered"; readonly answer: Contract.QuoteResult; readonly latencyMillis: number }
  | Exclude<CallResult, { readonly _tag: "Answered" }>

interface Pending {
  readonly isbn: Isbn.Isbn13
  readonly done: Deferred.Deferred<ItemResult>
}

export interface Batcher {
  readonly quote: (client: SellerClient.SellerClient, isbn: Isbn.Isbn13) => Effect.Effect<ItemResult>
}

export const makeBatcher = (
  windowMillis: number,
  call: (client: SellerClient.SellerClient, isbns: ReadonlyArray<Isbn.Isbn13>) => Effect.Effect<CallResult>,
  scope: Scope.Scope
): Batcher => {
  const queues = new WeakMap<SellerClient.SellerClient, Queue.Queue<Pending>>()

  const runBatch = (client: SellerClient.SellerClient, batch: ReadonlyArray<Pending>) =>
    Effect.gen(function* () {
      const isbns = [...new Set(batch.map((item) => item.isbn))]
      const result = yield* call(client, isbns)
      for (const item of batch) {
        const answer: ItemResult =
          result._tag === "Answered"
            ? { _tag: "Answered", answer: result.answers.find((a) => a.isbn === item.isbn)!, latencyMillis: result.latencyMillis }
            : result
        yield* Deferred.succeed(item.done, answer)
      }
    })

  const collector = (client: SellerClient.SellerClient, queue: Queue.Queue<Pending>, maxBatch: number) =>
    Effect.gen(function* () {
      const first = yield* Queue.take(queue)
      if (windowMillis > 0) yield* Effect.sleep(windowMillis)
      const rest = yield* Queue.takeUpTo(queue, maxBatch - 1)
      yield* Effect.fork(runBatch(client, [first, ...rest]))
    }).pipe(Effect.forever)

  const queueFor = (client: SellerClient.SellerClient): Effect.Effect<Queue.Queue<Pending>> =>
    Effect.suspend(() => {
      const existing = queues.get(client)
      if (existing !== undefined) return Effect.succeed(existing)
      const queue = Effect.runSync(Queue.unbounded<Pending>())
      queues.set(client, queue)
      const maxBatch = client.capabilities.batchQuotes?.maxBatchSize ?? 1
      return Effect.as(Effect.forkIn(collector(client, queue, maxBatch), scope), queue)
    })

  return {
    quote: (client, isbn) =>
      Effect.gen(function* () {
        const queue = yield* queueFor(client)
        const done = yield* Deferred.make<ItemResult>()
        yield* Queue.offer(queue, { isbn, done })
        return yield* Deferred.await(done)
      })
  }
}
