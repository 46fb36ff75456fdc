/** Shared bits for benchmarks: the seller fleet child process and percentile maths. */
import { spawn } from "node:child_process"
import { createInterface, type Interface } from "node:readline"
import { fileURLToPath } from "node:url"

export interface FleetSeller {
  readonly name: string
  readonly url: string
  readonly apiKey: string
}

export interface Fleet {
  readonly sellers: ReadonlyArray<FleetSeller>
  readonly stats: () => Promise<{ calls: number; rateViolations: number; concurrencyViolations: number }>
  readonly stop: () => void
}

/** Starts `bench/src/fleet.ts` in a child process with the given flags. */
export const startFleet = async (flags: Record<string, string | number>): Promise<Fleet> => {
  const script = fileURLToPath(new URL("./fleet.ts", import.meta.url))
  const args = ["--import", "tsx", script, ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)])]
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
  const lines: Interface = createInterface({ input: child.stdout })
  const next = () => new Promise<string>((resolve) => lines.once("line", resolve))
  const first = JSON.parse(await next()) as { sellers: Array<FleetSeller> }
  return {
    sellers: first.sellers,
    stats: async () => {
      child.stdin.write("stats\n")
      return JSON.parse(await next()) as { calls: number; rateViolations: number; concurrencyViolations: number }
    },
    stop: () => child.stdin.end()
  }
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits
