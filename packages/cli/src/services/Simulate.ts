/**
 * `bookbroker simulate`: a load test against a running server on this machine. It creates a
 * customer (operator API), starts N simulated sellers itself (the SDK's `SellerSimulator` over
 * real HTTP on 127.0.0.1; with 3 or more, the last two are a WooCommerce and a Shopify shop, the
 * rest speak the reference seller API) and registers them, submits purchase requests at a fixed rate for a
 * fixed time, waits (bounded) for them to end, and reports the outcomes, the decision latency
 * percentiles and how many seller calls each request cost, counted at the simulators. The
 * sellers are disabled again when it ends, so a dead seller never lingers in the directory.
 */
import { generateIsbns, Random, SellerSimulator, serveHandlers, type StockItem } from "@bookbroker/adapter-sdk/testing"
import { Clock, Duration, Effect, Fiber, Ref, Result } from "effect"
import { randomUUID } from "node:crypto"
import type * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import * as Input from "../Input.js"
import type { Ui } from "../ui/Render.js"
import { simulateView, type SimulateProgress, type SimulateSummary } from "../ui/SimulateView.js"
import { demoCustomer } from "../DemoCustomer.js"
import * as SimulatedPlatforms from "./SimulatedPlatforms.js"

export interface SimulateOptions {
  readonly sellers: string | number
  /** Purchase requests per second. */
  readonly rate: string | number
  /** `10`, `10s`, `1m`. */
  readonly duration: string | number
  /** How long to wait for the last requests to end. */
  readonly waitMillis?: number
  readonly seed?: number
}

const localHosts = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])

/** The p-th percentile (0–100) by nearest rank. */
export const percentile = (values: ReadonlyArray<number>, p: number): number | null => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

interface SimSeller {
  readonly simulator: SellerSimulator
  readonly url: string
  readonly id: string
}

export const simulate = (api: Api.Api, ui: Ui, options: SimulateOptions): Effect.Effect<SimulateSummary, CliError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const sellerCount = yield* Input.integer(options.sellers, "--sellers", 1, 50)
      const rate = yield* Input.positive(options.rate, "--rate", 200)
      const durationMillis = yield* Input.duration(options.duration, "--duration", 600)
      const host = URL.canParse(api.baseUrl) ? new URL(api.baseUrl).hostname : ""
      if (!localHosts.has(host)) {
        return yield* Effect.fail(fail(`simulate only drives a server on this machine (127.0.0.1), not ${api.baseUrl}`, "start one with: pnpm start, and point --url at it"))
      }
      const planned = Math.max(1, Math.floor((rate * durationMillis) / 1000))
      const random = Random.seeded(options.seed ?? Date.now())
      const run = randomUUID().slice(0, 8)

      const setup: Array<string> = []
      const progress = yield* Ref.make<SimulateProgress>({ phase: "setup", planned, submitted: 0, rejected: 0, finished: 0, elapsedMillis: 0, setup: [] })
      const live = ui.live(simulateView, yield* Ref.get(progress))
      const show = (change: Partial<SimulateProgress>) => Effect.flatMap(Ref.updateAndGet(progress, (current) => ({ ...current, ...change, setup: [...setup] })), (next) => Effect.sync(() => live.update(next)))
      const note = (line: string) => {
        setup.push(line)
        return show({})
      }
      yield* Effect.addFinalizer(() => Effect.flatMap(Ref.get(progress), (last) => live.done(last)))

      // A customer of its own.
      const customer = yield* api.operator.createCustomer({ name: `Simulation ${run}`, email: `simulate-${run}@bookbroker.local` })
      if (customer.api_key === undefined) return yield* Effect.fail(fail("the server created the customer but did not return its API key"))
      const asCustomer = api.withApiKey(customer.api_key)
      yield* note(`customer ${customer.name} (${customer.id})`)

      // Books: most carried by most sellers at varied prices; the last one by nobody.
      const catalog = generateIsbns({ size: 12, seed: (options.seed ?? 7) + 1 })
      const carried = catalog.slice(0, -1)
      const stockFor = (index: number): ReadonlyArray<StockItem> =>
        carried.flatMap((isbn, book) => ((book + index) % 4 === 3 ? [] : [{ isbn, price: 900 + ((book * 211 + index * 97) % 1500), shipping: index % 3 === 0 ? 0 : 150, quantity: 1000 }]))

      // Sellers: started here, registered over the API, activated, and disabled at the end.
      const sellers: Array<SimSeller> = []
      yield* Effect.addFinalizer(() =>
        Effect.forEach(sellers, (seller) => Effect.ignore(api.operator.disable(seller.id)), { concurrency: 8, discard: true }).pipe(
          Effect.andThen(Effect.promise(() => Promise.all(sellers.map((seller) => closeServer(seller.url)))))
        )
      )
      const servers = new Map<string, () => Promise<void>>()
      const closeServer = (url: string) => servers.get(url)?.() ?? Promise.resolve()
      for (let index = 0; index < sellerCount; index++) {
        const name = `sim-${run}-${index + 1}`
        const apiKey = `${name}-key`
        const simulator = new SellerSimulator({
          name,
          apiKey,
          currency: "EUR",
          stock: stockFor(index),
          latency: { medianMillis: 20 + index * 10, tailProbability: 0.02, tailMaxMillis: 300 },
          seed: Math.floor(random() * 2 ** 31)
        })
        const mode = index % 2 === 0 ? "hold" : "atomic"
        const platform: SimulatedPlatforms.Platform = sellerCount >= 3 && index === sellerCount - 2 ? "woocommerce" : sellerCount >= 3 && index === sellerCount - 1 ? "shopify" : "reference"
        const shop = SimulatedPlatforms.shop(platform, simulator, { name, key: apiKey, mode, batch: index % 3 !== 2 })
        const server = yield* Effect.promise(() => serveHandlers(shop.handlers, { onClose: () => simulator.close() }))
        servers.set(server.url, () => server.close())
        const registered = yield* api
          .registerSeller({
            name,
            contact: `${name}@bookbroker.local`,
            adapter: { kind: shop.kind, config: shop.config(server.url), credentials: shop.credentials },
            limits: { requests_per_second: 500, burst: 500, timeout_ms: 2_000 }
          })
          .pipe(Effect.tapError(() => Effect.promise(() => server.close())))
        sellers.push({ simulator, url: server.url, id: registered.id })
        if (registered.status !== "active") yield* api.operator.activate(registered.id)
        yield* note(`seller ${name} at ${server.url} (${platform === "reference" ? `${mode}${index % 3 !== 2 ? ", batch quotes" : ""}` : platform})`)
      }

      // The load: request i is submitted at start + i / rate, while a poller follows the
      // accepted ones to their end.
      const started = yield* Clock.currentTimeMillis
      const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - started)
      yield* show({ phase: "running" })
      const ids: Array<string> = []
      const finished = new Map<string, Api.PurchaseRequest>()
      let rejected = 0
      const rejections = new Map<string, number>()
      const poll = Effect.gen(function* () {
        for (;;) {
          const open = ids.filter((id) => !finished.has(id))
          yield* Effect.forEach(
            open,
            (id) =>
              Effect.map(Effect.result(asCustomer.purchase(id)), (reply) => {
                if (Result.isSuccess(reply) && reply.success.terminal) finished.set(id, reply.success)
              }),
            { concurrency: 16, discard: true }
          )
          yield* show({ finished: finished.size, elapsedMillis: yield* elapsed })
          yield* Effect.sleep(Duration.millis(250))
        }
      })
      const poller = yield* Effect.forkChild(poll)
      const submitOne = (index: number) =>
        Effect.gen(function* () {
          const isbn = catalog[Math.floor(random() * catalog.length)]!
          // Mostly generous maximums, some too low (price_not_met).
          const max = random() < 0.15 ? 500 : 3_000
          const accepted = yield* Effect.result(
            asCustomer.submitPurchase(
              {
                isbn,
                max_price: { amount: max, currency: "EUR" },
                payment: { token: "tok_approve" },
                customer: {
                  name: demoCustomer.name,
                  email: demoCustomer.email,
                  shipping_address: { line1: demoCustomer.shippingAddress.line1, city: demoCustomer.shippingAddress.city, country: demoCustomer.shippingAddress.country }
                }
              },
              `simulate-${run}-${index}`
            )
          )
          if (Result.isSuccess(accepted)) ids.push(accepted.success.id)
          else {
            rejected++
            rejections.set(accepted.failure.message, (rejections.get(accepted.failure.message) ?? 0) + 1)
          }
          yield* show({ submitted: ids.length, rejected, elapsedMillis: yield* elapsed })
        })
      yield* Effect.forEach(
        Array.from({ length: planned }, (_, index) => index),
        (index) =>
          Effect.gen(function* () {
            const due = (index * 1000) / rate - (yield* elapsed)
            if (due > 0) yield* Effect.sleep(Duration.millis(due))
            yield* submitOne(index)
          }),
        { concurrency: Math.max(4, Math.ceil(rate)), discard: true }
      )

      // Wait (bounded) for every accepted request to end.
      yield* show({ phase: "waiting", elapsedMillis: yield* elapsed })
      const waitUntil = (yield* Clock.currentTimeMillis) + (options.waitMillis ?? 60_000)
      while (finished.size < ids.length && (yield* Clock.currentTimeMillis) < waitUntil) yield* Effect.sleep(Duration.millis(50))
      yield* Fiber.interrupt(poller)

      const outcomes: Record<string, number> = {}
      const latencies: Array<number> = []
      for (const request of finished.values()) {
        outcomes[request.status] = (outcomes[request.status] ?? 0) + 1
        if (request.completed_at !== null) latencies.push(Date.parse(request.completed_at) - Date.parse(request.created_at))
      }
      const quote = sellers.reduce((sum, seller) => sum + seller.simulator.calls.quote, 0)
      const total = sellers.reduce((sum, seller) => sum + Object.values(seller.simulator.calls).reduce((a, b) => a + b, 0), 0)
      const summary: SimulateSummary = {
        sellers: sellerCount,
        ratePerSecond: rate,
        durationSeconds: durationMillis / 1000,
        submitted: ids.length,
        rejected,
        finished: finished.size,
        unfinished: ids.length - finished.size,
        outcomes,
        latencyMillis: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.length === 0 ? null : Math.max(...latencies) },
        sellerCalls: {
          total,
          quote,
          perRequest: ids.length === 0 ? null : Number((total / ids.length).toFixed(2)),
          quotePerRequest: ids.length === 0 ? null : Number((quote / ids.length).toFixed(2))
        },
        elapsedSeconds: (yield* elapsed) / 1000
      }
      for (const [message, count] of rejections) setup.push(`rejected ${count}×: ${message}`)
      yield* show({ phase: "done", finished: finished.size, elapsedMillis: yield* elapsed, summary })
      if (ui.json) ui.printJson(summary)
      return summary
    })
  )
