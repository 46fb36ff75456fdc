/**
 * Where a profiled process's CPU went (`node --cpu-prof`): self time while busy, grouped by
 * package, and the top functions. Shared by `intake.ts` (its profiled run) and `e2e.ts --profile`
 * (a diagnostic run: the profiler costs CPU, so its figures are not the benchmark's).
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { round } from "./support.js"

export interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
export interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export const groupOf = (url: string, name: string): string => {
  if (url === "") return name === "(garbage collector)" ? "gc" : name === "(idle)" ? "idle" : name === "(program)" ? "node/v8 (native)" : "node internals"
  if (url.startsWith("node:")) return "node internals"
  if (/\/effect\/dist\/(Schema[A-Za-z]*|internal\/schema\/)/.test(url)) return "effect schema"
  if (/\/effect\/dist\/(http|http-api)\//.test(url) || url.includes("/@effect/platform-node")) return "effect http"
  if (/\/effect\/dist\/sql\//.test(url) || url.includes("/@effect/sql-pg/")) return "effect sql (@effect/sql-pg)"
  if (url.includes("/node_modules/effect/")) return "effect core"
  if (/\/node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-[a-z]+)\//.test(url)) return "pg"
  if (/\/node_modules\/(ioredis|redis-parser|@ioredis\/[^/]+)\//.test(url)) return "ioredis"
  if (url.includes("/node_modules/undici/")) return "undici"
  if (url.includes("/node_modules/tsx/") || url.includes("/node_modules/esbuild/")) return "tsx (loading TypeScript)"
  if (url.includes("/node_modules/")) return `other: ${url.replace(/.*\/node_modules\/((@[^/]+\/)?[^/]+)\/.*/, "$1")}`
  if (url.includes("/packages/") || url.includes("/adapters/") || url.includes("/bench/")) return "bookbroker code"
  return "other"
}

/**
 * Sums every `.cpuprofile` in `dir` (one per process), counting only samples taken between
 * `fromMicros` and `toMicros` of the monotonic clock (`process.hrtime`, the profiler's clock: the
 * same for every process on the machine), e.g. the load, not the start-up.
 */
export const summarize = (dir: string, fromMicros: number, toMicros: number) => {
  const groups = new Map<string, number>()
  const functions = new Map<string, { group: string; micros: number }>()
  let busy = 0
  let profiles = 0
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"))) {
    profiles += 1
    const data = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile
    const byId = new Map(data.nodes.map((node) => [node.id, node]))
    let at = data.startTime
    data.samples.forEach((sample, index) => {
      const micros = data.timeDeltas[index] ?? 0
      at += micros
      if (at < fromMicros || at > toMicros) return
      const { functionName, url, lineNumber } = byId.get(sample)!.callFrame
      const group = groupOf(url, functionName)
      if (group === "idle") return
      busy += micros
      groups.set(group, (groups.get(group) ?? 0) + micros)
      const label = `${functionName || "(anonymous)"} ${url.replace(/.*\/node_modules\//, "").replace(/.*\/(packages|adapters)\//, "$1/")}:${lineNumber + 1}`
      const entry = functions.get(label) ?? { group, micros: 0 }
      entry.micros += micros
      functions.set(label, entry)
    })
  }
  const share = (micros: number) => round((100 * micros) / busy, 1)
  return {
    profiles,
    busySeconds: round(busy / 1e6, 1),
    byGroupPercent: Object.fromEntries(
      [...groups]
        .sort((a, b) => b[1] - a[1])
        .filter(([, micros]) => share(micros) >= 0.5)
        .map(([group, micros]) => [group, share(micros)])
    ),
    topFunctions: [...functions]
      .sort((a, b) => b[1].micros - a[1].micros)
      .slice(0, 15)
      .map(([label, { group, micros }]) => ({ percent: share(micros), group, function: label }))
  }
}
