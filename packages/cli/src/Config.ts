/**
 * Configuration for every command: flags first, then environment variables, then the config
 * file (`.bookbroker/config.json` in the working directory, or `--config`), then defaults. The
 * demo file (`.bookbroker/demo.json`) supplies the customer key and base URL when none is given.
 */
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fail } from "./CliError.js"

export interface FileConfig {
  readonly port?: number
  readonly host?: string
  readonly base_url?: string
  readonly api_key?: string
  readonly operator_token?: string
  readonly seller_key?: string
  readonly database_url?: string
  readonly redis_url?: string
  /** A file or URL of exchange rates (the ECB's eurofxref XML, or JSON). */
  readonly exchange_rates?: string
  readonly exchange_margin_percent?: number
  readonly data_dir?: string
}

export interface DemoFile {
  readonly customer_key: string
  readonly operator_token: string
  readonly base_url: string
  readonly isbns: ReadonlyArray<string>
}

export const defaultDataDir = ".bookbroker"

export const dataDir = (flag?: string): string => resolve(flag ?? process.env["BOOKBROKER_DATA_DIR"] ?? readConfigFile().data_dir ?? defaultDataDir)

export const readConfigFile = (path?: string): FileConfig => {
  const file = path ?? join(process.env["BOOKBROKER_DATA_DIR"] ?? defaultDataDir, "config.json")
  if (!existsSync(file)) {
    if (path !== undefined) throw fail(`config file ${path} does not exist`)
    return {}
  }
  try {
    return JSON.parse(readFileSync(file, "utf8")) as FileConfig
  } catch (error) {
    throw fail(`config file ${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

export const readDemoFile = (dir = dataDir()): DemoFile | undefined => {
  const file = join(dir, "demo.json")
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DemoFile
  } catch {
    return undefined
  }
}

/** The first defined value: flag, environment, config file, default. */
export const pick = <A>(...values: ReadonlyArray<A | undefined>): A | undefined => values.find((value) => value !== undefined && value !== "")

export interface ClientConfig {
  readonly baseUrl: string
  readonly apiKey: string | undefined
  readonly operatorToken: string | undefined
  /** A seller's own API key, for the seller's commands (`sellers inventory`). */
  readonly sellerKey?: string | undefined
}

/** Where the API is and how to call it, for the client commands. */
export const clientConfig = (flags: {
  readonly url?: string
  readonly apiKey?: string
  readonly operatorToken?: string
  readonly sellerKey?: string
  readonly config?: string
}): ClientConfig => {
  const file = readConfigFile(flags.config)
  const demo = readDemoFile()
  return {
    baseUrl: pick(flags.url, process.env["BOOKBROKER_URL"], file.base_url, demo?.base_url, "http://127.0.0.1:8080")!.replace(/\/$/, ""),
    apiKey: pick(flags.apiKey, process.env["BOOKBROKER_API_KEY"], file.api_key, demo?.customer_key),
    operatorToken: pick(flags.operatorToken, process.env["BOOKBROKER_OPERATOR_TOKEN"], file.operator_token, demo?.operator_token),
    // No demo fallback: the demo's sellers are simulated, none of them uploads inventory.
    sellerKey: pick(flags.sellerKey, process.env["BOOKBROKER_SELLER_KEY"], file.seller_key)
  }
}
