/**
 * Flags every client command shares (where the API is and how to authenticate, `--json`) and
 * how they become an `Api` and a `Ui`: flags > environment > config file > the demo file.
 */
import type { Command } from "commander"
import * as Api from "./Api.js"
import { clientConfig } from "./Config.js"
// Type only: the UI (ink, React) loads when a command renders, not for every command (`serve` never does).
import type * as Render from "./ui/Render.js"

export interface ClientFlags {
  readonly url?: string
  readonly apiKey?: string
  readonly operatorToken?: string
  readonly config?: string
  readonly json?: boolean
}

/** Adds `--url`, `--api-key`, `--operator-token`, `--config` and (for data) `--json`. */
export const client = (command: Command, options: { readonly json?: boolean } = { json: true }): Command => {
  command
    .option("--url <url>", "the bookbroker API (BOOKBROKER_URL; default the demo's, else http://127.0.0.1:8080)")
    .option("--api-key <key>", "customer API key (BOOKBROKER_API_KEY; default the demo customer's)")
    .option("--operator-token <token>", "operator token (BOOKBROKER_OPERATOR_TOKEN; default the demo's)")
    .option("--config <file>", "config file (default .bookbroker/config.json)")
  if (options.json !== false) command.option("--json", "print the result as JSON", false)
  return command
}

export const api = (flags: ClientFlags): Api.Api =>
  Api.make(
    clientConfig({
      ...(flags.url === undefined ? {} : { url: flags.url }),
      ...(flags.apiKey === undefined ? {} : { apiKey: flags.apiKey }),
      ...(flags.operatorToken === undefined ? {} : { operatorToken: flags.operatorToken }),
      ...(flags.config === undefined ? {} : { config: flags.config })
    })
  )

export const ui = async (flags: { readonly json?: boolean }): Promise<Render.Ui> => (await import("./ui/Render.js")).make({ json: flags.json === true })

export { collect, examples } from "./Help.js"
