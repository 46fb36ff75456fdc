/**
 * The one way commands put things on the terminal. A view is an ink component plus the same
 * content as plain lines: on an interactive terminal the component is rendered with ink (live
 * views update in place); when stdout is not a TTY the plain lines are printed instead; with
 * `--json` views print nothing and the command prints its data as JSON. Services get a `Ui`
 * and never write to the terminal themselves, so tests hand them `capture()`.
 */
import { Effect } from "effect"
import { render, renderToString, type Instance } from "ink"
import { createElement, type FunctionComponent } from "react"

export interface View<P> {
  readonly component: FunctionComponent<P>
  /** The same content as plain text lines (no colour), for pipes, logs and CI. */
  readonly lines: (props: P) => ReadonlyArray<string>
  /**
   * How a live view prints without a TTY: `log` prints each new line once (the lines only grow);
   * `frame` prints the whole frame each update, separated by a blank line. Default `log`.
   */
  readonly plain?: "log" | "frame"
}

export interface Live<P> {
  readonly update: (props: P) => void
  /** Shows the final state and stops updating (ink leaves the last frame on screen). */
  readonly done: (props: P) => Effect.Effect<void>
}

export interface Ui {
  /** `--json`: data only, as JSON on stdout. */
  readonly json: boolean
  /** ink is in use (stdout is a terminal and not --json). */
  readonly interactive: boolean
  /** Text on stdout (nothing in --json mode). */
  readonly print: (text: string) => void
  /** Notes and warnings on stderr (in every mode: they never mix with JSON on stdout). */
  readonly note: (text: string) => void
  /** A value as pretty JSON on stdout (`line`: on one line, for streams of values). */
  readonly printJson: (value: unknown, options?: { readonly line?: boolean }) => void
  /** A static view (nothing in --json mode). */
  readonly show: <P>(view: View<P>, props: P) => void
  /** A view updated in place (nothing in --json mode). */
  readonly live: <P>(view: View<P>, props: P) => Live<P>
  /** The data in --json mode, otherwise the view. */
  readonly result: <P>(value: unknown, view: View<P>, props: P) => void
}

interface Streams {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

const plainLive = <P>(view: View<P>, props: P, write: (text: string) => void): Live<P> => {
  let printed = 0
  let last: ReadonlyArray<string> = []
  const flush = (next: P, final: boolean) => {
    const lines = view.lines(next)
    if ((view.plain ?? "log") === "log") {
      for (const line of lines.slice(printed)) write(`${line}\n`)
      printed = Math.max(printed, lines.length)
    } else if (final || lines.join("\n") !== last.join("\n")) {
      write(`${printed > 0 ? "\n" : ""}${lines.join("\n")}\n`)
      printed++
    }
    last = lines
  }
  flush(props, false)
  return {
    update: (next) => flush(next, false),
    done: (next) =>
      Effect.sync(() => {
        if ((view.plain ?? "log") === "frame" && view.lines(next).join("\n") === last.join("\n") && printed > 0) return
        flush(next, true)
      })
  }
}

const inkLive = <P>(view: View<P>, props: P, streams: Streams): Live<P> => {
  const element = (next: P) => createElement(view.component as FunctionComponent<object>, next as object)
  const instance: Instance = render(element(props), { stdout: streams.stdout, stderr: streams.stderr, patchConsole: false, exitOnCtrlC: false })
  let finished = false
  return {
    update: (next) => {
      if (!finished) instance.rerender(element(next))
    },
    done: (next) =>
      Effect.promise(async () => {
        if (finished) return
        finished = true
        instance.rerender(element(next))
        instance.unmount()
        await instance.waitUntilExit().catch(() => undefined)
      })
  }
}

/** The terminal's Ui: ink when stdout is a terminal, plain lines otherwise, JSON with `json`. */
export const make = (options: { readonly json?: boolean; readonly interactive?: boolean; readonly streams?: Streams } = {}): Ui => {
  const streams = options.streams ?? { stdout: process.stdout, stderr: process.stderr }
  const json = options.json === true
  const interactive = !json && (options.interactive ?? (streams.stdout.isTTY === true && process.env["TERM"] !== "dumb" && process.env["CI"] === undefined))
  const write = (text: string) => void streams.stdout.write(text)
  const ui: Ui = {
    json,
    interactive,
    print: (text) => {
      if (!json) write(text.endsWith("\n") ? text : `${text}\n`)
    },
    note: (text) => void streams.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    printJson: (value, options) => write(`${options?.line === true ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`),
    show: (view, props) => {
      if (json) return
      if (interactive) {
        const text = renderToString(createElement(view.component as FunctionComponent<object>, props as object), { columns: streams.stdout.columns ?? 100 })
        write(`${text}\n`)
      } else {
        for (const line of view.lines(props)) write(`${line}\n`)
      }
    },
    live: (view, props) => {
      if (json) return { update: () => undefined, done: () => Effect.void }
      return interactive ? inkLive(view, props, streams) : plainLive(view, props, write)
    },
    result: (value, view, props) => (json ? ui.printJson(value) : ui.show(view, props))
  }
  return ui
}

/** A Ui that records instead of printing (plain lines, or JSON values with `json`), for tests. */
export interface Captured extends Ui {
  readonly stdout: Array<string>
  readonly stderr: Array<string>
  readonly values: Array<unknown>
  /** stdout joined. */
  readonly text: () => string
}

export const capture = (options: { readonly json?: boolean } = {}): Captured => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const values: Array<unknown> = []
  const json = options.json === true
  const write = (text: string) => void stdout.push(...text.replace(/\n$/, "").split("\n"))
  const ui: Captured = {
    json,
    interactive: false,
    stdout,
    stderr,
    values,
    text: () => stdout.join("\n"),
    print: (text) => {
      if (!json) write(text)
    },
    note: (text) => void stderr.push(text.replace(/\n$/, "")),
    printJson: (value, options) => {
      values.push(JSON.parse(JSON.stringify(value)))
      write(options?.line === true ? JSON.stringify(value) : JSON.stringify(value, null, 2))
    },
    show: (view, props) => {
      if (!json) for (const line of view.lines(props)) write(line)
    },
    live: (view, props) => (json ? { update: () => undefined, done: () => Effect.void } : plainLive(view, props, write)),
    result: (value, view, props) => (json ? ui.printJson(value) : ui.show(view, props))
  }
  return ui
}
