/**
 * Demand for each seller, served within its limits. A quote that finds no permit right now is
 * not skipped: it waits in its seller's queue until the seller's shared budget (rate,
 * concurrency, back-off — in Redis, across processes) lets it go or its request stops waiting.
 * Turns go round the customers (tenants) with demand, oldest first within each: one customer
 * flooding a seller delays the others by one call per turn, not by its whole backlog. One pump fiber per seller with demand takes
 * a permit, then sends the oldest waiting ISBNs — several at once to a batch-capable seller, one
 * call for every request waiting on the same ISBN — and goes on to the next permit without
 * waiting for the answer. A seller with nobody waiting is asked straight away by the request
 * itself (one ISBN per call), the queue taking over only when it refuses: that is most calls,
 * and a pump, a queue entry and two fibers for each were most of their cost. A fan-out's
 * direct calls to Promise-style adapters take no fiber at all (`askAll`): their admissions go
 * in one batch, the calls through the SDK's callback quote, and the fan-out's own fiber records
 * the answers and gives their permits back together as they come.
 *
 * Whoever waits holds a ticket saying whether its ISBN was ever sent and, if not, what held it
 * back (`rate_limited`, `concurrency`, `backoff`): "not asked" is an outcome a caller can see and
 * act on (ask again later), never a silent "no offer". An open circuit is the one refusal the
 * queue does not wait out: the seller is failing for everyone, and its waiting demand is answered
 * `circuit_open` at once. A call whose every waiter gave up is interrupted, its permit returned.
 *
 * A waiter is one small object (`Waiting`), answered through a callback — not a fiber: a request
 * asks 50–200 sellers, and when the sellers' capacity sets the pace most of those calls wait
 * here, so thousands of requests in flight mean hundreds of thousands of waiters (a suspended
 * fiber costs about 1.7 KB; `pnpm bench:inflight`).
 */
import type { Contract, Isbn, SellerClient, SellerError } from "@bookbroker/adapter-sdk"
import { Clock, Effect, Exit, Fiber, References, Result, type Scope, type Tracer } from "effect"
import { giveBackMany, quoteIfAdmitted, quoteWithPermit, recordQuote, type CallResult, type Finished } from "../sellers/SellerCall.js"
import type { SellerStats } from "../sellers/SellerStats.js"
import { recordSellerCall, recordSellerCallOn } from "../Metrics.js"
import type { Admission, DenialReason, PermitReturn, SharedStateService } from "../state/SharedState.js"

export type QueueResult =
  | { readonly _tag: "Answered"; readonly answer: Contract.QuoteResult; readonly latencyMillis: number }
  | Extract<CallResult, { readonly _tag: "Failed" }>
  /** The seller's circuit is open: it is failing for everyone right now. */
  | { readonly _tag: "CircuitOpen" }

/** What a waiter knows when it stops waiting: was its ISBN sent, and if not, why not yet. */
export interface Ticket {
  dispatched: boolean
  /** The seller's latest refusal while this waited (undefined: never refused, just behind others). */
  heldBy: DenialReason | undefined
  /** When it joined the queue (epoch ms). */
  readonly since: number
}

interface Batch {
  /** Waiters not given up yet; at 0 the call is cancelled. */
  waiting: number
  call: Fiber.Fiber<unknown, unknown> | undefined
}

/** What a fan-out sees of one of its waiters: its ticket (`askAll` stops the waits itself). */
export type Waiting = Ticket

/** A waiter: its ticket, its callback, and where it is (a batch sent, or the caller's own direct call). */
class Item implements Ticket {
  dispatched = false
  heldBy: DenialReason | undefined = undefined
  /** Answered (the callback ran) or cancelled: either way, never answered again. */
  over = false
  batch: Batch | undefined = undefined
  /** The direct call made for it while its seller was idle. */
  direct: Fiber.Fiber<unknown, unknown> | undefined = undefined
  constructor(
    readonly isbn: Isbn.Isbn13,
    /** Whose request it is (the customer); turns go round them. */
    readonly tenant: string,
    readonly since: number,
    /** Shared by a fan-out's waiters; `about` says which of its calls this is (no closure per waiter). */
    private readonly settle: (result: QueueResult, about: unknown) => void,
    private readonly about: unknown
  ) {}

  answer(result: QueueResult): void {
    if (this.over) return
    this.over = true
    this.settle(result, this.about)
  }

  /**
   * Stops waiting (nothing once answered); a call every waiter gave up is interrupted, and its
   * permit kept until it expires (`abandoned`: the seller may still be working on it). A direct
   * call made without a fiber is `askAll`'s to abort.
   */
  cancel(): void {
    if (this.over) return
    this.over = true
    this.direct?.interruptUnsafe()
    const batch = this.batch
    if (batch === undefined) return
    batch.waiting -= 1
    if (batch.waiting === 0) batch.call?.interruptUnsafe()
  }
}

interface SellerLine {
  /** The latest client (a changed config or limits replaces it; the line and its demand stay). */
  client: SellerClient.SellerClient
  readonly items: Array<Item>
  pumping: boolean
  /** When each tenant was last served (a counter), so the least recently served goes next. */
  readonly served: Map<string, number>
  turn: number
}

/** One call a fan-out makes: the seller's client, and what its answer is about (passed back to `settle`). */
export interface Call<About> {
  readonly client: SellerClient.SellerClient
  readonly about: About
}

export interface SellerQueues {
  /**
   * Asks each call's seller for one ISBN once its turn within the seller's limits comes, and is
   * done when every call has settled: `settle` is called once per call, with the answer or the
   * seller's fate and the call's `about`. `onTicket` gets each call's waiter first (its ticket
   * says whether the ISBN was sent). Interrupted (the deadline), it stops every wait still open:
   * a call still at its seller is aborted and its permit kept until it expires (`abandoned`: the
   * seller may still be working on it). `settle` runs in the queue's own fibers: it records and
   * returns, and never throws.
   */
  readonly askAll: <About>(
    calls: ReadonlyArray<Call<About>>,
    isbn: Isbn.Isbn13,
    tenant: string,
    settle: (result: QueueResult, about: About) => void,
    onTicket: (about: About, waiting: Waiting) => void
  ) => Effect.Effect<void>
  /** ISBNs waiting for a turn, per seller id (for status and backpressure). */
  readonly depth: () => ReadonlyMap<string, number>
}

export interface SellerQueueOptions {
  /** After a permit, how long to gather more ISBNs for a batch-capable seller with few waiting. Default 5 ms. */
  readonly batchWindowMillis?: number
  /** Longest pause between admission tries while the seller refuses (its retry-after is used when shorter). Default 250 ms. */
  readonly maxPauseMillis?: number
  /** Requests waiting on the same ISBN share one call. Default true. */
  readonly coalesce?: boolean
}

type Permit = Extract<Admission, { readonly _tag: "Admitted" }>

/**
 * A direct call made without a fiber (`SellerClient.startQuote`): its waiter, its permit, and
 * its result once it comes, until the fan-out records it and gives the permit back.
 */
class Started implements Finished {
  result: Result.Result<ReadonlyArray<Contract.QuoteResult>, SellerError.SellerError> = undefined!
  /** Set with `result`, which is undefined until the call answers. */
  answered = false
  latencyMillis = 0
  failed = false
  aborted = false
  abort: () => void = () => undefined
  constructor(
    readonly item: Item,
    readonly client: SellerClient.SellerClient,
    readonly admission: Permit,
    readonly started: number,
    readonly span: Tracer.Span | undefined
  ) {}
}

// The line's rules: who waits, who goes next, what one call carries.

/** Drops the waiters that gave up (in one pass: thousands may give up at once); what is left, oldest first. */
const live = (line: SellerLine): Array<Item> => {
  let kept = 0
  for (const item of line.items) if (!item.over) line.items[kept++] = item
  line.items.length = kept
  return line.items
}

/**
 * The next ISBN to send: the oldest item of the tenant served least recently (a round over the
 * tenants with demand).
 */
const nextItem = (line: SellerLine, exclude: ReadonlySet<string>): Item | undefined => {
  let best: Item | undefined
  let bestServed = Number.POSITIVE_INFINITY
  for (const item of line.items) {
    if (exclude.has(item.isbn)) continue
    const served = line.served.get(item.tenant) ?? -1
    if (served < bestServed) {
      best = item
      bestServed = served
    }
  }
  return best
}

/**
 * Takes the next waiting ISBNs off the line (as many as one call carries, turn by turn), with
 * every item waiting on each — or, without `coalesce`, one waiter per ISBN per call (the others
 * wait for the next).
 */
const takeBatch = (line: SellerLine, coalesce: boolean): Array<Item> => {
  const maxBatch = line.client.capabilities.batchQuotes?.maxBatchSize ?? 1
  const isbns = new Set<string>()
  live(line)
  while (isbns.size < maxBatch) {
    const item = nextItem(line, isbns)
    if (item === undefined) break
    isbns.add(item.isbn)
    line.turn += 1
    line.served.set(item.tenant, line.turn)
  }
  const taken: Array<Item> = []
  const sent = new Set<string>()
  let kept = 0
  for (const item of line.items) {
    if (isbns.has(item.isbn) && (coalesce || !sent.has(item.isbn))) {
      taken.push(item)
      sent.add(item.isbn)
    } else line.items[kept++] = item
  }
  line.items.length = kept
  return taken
}

/** Forgets tenants without demand, so the map stays as small as the line. */
const tidy = (line: SellerLine) => {
  if (line.served.size <= 64) return
  const waiting = new Set(line.items.map((item) => item.tenant))
  for (const tenant of line.served.keys()) if (!waiting.has(tenant)) line.served.delete(tenant)
}

export const make = (state: SharedStateService, stats: SellerStats, scope: Scope.Scope, options: SellerQueueOptions = {}): SellerQueues => {
  const lines = new Map<string, SellerLine>()
  const batchWindowMillis = options.batchWindowMillis ?? 5
  const maxPauseMillis = options.maxPauseMillis ?? 250
  const coalesce = options.coalesce ?? true
  /** How long a refused seller's line waits before asking again: its retry-after, within bounds. */
  const pauseAfter = (retryAfterMillis: number) => Math.max(5, Math.min(retryAfterMillis, maxPauseMillis))

  /** Sends one batch under its permit and answers its waiters. */
  const send = (line: SellerLine, items: ReadonlyArray<Item>, permit: Permit) =>
    Effect.gen(function* () {
      const batch: Batch = { waiting: items.length, call: undefined }
      for (const item of items) {
        item.dispatched = true
        item.batch = batch
      }
      const call = yield* Effect.forkIn(quoteWithPermit(state, stats, line.client, permit, [...new Set(items.map((item) => item.isbn))]), scope)
      batch.call = call
      // Every waiter may have given up while the call was being started.
      if (batch.waiting === 0) yield* Effect.sync(() => call.interruptUnsafe())
      const exit = yield* Fiber.await(call)
      if (exit._tag === "Failure") return
      const result = exit.value
      for (const item of items) {
        item.answer(
          result._tag === "Answered" ? { _tag: "Answered", answer: result.answers.find((a) => a.isbn === item.isbn)!, latencyMillis: result.latencyMillis } : result
        )
      }
    })

  /** `pauseFirst`: the seller just refused a permit (ms to wait before asking again). */
  const pump = (line: SellerLine, pauseFirst = 0): Effect.Effect<void> =>
    Effect.gen(function* () {
      if (pauseFirst > 0) yield* Effect.sleep(pauseFirst)
      while (live(line).length > 0) {
        const admission = yield* state.admit(line.client.sellerId, line.client.limits)
        if (admission._tag === "Denied") {
          if (admission.reason === "circuit_open") {
            for (const item of line.items.splice(0)) item.answer({ _tag: "CircuitOpen" })
            // Seller selection leaves it out until then.
            stats.recordDenial(line.client.sellerId, (yield* Clock.currentTimeMillis) + admission.retryAfterMillis)
            yield* recordSellerCall(line.client.sellerId, "denied")
            return
          }
          for (const item of line.items) item.heldBy = admission.reason
          yield* Effect.sleep(pauseAfter(admission.retryAfterMillis))
          continue
        }
        const maxBatch = line.client.capabilities.batchQuotes?.maxBatchSize ?? 1
        if (maxBatch > 1 && batchWindowMillis > 0 && new Set(live(line).map((item) => item.isbn)).size < maxBatch) yield* Effect.sleep(batchWindowMillis)
        const batch = takeBatch(line, coalesce)
        if (batch.length === 0) {
          // Everyone gave up between the permit and the send: the permit goes back unused.
          yield* state.complete(line.client.sellerId, admission.permit, "cancelled", admission.probe)
          continue
        }
        tidy(line)
        yield* Effect.forkIn(send(line, batch, admission), scope)
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          line.pumping = false
        })
      )
    )

  const lineFor = (client: SellerClient.SellerClient): SellerLine => {
    const existing = lines.get(client.sellerId)
    if (existing !== undefined) {
      existing.client = client
      return existing
    }
    const line: SellerLine = { client, items: [], pumping: false, served: new Map(), turn: 0 }
    lines.set(client.sellerId, line)
    return line
  }

  /** Waits in the line for a turn; `pauseFirst` as for `pump`. */
  const enqueue = (line: SellerLine, item: Item, pauseFirst = 0): Effect.Effect<void> =>
    Effect.suspend(() => {
      line.items.push(item)
      if (line.pumping) return Effect.void
      line.pumping = true
      return Effect.asVoid(Effect.forkIn(pump(line, pauseFirst), scope))
    })

  /**
   * A permit refused to a waiter's own call (`direct`, `askAll`): it joins the seller's line,
   * which asks again after the pause (the returned step), or — the circuit open — it is answered
   * at once, as the pump answers its line.
   */
  const refused = (fiber: Fiber.Fiber<unknown, unknown>, line: SellerLine, item: Item, denial: Exclude<Admission, Permit>): Effect.Effect<void> | undefined => {
    if (denial.reason === "circuit_open") {
      // Seller selection leaves it out until then.
      stats.recordDenial(line.client.sellerId, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() + denial.retryAfterMillis)
      recordSellerCallOn(fiber, line.client.sellerId, "denied")
      item.answer({ _tag: "CircuitOpen" })
      return undefined
    }
    item.heldBy = denial.reason
    return item.over ? undefined : enqueue(line, item, pauseAfter(denial.retryAfterMillis))
  }

  /**
   * An idle line (nobody waiting, no pump) with a seller that takes one ISBN per call: the
   * waiter's own call does what the pump would do next — takes a permit and makes the call —
   * without a queue entry and a pump. Refused, it waits in the line as any other (an open circuit
   * answers at once, as the pump does).
   */
  const direct = (line: SellerLine, item: Item): Effect.Effect<void> => {
    const client = line.client
    return Effect.flatMap(
      quoteIfAdmitted(state, stats, client, [item.isbn], () => {
        item.dispatched = true
      }),
      (result): Effect.Effect<void> => {
        switch (result._tag) {
          case "Answered":
            item.answer({ _tag: "Answered", answer: result.answers[0]!, latencyMillis: result.latencyMillis })
            return Effect.void
          case "Failed":
            item.answer(result)
            return Effect.void
          case "Denied":
            return Effect.withFiber((fiber) => refused(fiber, line, item, result) ?? Effect.void)
        }
      }
    )
  }

  /**
   * One fan-out's calls, in one fiber. A seller with nobody waiting that takes one ISBN per call
   * and has a callback quote (`SellerClient.startQuote`: Promise-style adapters) is asked right
   * away, without a fiber: the admissions of all of them in one go (`admitMany`: one round trip
   * to Redis), then the calls; as answers come this fiber records them, gives their permits back
   * together (`giveBackMany`) and only then answers the waiters. A seller that refuses the permit
   * has the waiter join its line, as `direct` does; the other calls go through `direct` or the
   * line as before.
   */
  const askAll = <About>(
    calls: ReadonlyArray<Call<About>>,
    isbn: Isbn.Isbn13,
    tenant: string,
    settle: (result: QueueResult, about: About) => void,
    onTicket: (about: About, waiting: Waiting) => void
  ): Effect.Effect<void> =>
    Effect.withFiber((fiber) => {
      let left = calls.length
      if (left === 0) return Effect.void
      const clock = fiber.getRef(Clock.Clock)
      const tracing = fiber.getRef(References.TracerEnabled)
      /** Resumes the fiber waiting for answers, if it waits. */
      let wake: (() => void) | undefined
      const nudge = () => {
        const resume = wake
        wake = undefined
        resume?.()
      }
      /**
       * Answers come in bursts (a socket read often completes several): the fan-out wakes once
       * for all that came in one turn of the event loop, not once per answer.
       */
      let wakeScheduled = false
      const wakeSoon = () => {
        if (wakeScheduled) return
        wakeScheduled = true
        setImmediate(() => {
          wakeScheduled = false
          nudge()
        })
      }
      // One callback for every call (a waiter carries its `about`, not a closure).
      const answered = (result: QueueResult, about: unknown) => {
        settle(result, about as About)
        if (--left === 0) nudge()
      }
      const since = Date.now()
      const items: Array<Item> = []
      const idleLines: Array<{ readonly line: SellerLine; readonly item: Item }> = []
      const others: Array<Effect.Effect<void>> = []
      for (const { client, about } of calls) {
        const line = lineFor(client)
        const item = new Item(isbn, tenant, since, answered, about)
        items.push(item)
        onTicket(about, item)
        const idle = !line.pumping && line.items.length === 0 && (client.capabilities.batchQuotes?.maxBatchSize ?? 1) <= 1
        if (idle && client.startQuote !== undefined) idleLines.push({ line, item })
        else if (idle) {
          others.push(
            Effect.map(Effect.forkIn(direct(line, item), scope), (call) => {
              item.direct = call
            })
          )
        } else others.push(enqueue(line, item))
      }

      const started: Array<Started> = []
      const finished: Array<Started> = []
      const start = (line: SellerLine, item: Item, admission: Permit, span: Tracer.Span | undefined) => {
        item.dispatched = true
        const call = new Started(item, line.client, admission, clock.currentTimeMillisUnsafe(), span)
        started.push(call)
        call.abort = line.client.startQuote!(isbn, (result) => {
          call.result = result
          call.answered = true
          call.latencyMillis = clock.currentTimeMillisUnsafe() - call.started
          finished.push(call)
          wakeSoon()
        })
      }
      /** Each admitted call started (in one step: a span each first when tracing is on), each refused one in its line. */
      const startAll = (admissions: ReadonlyArray<Admission>): Effect.Effect<void> => {
        if (tracing) {
          return Effect.forEach(
            idleLines,
            ({ line, item }, i): Effect.Effect<void> => {
              const admission = admissions[i]!
              if (admission._tag === "Denied") return refused(fiber, line, item, admission) ?? Effect.void
              return Effect.map(
                Effect.makeSpan("SellerClient.quote", { attributes: { "seller.id": line.client.sellerId, "seller.kind": line.client.kind, "quote.isbns": 1 } }),
                (span) => start(line, item, admission, span)
              )
            },
            { discard: true }
          )
        }
        const waits: Array<Effect.Effect<void>> = []
        for (let i = 0; i < idleLines.length; i++) {
          const { line, item } = idleLines[i]!
          const admission = admissions[i]!
          if (admission._tag === "Admitted") start(line, item, admission, undefined)
          else {
            const wait = refused(fiber, line, item, admission)
            if (wait !== undefined) waits.push(wait)
          }
        }
        return waits.length === 0 ? Effect.void : Effect.all(waits, { discard: true })
      }
      // Registering never waits, and is not cut short: every waiter made is one the interruption below can stop.
      const register = Effect.andThen(
        Effect.all(others, { discard: true }),
        idleLines.length === 0
          ? Effect.void
          : Effect.flatMap(state.admitMany(idleLines.map(({ line }) => ({ sellerId: line.client.sellerId, limits: line.client.limits }))), startAll)
      ).pipe(
        // What registering needed is not kept while the fan-out waits (a worker may hold thousands of fan-outs).
        Effect.andThen(
          Effect.sync(() => {
            others.length = 0
            idleLines.length = 0
          })
        )
      )

      /** The answers that came: recorded, their permits back together, then their waiters answered. */
      const drain = Effect.suspend(() => {
        if (finished.length === 0) return Effect.void
        const batch = finished.splice(0, finished.length)
        for (const call of batch) {
          const { result, latencyMillis } = call
          call.failed = recordQuote(fiber, stats, call.client.sellerId, result, latencyMillis)
          call.span?.end(clock.currentTimeNanosUnsafe(), Result.isSuccess(result) ? Exit.void : Exit.fail(result.failure))
        }
        return Effect.map(giveBackMany(state, batch), () => {
          for (const { item, result, latencyMillis } of batch) {
            item.answer(Result.isSuccess(result) ? { _tag: "Answered", answer: result.success[0]!, latencyMillis } : { _tag: "Failed", error: result.failure, latencyMillis })
          }
        })
      })
      const more = Effect.suspend(() =>
        left === 0 || finished.length > 0
          ? Effect.void
          : Effect.callback<void>((resume) => {
              wake = () => resume(Effect.void)
              return Effect.sync(() => {
                wake = undefined
              })
            })
      )
      const untilSettled: Effect.Effect<void> = Effect.suspend(() =>
        left === 0 ? Effect.void : Effect.andThen(more, Effect.andThen(Effect.uninterruptible(drain), untilSettled))
      )
      /**
       * Stopped (the deadline): the calls still out are aborted (no answer comes after this), the
       * answers that came are recorded and answered, every other waiter stops, and the aborted
       * calls' permits stay out until they expire.
       */
      const stop = Effect.suspend(() => {
        const abandoned: Array<PermitReturn> = []
        for (const call of started) {
          if (call.answered || call.aborted) continue
          call.aborted = true
          call.abort()
          call.span?.end(clock.currentTimeNanosUnsafe(), Exit.interrupt())
          abandoned.push({ sellerId: call.client.sellerId, permit: call.admission.permit, outcome: "abandoned", probe: call.admission.probe })
        }
        return Effect.andThen(
          drain,
          Effect.suspend(() => {
            for (const item of items) item.cancel()
            return abandoned.length === 0 ? Effect.void : state.completeMany(abandoned)
          })
        )
      })
      return Effect.andThen(Effect.uninterruptible(register), untilSettled).pipe(Effect.onInterrupt(() => stop))
    })

  return {
    askAll,
    depth: () => new Map([...lines].map(([sellerId, line]) => [sellerId, line.items.filter((item) => !item.over).length]))
  }
}
