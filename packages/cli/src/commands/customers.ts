import { Command } from "commander"
import { examples } from "../Flags.js"
import * as add from "./customers/add.js"
import * as list from "./customers/list.js"

export const command = new Command("customers")
  .description("Create and list customers (operator).")
  .addCommand(add.command)
  .addCommand(list.command)
  .addHelpText("after", examples('bookbroker customers add --name "Ada Lovelace" --email ada@example.com', "bookbroker customers list"))
