/** `bookbroker simulate`: a progress bar while the load runs, then the summary. */
import { Box, Text } from "ink"
import { millis, percent } from "./Format.js"
import type { View } from "./Render.js"

export interface SimulateSummary {
  readonly sellers: number
  readonly ratePerSecond: number
  readonly durationSeconds: number
  readonly submitted: number
  /** Refused at submission (429 and other errors). */
  readonly rejected: number
  readonly finished: number
  /** Still not terminal when the wait ended. */
  readonly unfinished: number
  readonly outcomes: Readonly<Record<string, number>>
  readonly latencyMillis: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null }
  readonly sellerCalls: { readonly total: number; readonly quote: number; readonly perRequest: number | null; readonly quotePerRequest: number | null }
  readonly elapsedSeconds: number
}

export interface SimulateProgress {
  readonly phase: "setup" | "running" | "waiting" | "done"
  readonly planned: number
  readonly submitted: number
  readonly rejected: number
  readonly finished: number
  readonly elapsedMillis: number
  readonly setup: ReadonlyArray<string>
  readonly summary?: SimulateSummary
}

export const bar = (done: number, total: number, width = 30): string => {
  const share = total <= 0 ? 1 : Math.min(1, done / total)
  const full = Math.round(share * width)
  return `${"█".repeat(full)}${"░".repeat(width - full)}`
}

export const summaryLines = (summary: SimulateSummary): ReadonlyArray<string> => {
  // Any other outcome (sellers_busy: sellers too busy to ask in time) shows once it happened.
  const order = ["purchased", "price_not_met", "not_available", "failed"]
  const keys = [...order, ...Object.keys(summary.outcomes).filter((key) => !order.includes(key))]
  return [
    `simulated ${summary.submitted} purchase requests against ${summary.sellers} sellers at ${summary.ratePerSecond}/s for ${summary.durationSeconds} s (took ${summary.elapsedSeconds.toFixed(1)} s)`,
    `  outcomes     ${keys.map((key) => `${key} ${summary.outcomes[key] ?? 0}`).join(", ")}${summary.unfinished > 0 ? `, unfinished ${summary.unfinished}` : ""}${summary.rejected > 0 ? `, rejected at submission ${summary.rejected}` : ""}`,
    `  latency      p50 ${millis(summary.latencyMillis.p50)}, p99 ${millis(summary.latencyMillis.p99)}, max ${millis(summary.latencyMillis.max)} (created → decided)`,
    `  seller calls ${summary.sellerCalls.perRequest === null ? "—" : summary.sellerCalls.perRequest.toFixed(1)} per request at the ${summary.sellers} simulated sellers (${summary.sellerCalls.total} in all, ${summary.sellerCalls.quote} of them quotes)`,
    `  purchased    ${percent(summary.finished === 0 ? null : (summary.outcomes["purchased"] ?? 0) / summary.finished)} of finished requests`
  ]
}

const phaseWords = { setup: "setting up", running: "submitting", waiting: "waiting for the last requests", done: "done" } as const

export const simulateLines = (progress: SimulateProgress): ReadonlyArray<string> => [
  ...progress.setup,
  ...(progress.summary === undefined ? [] : summaryLines(progress.summary))
]

export const SimulateView = (progress: SimulateProgress) => (
  <Box flexDirection="column">
    {progress.setup.map((line, index) => (
      <Text key={index} dimColor>
        {line}
      </Text>
    ))}
    {progress.phase === "setup" ? null : (
      <Box flexDirection="column" marginY={1}>
        <Text>
          <Text color="cyan">{bar(progress.submitted + progress.rejected, progress.planned)}</Text> submitted {progress.submitted}/{progress.planned}
          {progress.rejected > 0 ? <Text color="yellow"> ({progress.rejected} rejected)</Text> : null}
        </Text>
        <Text>
          <Text color="green">{bar(progress.finished, Math.max(progress.submitted, 1))}</Text> finished {progress.finished}/{progress.submitted}
          <Text dimColor>
            {" "}
            — {phaseWords[progress.phase]}, {(progress.elapsedMillis / 1000).toFixed(1)} s
          </Text>
        </Text>
      </Box>
    )}
    {progress.summary === undefined
      ? null
      : summaryLines(progress.summary).map((line, index) => (
          <Text key={`s${index}`} bold={index === 0}>
            {line}
          </Text>
        ))}
  </Box>
)

/** Plain output: setup lines and the summary (no bar in logs). */
export const simulateView: View<SimulateProgress> = { component: SimulateView, lines: simulateLines, plain: "log" }
