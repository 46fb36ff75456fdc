import { Command } from "commander"
import * as Flags from "../../Flags.js"
import { action, run } from "../../Run.js"

interface AddFlags extends Flags.ClientFlags {
  name: string
  kind: string
  adapterConfig: string
  credential: ReadonlyArray<string>
  contact?: string
  rps?: string
  burst?: string
  maxConcurrency?: string
  timeoutMs?: string
}

export const command = Flags.client(
  new Command("add")
    .description("Register a seller (it starts pending until an operator activates it; its API key is shown once).")
    .requiredOption("--name <name>", "the seller's name")
    .option("--kind <kind>", "adapter kind (reference, shelfwise, woocommerce, shopify, ebay, abebooks)", "reference")
    .requiredOption("--adapter-config <json>", "the adapter's config as JSON")
    .option("--credential <name=value>", "a credential the adapter needs (repeatable)", Flags.collect, [])
    .option("--contact <email>", "who to contact about this seller")
    .option("--rps <n>", "requests per second bookbroker may send")
    .option("--burst <n>", "burst above the rate")
    .option("--max-concurrency <n>", "calls in flight at most")
    .option("--timeout-ms <n>", "per-call timeout")
).addHelpText(
  "after",
  Flags.examples(`bookbroker sellers add --name "Paper Moon" --adapter-config '{"baseUrl":"https://api.papermoon.example","currency":"EUR","mode":"hold"}' --credential apiKey=pm_live_…`)
)

command.action(
  action(async (flags: AddFlags) => {
    await run(
      (await import("../../services/Sellers.js")).add(Flags.api(flags), await Flags.ui(flags), {
        name: flags.name,
        kind: flags.kind,
        config: flags.adapterConfig,
        credentials: flags.credential,
        ...(flags.contact === undefined ? {} : { contact: flags.contact }),
        ...(flags.rps === undefined ? {} : { requestsPerSecond: flags.rps }),
        ...(flags.burst === undefined ? {} : { burst: flags.burst }),
        ...(flags.maxConcurrency === undefined ? {} : { maxConcurrency: flags.maxConcurrency }),
        ...(flags.timeoutMs === undefined ? {} : { timeoutMillis: flags.timeoutMs })
      })
    )
  })
)
