/**
 * `bookbroker sellers inventory upload` while the file is sent: a bar by bytes sent of the
 * file's size, an estimate of rows and rows/s (the server counts rows only once it answers, so
 * rows are estimated from the rows per byte of the file's beginning), and the time left. Then,
 * while the server applies the file, a spinner. Without a terminal the same content is a log: a
 * line at each checkpoint the service records (every tenth of the file, or every 15 s).
 */
import { Box, Text } from "ink"
import type { InventoryFormat, UploadMode } from "../Api.js"
import type { View } from "./Render.js"

export interface UploadCheckpoint {
  readonly sentBytes: number
  readonly elapsedMillis: number
}

export interface UploadProgressProps {
  /** The file as the person named it. */
  readonly file: string
  readonly bytes: number
  readonly format: InventoryFormat
  readonly mode: UploadMode
  /** Rows per byte of the file's first 64 KiB (null: no line break in it, no estimate). */
  readonly rowsPerByte: number | null
  /** Lines that are not rows (the TSV header). */
  readonly headerLines: number
  readonly sentBytes: number
  readonly elapsedMillis: number
  /** When the last byte left (the server is applying the file since). */
  readonly sentMillis: number | null
  /** The server has answered (the summary follows). */
  readonly finished: boolean
  readonly checkpoints: ReadonlyArray<UploadCheckpoint>
  /** Millis since the last byte at which the log said the server is still applying. */
  readonly waits: ReadonlyArray<number>
}

const units = ["B", "KB", "MB", "GB", "TB"]

/** `12.3 MB` (decimal units, as file managers show them). */
export const bytesText = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** `1,234` */
export const count = (value: number): string => Math.round(value).toLocaleString("en-US")

/** `3.2 s`, `4m 05s`, `1h 02m` */
export const durationText = (millis: number): string => {
  if (millis < 60_000) return `${(millis / 1000).toFixed(1)} s`
  const seconds = Math.round(millis / 1000)
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`
}

export const modeWords = (mode: UploadMode) =>
  mode === "snapshot" ? "snapshot: the whole inventory, listings missing from it are retired" : "delta: only the listings in it change"

/** Estimated rows in the first `bytes` of the file. */
const rowsIn = (props: UploadProgressProps, bytes: number) =>
  props.rowsPerByte === null ? null : Math.max(0, Math.min(bytes, props.bytes) * props.rowsPerByte - (bytes > 0 ? props.headerLines : 0))

export interface ProgressFigures {
  readonly fraction: number
  readonly rows: number | null
  readonly rowsPerSecond: number | null
  /** Millis left at the pace so far (null: no pace yet). */
  readonly etaMillis: number | null
}

export const figures = (props: UploadProgressProps, at: UploadCheckpoint = props): ProgressFigures => {
  const fraction = props.bytes === 0 ? 1 : Math.min(1, at.sentBytes / props.bytes)
  const rows = rowsIn(props, at.sentBytes)
  const seconds = at.elapsedMillis / 1000
  const bytesPerSecond = seconds > 0 ? at.sentBytes / seconds : 0
  return {
    fraction,
    rows,
    rowsPerSecond: rows === null || seconds <= 0 || at.sentBytes === 0 ? null : rows / seconds,
    etaMillis: bytesPerSecond > 0 ? ((props.bytes - at.sentBytes) / bytesPerSecond) * 1000 : null
  }
}

const percentText = (fraction: number) => `${Math.floor(fraction * 100)}%`.padStart(4)

const detailText = (props: UploadProgressProps, at: UploadCheckpoint): string => {
  const figure = figures(props, at)
  return [
    `${bytesText(at.sentBytes)} of ${bytesText(props.bytes)}`,
    ...(figure.rows === null ? [] : [`~${count(figure.rows)} row${Math.round(figure.rows) === 1 ? "" : "s"}`]),
    ...(figure.rowsPerSecond === null ? [] : [`${count(figure.rowsPerSecond)} rows/s`]),
    ...(figure.fraction >= 1 || figure.etaMillis === null ? [] : [`ETA ${durationText(figure.etaMillis)}`])
  ].join("  ")
}

const headline = (props: UploadProgressProps) => `uploading ${props.file} (${bytesText(props.bytes)}, ${props.format}, ${modeWords(props.mode)})`

const applyingText = (props: UploadProgressProps, sentMillis: number) =>
  props.finished
    ? `sent in ${durationText(sentMillis)}; the server answered ${durationText(Math.max(0, props.elapsedMillis - sentMillis))} later`
    : `sent in ${durationText(sentMillis)}; the server is applying it… (${durationText(Math.max(0, props.elapsedMillis - sentMillis))})`

export const uploadLines = (props: UploadProgressProps): ReadonlyArray<string> => [
  headline(props),
  ...props.checkpoints.map((checkpoint) => `  ${percentText(figures(props, checkpoint).fraction)}  ${detailText(props, checkpoint)}`),
  // Printed once in a log (lines only grow): without the ticking seconds.
  ...(props.sentMillis === null ? [] : [`  sent in ${durationText(props.sentMillis)}; the server is applying it…`]),
  ...props.waits.map((millis) => `  still applying after ${durationText(millis)}`)
]

const barWidth = 30
const spinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

export const UploadProgress = (props: UploadProgressProps) => {
  const figure = figures(props)
  const filled = Math.round(figure.fraction * barWidth)
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>uploading {props.file}</Text>
        <Text dimColor>
          {" "}
          {bytesText(props.bytes)} · {props.format} · {modeWords(props.mode)}
        </Text>
      </Text>
      <Text>
        <Text color="cyan">{"█".repeat(filled)}</Text>
        <Text dimColor>{"░".repeat(barWidth - filled)}</Text> {percentText(figure.fraction)}  {detailText(props, props)}
      </Text>
      {props.sentMillis === null ? null : (
        <Text>
          {props.finished ? null : <Text color="cyan">{spinnerFrames[Math.floor(props.elapsedMillis / 100) % spinnerFrames.length]} </Text>}
          {applyingText(props, props.sentMillis)}
        </Text>
      )}
    </Box>
  )
}

export const uploadProgressView: View<UploadProgressProps> = { component: UploadProgress, lines: uploadLines, plain: "log" }
