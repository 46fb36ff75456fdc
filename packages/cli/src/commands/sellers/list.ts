import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("list").description("List the sellers in the directory (operator).").option("--status <status>", "only pending, active or disabled sellers")
).addHelpText("after", Flags.examples("bookbroker sellers list", "bookbroker sellers list --status pending --json"))

command.action(
  action(async (flags: Flags.ClientFlags & { status?: string }) => {
    await run((await import("../../services/Sellers.js")).list(Flags.api(flags), await Flags.ui(flags), flags.status === undefined ? {} : { status: flags.status }))
  })
)
