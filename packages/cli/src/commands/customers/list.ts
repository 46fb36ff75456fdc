import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(new Command("list").description("List the customers (operator).")).addHelpText("after", Flags.examples("bookbroker customers list", "bookbroker customers list --json"))

command.action(
  action(async (flags: Flags.ClientFlags) => {
    await run((await import("../../services/Customers.js")).list(Flags.api(flags), await Flags.ui(flags)))
  })
)
