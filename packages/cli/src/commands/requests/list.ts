import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

export const command = Flags.client(
  new Command("list")
    .description("List your purchase requests, newest first (everyone's with --operator).")
    .option("--status <status>", "only requests in this status (e.g. price_not_met)")
    .option("--watching", "only your wants still watching for a copy (buy --wait)", false)
    .option("--limit <n>", "at most this many (1–100)")
    .option("--cursor <cursor>", "the next page (printed under the list)")
    .option("--operator", "every customer's requests (operator token)", false)
    .option("--stuck", "only requests a person has to look at: an order nobody can confirm, repeated internal errors (with --operator)", false)
).addHelpText(
  "after",
  Flags.examples("bookbroker requests list", "bookbroker requests list --watching", "bookbroker requests list --status price_not_met --json", "bookbroker requests list --operator --status failed", "bookbroker requests list --operator --stuck")
)

command.action(
  action(async (flags: Flags.ClientFlags & { status?: string; watching: boolean; limit?: string; cursor?: string; operator: boolean; stuck: boolean }) => {
    await run(
      (await import("../../services/Requests.js")).list(Flags.api(flags), await Flags.ui(flags), {
        operator: flags.operator,
        stuck: flags.stuck,
        watching: flags.watching,
        ...(flags.status === undefined ? {} : { status: flags.status }),
        ...(flags.limit === undefined ? {} : { limit: flags.limit }),
        ...(flags.cursor === undefined ? {} : { cursor: flags.cursor })
      })
    )
  })
)
