import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Effect } from "effect"
import { firstPurchase } from "./FirstPurchase.js"

const maxTotal = Money.make(2100, "EUR")
const outcome = await Effect.runPromise(firstPurchase(maxTotal))

console.log(`\nbookbroker SDK walkthrough — buying ISBN ${Isbn.hyphenate(outcome.isbn)} for at most ${Money.format(maxTotal)}\n`)
console.log("offers, cheapest total first:")
for (const offer of outcome.offers) console.log(`  ${offer.seller.padEnd(12)} ${Money.format(offer.total).padStart(8)}`)
console.log("\nskipped:")
for (const skip of outcome.skipped) console.log(`  ${skip.seller.padEnd(12)} ${skip.why}`)
console.log(
  outcome.bought === undefined
    ? "\nnot bought: no offer within the maximum"
    : `\nbought from ${outcome.bought.seller} for ${Money.format(outcome.bought.total)} (order ${outcome.bought.orderId})\n`
)
