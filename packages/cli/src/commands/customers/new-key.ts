import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("new-key").description("Give a customer a new API key (shown once); its earlier keys are revoked (operator).").argument("<id>", "customer id (see bookbroker customers list)")
).addHelpText("after", Flags.examples("bookbroker customers new-key 6f1c2a9e-4b7d-4e0a-9d51-3c8e2f7a1b04"))

command.action(
  action(async (id: string, flags: Flags.ClientFlags) => {
    await run((await import("../../services/Customers.js")).newKey(Flags.api(flags), await Flags.ui(flags), { id }))
  })
)
