import { Command } from "commander"
import { randomUUID } from "node:crypto"
import type { EventEmitter } from "node:events"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"
import { demoCustomer } from "../DemoCustomer.js"

interface BuyFlags extends Flags.ClientFlags {
  max: string
  currency: string
  /** false with --no-wait; a duration with --wait <duration> (a want). */
  wait?: boolean | string
  /** The duration of a `--wait <duration>` that a later `--no-wait` replaced in `wait`. */
  waitFor?: string
  /** false when a `--no-wait` came before a `--wait <duration>` (which replaced it in `wait`). */
  follow?: boolean
  idempotencyKey?: string
  paymentToken: string
  name: string
  email: string
  line1: string
  line2?: string
  city: string
  postalCode?: string
  country: string
  notifyUrl?: string
  answerWithin?: string
  timeout: string
}

const demo = demoCustomer

export const command = Flags.client(
  new Command("buy")
    .description("Buy a book at the best price within your maximum, showing the sellers, offers and attempts live.")
    .argument("<isbn>", "ISBN-10 or ISBN-13 (hyphens allowed)")
    .requiredOption("--max <price>", "the most you will pay, book and shipping, e.g. 30.00")
    .option("--currency <code>", "ISO 4217 currency of --max", "EUR")
    .option("--wait <duration>", "if nothing is offered within --max now, watch for a copy this long (e.g. 14d, 36h; at most 30d): no money is held meanwhile, and it is bought when one is listed")
    .option("--no-wait", "print the request id and return without following it (with --wait <duration>: the want is placed, not followed)")
    .option("--idempotency-key <key>", "reuse to retry safely (default: a new random key per run)")
    .option("--payment-token <token>", "payment method token (sandbox: tok_approve, tok_decline, …)", "tok_approve")
    .option("--name <name>", "customer name", demo.name)
    .option("--email <email>", "customer email", demo.email)
    .option("--line1 <text>", "shipping address line 1", demo.shippingAddress.line1)
    .option("--line2 <text>", "shipping address line 2")
    .option("--city <city>", "shipping city", demo.shippingAddress.city)
    .option("--postal-code <code>", "shipping postal code", demo.shippingAddress.postalCode)
    .option("--country <code>", "shipping country (ISO 3166-1 alpha-2)", demo.shippingAddress.country)
    .option("--notify-url <url>", "webhook to call when the request ends")
    .option("--answer-within <seconds>", "how long you will wait for a true answer while sellers are busy (5–86400; server default 60)")
    .option("--timeout <seconds>", "stop following after this many seconds (the purchase goes on)", "120")
).addHelpText(
  "after",
  Flags.examples(
    "bookbroker buy 9784554076995 --max 30.00",
    "bookbroker buy 978-4-554-07699-5 --max 30 --json",
    "bookbroker buy 9784554076995 --max 12 --no-wait",
    "bookbroker buy 9784554076995 --max 20 --wait 14d"
  ) +
    "\nExit codes: 0 purchased, 2 price_not_met (see the counter-offer), 3 not_available, 4 failed, 5 sellers_busy (try again later), 6 watching (--wait: nothing within --max yet; see bookbroker requests list --watching), 1 bad input or no server.\n"
)

// `--wait <duration>` and `--no-wait` share commander's `wait`: whichever came last would drop the
// other without a word (`--wait 14d --no-wait` placed no want). Each is kept apart before it is
// replaced, so the two together place a want and return at once, in either order.
// (A commander command is a node EventEmitter; its typings leave `prependListener` out.)
const events = command as unknown as EventEmitter
events.prependListener("option:no-wait", () => {
  const duration: unknown = command.getOptionValue("wait")
  if (typeof duration === "string") command.setOptionValue("waitFor", duration)
})
events.prependListener("option:wait", () => {
  if (command.getOptionValue("wait") === false) command.setOptionValue("follow", false)
})

/** What `--wait` / `--no-wait` asked, whichever order they came in. */
export const waiting = (flags: Pick<BuyFlags, "wait" | "waitFor" | "follow">): { readonly follow: boolean; readonly waitFor?: string } => {
  const waitFor = typeof flags.wait === "string" ? flags.wait : flags.waitFor
  return { follow: flags.wait !== false && flags.follow !== false, ...(waitFor === undefined ? {} : { waitFor }) }
}

command.action(
  action(async (isbn: string, flags: BuyFlags) => {
    const timeout = Number(flags.timeout)
    const { follow, waitFor } = waiting(flags)
    const result = await run(
      (await import("../services/Buy.js")).buy(Flags.api(flags), await Flags.ui(flags), {
        isbn,
        max: flags.max,
        currency: flags.currency,
        paymentToken: flags.paymentToken,
        customer: {
          name: flags.name,
          email: flags.email,
          shippingAddress: {
            line1: flags.line1,
            ...(flags.line2 === undefined ? {} : { line2: flags.line2 }),
            city: flags.city,
            ...(flags.postalCode === undefined ? {} : { postalCode: flags.postalCode }),
            country: flags.country.toUpperCase()
          }
        },
        idempotencyKey: flags.idempotencyKey ?? randomUUID(),
        wait: follow,
        ...(waitFor === undefined ? {} : { waitFor }),
        ...(flags.notifyUrl === undefined ? {} : { notifyUrl: flags.notifyUrl }),
        ...(flags.answerWithin === undefined ? {} : { answerWithin: flags.answerWithin }),
        ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMillis: timeout * 1000 } : {})
      })
    )
    process.exitCode = result.exitCode
  })
)
