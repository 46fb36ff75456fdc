/**
 * `bookbroker doctor`: is the API answering, is it ready (database, Redis — as `/readyz`
 * reports them), which payment provider it uses, does the customer key work, are there active
 * sellers and are their circuits closed. One line per check and, for each problem, what to do.
 */
import { Clock, Effect, Result } from "effect"
import type * as Api from "../Api.js"
import type { CliError } from "../CliError.js"
import { doctorView, type Check } from "../ui/DoctorView.js"
import type { Ui } from "../ui/Render.js"
import { circuitOf, nameOf } from "./Dashboard.js"

export interface DoctorResult {
  readonly ok: boolean
  readonly url: string
  readonly checks: ReadonlyArray<Check>
}

const checkNames: Record<string, string> = { database: "database", redis: "Redis", shared_state: "shared state", payments: "payments", payment_provider: "payments" }

const fixes: Record<string, string> = {
  database: "is PostgreSQL running and DATABASE_URL right? (without DATABASE_URL, serve starts an embedded one in the data folder)",
  redis: "is Redis running and REDIS_URL right? (without REDIS_URL, serve keeps shared state in-process)",
  shared_state: "is Redis running and REDIS_URL right? (without REDIS_URL, serve keeps shared state in-process)",
  payments: "check STRIPE_SECRET_KEY (without it, serve uses the sandbox ledger)",
  payment_provider: "check STRIPE_SECRET_KEY (without it, serve uses the sandbox ledger)"
}

const healthy = (value: string) => /^(ok|up|ready|healthy|connected|sandbox|stripe|in-process|memory)/i.test(value)

export const doctor = (api: Api.Api, ui: Ui, options: { readonly hasApiKey: boolean; readonly hasOperatorToken: boolean }): Effect.Effect<DoctorResult, CliError> =>
  Effect.gen(function* () {
    const checks: Array<Check> = []
    const finish = () => {
      const result = { ok: checks.every((check) => check.status !== "fail"), url: api.baseUrl, checks }
      ui.result(result, doctorView, { url: api.baseUrl, checks })
      return result
    }

    // 1. Something answers.
    const started = yield* Clock.currentTimeMillis
    const live = yield* Effect.result(api.healthz())
    if (Result.isFailure(live)) {
      checks.push({ name: "API", status: "fail", detail: live.failure.message, fix: live.failure.hint ?? "start it with: pnpm start" })
      return finish()
    }
    checks.push({ name: "API", status: "ok", detail: `answers at ${api.baseUrl} (${(yield* Clock.currentTimeMillis) - started} ms)` })

    // 2. Ready: the server's own dependency checks.
    const ready = yield* Effect.result(api.readyz())
    if (Result.isFailure(ready)) {
      const detail = ready.failure.message
      const about = /redis/i.test(detail) ? "redis" : "database"
      checks.push({ name: "readiness", status: "fail", detail, fix: fixes[about]! })
    } else {
      for (const [key, value] of Object.entries(ready.success.checks)) {
        const ok = healthy(value)
        checks.push({ name: checkNames[key] ?? key, status: ok ? "ok" : "fail", detail: value, ...(ok ? {} : { fix: fixes[key] ?? "see the server's log" }) })
      }
      if (!("redis" in ready.success.checks) && !("shared_state" in ready.success.checks)) {
        checks.push({ name: "Redis", status: "info", detail: "not reported by /readyz (serve uses in-process shared state unless REDIS_URL is set)" })
      }
      if (!("payments" in ready.success.checks) && !("payment_provider" in ready.success.checks)) {
        checks.push({ name: "payments", status: "info", detail: "not reported by /readyz (serve uses the sandbox ledger unless STRIPE_SECRET_KEY is set; its banner says which)" })
      }
    }

    // 3. The customer key, if one is configured.
    if (options.hasApiKey) {
      const key = yield* Effect.result(api.purchases({ limit: 1 }))
      checks.push(
        Result.isSuccess(key)
          ? { name: "customer key", status: "ok", detail: "accepted" }
          : { name: "customer key", status: "fail", detail: key.failure.message, fix: key.failure.hint ?? "check --api-key / BOOKBROKER_API_KEY" }
      )
    } else {
      checks.push({ name: "customer key", status: "info", detail: "none configured (buy and offers need one: --api-key, BOOKBROKER_API_KEY, or the demo's .bookbroker/demo.json)" })
    }

    // 4. Sellers, with the operator token.
    if (!options.hasOperatorToken) {
      checks.push({
        name: "sellers",
        status: "fail",
        detail: "cannot check without the operator token",
        fix: "pass --operator-token or set BOOKBROKER_OPERATOR_TOKEN (serve prints it at start)"
      })
      return finish()
    }
    const sellers = yield* Effect.result(api.operator.sellers())
    if (Result.isFailure(sellers)) {
      checks.push({ name: "sellers", status: "fail", detail: sellers.failure.message, ...(sellers.failure.hint === undefined ? {} : { fix: sellers.failure.hint }) })
      return finish()
    }
    const active = sellers.success.filter((seller) => seller.status === "active")
    const pending = sellers.success.filter((seller) => seller.status === "pending")
    const broken = active.filter((seller) => seller.config_error !== null)
    checks.push(
      active.length === 0
        ? {
            name: "sellers",
            status: "fail",
            detail: `none active (${sellers.success.length} registered, ${pending.length} pending)`,
            fix:
              pending.length > 0
                ? `activate one: bookbroker sellers activate ${pending[0]!.id}`
                : "register one with: bookbroker sellers add --name … --adapter-config '{\"baseUrl\":…}' (or run the demo: pnpm start)"
          }
        : {
            name: "sellers",
            status: "ok",
            detail: `${active.length} active${pending.length === 0 ? "" : `, ${pending.length} pending activation (bookbroker sellers list --status pending)`}`
          }
    )
    for (const seller of broken) {
      checks.push({ name: `seller ${seller.name}`, status: "fail", detail: `its adapter refuses the config: ${seller.config_error}`, fix: "the seller fixes it with PATCH /v1/sellers/me, or disable it: bookbroker sellers disable " + seller.id })
    }

    // 5. Circuits, when the server reports seller health.
    const health = yield* Effect.result(api.operator.health)
    if (Result.isSuccess(health)) {
      const open = health.success.filter((entry) => entry.status === "active" && circuitOf(entry) !== "closed")
      checks.push(
        open.length === 0
          ? { name: "seller health", status: "ok", detail: `every active seller's circuit is closed` }
          : {
              name: "seller health",
              status: "fail",
              detail: `circuit not closed for ${open.map((entry) => `${nameOf(entry)} (${circuitOf(entry).replace("_", "-")})`).join(", ")}`,
              fix: "these sellers are failing or slow: bookbroker sellers health <id> shows why; disable one with bookbroker sellers disable <id>"
            }
      )
    } else {
      checks.push({ name: "seller health", status: "info", detail: health.failure.message })
    }
    return finish()
  })
