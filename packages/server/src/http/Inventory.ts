/**
 * Inventory feed handlers: the upload streams from the socket into the engine's
 * `InventoryUploads` (never held whole); its format comes from the Content-Type. Disabled
 * sellers may not upload; pending ones may (their listings count once an operator activates
 * them). Everything acts on the calling seller only.
 */
import { HttpApiBuilder } from "effect/http-api"
import { InventoryUploads, OutboundAddress, SellerDirectory } from "@bookbroker/engine"
import { Effect } from "effect"
import { BookbrokerApi } from "../Api.js"
import { type InventorySettings, inventoryContentTypes, tooLargeDetail } from "../api/Inventory.js"
import { CurrentSeller } from "../Auth.js"
import * as Problem from "../Problem.js"

const uploadToWire = (upload: InventoryUploads.UploadStatus) => ({
  id: upload.id,
  mode: upload.mode,
  format: upload.format,
  source: upload.source,
  status: upload.status,
  rows_read: upload.rowsRead,
  rows_rejected: upload.rowsRejected,
  rows_applied: upload.rowsApplied,
  listings_retired: upload.listingsRetired,
  errors: upload.errors.map((error) => ({ line: error.line, field: error.field, reason: error.reason })),
  refusal: upload.refusal,
  created_at: upload.createdAt.toISOString(),
  finished_at: upload.finishedAt?.toISOString() ?? null
})

const inventoryToWire = (summary: InventoryUploads.InventorySummary) => ({
  listings: summary.listings,
  trust_seconds: summary.trustSeconds,
  currency: summary.currency,
  shipping: { amount: summary.shipping },
  last_snapshot_at: summary.lastSnapshotAt?.toISOString() ?? null,
  last_upload_at: summary.lastUploadAt?.toISOString() ?? null,
  fresh_until: summary.freshUntil?.toISOString() ?? null,
  complete: summary.complete,
  pull:
    summary.pull === null
      ? null
      : {
          url: summary.pull._tag === "Url" ? summary.pull.url : null,
          adapter: summary.pull._tag === "Adapter",
          format: summary.pull._tag === "Url" ? summary.pull.format : null,
          every_seconds: summary.pull.everySeconds,
          last_at: summary.pullState.lastAt?.toISOString() ?? null,
          next_at: summary.pullState.nextAt?.toISOString() ?? null,
          last_result: summary.pullState.lastResult
        }
})

type WirePull = (typeof InventorySettings.Type)["pull"]

const pullFromWire = (pull: NonNullable<WirePull>): InventoryUploads.PullSettings =>
  "url" in pull
    ? { _tag: "Url", url: pull.url, format: pull.format ?? null, everySeconds: pull.every_seconds ?? 3_600 }
    : { _tag: "Adapter", everySeconds: pull.every_seconds ?? 3_600 }

/** The file's format from its Content-Type (the API accepts only the listed types). */
const formatOf = (contentType: string | undefined) => {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase() as keyof typeof inventoryContentTypes
  return inventoryContentTypes[type] ?? "tsv"
}

export const InventoryLive = HttpApiBuilder.group(BookbrokerApi, "inventory", (handlers) =>
  Effect.gen(function* () {
    const uploads = yield* InventoryUploads.InventoryUploads
    const directory = yield* SellerDirectory.SellerDirectory
    return handlers
      .handle("upload", ({ payload, query, request }) =>
        Effect.gen(function* () {
          const caller = yield* CurrentSeller
          const seller = yield* Effect.orDie(directory.get(caller.id))
          if (seller.status === "disabled") return yield* Effect.fail(Problem.forbidden("this seller is disabled: its inventory is not taken"))
          const upload = yield* uploads
            .upload(caller.id, { mode: query.mode ?? "delta", format: formatOf(request.headers["content-type"]), ...(query.currency === undefined ? {} : { currency: query.currency }) }, payload)
            .pipe(
              Effect.catchTag("UploadRefused", (refused) =>
                Effect.fail(
                  Problem.validation(
                    `the file was refused and nothing of it applied: ${refused.message}`,
                    [{ pointer: refused.line === undefined ? "/body" : `/body/lines/${refused.line}`, detail: refused.reason }]
                  )
                )
              ),
              // The body went past the size limit: nothing applied.
              Effect.catchTag("HttpApiPayloadTooLarge", () =>
                Effect.fail(Problem.payloadTooLarge(tooLargeDetail))
              )
            )
          return uploadToWire(upload)
        })
      )
      .handle("uploads", () => Effect.map(Effect.flatMap(CurrentSeller, (caller) => uploads.uploads(caller.id)), (list) => ({ uploads: list.map(uploadToWire) })))
      .handle("uploadStatus", ({ params }) =>
        Effect.flatMap(CurrentSeller, (caller) => uploads.status(caller.id, params.id)).pipe(
          Effect.map(uploadToWire),
          Effect.catchTag("UploadNotFound", (error) => Effect.fail(Problem.notFound(error.message)))
        )
      )
      .handle("inventory", () => Effect.map(Effect.flatMap(CurrentSeller, (caller) => uploads.summary(caller.id)), inventoryToWire))
      .handle("configure", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* CurrentSeller
          const pull = payload.pull
          if (pull !== undefined && pull !== null && "url" in pull) {
            // The URL is the seller's say-so: checked as a seller's base URL is (and again at every connect).
            const checked = OutboundAddress.checkUrl(pull.url, yield* OutboundAddress.OutboundPolicy)
            if (checked._tag === "Refused") {
              return yield* Effect.fail(Problem.validation(`/pull/url ${checked.reason}`, [{ pointer: "/pull/url", detail: checked.reason }]))
            }
          }
          const summary = yield* uploads.configure(caller.id, {
            ...(payload.trust_seconds === undefined ? {} : { trustSeconds: payload.trust_seconds }),
            ...(payload.currency === undefined ? {} : { currency: payload.currency }),
            ...(payload.shipping === undefined ? {} : { shipping: payload.shipping.amount }),
            ...(pull === undefined ? {} : { pull: pull === null ? null : pullFromWire(pull) })
          })
          return inventoryToWire(summary)
        })
      )
  })
)
