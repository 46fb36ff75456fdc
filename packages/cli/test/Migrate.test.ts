import { TestDatabase } from "@bookbroker/engine/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Migrate from "../src/services/Migrate.js"
import * as Render from "../src/ui/Render.js"

it.live(
  "migrate: runs the engine's migrations on DATABASE_URL once, then finds it up to date",
  () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.scopedDatabase("bb_cli_migrate")
      const first = Render.capture()
      const ran = yield* Migrate.migrate(first, { databaseUrl: database.url, dataDir: "/nonexistent" })
      expect(ran.ran.length).toBeGreaterThan(0)
      expect(ran.database).not.toContain("postgres@127.0.0.1:5432/postgres")
      expect(first.stdout[0]).toMatch(/^migrated postgres:\/\/.*bb_cli_migrate_\w+:$/)
      expect(first.stdout[1]).toMatch(/^ {2}1 \w+/)

      const second = Render.capture()
      const again = yield* Migrate.migrate(second, { databaseUrl: database.url, dataDir: "/nonexistent" })
      expect(again.ran).toEqual([])
      expect(second.text()).toMatch(/is up to date$/)
    }),
  60_000
)

it.live("migrate: an unreachable database is a one-line error", () =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(Migrate.migrate(Render.capture(), { databaseUrl: "postgres://nobody:secret@127.0.0.1:2/none", dataDir: "/nonexistent" }))
    expect(error.message).toMatch(/^migrating postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:2\/none failed/)
    expect(error.message).not.toContain("secret")
  })
)
