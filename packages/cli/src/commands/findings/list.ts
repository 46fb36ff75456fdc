import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("list")
    .description("What needs a person: findings of the reconciler and the purchase pipeline, open ones by default (operator).")
    .option("--all", "settled ones too", false)
    .option("--request <id>", "only this purchase request's")
).addHelpText("after", Flags.examples("bookbroker findings list", "bookbroker findings list --all --json", "bookbroker findings list --request 5c1ddb2b-4eca-40f8-b8fb-e9669bfad41b"))

command.action(
  action(async (flags: Flags.ClientFlags & { all: boolean; request?: string }) => {
    await run((await import("../../services/Findings.js")).list(Flags.api(flags), await Flags.ui(flags), { all: flags.all, ...(flags.request === undefined ? {} : { requestId: flags.request }) }))
  })
)
