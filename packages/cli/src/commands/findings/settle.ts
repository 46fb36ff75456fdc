import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"
import { kinds } from "../../FindingKinds.js"

export const command = Flags.client(
  new Command("settle")
    .description("Mark a finding settled once a person dealt with it, keeping a note of what was done (operator).")
    .argument("<request>", "the purchase request id")
    .argument("<kind>", `the finding's kind (${kinds.join(", ")})`)
    .requiredOption("--note <text>", "what was done, e.g. \"seller cancelled order o-123\"")
).addHelpText("after", Flags.examples('bookbroker findings settle 5c1ddb2b-4eca-40f8-b8fb-e9669bfad41b seller_order_unknown --note "seller cancelled order o-123"'))

command.action(
  action(async (requestId: string, kind: string, flags: Flags.ClientFlags & { note: string }) => {
    await run((await import("../../services/Findings.js")).settle(Flags.api(flags), await Flags.ui(flags), { requestId, kind, note: flags.note }))
  })
)
