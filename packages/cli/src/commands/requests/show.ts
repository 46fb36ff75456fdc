import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("show").description("Show a purchase request: status, price, seller, attempts, counter-offer.").argument("<id>", "purchase request id").option("--operator", "any customer's request (operator token)", false)
).addHelpText("after", Flags.examples("bookbroker requests show 5c1ddb2b-4eca-40f8-b8fb-e9669bfad41b", "bookbroker requests show <id> --json | jq .status"))

command.action(
  action(async (id: string, flags: Flags.ClientFlags & { operator: boolean }) => {
    await run((await import("../../services/Requests.js")).show(Flags.api(flags), await Flags.ui(flags), { id, operator: flags.operator }))
  })
)
