/**
 * `bookbroker sellers inventory upload|status|settings`: a seller's inventory feed, with the
 * seller's own key. The upload streams the file from disk as the request body (a 1 GB file is
 * never held whole) and is checked before anything is sent: a missing or unreadable file, or a
 * name whose format cannot be told, is a user error, not a refused upload. The server answers
 * only once the whole file is applied, so while sending, rows are estimated from bytes sent.
 */
import { Money } from "@bookbroker/adapter-sdk"
import { Duration, Effect, Fiber, Result } from "effect"
import { createReadStream } from "node:fs"
import { open, stat } from "node:fs/promises"
import { basename, extname } from "node:path"
import type * as Api from "../Api.js"
import { CliError, fail } from "../CliError.js"
import * as Input from "../Input.js"
import { ago, money } from "../ui/Format.js"
import { count, durationText, modeWords, uploadProgressView, type UploadCheckpoint, type UploadProgressProps } from "../ui/InventoryUploadView.js"
import type { Ui } from "../ui/Render.js"
import { detailsView, tableView, type DetailsProps, type TableProps } from "../ui/Table.js"

// ---------------------------------------------------------------------------------------------
// The file, before anything is sent

const formatsByExtension: Record<string, Api.InventoryFormat> = { ".tsv": "tsv", ".txt": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xml": "onix", ".onix": "onix" }

/** `--pull-format`: the formats a feed URL may be registered with (PATCH /v1/sellers/me/inventory, `pull.format`). */
export const pullFormatOf = (raw: string): Effect.Effect<Api.InventoryFormat, CliError> => {
  const format = raw.trim().toLowerCase()
  return format === "tsv" || format === "jsonl" || format === "onix"
    ? Effect.succeed(format)
    : Effect.fail(fail(`--pull-format must be tsv, jsonl or onix (got "${raw}")`, "leave it out to have the file's Content-Type decide"))
}

/** The file's format: `--format` when given, else its extension. */
export const formatOf = (file: string, override?: string): Effect.Effect<Api.InventoryFormat, CliError> => {
  if (override !== undefined) {
    const format = override.trim().toLowerCase()
    return format === "tsv" || format === "jsonl" || format === "onix" ? Effect.succeed(format) : Effect.fail(fail(`--format must be tsv, jsonl or onix (got "${override}")`))
  }
  const extension = extname(file).toLowerCase()
  const format = formatsByExtension[extension]
  if (format !== undefined) return Effect.succeed(format)
  if (extension === ".csv") {
    return Effect.fail(
      fail(
        `${basename(file)} looks comma-separated: inventory files are tab-separated (.tsv, the AbeBooks layout), JSON Lines (.jsonl) or ONIX for Books (.xml)`,
        "export it tab-separated; if it is tab-separated despite its name, add --format tsv"
      )
    )
  }
  return Effect.fail(
    fail(
      `cannot tell the format of ${basename(file)} from its name`,
      "name it .tsv/.txt (tab-separated), .jsonl/.ndjson (JSON Lines) or .xml/.onix (ONIX for Books 3.0), or add --format tsv|jsonl|onix"
    )
  )
}

const sampleBytes = 64 * 1024

export interface LocalFile {
  readonly size: number
  /** Rows per byte in the first 64 KiB (null: no line in it). */
  readonly linesPerByte: number | null
}

const fileError = (file: string, error: unknown): CliError => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  switch (code) {
    case "ENOENT":
      return fail(`no file ${file}`, `check the path (a relative path starts at ${process.cwd()})`)
    case "EACCES":
    case "EPERM":
      return fail(`cannot read ${file}: permission denied`)
    case "EISDIR":
      return fail(`${file} is a folder, not a file`)
    default:
      return fail(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** The file's size and lines per byte, from its first 64 KiB; fails when it cannot be read. */
export const inspect = (file: string): Effect.Effect<LocalFile, CliError> =>
  Effect.tryPromise({
    try: async () => {
      const info = await stat(file)
      if (info.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" })
      const handle = await open(file, "r")
      try {
        const sample = Buffer.alloc(Math.min(sampleBytes, info.size))
        const { bytesRead } = await handle.read(sample, 0, sample.length, 0)
        let lines = 0
        for (let index = 0; index < bytesRead; index++) if (sample[index] === 0x0a) lines++
        // The whole file in the sample: its last line may have no line break.
        if (bytesRead === info.size && bytesRead > 0 && sample[bytesRead - 1] !== 0x0a) lines++
        return { size: info.size, linesPerByte: lines === 0 || bytesRead === 0 ? null : lines / bytesRead }
      } finally {
        await handle.close()
      }
    },
    catch: (error) => fileError(file, error)
  }).pipe(Effect.filterOrFail((local) => local.size > 0, () => fail(`${file} is empty: there is nothing to upload`)))

/** The file as a stream that counts what it hands over (pulled on demand: counted ≈ sent). */
const countingStream = (file: string, onChunk: (bytes: number) => void, onEnd: () => void) => {
  const source = createReadStream(file, { highWaterMark: 256 * 1024 })
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const body = new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        const next = await chunks.next()
        if (next.done === true) {
          onEnd()
          controller.close()
        } else {
          onChunk(next.value.byteLength)
          controller.enqueue(next.value)
        }
      },
      cancel: () => void source.destroy()
    },
    { highWaterMark: 0 }
  )
  return { body, close: Effect.sync(() => source.destroy()) }
}

// ---------------------------------------------------------------------------------------------
// Views of uploads and the feed

const sourceWords: Record<Api.InventoryUpload["source"], string> = {
  upload: "uploaded",
  url: "fetched by bookbroker from your feed URL",
  adapter: "read by bookbroker through your adapter"
}

// A server older than feed pulls sends neither `source` nor `pull`.
const sourceOf = (upload: Api.InventoryUpload): Api.InventoryUpload["source"] => upload.source ?? "upload"

const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? "" : "s"}`

const took = (upload: Api.InventoryUpload, elapsedMillis?: number) => {
  const millis = elapsedMillis ?? (upload.finished_at === null ? undefined : Date.parse(upload.finished_at) - Date.parse(upload.created_at))
  if (millis === undefined || !Number.isFinite(millis)) return "—"
  return `${durationText(millis)}${millis > 0 ? ` (${count(upload.rows_read / (millis / 1000))} rows/s)` : ""}`
}

const headline = (upload: Api.InventoryUpload, name: string) => {
  switch (upload.status) {
    case "applied":
      return upload.rows_rejected === 0
        ? `✓ ${name} applied (${upload.mode})`
        : `✓ ${name} applied (${upload.mode}), but ${plural(upload.rows_rejected, "row")} rejected: ${upload.rows_rejected === 1 ? "it was" : "they were"} skipped, the rest is applied`
    case "refused":
      return `✗ ${name} was refused, nothing of it applied: ${upload.refusal ?? "no reason given"}`
    default:
      return `… ${name} is ${upload.status} (${plural(upload.rows_read, "row")} read so far)`
  }
}

/** An upload's figures; `elapsedMillis`: as the command measured it (else the server's times). */
export const uploadDetails = (upload: Api.InventoryUpload, options: { readonly name?: string; readonly elapsedMillis?: number } = {}): DetailsProps => ({
  title: headline(upload, options.name ?? `upload ${upload.id}`),
  fields: [
    ...(options.name === undefined ? [] : [["upload", upload.id] as const]),
    ["format", `${upload.format}, ${modeWords(upload.mode)}`],
    ...(sourceOf(upload) === "upload" ? [] : [["source", sourceWords[sourceOf(upload)]] as const]),
    ["rows read", count(upload.rows_read)],
    ["applied", upload.rows_applied === null ? "—" : count(upload.rows_applied)],
    ["rejected", count(upload.rows_rejected)],
    ["listings retired", upload.listings_retired === null ? "—" : `${count(upload.listings_retired)} (${upload.mode === "snapshot" ? "missing from the file or quantity 0" : "quantity 0"})`],
    ["started", `${new Date(upload.created_at).toLocaleString("en-GB")} (${ago(upload.created_at)})`],
    ["took", took(upload, options.elapsedMillis)]
  ]
})

/** The first `limit` rejected rows, and how many more there are. */
export const errorsTable = (upload: Api.InventoryUpload, limit: number): TableProps => {
  const shown = upload.errors.slice(0, limit)
  const more = upload.rows_rejected - shown.length
  return {
    title: `rejected rows${more > 0 ? ` (the first ${shown.length} of ${count(upload.rows_rejected)})` : ""}`,
    headers: ["line", "field", "reason"],
    rows: shown.map((error) => [String(error.line), error.field ?? "—", error.reason]),
    footer:
      more <= 0
        ? []
        : [
            `${plural(more, "more rejected row")}${shown.length < upload.errors.length ? `; the server keeps the first ${upload.errors.length}: bookbroker sellers inventory status ${upload.id}` : ""}`
          ]
  }
}

/** A period in seconds as `24h`, `90m`, `2d`: the largest unit that divides it. */
export const everyText = (seconds: number): string =>
  seconds % 86_400 === 0 && seconds >= 2 * 86_400 ? `${seconds / 86_400}d` : seconds % 3600 === 0 ? `${seconds / 3600}h` : seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`

const until = (iso: string | null, now = Date.now()) => {
  if (iso === null) return "— (nothing uploaded yet)"
  const left = Date.parse(iso) - now
  const when = new Date(iso).toLocaleString("en-GB")
  return left > 0 ? `${when} (in ${durationText(left)})` : `${when} (expired ${ago(iso, now)}: bookbroker asks you live until you upload again)`
}

export const feedDetails = (feed: Api.InventorySummary, title = "inventory feed"): DetailsProps => ({
  title,
  fields: [
    ["listings", count(feed.listings)],
    ["complete", feed.complete ? "yes: books your feed does not list are not asked for" : "no: you are still asked about books your feed does not list (a fresh --snapshot makes it complete)"],
    ["fresh until", until(feed.fresh_until)],
    ["trust", `${everyText(feed.trust_seconds)} after each upload`],
    ["currency", feed.currency ?? "— (set it: bookbroker sellers inventory settings --currency EUR)"],
    ["default shipping", feed.currency === null ? `${feed.shipping.amount} (minor units of each row's currency)` : money({ amount: feed.shipping.amount, currency: feed.currency })],
    ["last snapshot", ago(feed.last_snapshot_at)],
    ["last upload", ago(feed.last_upload_at)],
    ...(feed.pull === null || feed.pull === undefined ? [] : pullFields(feed.pull))
  ]
})

/** The feed bookbroker fetches itself (set over the API: `pull` in PATCH /v1/sellers/me/inventory). */
const pullFields = (pull: NonNullable<Api.InventorySummary["pull"]>): ReadonlyArray<readonly [string, string]> => [
  ["fetched", `${pull.url === null ? "through your adapter" : `from ${pull.url}${pull.format === null ? "" : ` as ${pull.format}`}`} every ${everyText(pull.every_seconds)}`],
  ["last fetch", pull.last_at === null ? "— (not yet)" : `${ago(pull.last_at)}${pull.last_result === null ? "" : `: ${pull.last_result}`}`],
  ["next fetch", pull.next_at === null ? "—" : new Date(pull.next_at).toLocaleString("en-GB")]
]

export const uploadsTable = (uploads: ReadonlyArray<Api.InventoryUpload>, now = Date.now()): TableProps => ({
  title: "uploads, newest first",
  headers: ["upload", "when", "mode", "format", "status", "read", "applied", "rejected", "retired", "took"],
  rows: uploads.map((upload) => [
    upload.id,
    ago(upload.created_at, now),
    sourceOf(upload) === "upload" ? upload.mode : `${upload.mode} (${sourceOf(upload)})`,
    upload.format,
    upload.status,
    count(upload.rows_read),
    upload.rows_applied === null ? "—" : count(upload.rows_applied),
    count(upload.rows_rejected),
    upload.listings_retired === null ? "—" : count(upload.listings_retired),
    upload.finished_at === null ? "—" : durationText(Date.parse(upload.finished_at) - Date.parse(upload.created_at))
  ]),
  empty: "no uploads yet (send one: bookbroker sellers inventory upload FILE)"
})

// ---------------------------------------------------------------------------------------------
// Commands

export interface UploadOptions {
  readonly file: string
  readonly mode: Api.UploadMode
  /** `tsv`, `jsonl` or `onix`; default from the file's extension. */
  readonly format?: string
  readonly currency?: string
  /** Rejected rows shown after the summary (default 20). */
  readonly errorsShown?: number
}

/**
 * What the progress view shows, kept as the file goes out: bytes handed to the request, when the
 * last one left, a checkpoint at every tenth (or 15 s) for logs, and — once sent — a line a
 * minute while the server applies it (CI kills jobs that go quiet).
 */
const progressOf = (file: string, local: LocalFile, format: Api.InventoryFormat, mode: Api.UploadMode) => {
  const started = Date.now()
  let sentBytes = 0
  let sentMillis: number | null = null
  const checkpoints: Array<UploadCheckpoint> = []
  const waits: Array<number> = []
  const tenth = (bytes: number) => Math.floor((bytes / local.size) * 10)
  const checkpoint = (force: boolean) => {
    const now = { sentBytes, elapsedMillis: Date.now() - started }
    const last = checkpoints.at(-1) ?? { sentBytes: 0, elapsedMillis: 0 }
    if (force || tenth(now.sentBytes) > tenth(last.sentBytes) || now.elapsedMillis - last.elapsedMillis >= 15_000) checkpoints.push(now)
  }
  return {
    elapsedMillis: () => Date.now() - started,
    sent: (bytes: number) => {
      sentBytes += bytes
      if (sentBytes < local.size) checkpoint(false)
    },
    allSent: () => {
      sentMillis = Date.now() - started
      checkpoint(true)
    },
    tick: () => {
      if (sentMillis === null) checkpoint(false)
      else if (Date.now() - started - sentMillis >= (waits.length + 1) * 60_000) waits.push(Date.now() - started - sentMillis)
    },
    props: (finished = false): UploadProgressProps => ({
      file,
      bytes: local.size,
      format,
      mode,
      // An ONIX Product spans many lines: no estimate of rows from lines.
      rowsPerByte: format === "onix" ? null : local.linesPerByte,
      headerLines: format === "tsv" ? 1 : 0,
      sentBytes,
      elapsedMillis: Date.now() - started,
      sentMillis,
      finished,
      checkpoints: [...checkpoints],
      waits: [...waits]
    })
  }
}

/** Refusals (422), too large (413), wrong type (415): the server applied nothing. */
const nothingApplied = (error: CliError) =>
  error.hint !== undefined
    ? error
    : new CliError({
        message: error.message,
        // The server words it for the API (PATCH …, ?currency=); here it is a flag.
        hint: /currency is not known/.test(error.message)
          ? "nothing was applied; say the prices' currency once (bookbroker sellers inventory settings --currency EUR) or with the upload (--currency EUR)"
          : "nothing of the file was applied: your inventory is as it was",
        exitCode: error.exitCode
      })

export const upload = (api: Api.Api, ui: Ui, options: UploadOptions): Effect.Effect<Api.InventoryUpload, CliError> =>
  Effect.gen(function* () {
    const format = yield* formatOf(options.file, options.format)
    const currency = options.currency === undefined ? undefined : yield* Input.currency(options.currency)
    const local = yield* inspect(options.file)
    yield* api.seller.checkKey

    const progress = progressOf(options.file, local, format, options.mode)
    const stream = countingStream(options.file, progress.sent, progress.allSent)
    const live = ui.live(uploadProgressView, progress.props())
    const ticker = yield* Effect.forkChild(
      Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(ui.interactive ? 100 : 1_000)), Effect.sync(() => (progress.tick(), live.update(progress.props())))))
    )
    const stop = Effect.andThen(Fiber.interrupt(ticker), Effect.suspend(() => live.done(progress.props(true))))
    const result = yield* api.seller.uploadInventory({ body: stream.body, format, mode: options.mode, ...(currency === undefined ? {} : { currency }) }).pipe(
      Effect.mapError(nothingApplied),
      Effect.ensuring(Effect.andThen(stop, stream.close))
    )
    if (ui.json) ui.printJson(result)
    else {
      ui.show(detailsView, uploadDetails(result, { name: options.file, elapsedMillis: progress.elapsedMillis() }))
      if (result.rows_rejected > 0) ui.show(tableView, errorsTable(result, options.errorsShown ?? 20))
    }
    return result
  })

export const status = (api: Api.Api, ui: Ui, options: { readonly id?: string }): Effect.Effect<unknown, CliError> =>
  Effect.gen(function* () {
    if (options.id !== undefined) {
      const found = yield* api.seller.upload(options.id)
      if (ui.json) ui.printJson(found)
      else {
        ui.show(detailsView, uploadDetails(found))
        if (found.rows_rejected > 0) ui.show(tableView, errorsTable(found, found.errors.length))
      }
      return found
    }
    const [inventory, uploads] = yield* Effect.all([api.seller.inventory, api.seller.uploads], { concurrency: 2 })
    if (ui.json) ui.printJson({ inventory, uploads })
    else {
      ui.show(detailsView, feedDetails(inventory))
      ui.print("")
      ui.show(tableView, uploadsTable(uploads))
    }
    return { inventory, uploads }
  })

const trustUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** `24h`, `90m`, `2d`, `1h30m`, `3600` (seconds) → seconds, from 1 minute to 30 days. */
export const trustSeconds = (raw: string): Effect.Effect<number, CliError> => {
  const text = raw.replace(/\s+/g, "").toLowerCase()
  const seconds = /^\d+$/.test(text)
    ? Number(text)
    : /^(\d+[smhd])+$/.test(text)
      ? [...text.matchAll(/(\d+)([smhd])/g)].reduce((sum, [, amount, unit]) => sum + Number(amount) * trustUnits[unit!]!, 0)
      : Number.NaN
  return Number.isSafeInteger(seconds) && seconds >= 60 && seconds <= 30 * 86_400
    ? Effect.succeed(seconds)
    : Effect.fail(fail(`--trust must be a duration like 24h, 90m or 2d, from 1m to 30d (got "${raw}")`))
}

export interface SettingsOptions {
  readonly trust?: string
  readonly currency?: string
  /** A decimal in the feed's currency (`3.50`). */
  readonly shipping?: string
  /** bookbroker fetches the file from this URL on a schedule. */
  readonly pullUrl?: string
  /** How to read the file at `pullUrl` (tsv, jsonl, onix); by default the server goes by its Content-Type. */
  readonly pullFormat?: string
  /** bookbroker reads the inventory through the seller's adapter. */
  readonly pullAdapter?: boolean
  /** Back to uploads: bookbroker fetches nothing. */
  readonly noPull?: boolean
  /** How often it fetches (a duration, 15m at least). */
  readonly every?: string
}

export const settings = (api: Api.Api, ui: Ui, options: SettingsOptions): Effect.Effect<Api.InventorySummary, CliError> =>
  Effect.gen(function* () {
    const change: { trust_seconds?: number; currency?: string; shipping?: { amount: number }; pull?: NonNullable<Api.InventorySettings["pull"]> | null } = {}
    if (options.trust !== undefined) change.trust_seconds = yield* trustSeconds(options.trust)
    const pulls = [options.pullUrl !== undefined, options.pullAdapter === true, options.noPull === true].filter(Boolean).length
    if (pulls > 1) return yield* Effect.fail(fail("--pull-url, --pull-adapter and --no-pull exclude each other: choose one"))
    if (options.every !== undefined && pulls === 0) return yield* Effect.fail(fail("--every says how often bookbroker fetches your feed: give it with --pull-url or --pull-adapter"))
    if (options.pullFormat !== undefined && options.pullUrl === undefined) {
      return yield* Effect.fail(fail("--pull-format says how to read the file at --pull-url: give it with --pull-url", "e.g. --pull-url https://shop.example/onix.xml --pull-format onix"))
    }
    const pullFormat = options.pullFormat === undefined ? undefined : yield* pullFormatOf(options.pullFormat)
    const every = options.every === undefined ? undefined : yield* trustSeconds(options.every)
    if (every !== undefined && every < 900) return yield* Effect.fail(fail(`--every must be at least 15m (got "${options.every}")`))
    if (options.pullUrl !== undefined) {
      change.pull = { url: options.pullUrl, ...(pullFormat === undefined ? {} : { format: pullFormat }), ...(every === undefined ? {} : { every_seconds: every }) }
    }
    if (options.pullAdapter === true) change.pull = { adapter: true, ...(every === undefined ? {} : { every_seconds: every }) }
    if (options.noPull === true) change.pull = null
    if (options.currency !== undefined) change.currency = yield* Input.currency(options.currency)
    if (options.shipping !== undefined) {
      const currency = change.currency ?? (yield* api.seller.inventory).currency
      if (currency === null) return yield* Effect.fail(fail("--shipping needs the feed's currency, and none is set yet", `add it: --currency EUR --shipping ${options.shipping}`))
      change.shipping = yield* Result.match(Money.fromDecimal(options.shipping.trim(), currency), {
        onFailure: (reason) => Effect.fail(fail(`--shipping ${reason}`, `write it as a decimal amount in ${currency}, e.g. 3.50 (0 for free shipping)`)),
        onSuccess: (amount) => Effect.succeed({ amount: amount.amount })
      })
    }
    const changed = Object.keys(change).length > 0
    const feed = changed ? yield* api.seller.configureInventory(change) : yield* api.seller.inventory
    ui.result(feed, detailsView, feedDetails(feed, changed ? "inventory feed settings saved" : "inventory feed settings (nothing changed: give --trust, --currency, --shipping or --pull-url)"))
    return feed
  })
