#!/usr/bin/env node
// Runs a Node program under a Node that bookbroker supports (Effect 4 needs 22.19 or later):
// this one when it is recent enough, otherwise Node 24 from the npm registry
// (`node-<platform>-<arch>@24`, installed once into .cache/node-24). Everything it starts sees
// that Node first on its PATH, so child processes (workers, fleets, tests) run on it too.
//
//   node scripts/node.mjs packages/cli/bin/bookbroker.js serve --demo
//
// Written to run on old Node versions: no dependencies, plain ESM.
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import process from "node:process"

const minimum = [22, 19]
const [major, minor] = process.versions.node.split(".").map(Number)
const recentEnough = major > minimum[0] || (major === minimum[0] && minor >= minimum[1])

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

const nodeBinary = () => {
  if (recentEnough) return process.execPath
  const platform = process.platform === "win32" ? "win" : process.platform
  const name = `node-${platform}-${process.arch}`
  const dir = join(root, ".cache", "node-24")
  const bin = join(dir, "node_modules", name, "bin", process.platform === "win32" ? "node.exe" : "node")
  if (!existsSync(bin)) {
    process.stderr.write(`bookbroker needs Node ${minimum.join(".")} or later (this is ${process.versions.node}): fetching Node 24 (${name}) from the npm registry into .cache/node-24 …\n`)
    mkdirSync(dir, { recursive: true })
    try {
      execFileSync("npm", ["install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `${name}@24`], { stdio: ["ignore", "ignore", "inherit"] })
    } catch {
      process.stderr.write(`could not install ${name}@24 from the npm registry; install Node ${minimum.join(".")} or later yourself (https://nodejs.org)\n`)
      process.exit(1)
    }
  }
  return bin
}

const node = nodeBinary()
const pathSeparator = process.platform === "win32" ? ";" : ":"
const child = spawn(node, process.argv.slice(2), {
  stdio: "inherit",
  env: { ...process.env, PATH: `${dirname(node)}${pathSeparator}${process.env.PATH ?? ""}` }
})
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => {
  if (signal !== null) process.kill(process.pid, signal)
  else process.exit(code ?? 1)
})
