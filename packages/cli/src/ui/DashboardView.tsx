/** `bookbroker dashboard`: the operator's live frame (rates, outcomes, queue, seller health). */
import { Box, Text } from "ink"
import { millis, pad, percent, rate, widths } from "./Format.js"
import type { View } from "./Render.js"

export interface SellerRow {
  readonly id: string
  readonly name: string
  readonly status?: string
  readonly circuit: string | undefined
  readonly callsPerSecond: number | undefined
  readonly rateLimit: number | undefined
  readonly answered: number
  readonly failed: number
  readonly denied: number
  readonly errorRatio: number | undefined
  readonly p50Millis: number | undefined
  readonly p99Millis: number | undefined
}

export interface DashboardFrame {
  readonly url: string
  readonly at: string
  readonly intervalSeconds: number
  readonly intakePerSecond: number | undefined
  readonly completionsPerSecond: number | undefined
  readonly completed: number
  readonly outcomes: Readonly<Record<string, number>>
  readonly queueDepth: number | undefined
  readonly decisionP50Millis: number | undefined
  readonly decisionP99Millis: number | undefined
  readonly circuitsOpen: number | undefined
  readonly sellers: ReadonlyArray<SellerRow>
  readonly moreSellers: number
  readonly notes: ReadonlyArray<string>
}

const outcomeOrder = ["purchased", "price_not_met", "not_available", "failed"]

const outcomeCells = (frame: DashboardFrame) => {
  // Any other outcome (sellers_busy: sellers too busy to ask in time) shows once it happened.
  const keys = [...outcomeOrder, ...Object.keys(frame.outcomes).filter((key) => !outcomeOrder.includes(key))]
  return keys.map((key) => {
    const count = frame.outcomes[key] ?? 0
    return { key, count, share: frame.completed === 0 ? undefined : count / frame.completed }
  })
}

const usage = (row: SellerRow) =>
  row.rateLimit === undefined ? rate(row.callsPerSecond) : `${rate(row.callsPerSecond)} of ${rate(row.rateLimit)} (${percent((row.callsPerSecond ?? 0) / row.rateLimit)})`

const sellerCells = (row: SellerRow): ReadonlyArray<string> => [
  row.name,
  row.circuit ?? "—",
  usage(row),
  String(row.answered + row.failed),
  percent(row.errorRatio),
  String(row.denied),
  millis(row.p50Millis),
  millis(row.p99Millis)
]

const sellerHeaders = ["seller", "circuit", "calls (rate use)", "sent", "errors", "denied", "p50", "p99"]

const sellerTable = (frame: DashboardFrame) => {
  const rows = frame.sellers.map(sellerCells)
  const sizes = widths([sellerHeaders, ...rows])
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, index) => pad(cell, sizes[index] ?? 0, index >= 3 ? "right" : "left")).join("  ").trimEnd()
  return { line, rows }
}

const headline = (frame: DashboardFrame) =>
  `intake ${rate(frame.intakePerSecond)}   completed ${rate(frame.completionsPerSecond)}   queue ${frame.queueDepth ?? "—"}   decision p50 ${millis(frame.decisionP50Millis)} p99 ${millis(frame.decisionP99Millis)}   circuits open ${frame.circuitsOpen ?? "—"}`

export const dashboardLines = (frame: DashboardFrame): ReadonlyArray<string> => {
  const { line, rows } = sellerTable(frame)
  return [
    `bookbroker dashboard — ${frame.url} — ${new Date(frame.at).toLocaleTimeString("en-GB")}`,
    headline(frame),
    `outcomes (${frame.completed}): ${outcomeCells(frame)
      .map((cell) => `${cell.key} ${cell.count}${cell.share === undefined ? "" : ` (${percent(cell.share)})`}`)
      .join("   ")}`,
    ...(rows.length === 0 ? ["sellers: none seen yet"] : [line(sellerHeaders), ...rows.map(line)]),
    ...(frame.moreSellers > 0 ? [`… and ${frame.moreSellers} more sellers`] : []),
    ...frame.notes.map((note) => `note: ${note}`)
  ]
}

const circuitColour = (circuit: string | undefined) => (circuit === undefined ? "gray" : circuit === "closed" ? "green" : circuit === "open" ? "red" : "yellow")

/** The frame, and whether it refreshes (then it says how to quit). */
export type DashboardViewProps = DashboardFrame & { readonly live?: boolean }

export const DashboardView = (frame: DashboardViewProps) => {
  const { line, rows } = sellerTable(frame)
  const sizes = widths([sellerHeaders, ...rows])
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>bookbroker dashboard</Text>
        <Text dimColor>
          {" "}
          — {frame.url} — {new Date(frame.at).toLocaleTimeString("en-GB")}
          {frame.live === true ? " (Ctrl-C to quit)" : ""}
        </Text>
      </Text>
      <Box marginTop={1} gap={3}>
        <Text>
          intake <Text bold>{rate(frame.intakePerSecond)}</Text>
        </Text>
        <Text>
          completed <Text bold>{rate(frame.completionsPerSecond)}</Text>
        </Text>
        <Text>
          queue <Text bold>{frame.queueDepth ?? "—"}</Text>
        </Text>
        <Text>
          decision p50 <Text bold>{millis(frame.decisionP50Millis)}</Text> p99 <Text bold>{millis(frame.decisionP99Millis)}</Text>
        </Text>
        <Text>
          circuits open <Text bold color={(frame.circuitsOpen ?? 0) > 0 ? "red" : "green"}>{frame.circuitsOpen ?? "—"}</Text>
        </Text>
      </Box>
      <Box gap={3}>
        <Text dimColor>outcomes ({frame.completed})</Text>
        {outcomeCells(frame).map((cell) => (
          <Text key={cell.key} color={cell.key === "purchased" ? "green" : cell.key === "failed" ? "red" : cell.key === "price_not_met" ? "yellow" : "white"}>
            {cell.key} <Text bold>{cell.count}</Text>
            {cell.share === undefined ? "" : ` (${percent(cell.share)})`}
          </Text>
        ))}
      </Box>
      <Box flexDirection="column" marginTop={1}>
        {rows.length === 0 ? (
          <Text dimColor>sellers: none seen yet</Text>
        ) : (
          <>
            <Text bold underline>
              {line(sellerHeaders)}
            </Text>
            {frame.sellers.map((row, index) => {
              const cells = rows[index]!
              return (
                <Text key={row.id}>
                  {pad(cells[0]!, sizes[0] ?? 0)}
                  {"  "}
                  <Text color={circuitColour(row.circuit)}>{pad(cells[1]!, sizes[1] ?? 0)}</Text>
                  {"  "}
                  {cells
                    .slice(2)
                    .map((cell, offset) => pad(cell, sizes[offset + 2] ?? 0, offset + 2 >= 3 ? "right" : "left"))
                    .join("  ")}
                </Text>
              )
            })}
            {frame.moreSellers > 0 ? <Text dimColor>… and {frame.moreSellers} more sellers</Text> : null}
          </>
        )}
      </Box>
      {frame.notes.map((note, index) => (
        <Text key={index} color="yellow">
          note: {note}
        </Text>
      ))}
    </Box>
  )
}

export const dashboardView: View<DashboardViewProps> = { component: DashboardView, lines: dashboardLines, plain: "frame" }
