#!/usr/bin/env node
// Runs the built command (`dist/bin.js`, plain JavaScript: what production runs) when it is
// there and newer than every workspace source file; otherwise the TypeScript sources, through
// tsx, so an edit is never hidden behind an old build. `pnpm build` (or `pnpm start`) builds it.
// The CLI's tsconfig is named explicitly: it sets the JSX runtime for the ink views, whatever
// directory the command runs from.
import { readdirSync, statSync } from "node:fs"
import process from "node:process"
import { fileURLToPath, URL } from "node:url"

const built = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const root = fileURLToPath(new URL("../../../", import.meta.url))

/** The newest modification time under `dir` (0 when it does not exist). */
const newest = (dir) => {
  let latest = 0
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

const builtAt = (() => {
  try {
    return statSync(built).mtimeMs
  } catch {
    return undefined
  }
})()

const fresh =
  builtAt !== undefined &&
  process.env.BOOKBROKER_FROM_SOURCE !== "1" &&
  ["packages", "adapters"].every((group) =>
    readdirSync(`${root}${group}`).every((name) => newest(`${root}${group}/${name}/src`) <= builtAt)
  )

if (fresh) {
  await import(built)
} else {
  const { register } = await import("tsx/esm/api")
  register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) })
  await import("../src/bin.ts")
}
