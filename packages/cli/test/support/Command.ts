/** The `bookbroker` command itself, run as a person runs it (the built bundle, or the sources when newer). */
import { spawn } from "node:child_process"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const root = resolve(fileURLToPath(new URL("../../../..", import.meta.url)))
export const bin = join(root, "packages/cli/bin/bookbroker.js")

/** The environment without anything that would point the CLI elsewhere, plus `extra`. */
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("BOOKBROKER_") || key === "DATABASE_URL" || key === "REDIS_URL" || key === "STRIPE_SECRET_KEY") continue
    env[key] = value
  }
  return { ...env, ...extra }
}

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `bookbroker args…` to its end in a clean environment (plus `env`). */
export const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Finished> =>
  new Promise((done, failed) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("error", failed)
    child.once("close", (code) => done({ code, stdout, stderr }))
  })
