import { Command } from "commander"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"
import type { SearchFlags } from "../services/Search.js"

export const command = Flags.client(
  new Command("search")
    .description("Find books by title, author, publisher or ISBN, each with its best current offer from the sellers' feeds.")
    .argument("<words...>", "words of the title, author or publisher (typos are forgiven), or an ISBN")
    .option("--currency <code>", "ISO 4217 currency of the offers", "EUR")
    .option("--condition <grade>", "this condition or better: new, like_new, very_good, good, acceptable")
    .option("--in-stock", "only books with a current offer")
    .option("--max <price>", "only books whose best offer (with shipping) is at most this")
    .option("--sort <order>", "relevance or price", "relevance")
    .option("--limit <n>", "books per page (1–50)", "20")
    .option("--cursor <cursor>", "the next page (printed under a full page)")
).addHelpText("after", Flags.examples('bookbroker search "dune herbert"', "bookbroker search le guin --in-stock --sort price", "bookbroker search 978-0-441-17271-9 --json"))

command.action(
  action(async (words: ReadonlyArray<string>, flags: Flags.ClientFlags & SearchFlags) => {
    const { search } = await import("../services/Search.js")
    await run(search(Flags.api(flags), await Flags.ui(flags), { words, ...flags }))
  })
)
