/** A plain table: a bold header, padded columns, numbers right-aligned; optional title and footer. */
import { Box, Text } from "ink"
import { numeric, pad, widths } from "./Format.js"
import type { View } from "./Render.js"

export interface TableProps {
  readonly title?: string
  readonly headers: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  /** Shown instead of the table when there are no rows. */
  readonly empty?: string
  readonly footer?: ReadonlyArray<string>
  /** Row indexes to highlight (e.g. the cheapest offer). */
  readonly highlight?: ReadonlyArray<number>
}

const layout = (props: TableProps) => {
  const sizes = widths([props.headers, ...props.rows])
  const right = props.headers.map((_, index) => numeric(props.rows.map((row) => row[index] ?? "")))
  const line = (row: ReadonlyArray<string>) => row.map((cell, index) => pad(cell, sizes[index] ?? 0, right[index] === true ? "right" : "left")).join("  ").trimEnd()
  return { line }
}

export const tableLines = (props: TableProps): ReadonlyArray<string> => {
  const lines: Array<string> = []
  if (props.title !== undefined) lines.push(props.title)
  if (props.rows.length === 0) lines.push(props.empty ?? "(none)")
  else {
    const { line } = layout(props)
    lines.push(line(props.headers))
    for (const row of props.rows) lines.push(line(row))
  }
  if (props.footer !== undefined) lines.push(...props.footer)
  return lines
}

export const Table = (props: TableProps) => {
  const { line } = layout(props)
  return (
    <Box flexDirection="column">
      {props.title === undefined ? null : <Text bold>{props.title}</Text>}
      {props.rows.length === 0 ? (
        <Text dimColor>{props.empty ?? "(none)"}</Text>
      ) : (
        <>
          <Text bold underline>
            {line(props.headers)}
          </Text>
          {props.rows.map((row, index) => (
            <Text key={index} {...(props.highlight?.includes(index) === true ? { color: "green" } : {})}>
              {line(row)}
            </Text>
          ))}
        </>
      )}
      {(props.footer ?? []).map((text, index) => (
        <Text key={`f${index}`} dimColor>
          {text}
        </Text>
      ))}
    </Box>
  )
}

export const tableView: View<TableProps> = { component: Table, lines: tableLines }

/** Key/value lines (`show` commands). */
export interface DetailsProps {
  readonly title: string
  readonly fields: ReadonlyArray<readonly [label: string, value: string]>
  readonly footer?: ReadonlyArray<string>
}

export const detailsLines = (props: DetailsProps): ReadonlyArray<string> => {
  const width = Math.max(0, ...props.fields.map(([label]) => label.length))
  return [props.title, ...props.fields.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`), ...(props.footer ?? [])]
}

export const Details = (props: DetailsProps) => {
  const width = Math.max(0, ...props.fields.map(([label]) => label.length))
  return (
    <Box flexDirection="column">
      <Text bold>{props.title}</Text>
      {props.fields.map(([label, value]) => (
        <Text key={label}>
          {"  "}
          <Text dimColor>{label.padEnd(width)}</Text>
          {"  "}
          {value}
        </Text>
      ))}
      {(props.footer ?? []).map((text, index) => (
        <Text key={`f${index}`}>{text}</Text>
      ))}
    </Box>
  )
}

export const detailsView: View<DetailsProps> = { component: Details, lines: detailsLines }
