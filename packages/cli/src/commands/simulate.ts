import { Command } from "commander"
import * as Flags from "../Flags.js"
import { action, run } from "../Run.js"

export const command = Flags.client(
  new Command("simulate")
    .description("Drive a load of purchase requests through a running server (on 127.0.0.1) against simulated sellers it starts, and summarise.")
    .option("--sellers <n>", "simulated sellers to start and register (1–50)", "5")
    .option("--rate <r>", "purchase requests per second", "5")
    .option("--duration <d>", "how long to submit: 10, 10s, 1m (at most 10m)", "10s")
    .option("--wait <seconds>", "how long to wait for the last requests to end", "60")
    .option("--seed <n>", "random seed, to replay a run")
).addHelpText("after", Flags.examples("bookbroker simulate --sellers 10 --rate 5 --duration 30s", "bookbroker simulate --sellers 2 --rate 5 --duration 2 --json"))

command.action(
  action(async (flags: Flags.ClientFlags & { sellers: string; rate: string; duration: string; wait: string; seed?: string }) => {
    const wait = Number(flags.wait)
    const seed = flags.seed === undefined ? undefined : Number(flags.seed)
    await run(
      (await import("../services/Simulate.js")).simulate(Flags.api(flags), await Flags.ui(flags), {
        sellers: flags.sellers,
        rate: flags.rate,
        duration: flags.duration,
        ...(Number.isFinite(wait) && wait > 0 ? { waitMillis: wait * 1000 } : {}),
        ...(seed !== undefined && Number.isInteger(seed) ? { seed } : {})
      })
    )
  })
)
