/**
 * A local, stateful fake of the slice of Stripe's API that `StripeGateway` uses — PaymentIntents
 * (create with confirm, retrieve, capture, cancel, search), Refunds, Customers (create, retrieve)
 * and PaymentMethods (retrieve, attach, detach) — served over real HTTP
 * on 127.0.0.1, so the real `stripe` SDK talks to it exactly as it talks to Stripe: form-encoded
 * bodies with nested keys (`metadata[request_id]=…`), JSON answers shaped like Stripe's, errors
 * as `{ error: { type, code, decline_code, message } }` with Stripe's status codes.
 *
 * It keeps Stripe's idempotency semantics, which the purchase pipeline's crash safety rests on:
 * the first answer under an `Idempotency-Key` (once the endpoint began executing — validation
 * errors are not stored) is replayed, status and body, to every retry with the same key and the
 * same parameters; the same key with other parameters or on another endpoint gets
 * 400 `idempotency_error`; a retry while the first request is still running gets 409.
 *
 * Test payment methods: `pm_card_visa` / `pm_card_mastercard` approve; `pm_card_chargeDeclined`
 * declines (`generic_decline`); `pm_card_insufficient_funds` (and Stripe's own names
 * `pm_card_chargeDeclinedInsufficientFunds`, `pm_card_visa_chargeDeclinedInsufficientFunds`)
 * decline with `insufficient_funds`; `pm_card_authenticationRequired` (Stripe's 4000 0027 6000
 * 3184, which always asks for authentication) ends `requires_action`, and off-session fails with
 * `authentication_required`. Two are this fake's own, for a card saved for later that fails
 * then: `pm_card_offSessionDeclined` and `pm_card_offSessionAuthenticationRequired` approve with
 * the customer there and, off-session, decline with `expired_card` or fail with
 * `authentication_required`. As at Stripe, a test token makes a new PaymentMethod (`pm_…`) each
 * time it is used — the intent names that one — and `createPaymentMethod(token)` makes one the
 * way Stripe.js would, for a customer to bring.
 *
 * Saved cards as Stripe keeps them: a PaymentIntent with `customer` and `setup_future_usage`
 * attaches its PaymentMethod to that Customer once it is authorized; one used without a Customer
 * (or detached from one) may not be used again ("The provided PaymentMethod was previously used
 * with a PaymentIntent without Customer attachment…"); an attached one is used only with its own
 * Customer; and an off-session confirmation (`off_session: true`) needs it attached to the
 * `customer` given. Off-session, a card whose bank asks for authentication fails (402
 * `authentication_required`, the intent back at `requires_payment_method`) instead of waiting in
 * `requires_action`: nobody is there to authenticate.
 *
 * Fault switches (`inject`) fail chosen requests the ways a network and Stripe fail: a 500 or a
 * 429 before anything happens, a connection dropped before or after the operation committed, a
 * slow answer. Everything it holds (`intents`, `charges`, `refunds`, `requests`) is there for
 * tests to check invariants against.
 *
 * Authorizations lapse as Stripe's do: an uncaptured PaymentIntent (`requires_capture`) is
 * canceled `authorizationLifetimeMillis` after it was authorized (Stripe: 7 days for cards) with
 * `cancellation_reason: "automatic"`, its charge shown refunded; a capture then fails with
 * `payment_intent_unexpected_state`. `expireAuthorization(id)` makes one lapse now.
 *
 * Simplified against real Stripe: no minimum amounts, currencies must already be lowercase, the
 * uncaptured remainder of a partial capture is not shown as refunded on the charge, Search is
 * immediately consistent (Stripe's lags by up to a minute), a 500 is never stored under its
 * idempotency key (Stripe replays a 500 that happened after the endpoint began executing), an
 * unattached PaymentMethod is used up only by an authorization (not by a decline), and the words
 * of the refusals for a PaymentMethod and the wrong Customer are this fake's (their meaning and
 * status are Stripe's; "previously used…" is Stripe's own text).
 */
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Redacted, type Scope } from "effect"
import type { StripeGatewayOptions } from "../payments/StripeGateway.js"

// ---------------------------------------------------------------------------------------------
// Public shapes

/** What a fault does to a matching request. */
export type Fault =
  /** Answers 500 `api_error`; nothing happens, nothing is stored under the idempotency key. */
  | "500"
  /** Answers 429 `rate_limit` with `Retry-After`; nothing happens (Stripe's limiter runs before idempotency). */
  | "429"
  /** Does the operation, stores its answer under the idempotency key, then drops the connection unanswered. */
  | "drop_after_commit"
  /** Drops the connection unanswered; nothing happens. */
  | "drop_before_commit"
  /** Waits `delayMillis`, then does the operation and answers as usual (the key is in flight meanwhile). */
  | "delay"

export interface FaultSpec {
  /** Exact request path (`/v1/payment_intents`, `/v1/payment_intents/pi_…/capture`) or a pattern. */
  readonly path: string | RegExp
  /** Any method when left out. */
  readonly method?: "GET" | "POST"
  readonly fault: Fault
  /** How many matching requests it hits; default 1. */
  readonly times?: number
  /** For `delay`; default 1 000 ms. */
  readonly delayMillis?: number
  /** For `429`: the `Retry-After` header in seconds; default 1. */
  readonly retryAfterSeconds?: number
}

/** One request as the fake saw it (never its Authorization header). */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly idempotencyKey: string | undefined
  /** The parameters sent (form body or query string), decoded (`metadata[request_id]` → `{ metadata: { request_id } }`). */
  readonly params: Params
  /** The status answered, or `"dropped"` when the connection was destroyed unanswered. */
  readonly outcome: number | "dropped"
  /** Answered from the idempotency store. */
  readonly replayed: boolean
  readonly fault: Fault | undefined
}

export type IntentStatus =
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_action"
  | "processing"
  | "requires_capture"
  | "succeeded"
  | "canceled"

export interface LastPaymentError {
  readonly type: "card_error"
  readonly code: string
  readonly decline_code: string
  readonly message: string
  readonly charge: string
}

/** A Customer as Stripe shapes it (the fields this fake knows). */
export interface FakeCustomer {
  readonly id: string
  readonly object: "customer"
  readonly created: number
  readonly livemode: false
  readonly description: string | null
  readonly email: string | null
  readonly name: string | null
  readonly metadata: Readonly<Record<string, string>>
}

/** A card PaymentMethod as Stripe shapes it (the fields this fake knows). */
export interface FakePaymentMethod {
  readonly id: string
  readonly object: "payment_method"
  readonly type: "card"
  readonly card: { readonly brand: string; readonly last4: string; readonly exp_month: number; readonly exp_year: number }
  /** The Customer it is attached to, if any: only then may it be used more than once. */
  readonly customer: string | null
  readonly created: number
  readonly livemode: false
  readonly metadata: Readonly<Record<string, string>>
}

/** A PaymentIntent as Stripe shapes it (the fields this fake knows). */
export interface FakeIntent {
  readonly id: string
  readonly object: "payment_intent"
  readonly amount: number
  readonly amount_capturable: number
  readonly amount_received: number
  readonly currency: string
  readonly status: IntentStatus
  readonly capture_method: string
  readonly confirmation_method: "automatic"
  readonly automatic_payment_methods: { readonly enabled: boolean; readonly allow_redirects: string } | null
  readonly client_secret: string
  readonly created: number
  readonly livemode: false
  readonly metadata: Readonly<Record<string, string>>
  readonly customer: string | null
  readonly setup_future_usage: "on_session" | "off_session" | null
  readonly payment_method: string | null
  readonly latest_charge: string | null
  readonly last_payment_error: LastPaymentError | null
  readonly next_action: { readonly type: string } | null
  readonly canceled_at: number | null
  readonly cancellation_reason: string | null
  readonly description: string | null
}

export interface FakeCharge {
  readonly id: string
  readonly object: "charge"
  readonly amount: number
  readonly amount_captured: number
  readonly amount_refunded: number
  readonly captured: boolean
  readonly refunded: boolean
  readonly paid: boolean
  readonly status: "succeeded" | "failed"
  readonly currency: string
  readonly payment_intent: string
  readonly payment_method: string
  readonly failure_code: string | null
  readonly failure_message: string | null
  readonly created: number
  readonly livemode: false
}

export interface FakeRefund {
  readonly id: string
  readonly object: "refund"
  readonly amount: number
  readonly currency: string
  readonly charge: string
  readonly payment_intent: string
  readonly status: "succeeded"
  readonly reason: string | null
  readonly metadata: Readonly<Record<string, string>>
  readonly created: number
}

export interface FakeStripeOptions {
  /**
   * The only secret key accepted (`Authorization: Bearer …`); any other gets 401 like Stripe.
   * Left out, any key is accepted.
   */
  readonly secretKey?: string
  /**
   * A 401 names the rejected key in full instead of Stripe's `sk_test_****1234` — worse than
   * Stripe, so tests can prove a client never repeats what it is told.
   */
  readonly revealInvalidKeys?: boolean
  /**
   * How long a new PaymentIntent stays out of search results (Stripe's search index lags by up
   * to a minute; retrieve by id is immediate). Default 0: searchable at once.
   */
  readonly searchLagMillis?: number
  /**
   * How long an uncaptured authorization lives before Stripe cancels it (`cancellation_reason:
   * "automatic"`). Default 7 days, as for cards.
   */
  readonly authorizationLifetimeMillis?: number
}

/** Stripe cancels an uncaptured card authorization after 7 days. */
const defaultAuthorizationLifetimeMillis = 7 * 24 * 60 * 60 * 1000

// ---------------------------------------------------------------------------------------------
// Form bodies and query strings

export type Param = string | ReadonlyArray<Param> | { readonly [key: string]: Param }
export type Params = { readonly [key: string]: Param }

/** `metadata[request_id]` → `["metadata", "request_id"]`; `expand[]` → `["expand", ""]`. */
const keyPath = (key: string): ReadonlyArray<string> => {
  const open = key.indexOf("[")
  if (open <= 0 || !key.endsWith("]")) return [key]
  const segments = [key.slice(0, open)]
  for (const match of key.slice(open).matchAll(/\[([^\]]*)\]/g)) segments.push(match[1] ?? "")
  return segments
}

/** Stripe's (and `qs`'s) nested form encoding: objects by key, arrays by index. */
export const parseForm = (text: string): Params => {
  const root: Record<string, unknown> = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const path = keyPath(key)
    let node = root
    path.forEach((segment, index) => {
      const name = segment === "" ? String(Object.keys(node).length) : segment
      if (index === path.length - 1) {
        node[name] = value
        return
      }
      const next = node[name]
      if (typeof next !== "object" || next === null) node[name] = {}
      node = node[name] as Record<string, unknown>
    })
  }
  return arrayify(root) as Params
}

const arrayify = (value: unknown): Param => {
  if (typeof value !== "object" || value === null) return String(value)
  const entries = Object.entries(value)
  if (entries.length > 0 && entries.every(([key]) => /^\d+$/.test(key))) {
    return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, item]) => arrayify(item))
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, arrayify(item)]))
}

/** Parameters in a canonical form: the same parameters in any order compare equal. */
const fingerprint = (params: Param): string => {
  if (typeof params === "string") return JSON.stringify(params)
  if (Array.isArray(params)) return `[${params.map(fingerprint).join(",")}]`
  const record = params as { readonly [key: string]: Param }
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${fingerprint(record[key]!)}`)
    .join(",")}}`
}

const text = (params: Params, key: string): string | undefined => {
  const value = params[key]
  return typeof value === "string" ? value : undefined
}

const record = (params: Params, key: string): Params | undefined => {
  const value = params[key]
  return typeof value === "object" && !Array.isArray(value) ? (value as Params) : undefined
}

const list = (params: Params, key: string): ReadonlyArray<string> => {
  const value = params[key]
  if (typeof value === "string") return [value]
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string")
  return []
}

// ---------------------------------------------------------------------------------------------
// Answers

interface Answer {
  readonly status: number
  readonly body: unknown
  /** Whether the idempotency layer keeps it (only once the endpoint began executing). */
  readonly store: boolean
  readonly headers?: Readonly<Record<string, string>>
}

interface StripeErrorBody {
  readonly type: "card_error" | "invalid_request_error" | "idempotency_error" | "api_error"
  readonly code?: string
  readonly decline_code?: string
  readonly message: string
  readonly param?: string
  readonly charge?: string
  readonly payment_intent?: unknown
  readonly payment_method?: unknown
}

const failure = (status: number, error: StripeErrorBody, store = true): Answer => ({
  status,
  store,
  body: { error: { ...error, doc_url: error.code === undefined ? undefined : `https://docs.stripe.com/error-codes/${error.code}` } }
})

const invalid = (message: string, param?: string, code = "parameter_invalid"): Answer =>
  failure(400, { type: "invalid_request_error", code, message, ...(param === undefined ? {} : { param }) }, false)

const unknownParameters = (params: Params, known: ReadonlyArray<string>): Answer | undefined => {
  const unknown = Object.keys(params).find((key) => !known.includes(key))
  return unknown === undefined ? undefined : invalid(`Received unknown parameter: ${unknown}`, unknown, "parameter_unknown")
}

const amountParam = (params: Params, key: string, required: boolean): number | Answer | undefined => {
  const value = text(params, key)
  if (value === undefined) return required ? invalid(`Missing required param: ${key}.`, key, "parameter_missing") : undefined
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    return invalid(`Invalid positive integer`, key, "parameter_invalid_integer")
  }
  return Number(value)
}

/** What the card's bank answers to one confirmation. */
type CardAnswer =
  | { readonly outcome: "approve" }
  | { readonly outcome: "decline"; readonly code: string; readonly declineCode: string; readonly message: string }
  /** Asks for 3-D Secure: `requires_action` with the customer there, a 402 `authentication_required` off-session. */
  | { readonly outcome: "authenticate" }

interface TestCard {
  readonly brand: string
  readonly last4: string
  /** With the customer there (a confirmation without `off_session`). */
  readonly onSession: CardAnswer
  /** Off-session (`off_session: true`): a saved card charged without the customer. */
  readonly offSession: CardAnswer
}

const approve: CardAnswer = { outcome: "approve" }
const authenticate: CardAnswer = { outcome: "authenticate" }
const genericDecline: CardAnswer = { outcome: "decline", code: "card_declined", declineCode: "generic_decline", message: "Your card was declined." }
const insufficientFunds: CardAnswer = { outcome: "decline", code: "card_declined", declineCode: "insufficient_funds", message: "Your card has insufficient funds." }
const expiredCard: CardAnswer = { outcome: "decline", code: "expired_card", declineCode: "expired_card", message: "Your card has expired." }

const card = (brand: string, last4: string, onSession: CardAnswer, offSession: CardAnswer = onSession): TestCard => ({ brand, last4, onSession, offSession })

/** Test tokens, by the name a request passes as `payment_method` (each use makes a new PaymentMethod). */
const testCards: ReadonlyMap<string, TestCard> = new Map<string, TestCard>([
  ["pm_card_visa", card("visa", "4242", approve)],
  ["pm_card_mastercard", card("mastercard", "4444", approve)],
  ["pm_card_chargeDeclined", card("visa", "0002", genericDecline)],
  ["pm_card_insufficient_funds", card("visa", "9995", insufficientFunds)],
  ["pm_card_chargeDeclinedInsufficientFunds", card("visa", "9995", insufficientFunds)],
  ["pm_card_visa_chargeDeclinedInsufficientFunds", card("visa", "9995", insufficientFunds)],
  ["pm_card_authenticationRequired", card("visa", "3184", authenticate)],
  // This fake's own: approved with the customer there, refused off-session later.
  ["pm_card_offSessionDeclined", card("visa", "0069", approve, expiredCard)],
  ["pm_card_offSessionAuthenticationRequired", card("visa", "3155", approve, authenticate)]
])

/** Stripe's words for a PaymentMethod that may not be used again. */
export const previouslyUsedMessage =
  "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first."

/** A PaymentMethod with what the fake knows beside Stripe's fields: its test card, and whether it was used up. */
interface PaymentMethodState {
  readonly method: Mutable<FakePaymentMethod>
  readonly card: TestCard
  /** Used by a confirmation without staying attached, or detached: refused from now on. */
  usedUp: boolean
}

const cancelableStatuses: ReadonlyArray<IntentStatus> = [
  "requires_payment_method",
  "requires_capture",
  "requires_confirmation",
  "requires_action",
  "processing"
]

const cancellationReasons = ["duplicate", "fraudulent", "requested_by_customer", "abandoned"]

const randomId = (prefix: string): string => `${prefix}_${randomBytes(12).toString("hex")}`
const now = (): number => Math.floor(Date.now() / 1000)

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** `metadata['request_id']:'…'` clauses joined by AND; values in single or double quotes, `\` escapes. */
const searchClause =
  /^\s*(metadata\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]|[a-z_]+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(?:AND\s+|$)/

type Predicate = (intent: FakeIntent) => boolean

const parseQuery = (query: string): ReadonlyArray<Predicate> | string => {
  const predicates: Array<Predicate> = []
  let rest = query
  const unescape = (value: string) => value.replace(/\\(.)/g, "$1")
  while (rest.trim() !== "") {
    const match = searchClause.exec(rest)
    if (match === null) return `Could not parse the search query near: ${rest.trim()}`
    const value = unescape(match[4] ?? match[5] ?? "")
    const field = match[1]!
    if (field.startsWith("metadata[")) {
      const key = unescape(match[2] ?? match[3] ?? "")
      predicates.push((intent) => intent.metadata[key] === value)
    } else if (field === "status") {
      predicates.push((intent) => intent.status === value)
    } else if (field === "currency") {
      predicates.push((intent) => intent.currency === value)
    } else {
      return `Field '${field}' is not supported by this fake's search (metadata[…], status, currency are).`
    }
    rest = rest.slice(match[0].length)
  }
  return predicates.length === 0 ? "The search query is empty." : predicates
}

// ---------------------------------------------------------------------------------------------
// The server

export class FakeStripeServer {
  private readonly intentsById = new Map<string, Mutable<FakeIntent>>()
  private readonly chargesById = new Map<string, Mutable<FakeCharge>>()
  private readonly refundsById = new Map<string, FakeRefund>()
  private readonly customersById = new Map<string, FakeCustomer>()
  private readonly paymentMethodsById = new Map<string, PaymentMethodState>()
  private readonly stored = new Map<string, { method: string; path: string; fingerprint: string; answer: Answer; requestId: string }>()
  private readonly inFlight = new Set<string>()
  private readonly faults: Array<Mutable<FaultSpec> & { remaining: number }> = []
  private readonly log: Array<Mutable<RecordedRequest>> = []
  private readonly timers = new Set<NodeJS.Timeout>()
  /** When each PaymentIntent becomes visible to search (`searchLagMillis`). */
  private readonly searchableAt = new Map<string, number>()
  /** When each uncaptured authorization lapses (`authorizationLifetimeMillis`), by intent id. */
  private readonly lapsesAt = new Map<string, number>()

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: FakeStripeOptions
  ) {}

  /** Starts a fake on 127.0.0.1 on a free port. */
  static async start(options: FakeStripeOptions = {}): Promise<FakeStripeServer> {
    const server = createServer((req, res) => {
      fake.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: { type: "api_error", message: `fake stripe bug: ${String(error)}` } }))
        }
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    // Requests only arrive after listen, so the handler above never sees `fake` uninitialized.
    const fake = new FakeStripeServer(server, (server.address() as AddressInfo).port, options)
    return fake
  }

  readonly host = "127.0.0.1"

  /** StripeGateway options pointing at this fake. */
  gatewayOptions(secretKey: string, overrides: Partial<Omit<StripeGatewayOptions, "secretKey">> = {}): StripeGatewayOptions {
    return { secretKey: Redacted.make(secretKey), host: this.host, port: this.port, protocol: "http", ...overrides }
  }

  /** Makes the next `times` matching requests fail as `fault` says. Faults are matched in order. */
  inject(spec: FaultSpec): void {
    this.faults.push({ ...spec, remaining: spec.times ?? 1 })
  }

  /** Forgets the faults not yet used up. */
  clearFaults(): void {
    this.faults.length = 0
  }

  intents(): ReadonlyArray<FakeIntent> {
    this.lapse()
    return structuredClone([...this.intentsById.values()])
  }

  intent(id: string): FakeIntent | undefined {
    this.lapse()
    const intent = this.intentsById.get(id)
    return intent === undefined ? undefined : structuredClone(intent)
  }

  charges(): ReadonlyArray<FakeCharge> {
    this.lapse()
    return structuredClone([...this.chargesById.values()])
  }

  refunds(): ReadonlyArray<FakeRefund> {
    return structuredClone([...this.refundsById.values()])
  }

  customers(): ReadonlyArray<FakeCustomer> {
    return structuredClone([...this.customersById.values()])
  }

  paymentMethods(): ReadonlyArray<FakePaymentMethod> {
    return [...this.paymentMethodsById.values()].map((state) => structuredClone(state.method))
  }

  paymentMethod(id: string): FakePaymentMethod | undefined {
    const state = this.paymentMethodsById.get(id)
    return state === undefined ? undefined : structuredClone(state.method)
  }

  /**
   * A new PaymentMethod for a test card (`pm_card_visa`, `pm_card_offSessionDeclined`, …), not
   * attached to anyone — what Stripe.js hands a customer's browser — and its id. Unlike the test
   * token itself, it is one object: once used without a Customer it is used up.
   */
  createPaymentMethod(testToken = "pm_card_visa"): string {
    const card = testCards.get(testToken)
    if (card === undefined) throw new Error(`FakeStripe knows no test card ${testToken}: ${[...testCards.keys()].join(", ")}`)
    return this.newPaymentMethod(card).method.id
  }

  /**
   * Lets an uncaptured authorization lapse now, as Stripe does after its lifetime: the intent is
   * canceled (`cancellation_reason: "automatic"`) and its charge shown refunded. False when it
   * is not `requires_capture`.
   */
  expireAuthorization(id: string): boolean {
    const intent = this.intentsById.get(id)
    if (intent === undefined || intent.status !== "requires_capture") return false
    this.lapsesAt.delete(id)
    intent.status = "canceled"
    intent.amount_capturable = 0
    intent.canceled_at = now()
    intent.cancellation_reason = "automatic"
    const charge = intent.latest_charge === null ? undefined : this.chargesById.get(intent.latest_charge)
    if (charge !== undefined) {
      charge.refunded = true
      charge.amount_refunded = charge.amount
    }
    return true
  }

  /** Authorizations whose lifetime is over lapse (checked on every request and read). */
  private lapse(): void {
    if (this.lapsesAt.size === 0) return
    const at = Date.now()
    for (const [id, lapsesAt] of this.lapsesAt) {
      if (lapsesAt <= at) this.expireAuthorization(id)
    }
  }

  /** Every request received, in order. */
  requests(): ReadonlyArray<RecordedRequest> {
    return this.log.map((entry) => ({ ...entry }))
  }

  /** How many requests arrived per `"METHOD /path"`. */
  requestCounts(): Readonly<Record<string, number>> {
    const counts: Record<string, number> = {}
    for (const entry of this.log) {
      const key = `${entry.method} ${entry.path}`
      counts[key] = (counts[key] ?? 0) + 1
    }
    return counts
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Array<Buffer> = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString("utf8")
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const method = req.method ?? "GET"
    const path = url.pathname
    const idempotencyKey = headerValue(req, "idempotency-key")
    const params = parseForm(method === "GET" ? url.search.slice(1) : body)
    const entry: Mutable<RecordedRequest> = { method, path, idempotencyKey, params, outcome: 0, replayed: false, fault: undefined }
    this.log.push(entry)

    const unauthorized = this.authenticate(req)
    if (unauthorized !== undefined) return this.send(res, entry, unauthorized)

    const fault = this.takeFault(method, path)
    entry.fault = fault?.fault
    if (fault?.fault === "drop_before_commit") return this.drop(req, entry)
    if (fault?.fault === "500") {
      return this.send(res, entry, failure(500, { type: "api_error", message: "An unknown error occurred. (fake Stripe fault)" }, false))
    }
    if (fault?.fault === "429") {
      const answer = failure(
        429,
        { type: "invalid_request_error", code: "rate_limit", message: "Too many requests hit the API too quickly. (fake Stripe fault)" },
        false
      )
      return this.send(res, entry, { ...answer, headers: { "retry-after": String(fault.retryAfterSeconds ?? 1) } })
    }
    const delay = fault?.fault === "delay" ? (fault.delayMillis ?? 1_000) : 0

    let answer: Answer
    let replayed = false
    let originalRequest: string | undefined
    if (method === "POST" && idempotencyKey !== undefined) {
      const previous = this.stored.get(idempotencyKey)
      if (previous !== undefined) {
        await this.sleep(delay)
        if (previous.method !== method || previous.path !== path) {
          answer = failure(
            400,
            {
              type: "idempotency_error",
              message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${previous.method} ${previous.path}' vs '${method} ${path}'). Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`
            },
            false
          )
        } else if (previous.fingerprint !== fingerprint(params)) {
          answer = failure(
            400,
            {
              type: "idempotency_error",
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`
            },
            false
          )
        } else {
          answer = previous.answer
          replayed = true
          originalRequest = previous.requestId
        }
      } else if (this.inFlight.has(idempotencyKey)) {
        answer = failure(
          409,
          {
            type: "idempotency_error",
            code: "idempotency_key_in_use",
            message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${idempotencyKey}. Please try again later.`
          },
          false
        )
      } else {
        this.inFlight.add(idempotencyKey)
        try {
          await this.sleep(delay)
          answer = this.route(method, path, params)
          if (answer.store) {
            originalRequest = randomId("req")
            this.stored.set(idempotencyKey, { method, path, fingerprint: fingerprint(params), answer, requestId: originalRequest })
          }
        } finally {
          this.inFlight.delete(idempotencyKey)
        }
      }
    } else {
      await this.sleep(delay)
      answer = this.route(method, path, params)
    }

    if (fault?.fault === "drop_after_commit") return this.drop(req, entry)
    entry.replayed = replayed
    const headers: Record<string, string> = { ...answer.headers }
    if (replayed) headers["idempotent-replayed"] = "true"
    if (originalRequest !== undefined) headers["original-request"] = originalRequest
    if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey
    this.send(res, entry, { ...answer, headers })
  }

  private authenticate(req: IncomingMessage): Answer | undefined {
    const authorization = headerValue(req, "authorization") ?? ""
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]
    const basic = /^Basic\s+(.+)$/i.exec(authorization)?.[1]
    const key = bearer ?? (basic === undefined ? undefined : Buffer.from(basic, "base64").toString("utf8").replace(/:$/, ""))
    const unauthorized = (message: string): Answer => ({ ...failure(401, { type: "invalid_request_error", message }, false) })
    if (key === undefined || key === "") {
      return unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth.")
    }
    const expected = this.options.secretKey
    if (expected !== undefined && key !== expected) {
      const shown = this.options.revealInvalidKeys === true ? key : `${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`
      return unauthorized(`Invalid API Key provided: ${shown}`)
    }
    return undefined
  }

  private takeFault(method: string, path: string): FaultSpec | undefined {
    const index = this.faults.findIndex(
      (fault) => (fault.method === undefined || fault.method === method) && (typeof fault.path === "string" ? fault.path === path : fault.path.test(path))
    )
    if (index < 0) return undefined
    const fault = this.faults[index]!
    fault.remaining -= 1
    if (fault.remaining <= 0) this.faults.splice(index, 1)
    return fault
  }

  private sleep(millis: number): Promise<void> {
    if (millis <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        resolve()
      }, millis)
      this.timers.add(timer)
    })
  }

  private drop(req: IncomingMessage, entry: Mutable<RecordedRequest>): void {
    entry.outcome = "dropped"
    req.socket.destroy()
  }

  private send(res: ServerResponse, entry: Mutable<RecordedRequest>, answer: Answer): void {
    entry.outcome = answer.status
    const payload = JSON.stringify(answer.body)
    res.writeHead(answer.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      "request-id": randomId("req"),
      "stripe-version": "fake",
      ...answer.headers
    })
    res.end(payload)
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints

  private route(method: string, path: string, params: Params): Answer {
    this.lapse()
    const segments = path.split("/").filter((segment) => segment !== "")
    if (segments[0] === "v1" && segments[1] === "payment_intents") {
      const id = segments[2]
      if (id === undefined) {
        if (method === "POST") return this.createIntent(params)
      } else if (id === "search") {
        if (method === "GET" && segments.length === 3) return this.searchIntents(params)
      } else if (segments.length === 3) {
        if (method === "GET") return this.retrieveIntent(id, params)
      } else if (segments.length === 4 && method === "POST") {
        if (segments[3] === "capture") return this.capture(id, params)
        if (segments[3] === "cancel") return this.cancel(id, params)
      }
    } else if (segments[0] === "v1" && segments[1] === "customers") {
      if (segments.length === 2 && method === "POST") return this.createCustomer(params)
      if (segments.length === 3 && method === "GET") {
        const customer = this.customersById.get(segments[2]!)
        return customer === undefined ? this.missing("customer", segments[2]!) : { status: 200, body: customer, store: true }
      }
    } else if (segments[0] === "v1" && segments[1] === "payment_methods" && segments[2] !== undefined) {
      const id = segments[2]
      if (segments.length === 3 && method === "GET") {
        const state = this.paymentMethodsById.get(id)
        return state === undefined ? this.missing("PaymentMethod", id) : { status: 200, body: structuredClone(state.method), store: true }
      }
      if (segments.length === 4 && method === "POST" && segments[3] === "attach") return this.attach(id, params)
      if (segments.length === 4 && method === "POST" && segments[3] === "detach") return this.detach(id, params)
    } else if (segments[0] === "v1" && segments[1] === "refunds") {
      if (segments.length === 2 && method === "POST") return this.createRefund(params)
      if (segments.length === 3 && method === "GET") {
        const refund = this.refundsById.get(segments[2]!)
        return refund === undefined ? this.missing("refund", segments[2]!) : { status: 200, body: refund, store: true }
      }
    }
    return failure(404, { type: "invalid_request_error", message: `Unrecognized request URL (${method}: ${path}).` }, false)
  }

  private missing(kind: string, id: string, param?: string): Answer {
    return failure(404, { type: "invalid_request_error", code: "resource_missing", message: `No such ${kind}: '${id}'`, ...(param === undefined ? {} : { param }) })
  }

  private render(intent: FakeIntent, expand: ReadonlyArray<string>, prefix = ""): unknown {
    if (!expand.includes(`${prefix}latest_charge`) || intent.latest_charge === null) return structuredClone(intent)
    return { ...structuredClone(intent), latest_charge: structuredClone(this.chargesById.get(intent.latest_charge) ?? null) }
  }

  private createIntent(params: Params): Answer {
    const unknown = unknownParameters(params, [
      "amount",
      "currency",
      "capture_method",
      "confirm",
      "payment_method",
      "payment_method_types",
      "automatic_payment_methods",
      "metadata",
      "return_url",
      "description",
      "expand",
      "off_session",
      "error_on_requires_action",
      "customer",
      "setup_future_usage"
    ])
    if (unknown !== undefined) return unknown
    const amount = amountParam(params, "amount", true)
    if (typeof amount !== "number") return amount!
    const currency = text(params, "currency")
    if (currency === undefined) return invalid("Missing required param: currency.", "currency", "parameter_missing")
    if (!/^[a-z]{3}$/.test(currency)) return invalid(`Invalid currency: ${currency}. Stripe currencies are lowercase ISO codes.`, "currency")
    const captureMethod = text(params, "capture_method") ?? "automatic_async"
    if (!["automatic", "automatic_async", "manual"].includes(captureMethod)) return invalid(`Invalid capture_method: ${captureMethod}`, "capture_method")
    const confirm = text(params, "confirm") === "true"
    const metadata = record(params, "metadata") ?? {}
    if (Object.values(metadata).some((value) => typeof value !== "string")) return invalid("Metadata values must be strings.", "metadata")
    const automatic = record(params, "automatic_payment_methods")
    const automaticEnabled = automatic !== undefined && text(automatic, "enabled") === "true"
    const allowRedirects = automatic === undefined ? "always" : (text(automatic, "allow_redirects") ?? "always")
    const paymentMethod = text(params, "payment_method")
    if (automatic !== undefined && params["payment_method_types"] !== undefined) {
      return invalid("You may only specify one of these parameters: automatic_payment_methods, payment_method_types.", "automatic_payment_methods")
    }
    const setupFutureUsage = text(params, "setup_future_usage")
    if (setupFutureUsage !== undefined && setupFutureUsage !== "on_session" && setupFutureUsage !== "off_session") {
      return invalid(`Invalid setup_future_usage: must be one of on_session, off_session`, "setup_future_usage")
    }
    const offSessionText = text(params, "off_session")
    if (offSessionText !== undefined && !["true", "false", "one_off", "recurring"].includes(offSessionText)) {
      return invalid(`Invalid off_session: must be a boolean or one of one_off, recurring`, "off_session")
    }
    const offSession = offSessionText !== undefined && offSessionText !== "false"
    if (offSessionText !== undefined && !confirm) return invalid("You may only specify `off_session` when confirming the PaymentIntent (`confirm: true`).", "off_session")
    if (confirm && paymentMethod === undefined) {
      return invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", "payment_method", "payment_intent_unexpected_state")
    }
    if (confirm && automaticEnabled && allowRedirects !== "never" && text(params, "return_url") === undefined) {
      return invalid(
        "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these payment methods might redirect your customer off of your page, you must provide a `return_url`. If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.",
        "return_url"
      )
    }
    const customer = text(params, "customer")
    if (customer !== undefined && !this.customersById.has(customer)) return this.missing("customer", customer, "customer")
    let method: PaymentMethodState | undefined
    if (paymentMethod !== undefined) {
      // A test token makes a new PaymentMethod each time, as at Stripe; an id names one that exists.
      const testCard = testCards.get(paymentMethod)
      method = testCard === undefined ? this.paymentMethodsById.get(paymentMethod) : this.newPaymentMethod(testCard)
      if (method === undefined) {
        return failure(400, {
          type: "invalid_request_error",
          code: "resource_missing",
          message: `No such PaymentMethod: '${paymentMethod}'`,
          param: "payment_method"
        })
      }
      const refused = this.refusedUse(method, customer, setupFutureUsage, offSession)
      if (refused !== undefined) return refused
    }

    const id = randomId("pi")
    const intent: Mutable<FakeIntent> = {
      id,
      object: "payment_intent",
      amount,
      amount_capturable: 0,
      amount_received: 0,
      currency,
      status: method === undefined ? "requires_payment_method" : "requires_confirmation",
      capture_method: captureMethod,
      confirmation_method: "automatic",
      automatic_payment_methods: automatic === undefined ? null : { enabled: automaticEnabled, allow_redirects: allowRedirects },
      client_secret: `${id}_secret_${randomBytes(12).toString("hex")}`,
      created: now(),
      livemode: false,
      metadata: { ...(metadata as Record<string, string>) },
      customer: customer ?? null,
      setup_future_usage: setupFutureUsage ?? null,
      payment_method: method?.method.id ?? null,
      latest_charge: null,
      last_payment_error: null,
      next_action: null,
      canceled_at: null,
      cancellation_reason: null,
      description: text(params, "description") ?? null
    }
    this.intentsById.set(id, intent)
    this.searchableAt.set(id, Date.now() + (this.options.searchLagMillis ?? 0))
    const expand = list(params, "expand")
    if (!confirm || method === undefined) return { status: 200, body: this.render(intent, expand), store: true }

    const answer = offSession ? method.card.offSession : method.card.onSession
    if (answer.outcome === "authenticate" && !offSession) {
      intent.status = "requires_action"
      intent.next_action = { type: "use_stripe_sdk" }
      return { status: 200, body: this.render(intent, expand), store: true }
    }
    // Off-session, a bank that asks for authentication is a failed payment: nobody is there to authenticate.
    const refusal =
      answer.outcome === "decline"
        ? answer
        : answer.outcome === "authenticate"
          ? { code: "authentication_required", declineCode: "authentication_required", message: "Your card was declined. This transaction requires authentication." }
          : undefined
    const charge: Mutable<FakeCharge> = {
      id: randomId("ch"),
      object: "charge",
      amount,
      amount_captured: 0,
      amount_refunded: 0,
      captured: false,
      refunded: false,
      paid: refusal === undefined,
      status: refusal === undefined ? "succeeded" : "failed",
      currency,
      payment_intent: id,
      payment_method: method.method.id,
      failure_code: refusal?.code ?? null,
      failure_message: refusal?.message ?? null,
      created: now(),
      livemode: false
    }
    this.chargesById.set(charge.id, charge)
    intent.latest_charge = charge.id
    if (refusal !== undefined) {
      intent.status = "requires_payment_method"
      intent.payment_method = null
      intent.last_payment_error = { type: "card_error", code: refusal.code, decline_code: refusal.declineCode, message: refusal.message, charge: charge.id }
      return failure(402, {
        type: "card_error",
        code: refusal.code,
        decline_code: refusal.declineCode,
        message: refusal.message,
        charge: charge.id,
        payment_intent: this.render(intent, []),
        payment_method: structuredClone(method.method)
      })
    }
    // Authorized: a PaymentMethod set up for future use is attached to the Customer now; one
    // that stays unattached is used up.
    if (setupFutureUsage !== undefined && customer !== undefined && method.method.customer === null) method.method.customer = customer
    if (method.method.customer === null) method.usedUp = true
    if (captureMethod === "manual") {
      intent.status = "requires_capture"
      intent.amount_capturable = amount
      this.lapsesAt.set(intent.id, Date.now() + (this.options.authorizationLifetimeMillis ?? defaultAuthorizationLifetimeMillis))
    } else {
      intent.status = "succeeded"
      intent.amount_received = amount
      charge.captured = true
      charge.amount_captured = amount
    }
    return { status: 200, body: this.render(intent, expand), store: true }
  }

  /** Why Stripe refuses to use this PaymentMethod for an intent with these parameters, if it does. */
  private refusedUse(state: PaymentMethodState, customer: string | undefined, setupFutureUsage: string | undefined, offSession: boolean): Answer | undefined {
    const refuse = (message: string): Answer => failure(400, { type: "invalid_request_error", message, param: "payment_method" })
    const id = state.method.id
    if (state.usedUp) return refuse(previouslyUsedMessage)
    const owner = state.method.customer
    if (owner !== null && customer === undefined) {
      return refuse(`The PaymentMethod ${id} is attached to a Customer (${owner}): pass \`customer\` with the PaymentIntent to use it.`)
    }
    if (owner !== null && owner !== customer) {
      return refuse(`The payment method supplied (${id}) belongs to the Customer ${owner}. Please use it with this Customer instead of ${customer}.`)
    }
    if (owner === null && customer !== undefined && offSession && setupFutureUsage === undefined) {
      return refuse(`The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`)
    }
    return undefined
  }

  private newPaymentMethod(card: TestCard): PaymentMethodState {
    const state: PaymentMethodState = {
      method: {
        id: randomId("pm"),
        object: "payment_method",
        type: "card",
        card: { brand: card.brand, last4: card.last4, exp_month: 12, exp_year: new Date().getUTCFullYear() + 3 },
        customer: null,
        created: now(),
        livemode: false,
        metadata: {}
      },
      card,
      usedUp: false
    }
    this.paymentMethodsById.set(state.method.id, state)
    return state
  }

  private createCustomer(params: Params): Answer {
    const unknown = unknownParameters(params, ["description", "email", "name", "metadata", "expand"])
    if (unknown !== undefined) return unknown
    const metadata = record(params, "metadata") ?? {}
    if (Object.values(metadata).some((value) => typeof value !== "string")) return invalid("Metadata values must be strings.", "metadata")
    const customer: FakeCustomer = {
      id: randomId("cus"),
      object: "customer",
      created: now(),
      livemode: false,
      description: text(params, "description") ?? null,
      email: text(params, "email") ?? null,
      name: text(params, "name") ?? null,
      metadata: { ...(metadata as Record<string, string>) }
    }
    this.customersById.set(customer.id, customer)
    return { status: 200, body: customer, store: true }
  }

  private attach(id: string, params: Params): Answer {
    const unknown = unknownParameters(params, ["customer", "expand"])
    if (unknown !== undefined) return unknown
    const customer = text(params, "customer")
    if (customer === undefined) return invalid("Missing required param: customer.", "customer", "parameter_missing")
    const state = this.paymentMethodsById.get(id)
    if (state === undefined) return this.missing("PaymentMethod", id)
    if (!this.customersById.has(customer)) return this.missing("customer", customer, "customer")
    if (state.usedUp) return failure(400, { type: "invalid_request_error", message: previouslyUsedMessage })
    if (state.method.customer !== null && state.method.customer !== customer) {
      return failure(400, { type: "invalid_request_error", message: `The payment method ${id} is already attached to another Customer (${state.method.customer}).` })
    }
    state.method.customer = customer
    return { status: 200, body: structuredClone(state.method), store: true }
  }

  private detach(id: string, params: Params): Answer {
    const unknown = unknownParameters(params, ["expand"])
    if (unknown !== undefined) return unknown
    const state = this.paymentMethodsById.get(id)
    if (state === undefined) return this.missing("PaymentMethod", id)
    if (state.method.customer === null) {
      return failure(400, { type: "invalid_request_error", message: `The payment method ${id} is not attached to a customer so detachment is impossible.` })
    }
    // Detached, it may not be used again (Stripe's words above).
    state.method.customer = null
    state.usedUp = true
    return { status: 200, body: structuredClone(state.method), store: true }
  }

  private retrieveIntent(id: string, params: Params): Answer {
    const intent = this.intentsById.get(id)
    if (intent === undefined) return this.missing("payment_intent", id)
    return { status: 200, body: this.render(intent, list(params, "expand")), store: true }
  }

  private capture(id: string, params: Params): Answer {
    const unknown = unknownParameters(params, ["amount_to_capture", "expand", "metadata", "final_capture"])
    if (unknown !== undefined) return unknown
    const requested = amountParam(params, "amount_to_capture", false)
    if (typeof requested === "object") return requested
    const intent = this.intentsById.get(id)
    if (intent === undefined) return this.missing("payment_intent", id)
    if (intent.status !== "requires_capture") {
      return failure(400, {
        type: "invalid_request_error",
        code: "payment_intent_unexpected_state",
        message: `This PaymentIntent could not be captured because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
        payment_intent: this.render(intent, [])
      })
    }
    const amount = requested ?? intent.amount_capturable
    if (amount > intent.amount_capturable) {
      return failure(400, {
        type: "invalid_request_error",
        code: "amount_too_large",
        message: `The amount to capture (${amount}) is greater than the amount capturable on this PaymentIntent (${intent.amount_capturable}).`,
        param: "amount_to_capture",
        payment_intent: this.render(intent, [])
      })
    }
    intent.status = "succeeded"
    intent.amount_received = amount
    intent.amount_capturable = 0
    this.lapsesAt.delete(id)
    const charge = intent.latest_charge === null ? undefined : this.chargesById.get(intent.latest_charge)
    if (charge !== undefined) {
      charge.captured = true
      charge.amount_captured = amount
    }
    return { status: 200, body: this.render(intent, list(params, "expand")), store: true }
  }

  private cancel(id: string, params: Params): Answer {
    const unknown = unknownParameters(params, ["cancellation_reason", "expand"])
    if (unknown !== undefined) return unknown
    const reason = text(params, "cancellation_reason")
    if (reason !== undefined && !cancellationReasons.includes(reason)) return invalid(`Invalid cancellation_reason: ${reason}`, "cancellation_reason")
    const intent = this.intentsById.get(id)
    if (intent === undefined) return this.missing("payment_intent", id)
    if (!cancelableStatuses.includes(intent.status)) {
      return failure(400, {
        type: "invalid_request_error",
        code: "payment_intent_unexpected_state",
        message: `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${cancelableStatuses.join(", ")}.`,
        payment_intent: this.render(intent, [])
      })
    }
    intent.status = "canceled"
    intent.amount_capturable = 0
    intent.canceled_at = now()
    intent.cancellation_reason = reason ?? null
    this.lapsesAt.delete(id)
    intent.next_action = null
    return { status: 200, body: this.render(intent, list(params, "expand")), store: true }
  }

  private createRefund(params: Params): Answer {
    const unknown = unknownParameters(params, ["payment_intent", "charge", "amount", "metadata", "reason", "expand"])
    if (unknown !== undefined) return unknown
    const requested = amountParam(params, "amount", false)
    if (typeof requested === "object") return requested
    const intentId = text(params, "payment_intent")
    const chargeId = text(params, "charge")
    if ((intentId === undefined) === (chargeId === undefined)) {
      return invalid("You must pass exactly one of payment_intent or charge.", "payment_intent", "parameter_missing")
    }
    const reason = text(params, "reason")
    if (reason !== undefined && !["duplicate", "fraudulent", "requested_by_customer"].includes(reason)) return invalid(`Invalid reason: ${reason}`, "reason")
    const metadata = record(params, "metadata") ?? {}
    if (Object.values(metadata).some((value) => typeof value !== "string")) return invalid("Metadata values must be strings.", "metadata")

    const charge = chargeId !== undefined ? this.chargesById.get(chargeId) : this.chargeOf(intentId!)
    if (intentId !== undefined && !this.intentsById.has(intentId)) return this.missing("payment_intent", intentId, "payment_intent")
    if (charge === undefined || !charge.captured) {
      const which = intentId ?? chargeId!
      return failure(400, {
        type: "invalid_request_error",
        code: "charge_not_refundable",
        message: `${which} does not have a successful, captured charge to refund.`
      })
    }
    const refundable = charge.amount_captured - charge.amount_refunded
    if (refundable <= 0) {
      return failure(400, { type: "invalid_request_error", code: "charge_already_refunded", message: `Charge ${charge.id} has already been refunded.` })
    }
    const amount = requested ?? refundable
    if (amount > refundable) {
      return failure(400, {
        type: "invalid_request_error",
        code: "amount_too_large",
        message: `Refund amount (${amount}) is greater than unrefunded amount on charge (${refundable})`,
        param: "amount"
      })
    }
    charge.amount_refunded += amount
    charge.refunded = charge.amount_refunded >= charge.amount_captured
    const refund: FakeRefund = {
      id: randomId("re"),
      object: "refund",
      amount,
      currency: charge.currency,
      charge: charge.id,
      payment_intent: charge.payment_intent,
      status: "succeeded",
      reason: reason ?? null,
      metadata: { ...(metadata as Record<string, string>) },
      created: now()
    }
    this.refundsById.set(refund.id, refund)
    return { status: 200, body: refund, store: true }
  }

  private chargeOf(intentId: string): Mutable<FakeCharge> | undefined {
    const intent = this.intentsById.get(intentId)
    return intent?.latest_charge == null ? undefined : this.chargesById.get(intent.latest_charge)
  }

  private searchIntents(params: Params): Answer {
    const unknown = unknownParameters(params, ["query", "limit", "page", "expand"])
    if (unknown !== undefined) return unknown
    const query = text(params, "query")
    if (query === undefined) return invalid("Missing required param: query.", "query", "parameter_missing")
    const predicates = parseQuery(query)
    if (typeof predicates === "string") return invalid(predicates, "query")
    const limitText = text(params, "limit") ?? "10"
    const limit = Number(limitText)
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return invalid("limit must be an integer between 1 and 100.", "limit")
    const page = text(params, "page")
    const offset = page === undefined ? 0 : Number(Buffer.from(page.replace(/^page_/, ""), "base64url").toString("utf8"))
    if (!Number.isInteger(offset) || offset < 0) return invalid(`Invalid page: ${page}`, "page")
    // Newest first, as Stripe lists; intents still inside the search lag are not found yet.
    const now = Date.now()
    const matches = [...this.intentsById.values()]
      .reverse()
      .filter((intent) => (this.searchableAt.get(intent.id) ?? 0) <= now && predicates.every((predicate) => predicate(intent)))
    const slice = matches.slice(offset, offset + limit)
    const hasMore = offset + limit < matches.length
    const expand = list(params, "expand")
    return {
      status: 200,
      store: true,
      body: {
        object: "search_result",
        url: "/v1/payment_intents/search",
        has_more: hasMore,
        next_page: hasMore ? `page_${Buffer.from(String(offset + limit)).toString("base64url")}` : null,
        data: slice.map((intent) => this.render(intent, expand, "data."))
      }
    }
  }
}

const headerValue = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Starts a fake on 127.0.0.1 (plain Promise API). */
export const start = (options: FakeStripeOptions = {}): Promise<FakeStripeServer> => FakeStripeServer.start(options)

/** A fake for the life of the scope. */
export const scoped = (options: FakeStripeOptions = {}): Effect.Effect<FakeStripeServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => FakeStripeServer.start(options)),
    (fake) => Effect.promise(() => fake.close())
  )
