import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(new Command("activate").description("Activate a seller: it gets quote requests from now on (operator).").argument("<id>", "seller id (see bookbroker sellers list)")).addHelpText(
  "after",
  Flags.examples("bookbroker sellers activate 2204a383-232f-4b98-8846-dfea707ed595")
)

command.action(
  action(async (id: string, flags: Flags.ClientFlags) => {
    await run((await import("../../services/Sellers.js")).activate(Flags.api(flags), await Flags.ui(flags), { id }))
  })
)
