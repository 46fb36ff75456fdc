/**
 * The simulated seller fleet (`bench/src/fleet.ts`, msw sellers with their own order books) in a
 * child process, with its stdin protocol: `stats`, and `orders` for the invariant checker.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { SellerOrder } from "./Invariants.js"

export interface FleetSeller {
  readonly name: string
  readonly url: string
  readonly apiKey: string
}

export interface Fleet {
  readonly sellers: ReadonlyArray<FleetSeller>
  /** Every order in every seller's own book, and the limit violations they counted. */
  readonly orders: () => Promise<{ orders: ReadonlyArray<SellerOrder>; violations: { rate: number; concurrency: number } }>
  readonly stop: () => void
}

export const startFleet = async (flags: Record<string, string | number>): Promise<Fleet> => {
  const script = fileURLToPath(new URL("../../bench/src/fleet.ts", import.meta.url))
  const args = ["--import", "tsx", script, ...Object.entries(flags).flatMap(([key, value]) => [`--${key}`, String(value)])]
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: child.stdout })
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const onExit = () => reject(new Error("the seller fleet exited"))
      child.once("exit", onExit)
      lines.once("line", (line) => {
        child.off("exit", onExit)
        resolve(line)
      })
    })
  const first = JSON.parse(await next()) as { sellers: Array<FleetSeller> }
  let queue = Promise.resolve()
  return {
    sellers: first.sellers,
    orders: () => {
      const answer = queue.then(async () => {
        const line = next()
        child.stdin.write("orders\n")
        return JSON.parse(await line) as { orders: Array<SellerOrder>; violations: { rate: number; concurrency: number } }
      })
      queue = answer.then(() => undefined, () => undefined)
      return answer
    },
    stop: () => {
      child.stdin.end()
      setTimeout(() => child.kill("SIGKILL"), 2_000).unref()
    }
  }
}
