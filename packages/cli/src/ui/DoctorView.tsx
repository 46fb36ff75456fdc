/** `bookbroker doctor`: one line per check, ✓ / ✗ / ·, and what to do about each ✗. */
import { Box, Text } from "ink"
import type { View } from "./Render.js"

export interface Check {
  readonly name: string
  readonly status: "ok" | "fail" | "info"
  readonly detail: string
  readonly fix?: string
}

export interface DoctorViewProps {
  readonly url: string
  readonly checks: ReadonlyArray<Check>
}

const mark = { ok: "✓", fail: "✗", info: "·" } as const
const colour = { ok: "green", fail: "red", info: "gray" } as const

const summary = (checks: ReadonlyArray<Check>) => {
  const failed = checks.filter((check) => check.status === "fail").length
  return failed === 0 ? "all good" : `${failed} problem${failed === 1 ? "" : "s"} to fix`
}

export const doctorLines = (props: DoctorViewProps): ReadonlyArray<string> => [
  `bookbroker doctor — ${props.url}`,
  ...props.checks.flatMap((check) => [`${mark[check.status]} ${check.name}: ${check.detail}`, ...(check.fix === undefined ? [] : [`    fix: ${check.fix}`])]),
  summary(props.checks)
]

export const DoctorView = (props: DoctorViewProps) => (
  <Box flexDirection="column">
    <Text bold>bookbroker doctor — {props.url}</Text>
    {props.checks.map((check, index) => (
      <Box key={index} flexDirection="column">
        <Text>
          <Text color={colour[check.status]}>{mark[check.status]}</Text> <Text bold>{check.name}</Text>: {check.detail}
        </Text>
        {check.fix === undefined ? null : (
          <Text color="yellow">
            {"    "}fix: {check.fix}
          </Text>
        )}
      </Box>
    ))}
    <Text bold color={props.checks.some((check) => check.status === "fail") ? "red" : "green"}>
      {summary(props.checks)}
    </Text>
  </Box>
)

export const doctorView: View<DoctorViewProps> = { component: DoctorView, lines: doctorLines }
