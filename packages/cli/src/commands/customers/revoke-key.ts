import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("revoke-key")
    .description("Revoke every API key of a customer: each is refused (401) by every server within 1 s; the customer and its requests stay (operator).")
    .argument("<id>", "customer id (see bookbroker customers list)")
).addHelpText("after", Flags.examples("bookbroker customers revoke-key 6f1c2a9e-4b7d-4e0a-9d51-3c8e2f7a1b04", "bookbroker customers new-key 6f1c2a9e-4b7d-4e0a-9d51-3c8e2f7a1b04"))

command.action(
  action(async (id: string, flags: Flags.ClientFlags) => {
    await run((await import("../../services/Customers.js")).revokeKey(Flags.api(flags), await Flags.ui(flags), { id }))
  })
)
