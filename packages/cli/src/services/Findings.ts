/**
 * `bookbroker findings list|settle`: what the reconciler and the purchase pipeline found that a
 * person has to settle (a seller order nobody confirmed, a purchase nobody can confirm, money that
 * disagrees with the provider), and marking one settled with a note of what was done.
 */
import { Effect } from "effect"
import type * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import { kinds } from "../FindingKinds.js"
import { ago } from "../ui/Format.js"
import type { Ui } from "../ui/Render.js"
import { detailsView, tableView } from "../ui/Table.js"

export { kinds }

export const list = (api: Api.Api, ui: Ui, options: { readonly all: boolean; readonly requestId?: string }): Effect.Effect<ReadonlyArray<Api.Finding>, CliError> =>
  Effect.gen(function* () {
    const findings = yield* api.operator.findings({ open: !options.all, ...(options.requestId === undefined ? {} : { requestId: options.requestId }) })
    const now = Date.now()
    ui.result(findings, tableView, {
      headers: ["request", "kind", "found", "state", "detail"],
      rows: findings.map((finding) => [finding.request_id, finding.kind, ago(finding.found_at, now), finding.fixed ? "settled" : "open", finding.detail]),
      empty: options.all ? "no findings" : "no open findings: nothing needs a person",
      footer: [
        `${findings.length} finding${findings.length === 1 ? "" : "s"}${options.all ? "" : " open"}`,
        ...(findings.some((finding) => !finding.fixed) ? ["settle one, once dealt with: bookbroker findings settle <request> <kind> --note \"what you did\""] : [])
      ]
    })
    return findings
  })

export const settle = (
  api: Api.Api,
  ui: Ui,
  options: { readonly requestId: string; readonly kind: string; readonly note: string }
): Effect.Effect<Api.Finding, CliError> =>
  Effect.gen(function* () {
    const kind = kinds.find((known) => known === options.kind)
    if (kind === undefined) return yield* Effect.fail(fail(`unknown finding kind "${options.kind}"`, `use one of: ${kinds.join(", ")}`))
    if (options.note.trim() === "") return yield* Effect.fail(fail("say what you did in --note", 'e.g. --note "seller cancelled order o-123"'))
    const finding = yield* api.operator.settleFinding(options.requestId, kind, options.note.trim())
    ui.result(finding, detailsView, {
      title: `settled ${finding.kind} on ${finding.request_id}`,
      fields: [
        ["detail", finding.detail],
        ["found", finding.found_at]
      ]
    })
    return finding
  })
