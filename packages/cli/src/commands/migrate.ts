import { Command } from "commander"
import { dataDir, pick, readConfigFile } from "../Config.js"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"

export const command = new Command("migrate")
  .description("Run the database migrations (DATABASE_URL, or the embedded PostgreSQL in the data folder).")
  .option("--data-dir <dir>", "data folder of the embedded database (BOOKBROKER_DATA_DIR; default .bookbroker)")
  .option("--config <file>", "config file (default .bookbroker/config.json)")
  .option("--json", "print the migrations run as JSON", false)
  .addHelpText("after", Flags.examples("DATABASE_URL=postgres://bookbroker@db/bookbroker bookbroker migrate", "bookbroker migrate --data-dir .bookbroker"))

command.action(
  action(async (flags: { dataDir?: string; config?: string; json: boolean }) => {
    const file = readConfigFile(flags.config)
    const { migrate } = await import("../services/Migrate.js")
    await run(migrate(await Flags.ui(flags), { databaseUrl: pick(process.env["DATABASE_URL"], file.database_url), dataDir: dataDir(flags.dataDir) }))
  })
)
