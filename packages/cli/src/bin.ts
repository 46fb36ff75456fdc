/**
 * The `bookbroker` command. Each command lives in `commands/<path>.ts`, parses its flags and
 * calls a same-named service in `services/`, which knows nothing about flags. User errors end
 * in one line and a non-zero exit code; bugs are reported as bugs (see `Run.ts`).
 */
import { Command } from "commander"
import * as buy from "./commands/buy.js"
import * as customers from "./commands/customers.js"
import * as findings from "./commands/findings.js"
import * as dashboard from "./commands/dashboard.js"
import * as doctor from "./commands/doctor.js"
import * as migrate from "./commands/migrate.js"
import * as offers from "./commands/offers.js"
import * as search from "./commands/search.js"
import * as requests from "./commands/requests.js"
import * as sellers from "./commands/sellers.js"
import * as serve from "./commands/serve.js"
import * as simulate from "./commands/simulate.js"
import { examples } from "./Help.js"

// A reader that stopped reading (`bookbroker offers … | head`) is not an error: stop quietly, as
// Unix tools do, instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0)
    throw error
  })
}

const program = new Command()
  .name("bookbroker")
  .description("Buy a book at the best price from hundreds of independent sellers.")
  .addCommand(serve.command)
  .addCommand(migrate.command)
  .addCommand(doctor.command)
  .addCommand(buy.command)
  .addCommand(offers.command)
  .addCommand(search.command)
  .addCommand(requests.command)
  .addCommand(sellers.command)
  .addCommand(customers.command)
  .addCommand(findings.command)
  .addCommand(dashboard.command)
  .addCommand(simulate.command)
  .addHelpText(
    "after",
    examples("bookbroker serve --demo", "bookbroker buy 9784554076995 --max 30.00", "bookbroker offers 9784554076995", "bookbroker dashboard") +
      "\nConfiguration: flags, then environment (BOOKBROKER_URL, BOOKBROKER_API_KEY, BOOKBROKER_OPERATOR_TOKEN, …), then .bookbroker/config.json, then the demo's .bookbroker/demo.json.\n"
  )

/** Every command, however deep, points at its --help after a usage error. */
const helpAfterErrors = (command: Command): void => {
  command.showHelpAfterError("(run with --help for usage)")
  command.commands.forEach(helpAfterErrors)
}
helpAfterErrors(program)

await program.parseAsync(process.argv)
