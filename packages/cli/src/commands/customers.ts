import { Command } from "commander"
import { examples } from "../Flags.js"
import * as add from "./customers/add.js"
import * as list from "./customers/list.js"
import * as newKey from "./customers/new-key.js"
import * as revokeKey from "./customers/revoke-key.js"

export const command = new Command("customers")
  .description("Create and list customers, revoke and replace their API keys (operator).")
  .addCommand(add.command)
  .addCommand(list.command)
  .addCommand(revokeKey.command)
  .addCommand(newKey.command)
  .addHelpText(
    "after",
    examples('bookbroker customers add --name "Ada Lovelace" --email ada@example.com', "bookbroker customers list", "bookbroker customers revoke-key <id>", "bookbroker customers new-key <id>")
  )
