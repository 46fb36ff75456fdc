import { Command } from "commander"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"

export const command = Flags.client(
  new Command("dashboard")
    .description("A live view for operators (operator token): intake and completion rates, outcomes, queue depth, seller health (circuits, rate use, p50/p99 latency).")
    .option("--once", "show one frame (two scrapes an interval apart) and exit", false)
    .option("--interval <seconds>", "refresh interval", "1")
).addHelpText("after", Flags.examples("bookbroker dashboard", "bookbroker dashboard --once", "bookbroker dashboard --once --json | jq .outcomes"))

command.action(
  action(async (flags: Flags.ClientFlags & { once: boolean; interval: string }) => {
    const seconds = Number(flags.interval)
    await run(
      (await import("../services/Dashboard.js")).dashboard(Flags.api(flags), await Flags.ui(flags), {
        once: flags.once,
        intervalMillis: Number.isFinite(seconds) && seconds >= 0.1 ? seconds * 1000 : 1000
      })
    )
  })
)
