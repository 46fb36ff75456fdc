import { Command } from "commander"
import { examples } from "../Flags.js"
import * as activate from "./sellers/activate.js"
import * as add from "./sellers/add.js"
import * as disable from "./sellers/disable.js"
import * as health from "./sellers/health.js"
import * as inventory from "./sellers/inventory.js"
import * as list from "./sellers/list.js"
import * as show from "./sellers/show.js"

export const command = new Command("sellers")
  .description("Register sellers and manage the directory: add, list, show, activate, disable, health; a seller's own inventory feed: inventory.")
  .addCommand(add.command)
  .addCommand(list.command)
  .addCommand(show.command)
  .addCommand(activate.command)
  .addCommand(disable.command)
  .addCommand(health.command)
  .addCommand(inventory.command)
  .addHelpText("after", examples("bookbroker sellers list --status pending", "bookbroker sellers activate <id>", "bookbroker sellers health", "bookbroker sellers inventory upload inventory.tsv --snapshot"))
