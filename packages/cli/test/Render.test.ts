import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Text as InkText } from "ink"
import { PassThrough } from "node:stream"
import { createElement } from "react"
import * as Render from "../src/ui/Render.js"
import { tableView } from "../src/ui/Table.js"

const log: Render.View<{ readonly lines: ReadonlyArray<string> }> = { component: () => null, lines: (props) => props.lines, plain: "log" }
const frames: Render.View<{ readonly n: number }> = { component: () => null, lines: (props) => [`frame ${props.n}`, "body"], plain: "frame" }

const stream = () => {
  const output = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number }
  let text = ""
  output.on("data", (chunk: Buffer) => (text += chunk.toString()))
  return { output: output as unknown as NodeJS.WriteStream, text: () => text }
}

describe("Render", () => {
  it.effect("plain live views in log mode print each new line once", () =>
    Effect.gen(function* () {
      const ui = Render.capture()
      const live = ui.live(log, { lines: ["a"] })
      live.update({ lines: ["a", "b"] })
      live.update({ lines: ["a", "b"] })
      yield* live.done({ lines: ["a", "b", "c"] })
      expect(ui.stdout).toEqual(["a", "b", "c"])
    })
  )

  it.effect("plain live views in frame mode print changed frames", () =>
    Effect.gen(function* () {
      const ui = Render.capture()
      const live = ui.live(frames, { n: 1 })
      live.update({ n: 1 })
      live.update({ n: 2 })
      yield* live.done({ n: 2 })
      expect(ui.stdout).toEqual(["frame 1", "body", "", "frame 2", "body"])
    })
  )

  it.effect("--json: views print nothing, data prints as JSON", () =>
    Effect.gen(function* () {
      const ui = Render.capture({ json: true })
      ui.show(tableView, { headers: ["a"], rows: [["1"]] })
      ui.print("text")
      const live = ui.live(log, { lines: ["x"] })
      yield* live.done({ lines: ["x", "y"] })
      ui.result({ ok: true }, tableView, { headers: ["a"], rows: [] })
      expect(ui.stdout).toEqual(["{", '  "ok": true', "}"])
      expect(ui.values).toEqual([{ ok: true }])
    })
  )

  it.effect("make: a pipe gets plain lines; a terminal gets ink", () =>
    Effect.gen(function* () {
      const pipe = stream()
      const plain = Render.make({ streams: { stdout: pipe.output, stderr: stream().output } })
      expect(plain.interactive).toBe(false)
      plain.show(tableView, { headers: ["seller", "total"], rows: [["paper-moon", "€12.50"]] })
      expect(pipe.text()).toBe("seller       total\npaper-moon  €12.50\n")

      const tty = stream()
      const ink = Render.make({ interactive: true, streams: { stdout: tty.output, stderr: stream().output } })
      expect(ink.interactive).toBe(true)
      const view: Render.View<{ readonly n: number }> = { component: (props) => createElement(InkText, null, `count ${props.n}`), lines: () => [] }
      const live = ink.live(view, { n: 1 })
      live.update({ n: 2 })
      yield* live.done({ n: 3 })
      expect(tty.text()).toContain("count 3")
    })
  )
})
