import { Command } from "commander"
import { examples } from "../Flags.js"
import * as list from "./findings/list.js"
import * as settle from "./findings/settle.js"

export const command = new Command("findings")
  .description("What needs a person: seller orders nobody confirmed, purchases nobody can confirm, money that disagrees with the provider (operator).")
  .addCommand(list.command)
  .addCommand(settle.command)
  .addHelpText("after", examples("bookbroker findings list", 'bookbroker findings settle <request> <kind> --note "what you did"'))
