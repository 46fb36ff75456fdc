import { Command } from "commander"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"

export const command = Flags.client(
  new Command("offers")
    .description("The book's current offers from every seller, cheapest total first.")
    .argument("<isbn>", "ISBN-10 or ISBN-13 (hyphens allowed)")
    .option("--currency <code>", "ISO 4217 currency", "EUR")
).addHelpText("after", Flags.examples("bookbroker offers 9783084961450", "bookbroker offers 9783084961450 --json | jq '.offers[0].total'"))

command.action(
  action(async (isbn: string, flags: Flags.ClientFlags & { currency: string }) => {
    await run((await import("../services/Offers.js")).offers(Flags.api(flags), await Flags.ui(flags), { isbn, currency: flags.currency }))
  })
)
