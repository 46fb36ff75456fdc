import { Command } from "commander"
import { clientConfig } from "../Config.js"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"

export const command = Flags.client(
  new Command("doctor").description("Check the API, its database and Redis, the payment provider, the customer key and the sellers; say what to fix.")
).addHelpText("after", Flags.examples("bookbroker doctor", "bookbroker doctor --url http://127.0.0.1:8080 --operator-token bb_op_…") + "\nExit code 1 when anything is wrong.\n")

command.action(
  action(async (flags: Flags.ClientFlags) => {
    const config = clientConfig({ ...flags })
    const result = await run((await import("../services/Doctor.js")).doctor(Flags.api(flags), await Flags.ui(flags), { hasApiKey: config.apiKey !== undefined, hasOperatorToken: config.operatorToken !== undefined }))
    if (!result.ok) process.exitCode = 1
  })
)
