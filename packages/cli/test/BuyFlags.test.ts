/**
 * `buy`'s `--wait <duration>` and `--no-wait` share one commander option value; whichever came
 * last used to drop the other without a word (`--wait 14d --no-wait` placed no want).
 */
import { describe, expect, it, vi } from "vitest"

/** The flags `buy` reads for these arguments (a fresh command each time: commander keeps values between parses). */
const parsed = async (args: ReadonlyArray<string>) => {
  vi.resetModules()
  const { command, waiting } = await import("../src/commands/buy.js")
  command.parseOptions([...args])
  return waiting(command.opts())
}

describe("buy --wait / --no-wait", () => {
  it("a want is placed and not followed with both, in either order", async () => {
    expect(await parsed(["--wait", "14d", "--no-wait"])).toEqual({ follow: false, waitFor: "14d" })
    expect(await parsed(["--no-wait", "--wait", "14d"])).toEqual({ follow: false, waitFor: "14d" })
  })

  it("each alone means what it always did", async () => {
    expect(await parsed(["--wait", "36h"])).toEqual({ follow: true, waitFor: "36h" })
    expect(await parsed(["--no-wait"])).toEqual({ follow: false })
    expect(await parsed([])).toEqual({ follow: true })
  })
})
