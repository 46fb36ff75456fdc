/**
 * Seller self-service handlers. Registration checks the adapter config before anything is
 * stored and creates the seller and its first API key in one transaction. Pushed offers go into
 * the quote cache (see the engine's `PushedOffers`): any active seller may push, an answer
 * lives at most 5 minutes, and a purchase never buys from a pushed price — it asks the seller.
 */
import { HttpServerRequest } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Money, type Contract, type Isbn } from "@bookbroker/adapter-sdk"
import {
  Access,
  PushedOffers,
  RequestBudget,
  type SellerDirectory,
  SellerDirectory as Directory,
  SellerRegistration,
  SellerReview,
  SellerViews
} from "@bookbroker/engine"
import { Effect, Option, Redacted } from "effect"
import { BookbrokerApi } from "../Api.js"
import { CurrentSeller } from "../Auth.js"
import { Settings } from "../Config.js"
import * as Problem from "../Problem.js"
import { limit } from "./RateLimit.js"

type WireLimits = {
  readonly requests_per_second?: number | undefined
  readonly burst?: number | undefined
  readonly max_concurrency?: number | undefined
  readonly timeout_ms?: number | undefined
}

export const limitsFromWire = (limits: WireLimits): Partial<Contract.LimitsInput> => ({
  ...(limits.requests_per_second === undefined ? {} : { requestsPerSecond: limits.requests_per_second }),
  ...(limits.burst === undefined ? {} : { burst: limits.burst }),
  ...(limits.max_concurrency === undefined ? {} : { maxConcurrency: limits.max_concurrency }),
  ...(limits.timeout_ms === undefined ? {} : { timeoutMillis: limits.timeout_ms })
})

const limitsToWire = (limits: Partial<Contract.LimitsInput>) => ({
  ...(limits.requestsPerSecond === undefined ? {} : { requests_per_second: limits.requestsPerSecond }),
  ...(limits.burst === undefined ? {} : { burst: limits.burst }),
  ...(limits.maxConcurrency === undefined ? {} : { max_concurrency: limits.maxConcurrency }),
  ...(limits.timeoutMillis === undefined ? {} : { timeout_ms: limits.timeoutMillis })
})

export const effectiveLimits = (limits: Contract.Limits) => ({
  requests_per_second: limits.requestsPerSecond,
  burst: limits.burst,
  max_concurrency: limits.maxConcurrency,
  timeout_ms: limits.timeoutMillis
})

const asRecord = (config: unknown): Record<string, unknown> =>
  typeof config === "object" && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : {}

/** A seller as the API shows it: credential names only, the limits and capabilities in force. */
export const sellerToWire = (seller: SellerDirectory.Seller, inForce: SellerViews.InForce) => ({
  id: seller.id,
  name: seller.name,
  status: seller.status,
  contact: seller.contact,
  adapter: { kind: seller.kind, version: seller.adapterVersion, config: asRecord(seller.config), credentials: Object.keys(seller.credentials).sort() },
  limit_overrides: limitsToWire(seller.limits),
  limits: inForce._tag === "Usable" ? effectiveLimits(inForce.limits) : null,
  capabilities:
    inForce._tag === "Usable"
      ? {
          batch_quotes: inForce.capabilities.batchQuotes === null ? null : { max_batch_size: inForce.capabilities.batchQuotes.maxBatchSize },
          holds: inForce.capabilities.holds,
          order_lookup: inForce.capabilities.orderLookup,
          price_push: inForce.capabilities.pricePush,
          inventory: inForce.capabilities.inventory
        }
      : null,
  config_error: inForce._tag === "Refused" ? inForce.detail : null,
  created_at: seller.createdAt.toISOString(),
  updated_at: seller.updatedAt.toISOString()
})

/** `sellerToWire` with what is in force for the seller now. */
export const showSeller = (views: SellerViews.SellerViewsService) => (seller: SellerDirectory.Seller) =>
  Effect.map(views.inForce(seller), (inForce) => sellerToWire(seller, inForce))

/** Where in the body an adapter's refusal points. */
const configPointer = (detail: string) =>
  detail.startsWith("missing credentials") ? "/adapter/credentials" : detail.startsWith("limits") ? "/limits" : "/adapter/config"

export const registrationProblem = (error: Directory.RegistrationError) => {
  switch (error._tag) {
    case "DuplicateSellerName":
      return Problem.conflict(error.message, [{ pointer: "/name", detail: "is already registered" }])
    case "UnknownAdapterKind":
      return Problem.validation(error.message, [{ pointer: "/adapter/kind", detail: `must be one of: ${error.known.join(", ") || "(none installed)"}` }])
    case "InvalidSellerConfig":
      return Problem.validation(`the adapter refuses this seller: ${error.detail}`, [{ pointer: configPointer(error.detail), detail: error.detail }])
  }
}

const clientAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) => Option.getOrElse(request.remoteAddress, () => "unknown"))

export const SellersLive = HttpApiBuilder.group(BookbrokerApi, "sellers", (handlers) =>
  Effect.gen(function* () {
    const directory = yield* Directory.SellerDirectory
    const access = yield* Access.Access
    const registration = yield* SellerRegistration.SellerRegistration
    const pushed = yield* PushedOffers.PushedOffers
    const settings = yield* Settings
    const budget = yield* RequestBudget.RequestBudget

    const me = Effect.flatMap(CurrentSeller, (caller) => Effect.orDie(directory.get(caller.id)))
    const show = showSeller(yield* SellerViews.SellerViews)

    return handlers
      .handle("register", ({ payload }) =>
        Effect.gen(function* () {
          yield* limit(budget.registration, yield* clientAddress, settings.sellerRegistrationRateLimit)
          const status = settings.autoActivateSellers ? ("active" as const) : ("pending" as const)
          const { seller, apiKey } = yield* registration
            .register({
              name: payload.name,
              kind: payload.adapter.kind,
              config: payload.adapter.config,
              ...(payload.adapter.credentials === undefined ? {} : { credentials: payload.adapter.credentials }),
              ...(payload.limits === undefined ? {} : { limits: limitsFromWire(payload.limits) }),
              ...(payload.contact === undefined ? {} : { contact: payload.contact }),
              status
            })
            .pipe(
              Effect.catchTags({
                DuplicateSellerName: (error) => Effect.fail(registrationProblem(error)),
                UnknownAdapterKind: (error) => Effect.fail(registrationProblem(error)),
                InvalidSellerConfig: (error) => Effect.fail(registrationProblem(error))
              })
            )
          return { id: seller.id, status: seller.status, api_key: Redacted.value(apiKey) }
        })
      )
      .handle("me", () => Effect.flatMap(me, show))
      .handle("update", ({ payload }) =>
        Effect.gen(function* () {
          const current = yield* me
          // An operator disabled it: what it points at and holds is the operator's to change now
          // (its key can still be rotated, e.g. after a leak).
          if (current.status === "disabled") {
            return yield* Effect.fail(Problem.forbidden("this seller is disabled by an operator; ask the operator to change its settings or enable it again"))
          }
          const credentials = payload.adapter?.credentials
          const changes: SellerDirectory.SellerChanges = {
            ...(payload.adapter?.config === undefined ? {} : { config: payload.adapter.config }),
            ...(credentials === undefined ? {} : { credentials: { ...current.credentials, ...credentials } }),
            ...(payload.limits === undefined ? {} : { limits: limitsFromWire(payload.limits) }),
            ...(payload.contact === undefined ? {} : { contact: payload.contact })
          }
          // A new base URL or new credentials were not what an operator approved: back to review.
          const review = !settings.autoActivateSellers && SellerReview.needsReview(current, changes)
          const updated = yield* directory
            .update(current.id, review ? { ...changes, status: "pending" } : changes)
            .pipe(
              Effect.catchTags({
                // The name (the only unique field) and the kind cannot change here.
                SellerNotFound: Effect.die,
                DuplicateSellerName: Effect.die,
                UnknownAdapterKind: (error) => Effect.fail(Problem.validation(error.message)),
                InvalidSellerConfig: (error) => Effect.fail(Problem.validation(`the adapter refuses this change: ${error.detail}`, [{ pointer: configPointer(error.detail), detail: error.detail }]))
              })
            )
          return yield* show(updated)
        })
      )
      .handle("rotateKey", () =>
        Effect.gen(function* () {
          const caller = yield* CurrentSeller
          const apiKey = yield* access.issueKey({ kind: "seller", id: caller.id }, { rotate: true })
          return { api_key: Redacted.value(apiKey) }
        })
      )
      .handle("pushOffers", ({ payload }) =>
        Effect.gen(function* () {
          const seller = yield* me
          if (seller.status !== "active") {
            return yield* Effect.fail(Problem.forbidden(`only active sellers push offers; this seller is ${seller.status}${seller.status === "pending" ? " until an operator activates it" : ""}`))
          }
          const errors: Array<Problem.FieldError> = []
          const answers: Array<PushedOffers.PushedAnswer> = []
          payload.offers.forEach((offer, index) => {
            const validForSeconds = offer.valid_for_seconds ?? PushedOffers.maxValiditySeconds
            if (!offer.available) {
              answers.push({ isbn: offer.isbn as Isbn.Isbn13, available: false, reason: offer.reason ?? "out_of_stock", validForSeconds })
              return
            }
            if (offer.price === undefined) {
              errors.push({ pointer: `/offers/${index}/price`, detail: "is required when available is true" })
              return
            }
            const shipping = offer.shipping ?? { amount: 0, currency: offer.price.currency }
            if (shipping.currency !== offer.price.currency) {
              errors.push({ pointer: `/offers/${index}/shipping/currency`, detail: `must be the price's currency (${offer.price.currency})` })
              return
            }
            answers.push({
              isbn: offer.isbn as Isbn.Isbn13,
              available: true,
              price: Money.make(offer.price.amount, offer.price.currency),
              shipping: Money.make(shipping.amount, shipping.currency),
              condition: offer.condition ?? "new",
              quantity: offer.quantity ?? null,
              validForSeconds
            })
          })
          if (errors.length > 0) {
            return yield* Effect.fail(Problem.validation(errors.map((error) => `${error.pointer} ${error.detail}`).join("; "), errors))
          }
          const expiries = yield* pushed.put(seller.id, answers)
          return {
            accepted: answers.length,
            offers: answers.map((answer, index) => ({ isbn: answer.isbn, available: answer.available, expires_at: expiries[index]!.toISOString() }))
          }
        })
      )
  })
)
