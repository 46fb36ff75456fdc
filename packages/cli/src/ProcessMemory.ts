/**
 * How a long-running bookbroker process (`serve`) keeps its memory near what it uses. Measured
 * with `pnpm bench:e2e` (BENCHMARKS.md, "Worker memory"): a worker's live heap after a full
 * collection is 65–80 MB, yet its RSS reached 390 MiB at 3 requests/s and 544–556 MiB with 155
 * requests in flight on Node 24's defaults — V8 let the young generation grow to 128 MB (two
 * 64 MB semi-spaces, on a machine with plenty of memory) and the old generation to several times
 * its live size before collecting. Two V8 settings:
 *
 * - **old generation growth** (`heapGrowingPercent`): the heap may grow by 40 % of what survived
 *   the last full collection before the next one. V8 reads it at every collection, so `serve`
 *   sets it itself at start (`tuneHeap`). 20 % held a little less (284 against 298 MiB at 155 in
 *   flight) for a fifth more CPU (38 full collections against 20; V8's own factor: 4).
 * - **young generation** (`--max-semi-space-size=32`: 64 MB in all): fixed when the process
 *   starts, so it is given to `node` on the command line or in `NODE_OPTIONS`, as `pnpm start`
 *   and the production launch in docs/operations.md do; a process started without it keeps V8's
 *   default. 8 MB semi-spaces cost a fifth more CPU in scavenges.
 */
import v8 from "node:v8"

/** How much the old generation may grow beyond what survived the last full collection, in percent (V8: `--heap-growing-percent`). */
export const heapGrowingPercent = 40

/** Sets the old generation's growth, unless the process was started with its own. */
export const tuneHeap = (): void => {
  if (process.execArgv.some((flag) => flag.startsWith("--heap-growing-percent"))) return
  v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`)
}

