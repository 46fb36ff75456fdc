/**
 * `bookbroker sellers inventory upload|status|settings`: what a seller does with its own API key
 * (not the operator's token, not a customer's key), so these commands take `--seller-key`
 * instead of the flags every other client command shares.
 */
import { Command, Option } from "commander"
import * as Api from "../../Api.js"
import { clientConfig } from "../../Config.js"
import { examples } from "../../Help.js"
import { action, run } from "../../Run.js"

interface SellerFlags {
  readonly url?: string
  readonly sellerKey?: string
  readonly config?: string
  readonly json?: boolean
}

const sellerClient = (command: Command): Command =>
  command
    .option("--url <url>", "the bookbroker API (BOOKBROKER_URL; default the demo's, else http://127.0.0.1:8080)")
    .option("--seller-key <key>", "your seller API key, shown once when you registered (BOOKBROKER_SELLER_KEY, or seller_key in the config file)")
    .option("--config <file>", "config file (default .bookbroker/config.json)")
    .option("--json", "print the result as JSON", false)

const api = (flags: SellerFlags): Api.Api =>
  Api.make(
    clientConfig({
      ...(flags.url === undefined ? {} : { url: flags.url }),
      ...(flags.sellerKey === undefined ? {} : { sellerKey: flags.sellerKey }),
      ...(flags.config === undefined ? {} : { config: flags.config })
    })
  )

const ui = async (flags: SellerFlags) => (await import("../../ui/Render.js")).make({ json: flags.json === true })
const service = () => import("../../services/Inventory.js")

interface UploadFlags extends SellerFlags {
  readonly snapshot?: boolean
  readonly delta?: boolean
  readonly format?: string
  readonly currency?: string
}

const upload = sellerClient(
  new Command("upload")
    .description("Upload your inventory file (streamed; it may be large). Rows that are wrong are skipped and listed; a file that cannot be read is refused whole.")
    .argument("<file>", "tab-separated (.tsv, .txt, .tab: the AbeBooks/Biblio layout), JSON Lines (.jsonl, .ndjson) or ONIX for Books 3.0 (.xml, .onix)")
    .addOption(new Option("--snapshot", "the file is your whole inventory: listings missing from it are retired").conflicts("delta"))
    .addOption(new Option("--delta", "only the listings in the file change (the default)").conflicts("snapshot"))
    .addOption(new Option("--format <format>", "the file's format, whatever its name").choices(["tsv", "jsonl", "onix"]))
    .option("--currency <code>", "the prices' currency when rows do not say (default: your feed's currency)")
).addHelpText(
  "after",
  examples(
    "bookbroker sellers inventory upload inventory.tsv --snapshot",
    "bookbroker sellers inventory upload changes.jsonl --currency EUR",
    "bookbroker sellers inventory upload catalogue.xml --snapshot --currency GBP",
    "bookbroker sellers inventory upload export.csv --format tsv --json"
  ) +
    "\nDefault --delta. Exit code 0 once the file is applied (rejected rows are listed, the rest is applied); 1 when it is refused or cannot be sent.\n"
)

upload.action(
  action(async (file: string, flags: UploadFlags) => {
    await run(
      (await service()).upload(api(flags), await ui(flags), {
        file,
        mode: flags.snapshot === true ? "snapshot" : "delta",
        ...(flags.format === undefined ? {} : { format: flags.format }),
        ...(flags.currency === undefined ? {} : { currency: flags.currency })
      })
    )
  })
)

const status = sellerClient(
  new Command("status")
    .description("Your feed (listings, complete or not, fresh until when, settings) and your last uploads; or one upload and its rejected rows.")
    .argument("[upload-id]", "one upload's id (see the list)")
).addHelpText("after", examples("bookbroker sellers inventory status", "bookbroker sellers inventory status 0b7c3c8e-5a7e-4f0e-9d61-2f4b8f1f4a10 --json"))

status.action(
  action(async (id: string | undefined, flags: SellerFlags) => {
    await run((await service()).status(api(flags), await ui(flags), id === undefined ? {} : { id }))
  })
)

interface SettingsFlags extends SellerFlags {
  readonly trust?: string
  readonly currency?: string
  readonly shipping?: string
  readonly pullUrl?: string
  readonly pullFormat?: string
  readonly pullAdapter?: boolean
  readonly pull?: boolean
  readonly every?: string
}

const settings = sellerClient(
  new Command("settings")
    .description("Set how long your feed is believed after an upload, your prices' currency and your default shipping; without options, show them.")
    .option("--trust <duration>", "how long an upload is believed: 24h, 90m, 2d (from 1m to 30d; default 24h)")
    .option("--currency <code>", "the currency of your prices when a row does not say (ISO 4217)")
    .option("--shipping <amount>", "shipping when a row does not say, a decimal in that currency: 3.50 (0: free)")
    .option("--pull-url <url>", "have bookbroker fetch your inventory file from this URL on a schedule (conditional GET; applied as a snapshot)")
    .option("--pull-format <format>", "how to read the file at --pull-url: tsv, jsonl or onix (default: by the Content-Type it is served with)")
    .option("--pull-adapter", "have bookbroker read your inventory through your platform's adapter, if it can list products")
    .option("--no-pull", "back to uploads: bookbroker fetches nothing")
    .option("--every <duration>", "how often bookbroker fetches (15m at least; default 1h)")
).addHelpText(
  "after",
  examples(
    "bookbroker sellers inventory settings --currency EUR --shipping 3.50 --trust 24h",
    "bookbroker sellers inventory settings --pull-url https://shop.example/inventory.tsv --every 1h",
    "bookbroker sellers inventory settings --pull-url https://shop.example/onix.xml --pull-format onix",
    "bookbroker sellers inventory settings"
  )
)

settings.action(
  action(async (flags: SettingsFlags) => {
    await run(
      (await service()).settings(api(flags), await ui(flags), {
        ...(flags.trust === undefined ? {} : { trust: flags.trust }),
        ...(flags.currency === undefined ? {} : { currency: flags.currency }),
        ...(flags.shipping === undefined ? {} : { shipping: flags.shipping }),
        ...(flags.pullUrl === undefined ? {} : { pullUrl: flags.pullUrl }),
        ...(flags.pullFormat === undefined ? {} : { pullFormat: flags.pullFormat }),
        ...(flags.pullAdapter === true ? { pullAdapter: true } : {}),
        // commander's --no-pull sets `pull` to false (true by default).
        ...(flags.pull === false ? { noPull: true } : {}),
        ...(flags.every === undefined ? {} : { every: flags.every })
      })
    )
  })
)

export const command = new Command("inventory")
  .description("Your inventory feed, as a seller (your seller API key): upload the file, see its status, set its settings.")
  .addCommand(upload)
  .addCommand(status)
  .addCommand(settings)
  .addHelpText(
    "after",
    examples(
      "export BOOKBROKER_SELLER_KEY=bb_sel_…",
      "bookbroker sellers inventory settings --currency EUR --shipping 3.50",
      "bookbroker sellers inventory upload inventory.tsv --snapshot",
      "bookbroker sellers inventory status"
    ) + "\nThe file format: docs/publish-inventory.md\n"
  )
