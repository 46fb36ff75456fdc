import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("health").description("Seller health: circuit state, recent calls, errors and latency (operator).").argument("[id]", "one seller's id (default: all)")
).addHelpText("after", Flags.examples("bookbroker sellers health", "bookbroker sellers health 2204a383-232f-4b98-8846-dfea707ed595 --json"))

command.action(
  action(async (id: string | undefined, flags: Flags.ClientFlags) => {
    await run((await import("../../services/Sellers.js")).health(Flags.api(flags), await Flags.ui(flags), id === undefined ? {} : { id }))
  })
)
