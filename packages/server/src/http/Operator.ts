/**
 * Operator handlers: the seller directory and each seller's health, any customer's purchase
 * requests and the retry of a failed one, customers and their keys. Health joins the circuit
 * breaker (shared by every process) with what this process saw of the seller lately (latency,
 * errors, calls per second against the seller's limit).
 */
import { HttpApiBuilder } from "@effect/platform"
import { Access, Metrics, Purchases, QuoteEngine, type SellerDirectory, SellerDirectory as Directory, SellerPool, SharedState } from "@bookbroker/engine"
import { Clock, Effect, Redacted } from "effect"
import { BookbrokerApi } from "../Api.js"
import * as Problem from "../Problem.js"
import { toWire } from "./Purchases.js"
import { effectiveLimits, sellerToWire } from "./Sellers.js"

const iso = (millis: number) => new Date(millis).toISOString()

export const OperatorLive = HttpApiBuilder.group(BookbrokerApi, "operator", (handlers) =>
  Effect.gen(function* () {
    const directory = yield* Directory.SellerDirectory
    const pool = yield* SellerPool.SellerPool
    const state = yield* SharedState.SharedState
    const engine = yield* QuoteEngine.QuoteEngine
    const purchases = yield* Purchases.Purchases
    const access = yield* Access.Access

    const show = (seller: SellerDirectory.Seller) => Effect.provideService(sellerToWire(seller), SellerPool.SellerPool, pool)
    const find = (id: string) => directory.get(id).pipe(Effect.catchTag("SellerNotFound", () => Effect.fail(Problem.notFound(`no seller ${id}`))))

    const health = (seller: SellerDirectory.Seller) =>
      Effect.gen(function* () {
        const [circuit, stat, recent, client, now] = yield* Effect.all([
          state.circuit(seller.id),
          engine.sellerStats(seller.id),
          Metrics.recentCalls(seller.id),
          Effect.either(pool.client(seller)),
          Clock.currentTimeMillis
        ])
        const limits = client._tag === "Right" ? effectiveLimits(client.right.limits) : null
        return {
          seller_id: seller.id,
          seller_name: seller.name,
          status: seller.status,
          circuit: { state: circuit.state, consecutive_failures: circuit.consecutiveFailures, open_until: circuit.openUntil > 0 ? iso(circuit.openUntil) : null },
          limits,
          rate: {
            window_seconds: recent.windowSeconds,
            answered: recent.answered,
            failed: recent.failed,
            denied: recent.denied,
            sent_per_second: recent.sentPerSecond,
            utilization: limits === null ? null : recent.sentPerSecond / limits.requests_per_second
          },
          latency_ms: stat.calls === 0 ? null : Math.round(stat.latencyMillis * 10) / 10,
          error_rate: stat.calls === 0 ? null : Math.round((1 - stat.reliability) * 1000) / 1000,
          calls: stat.calls,
          blocked_until: stat.blockedUntil > now ? iso(stat.blockedUntil) : null
        }
      })

    const requestNotFound = (id: string) => Problem.notFound(`no purchase request ${id}`)
    const operatorView = (view: Purchases.PurchaseView) => ({ ...toWire(view), customer_id: view.customerId })

    return handlers
      .handle("listSellers", ({ urlParams }) =>
        Effect.map(
          Effect.flatMap(directory.list(urlParams.status === undefined ? {} : { status: urlParams.status }), (sellers) => Effect.forEach(sellers, show)),
          (items) => ({ items })
        )
      )
      .handle("sellersHealth", () =>
        Effect.map(
          Effect.flatMap(directory.list(), (sellers) => Effect.forEach(sellers, health, { concurrency: 16 })),
          (items) => ({ items })
        )
      )
      .handle("getSeller", ({ path }) => Effect.flatMap(find(path.id), show))
      .handle("sellerHealth", ({ path }) => Effect.flatMap(find(path.id), health))
      .handle("activateSeller", ({ path }) =>
        Effect.flatMap(
          directory.setStatus(path.id, "active").pipe(Effect.catchTag("SellerNotFound", () => Effect.fail(Problem.notFound(`no seller ${path.id}`)))),
          show
        )
      )
      .handle("disableSeller", ({ path }) =>
        Effect.flatMap(
          directory.setStatus(path.id, "disabled").pipe(Effect.catchTag("SellerNotFound", () => Effect.fail(Problem.notFound(`no seller ${path.id}`)))),
          show
        )
      )
      .handle("listPurchaseRequests", ({ urlParams }) =>
        Effect.gen(function* () {
          if (urlParams.cursor !== undefined && !/^[A-Za-z0-9_-]{10,200}$/.test(urlParams.cursor)) {
            return yield* Effect.fail(Problem.badRequest("cursor is not one this API handed out", [{ pointer: "query:cursor", detail: "unknown cursor" }]))
          }
          const page = yield* purchases.list(undefined, {
            ...(urlParams.status === undefined ? {} : { status: urlParams.status }),
            ...(urlParams.cursor === undefined ? {} : { cursor: urlParams.cursor }),
            ...(urlParams.limit === undefined ? {} : { limit: urlParams.limit })
          })
          return { items: page.items.map(operatorView), next_cursor: page.nextCursor }
        })
      )
      .handle("getPurchaseRequest", ({ path }) =>
        purchases.get(path.id).pipe(
          Effect.map(operatorView),
          Effect.catchTag("PurchaseNotFound", () => Effect.fail(requestNotFound(path.id)))
        )
      )
      .handle("retryPurchaseRequest", ({ path, payload }) =>
        purchases.retry(path.id, payload?.payment === undefined ? {} : { paymentToken: payload.payment.token }).pipe(
          Effect.map(operatorView),
          Effect.catchTags({
            PurchaseNotFound: () => Effect.fail(requestNotFound(path.id)),
            RetryNotAllowed: (error) => Effect.fail(Problem.conflict(error.message))
          })
        )
      )
      .handle("createCustomer", ({ payload }) =>
        Effect.map(access.createCustomer(payload.name, payload.email), ({ customer, apiKey }) => ({
          id: customer.id,
          name: customer.name,
          email: customer.email,
          created_at: customer.createdAt.toISOString(),
          api_key: Redacted.value(apiKey)
        }))
      )
      .handle("listCustomers", () =>
        Effect.map(access.listCustomers, (customers) => ({
          items: customers.map((customer) => ({ id: customer.id, name: customer.name, email: customer.email, created_at: customer.createdAt.toISOString() }))
        }))
      )
  })
)
