import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("cancel")
    .description("Cancel a want that is watching for a copy (buy --wait). One that found a copy is being bought and can no longer be cancelled.")
    .argument("<id>", "purchase request id")
).addHelpText("after", Flags.examples("bookbroker requests cancel 5c1ddb2b-4eca-40f8-b8fb-e9669bfad41b"))

command.action(
  action(async (id: string, flags: Flags.ClientFlags) => {
    await run((await import("../../services/Requests.js")).cancel(Flags.api(flags), await Flags.ui(flags), { id }))
  })
)
