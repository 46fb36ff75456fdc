import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("accept")
    .description("Accept the counter-offer of a price_not_met request and buy at that price.")
    .argument("<id>", "purchase request id")
    .option("--payment-token <token>", "payment method token (sandbox: tok_approve)", "tok_approve")
    .option("--no-wait", "return once accepted, without following the purchase")
).addHelpText("after", Flags.examples("bookbroker requests accept 5c1ddb2b-4eca-40f8-b8fb-e9669bfad41b") + "\nExit codes as buy: 0 purchased, 2 price_not_met, 3 not_available, 4 failed.\n")

command.action(
  action(async (id: string, flags: Flags.ClientFlags & { paymentToken: string; wait: boolean }) => {
    const result = await run((await import("../../services/Requests.js")).accept(Flags.api(flags), await Flags.ui(flags), { id, paymentToken: flags.paymentToken, wait: flags.wait }))
    process.exitCode = result.exitCode
  })
)
