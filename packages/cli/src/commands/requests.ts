import { Command } from "commander"
import { examples } from "../Flags.js"
import * as accept from "./requests/accept.js"
import * as cancel from "./requests/cancel.js"
import * as list from "./requests/list.js"
import * as retry from "./requests/retry.js"
import * as show from "./requests/show.js"

export const command = new Command("requests")
  .description("Purchase requests: list, show, accept a counter-offer, cancel a watching want, retry (operator).")
  .addCommand(list.command)
  .addCommand(show.command)
  .addCommand(accept.command)
  .addCommand(cancel.command)
  .addCommand(retry.command)
  .addHelpText("after", examples("bookbroker requests list", "bookbroker requests show <id>", "bookbroker requests accept <id>"))
