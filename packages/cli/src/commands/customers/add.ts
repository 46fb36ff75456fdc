import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("add").description("Create a customer and its API key (shown once) (operator).").requiredOption("--name <name>", "the customer's name").option("--email <email>", "the customer's email")
).addHelpText("after", Flags.examples('bookbroker customers add --name "Ada Lovelace" --email ada@example.com'))

command.action(
  action(async (flags: Flags.ClientFlags & { name: string; email?: string }) => {
    await run((await import("../../services/Customers.js")).add(Flags.api(flags), await Flags.ui(flags), { name: flags.name, ...(flags.email === undefined ? {} : { email: flags.email }) }))
  })
)
