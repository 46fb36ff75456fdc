import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(new Command("retry")
    .description("Run a failed purchase request again, or resume one set aside after internal errors (operator).")
    .argument("<id>", "purchase request id")
    .option("--payment-token <token>", "a new payment method token: needed for a failed request (bookbroker drops a request's token when it ends)")).addHelpText(
  "after",
  Flags.examples("bookbroker requests retry 5c1ddb2b-4eca-40f8-b8fb-e9669bfad41b --payment-token tok_approve")
)

command.action(
  action(async (id: string, flags: Flags.ClientFlags & { paymentToken?: string }) => {
    await run((await import("../../services/Requests.js")).retry(Flags.api(flags), await Flags.ui(flags), { id, ...(flags.paymentToken === undefined ? {} : { paymentToken: flags.paymentToken }) }))
  })
)
