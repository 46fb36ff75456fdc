/**
 * The one service the engine sees for a seller, whatever style its adapter was written in.
 * `make` decodes the seller's config, builds the adapter's operations and wraps each in the
 * same guard: a timeout from the seller's limits, validation of every answer against contract
 * v1 (a bad payload is `MalformedSellerResponse`, never a crash), mapping of anything thrown
 * into the error taxonomy, and a span. A purchase that may have reached the seller and got no
 * clear answer always comes out as `OutcomeUnknown`.
 */
import { Array as Arr, Duration, Effect, Exit, identity, Option, Redacted, References, Result, Schema } from "effect"
import { fetch, type Dispatcher, type RequestInit as FetchInit } from "undici"
import type { AnyAdapter, EffectOperations, Operations } from "./Adapter.js"
import {
  Capabilities,
  Hold,
  InventoryPage,
  Limits,
  defaultLimits,
  Offer,
  Order,
  QuoteResult,
  Unavailable,
  type InventoryRequest,
  type LimitsInput,
  type LookupOrderRequest,
  type Operation,
  type PurchaseRequest
} from "./Contract.js"
import { createSellerHttp } from "./Http.js"
import * as PlainQuoteAnswers from "./internal/plainQuoteAnswers.js"
import * as SchemaErrorText from "./internal/schemaError.js"
import type { Isbn13 } from "./Isbn.js"
import {
  fromUnknown,
  MalformedSellerResponse,
  OutcomeUnknown,
  type SellerError,
  SellerUnavailable
} from "./SellerError.js"

export interface SellerClient {
  readonly sellerId: string
  readonly kind: string
  readonly adapterVersion: string
  readonly capabilities: Capabilities
  readonly limits: Limits
  /**
   * One answer per requested ISBN, in request order. More ISBNs than the seller's batch size
   * are sent as several calls, one after the other.
   */
  readonly quote: (isbns: ReadonlyArray<Isbn13>) => Effect.Effect<ReadonlyArray<QuoteResult>, SellerError>
  /**
   * `quote` for one ISBN as a callback, for a caller that makes hundreds at once and wants no
   * fiber for each (the engine's fan-out): starts the call and calls `done` once with its answer
   * or its error — the same checks, errors and timeout as `quote` —, unless the function it
   * returns is called first: that aborts the call, and `done` is never called. No span: the
   * caller traces. Present for Promise-style adapters (whose calls are promises anyway).
   */
  readonly startQuote?: (isbn: Isbn13, done: (result: Result.Result<ReadonlyArray<QuoteResult>, SellerError>) => void) => () => void
  /**
   * Reserves an offer. Dies when the seller has no holds (check `capabilities.holds`). With an
   * `idempotencyKey`, a seller that keeps one hold per key answers a replay with the same hold
   * (the hold's `idempotencyKey` says it did).
   */
  readonly hold: (offer: Offer, quantity?: number, idempotencyKey?: string) => Effect.Effect<Hold, SellerError>
  /** Gives a hold back. Succeeds without a call when the seller cannot release holds. */
  readonly release: (hold: Hold) => Effect.Effect<void, SellerError>
  readonly purchase: (request: PurchaseRequest) => Effect.Effect<Order, SellerError>
  /** Finds the order placed with an idempotency key. Dies without `capabilities.orderLookup`. */
  readonly lookupOrder: (request: LookupOrderRequest) => Effect.Effect<Option.Option<Order>, SellerError>
  /**
   * One page of the seller's listings, from `request.cursor` (`null`: the first page); walk on
   * with `nextCursor` until it is `null`. A page has at most `pageSize` listings, no listing id
   * twice, and never hands back the cursor it was asked with; cycles over several pages are
   * the walker's to catch (cap the walk). Dies without `capabilities.inventory`, or with a
   * `pageSize` outside 1..1000.
   *
   * @example
   * const page = yield* client.inventory({ cursor: null, pageSize: 500 })
   */
  readonly inventory: (request: InventoryRequest) => Effect.Effect<InventoryPage, SellerError>
}

/** A seller whose stored configuration does not fit its adapter. */
export class InvalidSellerConfig extends Schema.TaggedError<InvalidSellerConfig>()("InvalidSellerConfig", {
  sellerId: Schema.String,
  kind: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `seller ${this.sellerId} cannot use adapter "${this.kind}": ${this.detail}`
  }
}

export interface MakeOptions {
  readonly sellerId: string
  /** The seller's adapter config as stored (JSON); decoded with the adapter's schema. */
  readonly config: unknown
  readonly credentials?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  /** Overrides of the adapter's default limits for this seller. */
  readonly limits?: Partial<LimitsInput>
  readonly dispatcher?: Dispatcher
}

/**
 * Builds the client for one seller.
 *
 * @example
 * const client = yield* SellerClient.make(referenceAdapter, {
 *   sellerId: "s-1",
 *   config: { baseUrl: "http://127.0.0.1:4010", currency: "EUR", mode: "hold" },
 *   credentials: { apiKey: "…" }
 * })
 * const answers = yield* client.quote([isbn])
 */
export const make = (adapter: AnyAdapter, options: MakeOptions): Effect.Effect<SellerClient, InvalidSellerConfig> =>
  Effect.gen(function* () {
    const invalid = (detail: string) =>
      new InvalidSellerConfig({ sellerId: options.sellerId, kind: adapter.kind, detail })

    const config: unknown = yield* Schema.decodeUnknownEffect(adapter.config)(options.config).pipe(
      Effect.mapError((error) => invalid(`config: ${error.message}`))
    )
    const credentials: Record<string, Redacted.Redacted<string>> = {}
    for (const [name, value] of Object.entries(options.credentials ?? {})) {
      credentials[name] = typeof value === "string" ? Redacted.make(value) : value
    }
    const missing = (adapter.credentials ?? []).filter((name) => credentials[name] === undefined)
    if (missing.length > 0) return yield* invalid(`missing credentials: ${missing.join(", ")}`)

    const declared = typeof adapter.capabilities === "function" ? adapter.capabilities(config) : adapter.capabilities
    const capabilities = yield* Schema.decodeUnknownEffect(Capabilities)(declared).pipe(
      Effect.mapError((error) => invalid(`capabilities: ${error.message}`))
    )
    const limits = yield* Schema.decodeUnknownEffect(Limits)({
      ...Schema.encodeSync(Limits)(defaultLimits),
      ...adapter.limits,
      ...options.limits
    }).pipe(Effect.mapError((error) => invalid(`limits: ${error.message}`)))

    const context = {
      sellerId: options.sellerId,
      config,
      credentials,
      dispatcher: options.dispatcher,
      fetch: (input: string | URL, init?: FetchInit) => fetch(input, options.dispatcher === undefined ? init : { ...init, dispatcher: options.dispatcher }),
      http: (httpOptions: Parameters<typeof createSellerHttp>[0]) =>
        createSellerHttp(
          options.dispatcher === undefined || httpOptions.dispatcher !== undefined
            ? httpOptions
            : { ...httpOptions, dispatcher: options.dispatcher }
        )
    }
    const promised: Operations | undefined =
      adapter.definition._tag === "Promise"
        ? yield* Effect.tryPromise({
            try: async () => (adapter.definition._tag === "Promise" ? adapter.definition.create(context) : undefined!),
            catch: (cause) => invalid(`create() failed: ${describeCause(cause)}`)
          })
        : undefined
    const operations: EffectOperations =
      adapter.definition._tag === "Effect"
        ? yield* adapter.definition.make(context).pipe(
            Effect.catchDefect((defect) => Effect.fail(invalid(`make() failed: ${describeCause(defect)}`)))
          )
        : fromPromises(promised!, limits.timeoutMillis)
    if (capabilities.holds && operations.hold === undefined) {
      return yield* invalid("the adapter declares holds but has no hold operation")
    }
    if (capabilities.orderLookup && operations.lookupOrder === undefined) {
      return yield* invalid("the adapter declares order lookup but has no lookupOrder operation")
    }
    if (capabilities.inventory && operations.inventory === undefined) {
      return yield* invalid("the adapter declares inventory but has no inventory operation")
    }
    return build(adapter, options.sellerId, capabilities, limits, operations, promised?.quote.bind(promised))
  })

const build = (
  adapter: AnyAdapter,
  sellerId: string,
  capabilities: Capabilities,
  limits: Limits,
  operations: EffectOperations,
  /** A Promise-style adapter's own quote: called straight, its answer checked as it comes (`promiseCall`). */
  promisedQuote?: Operations["quote"]
): SellerClient => {
  const timeout = Duration.millis(limits.timeoutMillis)
  const attributes = { "seller.id": sellerId, "seller.kind": adapter.kind }
  // Spans here skip the call-site stack (`captureStackTrace: false`): capturing it builds an
  // Error on every seller call; the span's name and attributes already say where it comes from.
  // With tracing off (`References.TracerEnabled`), no span at all: `withSpan` would still make a
  // no-op span, its context and a parent-span service for every call.
  const span = <A, E>(effect: Effect.Effect<A, E>, name: string, spanAttributes: () => Record<string, unknown>): Effect.Effect<A, E> =>
    Effect.withFiber((fiber) =>
      fiber.getRef(References.TracerEnabled)
        ? Effect.withSpan(effect, name, { attributes: spanAttributes(), captureStackTrace: false })
        : effect
    )

  const guard = <A>(operation: Operation, effect: Effect.Effect<unknown, SellerError>, check: (raw: unknown) => Effect.Effect<A, SellerError>) =>
    effect.pipe(
      Effect.catchDefect((defect) =>
        Effect.fail(
          new SellerUnavailable({ operation, reason: "adapter_error", detail: describeCause(defect), mayHaveBeenProcessed: true })
        )
      ),
      // Promise-style operations time out inside their promise (a timer and an abort, far
      // cheaper than racing a fiber on every seller call); Effect-style ones here.
      adapter.definition._tag === "Promise"
        ? identity
        : Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(timedOut(operation, limits.timeoutMillis)) }),
      Effect.flatMap(check),
      Effect.mapError((error) => forOperation(operation, error))
    )

  const decode = <A, I>(operation: Operation, schema: Schema.Codec<A, I>) => {
    // Built once per schema: a decoder compiled per answer was the top cost of a seller call.
    // The seller's own (wrong) value goes into the message: it is what an operator needs to see.
    const decodeUnknown = Schema.decodeUnknownEffect(schema, { reportInput: true })
    return (raw: unknown) =>
      decodeUnknown(raw).pipe(Effect.mapError((error) => new MalformedSellerResponse({ operation, detail: error.message })))
  }
  const decodeAnswers = decode("quote", QuoteAnswers)
  const decodeHold = decode("hold", Hold)
  const decodeOrder = decode("purchase", Order)
  const decodeLookup = decode("lookupOrder", Schema.NullOr(Order))
  const decodeInventory = decode("inventory", InventoryPage)

  // The hot path of every fan-out: a Promise-style adapter's quote is one callback, its answer
  // decoded and matched when it comes (the same checks as `guard`, without an Effect step each).
  const quoteBatch =
    promisedQuote === undefined
      ? (isbns: ReadonlyArray<Isbn13>) =>
          guard("quote", operations.quote({ isbns }), decodeAnswers).pipe(Effect.flatMap((answers) => matchAnswers(isbns, answers)))
      : (isbns: ReadonlyArray<Isbn13>) =>
          promiseCall("quote", limits.timeoutMillis, (signal) => promisedQuote({ isbns }, { signal }), (raw) => answersOf(isbns, raw))

  const batchSize = capabilities.batchQuotes?.maxBatchSize ?? 1

  return {
    sellerId,
    kind: adapter.kind,
    adapterVersion: adapter.version,
    capabilities,
    limits,
    ...(promisedQuote === undefined
      ? {}
      : {
          startQuote: (isbn: Isbn13, done: (result: Result.Result<ReadonlyArray<QuoteResult>, SellerError>) => void) => {
            const isbns = [isbn]
            return promiseCallback(
              "quote",
              limits.timeoutMillis,
              (signal) => promisedQuote({ isbns }, { signal }),
              (raw) => answersOf(isbns, raw),
              // Every failure `promiseCallback` answers is a seller error (thrown ones are mapped).
              (exit) => done(Exit.isSuccess(exit) ? Result.succeed(exit.value) : Result.fail(Result.getOrThrow(Exit.findError(exit))))
            )
          }
        }),
    quote: (isbns) =>
      span(
        // One ISBN (nearly every call a fan-out makes) is one batch as it is.
        isbns.length === 1
          ? quoteBatch(isbns)
          : Effect.map(Effect.forEach(Arr.chunksOf(Arr.dedupe(isbns), batchSize), quoteBatch), Arr.flatten),
        "SellerClient.quote",
        () => ({ ...attributes, "quote.isbns": isbns.length })
      ),
    hold: (offer, quantity = 1, idempotencyKey) =>
      !capabilities.holds || operations.hold === undefined
        ? Effect.die(new Error(`seller ${sellerId} (${adapter.kind}) does not support holds`))
        : guard("hold", operations.hold(idempotencyKey === undefined ? { offer, quantity } : { offer, quantity, idempotencyKey }), decodeHold).pipe(
            Effect.filterOrFail(
              (hold) => hold.isbn === offer.isbn && hold.price.currency === hold.shipping.currency,
              (hold) => new MalformedSellerResponse({ operation: "hold", detail: `hold ${hold.holdId} is for ${hold.isbn} in mixed currencies or not for ${offer.isbn}` })
            ),
            // Kept under a key only if it is the key sent: a hold that names another is treated as unkeyed.
            Effect.map((hold) =>
              hold.idempotencyKey === undefined || hold.idempotencyKey === idempotencyKey
                ? hold
                : new Hold({ holdId: hold.holdId, isbn: hold.isbn, price: hold.price, shipping: hold.shipping, expiresAt: hold.expiresAt })
            ),
            (effect) => span(effect, "SellerClient.hold", () => attributes)
          ),
    release: (hold) =>
      !capabilities.holds || operations.release === undefined
        ? Effect.void
        : span(guard("release", operations.release({ hold }), () => Effect.void), "SellerClient.release", () => attributes),
    purchase: (request) =>
      guard("purchase", operations.purchase(request), decodeOrder).pipe(
        Effect.filterOrFail(
          (order) => order.isbn === request.isbn && order.price.currency === order.shipping.currency,
          (order) => new MalformedSellerResponse({ operation: "purchase", detail: `order ${order.orderId} is for ${order.isbn}, not ${request.isbn}, or in mixed currencies` })
        ),
        Effect.mapError((error) => asPurchaseOutcome(request, error)),
        (effect) => span(effect, "SellerClient.purchase", () => ({ ...attributes, "purchase.idempotency_key": request.idempotencyKey }))
      ),
    lookupOrder: (request) =>
      !capabilities.orderLookup || operations.lookupOrder === undefined
        ? Effect.die(new Error(`seller ${sellerId} (${adapter.kind}) does not support order lookup`))
        : guard("lookupOrder", operations.lookupOrder(request), decodeLookup).pipe(
            Effect.filterOrFail(
              (order) => order === null || (order.isbn === request.isbn && order.price.currency === order.shipping.currency),
              (order) => new MalformedSellerResponse({ operation: "lookupOrder", detail: `order ${order?.orderId} is for ${order?.isbn}, not ${request.isbn}, or in mixed currencies` })
            ),
            Effect.map(Option.fromNullishOr),
            (effect) => span(effect, "SellerClient.lookupOrder", () => attributes)
          ),
    inventory: (request) =>
      !capabilities.inventory || operations.inventory === undefined
        ? Effect.die(new Error(`seller ${sellerId} (${adapter.kind}) does not support inventory listing`))
        : !Number.isInteger(request.pageSize) || request.pageSize < 1 || request.pageSize > maxInventoryPageSize
          ? Effect.die(new Error(`inventory pageSize must be a whole number from 1 to ${maxInventoryPageSize}, got ${request.pageSize}`))
          : guard("inventory", operations.inventory(request), decodeInventory).pipe(
              Effect.flatMap((page) => checkPage(request, page)),
              (effect) =>
                span(effect, "SellerClient.inventory", () => ({
                  ...attributes,
                  "inventory.page_size": request.pageSize,
                  "inventory.first_page": request.cursor === null
                }))
            )
  }
}

const maxInventoryPageSize = 1000

/**
 * What one page can be checked for by itself: at most the listings asked for, each listing id
 * once, shipping in the price's currency, and a next cursor that moves (the same cursor again
 * would have the walker ask for this page forever).
 */
const checkPage = (request: InventoryRequest, page: InventoryPage): Effect.Effect<InventoryPage, MalformedSellerResponse> => {
  const malformed = (detail: string) => Effect.fail(new MalformedSellerResponse({ operation: "inventory", detail }))
  if (page.listings.length > request.pageSize) {
    return malformed(`a page of ${page.listings.length} listings, but ${request.pageSize} were asked for`)
  }
  if (page.nextCursor !== null && page.nextCursor === request.cursor) {
    return malformed(`the next cursor is the one this page was asked with (${JSON.stringify(request.cursor)}): the listing would never end`)
  }
  const seen = new Set<string>()
  for (const listing of page.listings) {
    if (seen.has(listing.listingId)) return malformed(`listing ${listing.listingId} appears twice on one page`)
    seen.add(listing.listingId)
    if (listing.shipping !== null && listing.shipping.currency !== listing.price.currency) {
      return malformed(`listing ${listing.listingId} mixes ${listing.price.currency} and ${listing.shipping.currency}`)
    }
  }
  return Effect.succeed(page)
}

const QuoteAnswers = Schema.Array(QuoteResult)

/** Pairs answers with the ISBNs asked for: unasked-for or duplicate answers break the contract; silence means not carried. */
const matchAnswers = (isbns: ReadonlyArray<Isbn13>, answers: ReadonlyArray<QuoteResult>): Exit.Exit<ReadonlyArray<QuoteResult>, SellerError> => {
  // One ISBN asked (nearly every call): its one answer, as it is.
  if (isbns.length === 1 && answers.length === 1 && answers[0]!.isbn === isbns[0]) {
    const only = answers[0]!
    return only instanceof Offer && only.price.currency !== only.shipping.currency ? Exit.fail(mixedCurrencies(only)) : Exit.succeed(answers)
  }
  const byIsbn = new Map<string, QuoteResult>()
  for (const answer of answers) {
    if (!isbns.includes(answer.isbn) || byIsbn.has(answer.isbn)) {
      return Exit.fail(
        new MalformedSellerResponse({ operation: "quote", detail: `answer for ${answer.isbn}, which was ${byIsbn.has(answer.isbn) ? "answered twice" : "not asked for"}` })
      )
    }
    if (answer instanceof Offer && answer.price.currency !== answer.shipping.currency) return Exit.fail(mixedCurrencies(answer))
    byIsbn.set(answer.isbn, answer)
  }
  return Exit.succeed(
    isbns.map((isbn) => byIsbn.get(isbn) ?? new Unavailable({ available: false, isbn, reason: "not_carried" }))
  )
}

const mixedCurrencies = (offer: Offer) =>
  new MalformedSellerResponse({ operation: "quote", detail: `offer ${offer.quoteId} mixes ${offer.price.currency} and ${offer.shipping.currency}` })

const decodeAnswersNow = Schema.decodeUnknownExit(QuoteAnswers, { reportInput: true })

/** A quote call's raw answer decoded against contract v1 and matched with the ISBNs asked for. */
const answersOf = (isbns: ReadonlyArray<Isbn13>, raw: unknown): Exit.Exit<ReadonlyArray<QuoteResult>, SellerError> => {
  // The plain shape nearly every adapter answers with, checked by hand; the schema for the rest.
  const plain = PlainQuoteAnswers.decode(raw)
  const decoded = plain === undefined ? decodeAnswersNow(raw) : Exit.succeed(plain)
  return Exit.isSuccess(decoded) ? matchAnswers(isbns, decoded.value) : Exit.fail(new MalformedSellerResponse({ operation: "quote", detail: SchemaErrorText.ofExit(decoded) }))
}

/** A purchase failure that may hide a placed order is never reported as a plain failure. */
const asPurchaseOutcome = (request: PurchaseRequest, error: SellerError): SellerError => {
  if (error._tag === "OutcomeUnknown") {
    return error.idempotencyKey === request.idempotencyKey ? error : new OutcomeUnknown({ ...error, idempotencyKey: request.idempotencyKey })
  }
  if ((error._tag === "SellerUnavailable" && error.mayHaveBeenProcessed) || error._tag === "MalformedSellerResponse") {
    return new OutcomeUnknown({ operation: "purchase", idempotencyKey: request.idempotencyKey, detail: error.message })
  }
  return error
}

const notPurchaseUnknown = (operation: Operation, error: OutcomeUnknown) =>
  new SellerUnavailable({ operation, reason: "transport", detail: error.detail, mayHaveBeenProcessed: true })

/** Only a purchase has an unknown outcome (an order may have been placed); any other call that got no clear answer just failed. */
const forOperation = (operation: Operation, error: SellerError): SellerError =>
  error._tag === "OutcomeUnknown" && operation !== "purchase" ? notPurchaseUnknown(operation, error) : error

const timedOut = (operation: Operation, timeoutMillis: number) =>
  new SellerUnavailable({ operation, reason: "timeout", detail: `no answer within ${timeoutMillis} ms`, mayHaveBeenProcessed: true })

/**
 * One call of a Promise-style operation, answered through `done` (once, unless the returned
 * function aborts it first). One AbortController per call, the adapter's signal: aborted by the
 * timer or by the caller (Effect.tryPromise would add a second controller and a listener
 * between them). `check` turns the answer into the result as it comes; what the adapter throws
 * is mapped into the error taxonomy.
 */
const promiseCallback = <Out, A>(
  operation: Operation,
  timeoutMillis: number,
  run: (signal: AbortSignal) => Promise<Out>,
  check: (value: Out) => Exit.Exit<A, SellerError>,
  done: (exit: Exit.Exit<A, SellerError>) => void
): (() => void) => {
  const controller = new AbortController()
  let settled = false
  // An adapter that ignores its signal still loses the race against the timer.
  const timer = setTimeout(() => {
    if (settled) return
    settled = true
    controller.abort(timedOut(operation, timeoutMillis))
    done(Exit.fail(timedOut(operation, timeoutMillis)))
  }, timeoutMillis)
  // Started here, in the caller's turn (no extra promise and microtask per call); a synchronous
  // throw is an error like a rejection.
  let answer: Promise<Out>
  try {
    answer = Promise.resolve(run(controller.signal))
  } catch (error) {
    answer = Promise.reject(error)
  }
  answer.then(
    (value) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      let result: Exit.Exit<A, SellerError>
      try {
        result = check(value)
      } catch (defect) {
        result = Exit.fail(new SellerUnavailable({ operation, reason: "adapter_error", detail: describeCause(defect), mayHaveBeenProcessed: true }))
      }
      done(result)
    },
    (error: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      done(Exit.fail(forOperation(operation, toSellerError(operation, error))))
    }
  )
  return () => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    controller.abort()
  }
}

/** `promiseCallback` as an Effect: interrupted (a deadline, a fan-out that stopped waiting), it aborts the adapter's call. */
const promiseCall = <Out, A>(
  operation: Operation,
  timeoutMillis: number,
  run: (signal: AbortSignal) => Promise<Out>,
  check: (value: Out) => Exit.Exit<A, SellerError>
): Effect.Effect<A, SellerError> =>
  Effect.callback<A, SellerError>((resume) => {
    const abort = promiseCallback(operation, timeoutMillis, run, check, resume)
    return Effect.sync(abort)
  })

const fromPromises = (operations: Operations, timeoutMillis: number): EffectOperations => {
  const lift =
    <Req, Out>(operation: Operation, run: (request: Req, options: { signal: AbortSignal }) => Promise<Out>) =>
    (request: Req) =>
      promiseCall(operation, timeoutMillis, (signal) => run(request, { signal }), Exit.succeed)
  const { hold, release, lookupOrder, inventory } = operations
  return {
    quote: lift("quote", (request, options) => operations.quote(request, options)),
    purchase: lift("purchase", (request, options) => operations.purchase(request, options)),
    ...(hold === undefined ? {} : { hold: lift("hold", (request, options) => hold.call(operations, request, options)) }),
    ...(release === undefined ? {} : { release: lift("release", (request, options) => release.call(operations, request, options)) }),
    ...(lookupOrder === undefined
      ? {}
      : { lookupOrder: lift("lookupOrder", (request, options) => lookupOrder.call(operations, request, options)) }),
    ...(inventory === undefined ? {} : { inventory: lift("inventory", (request, options) => inventory.call(operations, request, options)) })
  }
}

/** Anything an adapter throws, as a seller error (see `SellerError.fromUnknown`). */
export const toSellerError = fromUnknown

const describeCause = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : typeof cause === "string" ? cause : JSON.stringify(cause) ?? String(cause)
