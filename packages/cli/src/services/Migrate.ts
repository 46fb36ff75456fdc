/**
 * `bookbroker migrate`: runs the engine's pending migrations against `DATABASE_URL`, or against
 * the embedded PostgreSQL in the data folder when there is none (serve also migrates at start;
 * this is for deploys that migrate first).
 */
import { Database } from "@bookbroker/engine"
import { Effect } from "effect"
import { fail, type CliError } from "../CliError.js"
import type { Ui } from "../ui/Render.js"
import * as EmbeddedDatabase from "./EmbeddedDatabase.js"

export interface MigrateOptions {
  readonly databaseUrl: string | undefined
  readonly dataDir: string
}

export interface MigrateResult {
  readonly database: string
  readonly ran: ReadonlyArray<{ readonly id: number; readonly name: string }>
}

const hidePassword = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@")

export const migrate = (ui: Ui, options: MigrateOptions): Effect.Effect<MigrateResult, CliError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const url = options.databaseUrl ?? (yield* EmbeddedDatabase.start(options.dataDir))
      const where = options.databaseUrl === undefined ? `the embedded PostgreSQL in ${options.dataDir}` : hidePassword(url)
      const ran = yield* Database.migrate.pipe(
        Effect.provide(Database.layerClient({ url, maxConnections: 2, applicationName: "bookbroker-migrate" })),
        Effect.mapError((error) => fail(`migrating ${where} failed: ${error.message}`, "is PostgreSQL running and DATABASE_URL right?"))
      )
      const result = { database: where, ran: ran.map(([id, name]) => ({ id, name })) }
      if (ui.json) ui.printJson(result)
      else if (result.ran.length === 0) ui.print(`${where} is up to date`)
      else ui.print([`migrated ${where}:`, ...result.ran.map((migration) => `  ${migration.id} ${migration.name}`)].join("\n"))
      return result
    })
  )
