/**
 * Operator handlers: the seller directory and each seller's health (the engine's
 * `SellerHealth`: the circuit breaker shared by every process, joined with what this process saw
 * of the seller lately), any customer's purchase requests and the retry of a failed one,
 * customers and their keys (created, revoked, replaced).
 */
import { HttpApiBuilder } from "effect/http-api"
import {
  Access,
  Findings,
  Purchases,
  type Reconciler,
  type SellerDirectory,
  SellerDirectory as Directory,
  SellerHealth,
  SellerViews
} from "@bookbroker/engine"
import { Effect, Redacted } from "effect"
import { BookbrokerApi } from "../Api.js"
import * as Problem from "../Problem.js"
import { invalidCursor, toWire } from "./Purchases.js"
import { effectiveLimits, showSeller } from "./Sellers.js"

const iso = (millis: number) => new Date(millis).toISOString()

/** A seller's health as the API shows it: latency to a tenth of a millisecond, the error rate to a thousandth. */
const healthToWire = (seller: SellerDirectory.Seller, report: SellerHealth.SellerHealthReport) => ({
  seller_id: seller.id,
  seller_name: seller.name,
  status: seller.status,
  circuit: {
    state: report.circuit.state,
    consecutive_failures: report.circuit.consecutiveFailures,
    open_until: report.circuit.openUntil > 0 ? iso(report.circuit.openUntil) : null
  },
  limits: report.limits === null ? null : effectiveLimits(report.limits),
  rate: {
    window_seconds: report.recent.windowSeconds,
    answered: report.recent.answered,
    failed: report.recent.failed,
    denied: report.recent.denied,
    sent_per_second: report.recent.sentPerSecond,
    utilization: report.utilization
  },
  latency_ms: report.latencyMillis === null ? null : Math.round(report.latencyMillis * 10) / 10,
  error_rate: report.errorRate === null ? null : Math.round(report.errorRate * 1000) / 1000,
  calls: report.calls,
  blocked_until: report.blockedUntil === null ? null : report.blockedUntil.toISOString()
})

export const OperatorLive = HttpApiBuilder.group(BookbrokerApi, "operator", (handlers) =>
  Effect.gen(function* () {
    const directory = yield* Directory.SellerDirectory
    const sellerHealth = yield* SellerHealth.SellerHealth
    const purchases = yield* Purchases.Purchases
    const access = yield* Access.Access
    const findings = yield* Findings.Findings

    const show = showSeller(yield* SellerViews.SellerViews)
    const find = (id: string) => directory.get(id).pipe(Effect.catchTag("SellerNotFound", () => Effect.fail(Problem.notFound(`no seller ${Problem.shownId(id)}`))))

    const health = (seller: SellerDirectory.Seller) => Effect.map(sellerHealth.report(seller), (report) => healthToWire(seller, report))

    const requestNotFound = (id: string) => Problem.notFound(`no purchase request ${Problem.shownId(id)}`)
    const operatorView = (view: Purchases.PurchaseView) => ({
      ...toWire(view),
      customer_id: view.customerId,
      attention: view.attention === null ? null : { kind: view.attention.kind, detail: view.attention.detail, since: view.attention.since.toISOString() }
    })
    const findingToWire = (finding: Reconciler.Finding) => ({
      request_id: finding.requestId,
      kind: finding.kind,
      detail: finding.detail,
      fixed: finding.fixed,
      found_at: finding.foundAt.toISOString()
    })

    return handlers
      .handle("listSellers", ({ query }) =>
        Effect.map(
          Effect.flatMap(directory.list(query.status === undefined ? {} : { status: query.status }), (sellers) => Effect.forEach(sellers, show)),
          (items) => ({ items })
        )
      )
      .handle("sellersHealth", () =>
        Effect.map(
          Effect.flatMap(directory.list(), (sellers) => Effect.forEach(sellers, health, { concurrency: 16 })),
          (items) => ({ items })
        )
      )
      .handle("getSeller", ({ params }) => Effect.flatMap(find(params.id), show))
      .handle("sellerHealth", ({ params }) => Effect.flatMap(find(params.id), health))
      .handle("activateSeller", ({ params }) =>
        Effect.flatMap(
          directory.setStatus(params.id, "active").pipe(Effect.catchTag("SellerNotFound", () => Effect.fail(Problem.notFound(`no seller ${Problem.shownId(params.id)}`)))),
          show
        )
      )
      .handle("disableSeller", ({ params }) =>
        Effect.flatMap(
          directory.setStatus(params.id, "disabled").pipe(Effect.catchTag("SellerNotFound", () => Effect.fail(Problem.notFound(`no seller ${Problem.shownId(params.id)}`)))),
          show
        )
      )
      .handle("listPurchaseRequests", ({ query }) =>
        Effect.gen(function* () {
          const page = yield* purchases
            .list(undefined, {
              ...(query.status === undefined ? {} : { status: query.status }),
              ...(query.stuck === undefined ? {} : { stuck: query.stuck }),
              ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
              ...(query.limit === undefined ? {} : { limit: query.limit })
            })
            .pipe(Effect.catchTag("InvalidCursor", () => Effect.fail(invalidCursor)))
          return { items: page.items.map(operatorView), next_cursor: page.nextCursor }
        })
      )
      .handle("getPurchaseRequest", ({ params }) =>
        purchases.get(params.id).pipe(
          Effect.map(operatorView),
          Effect.catchTag("PurchaseNotFound", () => Effect.fail(requestNotFound(params.id)))
        )
      )
      .handle("retryPurchaseRequest", ({ params, payload }) =>
        purchases.retry(params.id, payload?.payment === undefined ? {} : { paymentToken: payload.payment.token }).pipe(
          Effect.map(operatorView),
          Effect.catchTags({
            PurchaseNotFound: () => Effect.fail(requestNotFound(params.id)),
            RetryNotAllowed: (error) => Effect.fail(Problem.conflict(error.message)),
            PaymentTokenRequired: (error) =>
              Effect.fail(Problem.validation(error.message, [{ pointer: "/payment/token", detail: "required: the request's token was dropped when it ended" }]))
          })
        )
      )
      .handle("listFindings", ({ query }) =>
        Effect.map(
          findings.list({
            ...(query.open === true ? { unfixed: true } : {}),
            ...(query.request_id === undefined ? {} : { requestId: query.request_id })
          }),
          (items) => ({ items: items.map(findingToWire) })
        )
      )
      .handle("settleFinding", ({ params, payload }) =>
        findings.settle(params.request_id, params.kind, payload.note).pipe(
          Effect.map(findingToWire),
          Effect.catchTag("FindingNotFound", (error) => Effect.fail(Problem.notFound(error.message)))
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
      .handle("revokeCustomerKeys", ({ params }) =>
        access.revokeCustomerKeys(params.id).pipe(
          Effect.map(({ customer, revoked }) => ({ customer_id: customer.id, name: customer.name, revoked })),
          Effect.catchTag("CustomerNotFound", (error) => Effect.fail(Problem.notFound(error.message)))
        )
      )
      .handle("replaceCustomerKey", ({ params }) =>
        access.replaceCustomerKey(params.id).pipe(
          Effect.map(({ customer, revoked, apiKey }) => ({ customer_id: customer.id, name: customer.name, revoked, api_key: Redacted.value(apiKey) })),
          Effect.catchTag("CustomerNotFound", (error) => Effect.fail(Problem.notFound(error.message)))
        )
      )
      .handle("listCustomers", () =>
        Effect.map(access.listCustomers, (customers) => ({
          items: customers.map((customer) => ({ id: customer.id, name: customer.name, email: customer.email, created_at: customer.createdAt.toISOString() }))
        }))
      )
  })
)
