#!/usr/bin/env node
// The fuzz suite's long run: `pnpm test:fuzz --runs 20000 [--seed 42] [--hang-ms 10000]`.
// Runs packages/server/test/fuzz (the same suite `pnpm test` runs with a fixed seed and a small
// count) with FUZZ_RUNS / FUZZ_SEED / FUZZ_HANG_MS set, also waits for headers that never finish
// to be refused (FUZZ_LONG), and prints the summary at the end. Other arguments go to vitest.
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..")
const settings = { runs: "5000", seed: undefined, hangMs: undefined }
const passOn = []
const args = process.argv.slice(2)
for (let index = 0; index < args.length; index++) {
  const arg = args[index]
  const [name, inline] = arg.startsWith("--") ? arg.split(/=(.*)/s, 2) : [arg, undefined]
  const value = () => {
    const given = inline ?? args[++index]
    if (given === undefined || !/^\d+$/.test(given)) {
      process.stderr.write(`${name} needs a whole number (got ${given === undefined ? "nothing" : JSON.stringify(given)})\n`)
      process.exit(2)
    }
    return given
  }
  if (name === "--runs") settings.runs = value()
  else if (name === "--seed") settings.seed = value()
  else if (name === "--hang-ms") settings.hangMs = value()
  else if (name === "--help" || name === "-h") {
    process.stdout.write("pnpm test:fuzz [--runs N (default 5000)] [--seed S] [--hang-ms MS (default 10000)] [vitest arguments]\n")
    process.exit(0)
  } else if (arg !== "--") passOn.push(arg)
}

const folder = mkdtempSync(join(tmpdir(), "bookbroker-fuzz-"))
const summaryFile = join(folder, "summary.json")
const env = {
  ...process.env,
  FUZZ_RUNS: settings.runs,
  FUZZ_LONG: "1",
  FUZZ_SUMMARY_FILE: summaryFile,
  ...(settings.seed === undefined ? {} : { FUZZ_SEED: settings.seed }),
  ...(settings.hangMs === undefined ? {} : { FUZZ_HANG_MS: settings.hangMs })
}
const started = Date.now()
const result = spawnSync(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--project", "server", "packages/server/test/fuzz", ...passOn], {
  cwd: root,
  env,
  stdio: "inherit"
})
const seconds = ((Date.now() - started) / 1000).toFixed(0)
try {
  const summary = JSON.parse(readFileSync(summaryFile, "utf8"))
  const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  const lines = [
    "",
    `fuzz long run: ${summary.runs} runs, seed ${summary.seed}, ${seconds} s`,
    `  requests sent: ${summary.requests} (${summary.operations} operations, raw-socket cases included: ${summary.rawCases})`,
    `  statuses: ${Object.entries(summary.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, n]) => `${status}×${n}`)
      .join(" ")}`,
    `  5xx: ${summary.serverErrors}   hangs: ${summary.hangs}   closed without an answer: ${summary.closes}`,
    `  known failures met (their it.fails tests): ${
      Object.keys(summary.known ?? {}).length === 0
        ? "none"
        : Object.entries(summary.known)
            .map(([name, n]) => `${name} ×${n}`)
            .join("; ")
    }`,
    `  slowest answer: ${summary.slowestMillis} ms (${String(summary.slowest).split("\n")[0]})`,
    summary.heap === undefined || summary.heap === null
      ? "  heap: not measured"
      : `  heap used: ${mib(summary.heap.before)} before, ${mib(summary.heap.after)} after ${summary.heap.bodies} oversized bodies (${mib(summary.heap.bytes)})`,
    summary.stalledHeaders === undefined || summary.stalledHeaders === null
      ? "  stalled headers: not measured"
      : `  stalled headers: ${summary.stalledHeaders.outcome}${summary.stalledHeaders.answeredAfterMillis == null ? "" : ` after ${(summary.stalledHeaders.answeredAfterMillis / 1000).toFixed(1)} s`}`,
    `  failures: ${summary.failures.length}`
  ]
  process.stdout.write(`${lines.join("\n")}\n`)
} catch {
  process.stdout.write(`\nfuzz long run: no summary was written (${seconds} s; see the output above)\n`)
}
rmSync(folder, { recursive: true, force: true })
process.exit(result.status ?? 1)
