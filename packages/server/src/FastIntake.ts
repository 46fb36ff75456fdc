/**
 * The fast lane for the hottest route, `POST /v1/purchase-requests`: a plain node handler in front
 * of the router that answers the ordinary submission — a JSON body with a length, a customer key
 * this process verified within the last second (`Access.peek`), no query string — without the
 * router, the middleware chain and HttpApi's per-request effects. Everything else (a new or
 * unknown key, a chunked body, `Expect`, an address blocked for failed sign-ins, any other
 * route) takes the full path, untouched.
 *
 * It is the same endpoint, not a second one: the endpoint's own header and payload schemas
 * (from `api/Purchases.ts`, so OpenAPI, the typed client and this lane cannot drift), the edge's
 * body check (`Edge.jsonBody`), `InputErrors.toProblem`, the principal's and the submission's
 * rate limits (`RateLimit.refusal`), and `SubmitPurchase` (shared with the HttpApi handler, with
 * its in-flight keys). The steps run in the order the full path runs them — body, principal
 * budget, headers, payload, submission — and each refusal is the same problem with the same
 * headers (checked by `test/FastIntake.test.ts`, which sends every kind of request down both lanes).
 *
 * No fiber per request: the steps are plain calls, the budgets are decided in line when the shared
 * state is in process (`RequestBudget.spendNow`), and the answer is written from the group
 * commit's callback (`SubmitPurchase.submitNow` → the engine's `Purchases.accept`). A fiber per
 * request, its suspension on the commit and its resumption cost more CPU than the rest of the
 * request (BENCHMARKS.md, "Intake and status reads", session 24).
 *
 * Not on this lane: spans (the HTTP server's and the engine's `Purchases.submit`), so `serve`
 * turns the lane off when tracing is configured (`fastIntake: false`).
 */
import { Access, RequestBudget } from "@bookbroker/engine"
import { Cause, Effect, Exit, Layer, Metric, Option, Result, Schedule, Schema } from "effect"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { type NewPurchaseRequest, PurchasesApi } from "./api/Purchases.js"
import { Settings } from "./Config.js"
import * as Edge from "./Edge.js"
import { SubmitPurchase } from "./http/SubmitPurchase.js"
import { RateLimited, refusal } from "./http/RateLimit.js"
import * as InputErrors from "./InputErrors.js"
import * as Problem from "./Problem.js"
import * as SignInFailures from "./SignInFailures.js"

const path = "/v1/purchase-requests"
const ignore = () => {}
const bearer = "Bearer "

/** The create endpoint's own schemas, decoded as HttpApi decodes them (every offending field reported). */
const endpoint = PurchasesApi.endpoints.create
const parseOptions = { errors: "all" } as const
// HttpApi keeps the schemas untyped (`Schema.Top`); these decode without services.
const decodeHeaders = Schema.decodeUnknownResult(endpoint.headers as Schema.Decoder<{ readonly "idempotency-key": string }>, parseOptions)
const jsonPayload = endpoint.payload.get("application/json")
if (jsonPayload === undefined || !("schemas" in jsonPayload)) throw new Error("FastIntake: the create endpoint takes no JSON payload")
const decodePayload = Schema.decodeUnknownResult(Schema.Union(jsonPayload.schemas) as unknown as Schema.Decoder<typeof NewPurchaseRequest.Type>, parseOptions)

/** Requests the lane answered (the rest of `POST /v1/purchase-requests` took the router): on `/metrics`. */
export const answered = Metric.counter("bookbroker_fast_intake_requests_total", {
  description: "POST /v1/purchase-requests answered on the fast intake lane (the others took the router)",
  incremental: true
})

type Answer = { readonly status: number; readonly body: unknown; readonly headers?: Readonly<Record<string, string>> }

const problemAnswer = (problem: Problem.Conflict | Problem.Unprocessable | Problem.TooManyRequests, headers?: Readonly<Record<string, string>>): Answer => ({
  status: problem.status,
  body: Problem.wire(problem),
  ...(headers === undefined ? {} : { headers })
})

const internalError: Answer = { status: 500, body: Problem.internalErrorBody() }

const send = (response: ServerResponse, answer: Answer) => {
  const text = JSON.stringify(answer.body)
  response.writeHead(answer.status, {
    ...answer.headers,
    "content-type": answer.status < 400 ? "application/json" : "application/problem+json",
    "content-length": Buffer.byteLength(text)
  })
  response.end(text)
}

/** The lane: `take` is `true` when it took the request (and will answer it), `false` to leave it to the router. */
export interface Lane {
  readonly take: (request: IncomingMessage, response: ServerResponse) => boolean
  /** Requests taken and not yet answered. */
  readonly inFlight: () => number
}

export const make = Effect.gen(function* () {
  const access = yield* Access.Access
  const guard = yield* SignInFailures.SignInGuard
  const budget = yield* RequestBudget.RequestBudget
  const settings = yield* Settings
  const { submitNow } = yield* SubmitPurchase
  const context = yield* Effect.context<never>()
  const run = Effect.runCallbackWith(context)

  /** A request that failed on the way: logged with its cause, answered 500. */
  const failed = (cause: Cause.Cause<unknown>): Answer => {
    run(Effect.logError("request failed", cause))
    return internalError
  }

  /**
   * What the full path would answer once the body is in, for a customer it already knows: `done`
   * hears it once, in line or from the group commit.
   */
  const answer = (customerId: string, headers: IncomingMessage["headers"], text: string, done: (answer: Answer) => void): void => {
    const body = Edge.jsonBody(text)
    if (body._tag === "Refused") return done({ status: body.status, body: body.problem })
    budget.spendNow("customerRequest", customerId, settings.principalRateLimit, (decision) =>
      // Over Redis this runs when the decision comes, outside the caller's try: a throw is answered here.
      guarded(done, () => afterBudget(customerId, headers, body.value, decision, done))
    )
  }

  /** The steps after the principal's budget: headers, payload, then the submission. */
  const afterBudget = (
    customerId: string,
    headers: IncomingMessage["headers"],
    value: unknown,
    decision: Exit.Exit<RequestBudget.RateDecision>,
    done: (answer: Answer) => void
  ): void => {
    if (Exit.isFailure(decision)) return done(failed(decision.cause))
    const limited = refusal(decision.value, settings.principalRateLimit)
    if (limited !== undefined) return done(problemAnswer(limited.problem, limited.headers))
    const decodedHeaders = decodeHeaders(headers)
    if (Result.isFailure(decodedHeaders)) return done(schemaRefusal("Headers", decodedHeaders.failure))
    const payload = decodePayload(value)
    if (Result.isFailure(payload)) return done(schemaRefusal("Payload", payload.failure))
    submitNow(customerId, decodedHeaders.success["idempotency-key"], payload.success, (exit) =>
      guarded(done, () => {
        if (Exit.isSuccess(exit)) return done({ status: 202, body: exit.value })
        const refused = Cause.findError(exit.cause)
        if (Result.isFailure(refused)) return done(failed(exit.cause))
        const problem = refused.success
        done(problem instanceof RateLimited ? problemAnswer(problem.problem, problem.headers) : problemAnswer(problem))
      })
    )
  }

  /** Runs `body`; what it throws is answered 500 (`done` answers once: a throw after the answer changes nothing). */
  const guarded = (done: (answer: Answer) => void, body: () => void): void => {
    try {
      body()
    } catch (error) {
      done(failed(Cause.die(error)))
    }
  }

  let inFlight = 0
  const take: Lane["take"] = (request, response) => {
    if (request.method !== "POST" || request.url !== path) return false
    const headers = request.headers
    // What the edge would look at more closely, or refuse: the full path answers it.
    if (headers.host === undefined || headers.expect !== undefined || headers["transfer-encoding"] !== undefined) return false
    const type = headers["content-type"]
    if (type !== "application/json" && type !== "application/json; charset=utf-8") return false
    const length = Number(headers["content-length"])
    if (!(length > 0 && length <= settings.maxBodyBytes)) return false
    const authorization = headers.authorization
    if (authorization === undefined || !authorization.startsWith(bearer)) return false
    const principal = access.peek(authorization.slice(bearer.length))
    if (principal === undefined || Option.isNone(principal) || principal.value.kind !== "customer") return false
    if (guard.isBlocked(request.socket.remoteAddress ?? "unknown")) return false
    const customerId = principal.value.id
    const chunks: Array<Buffer> = []
    // A client that goes away mid-body: nothing to answer (node closes the socket).
    request.on("error", ignore)
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.once("end", () => {
      const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
      inFlight += 1
      let replied = false
      const done = (reply: Answer) => {
        if (replied) return
        replied = true
        inFlight -= 1
        answered.updateUnsafe(1, context)
        if (response.destroyed) return
        try {
          send(response, reply)
        } catch (error) {
          // Headers already out, a socket gone under us: nothing more to say to this client.
          run(Effect.logError("fast intake: could not send the answer", Cause.die(error)))
        }
      }
      guarded(done, () => answer(customerId, headers, text, done))
    })
    return true
  }
  return { take, inFlight: () => inFlight } satisfies Lane
})

const schemaRefusal = (kind: "Headers" | "Payload", error: Schema.SchemaError): Answer => {
  const problem = InputErrors.toProblem(kind, error)
  return { status: problem.status, body: problem.body }
}

/**
 * Puts the lane in front of `server`'s request listeners (the router's among them) for as long
 * as the layer lives. On shutdown new requests go back to the router (which drains as the server
 * does), and the submissions the lane is answering are finished first, as the router finishes
 * its own (at most `drainMillis`), before the engine below is released.
 */
export const layer = (server: Server, options: { readonly drainMillis?: number } = {}) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const lane = yield* make
      const emit = server.emit
      server.emit = function (this: Server, event: string | symbol, ...args: Array<unknown>) {
        if (event === "request" && lane.take(args[0] as IncomingMessage, args[1] as ServerResponse)) return true
        return Reflect.apply(emit, this, [event, ...args]) as boolean
      } as typeof server.emit
      yield* Effect.addFinalizer(() =>
        Effect.andThen(
          Effect.sync(() => (server.emit = emit)),
          Effect.repeat(Effect.void, { until: () => lane.inFlight() === 0, schedule: Schedule.spaced("10 millis") }).pipe(
            Effect.timeoutOrElse({ duration: options.drainMillis ?? 10_000, orElse: () => Effect.void })
          )
        )
      )
    })
  )
