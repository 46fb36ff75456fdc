/**
 * What text the API accepts, anywhere in a JSON body (keys and values) or a query string: no NUL
 * or other control characters (tab, line feed and carriage return are fine), no lone UTF-16
 * surrogates — PostgreSQL refuses both in `text` and `jsonb`, and a refused row must never reach
 * a statement other customers' rows share (the intake's group commit) — and JSON nested at most
 * `maxDepth` deep. Checked at the edge, before any handler, store or framework sees the input.
 */
import type { FieldError } from "./Problem.js"

/** How deep a body may nest: far above any of the API's own shapes (an adapter's config included). */
export const maxDepth = 32

/** At most this many offending fields are named in one answer. */
const maxErrors = 20

// C0 controls except \t \n \r, and DEL: matching control characters is this rule's whole point.
// eslint-disable-next-line no-control-regex
const control = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

// Every character either rule above could refuse: clean text (nearly all of it) is scanned once.
// eslint-disable-next-line no-control-regex
const suspect = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uD800-\uDFFF]/

/** Why `text` is refused, or `undefined` when it is fine. */
export const problemWith = (text: string): string | undefined => {
  if (!suspect.test(text)) return undefined
  if (text.includes("\u0000")) return "contains a NUL character"
  if (control.test(text)) return "contains a control character"
  if (loneSurrogate.test(text)) return "contains an unpaired UTF-16 surrogate (not valid Unicode text)"
  return undefined
}

/** `~` and `/` escaped, as RFC 6901 says. */
const escapePointer = (segment: string): string => segment.replaceAll("~", "~0").replaceAll("/", "~1")

/** A place in the body being checked; its JSON pointer is only spelled out for an offending one. */
interface Place {
  readonly value: unknown
  readonly parent: Place | undefined
  /** The key or index under the parent. */
  readonly segment: string | number
  readonly depth: number
}

const pointerOf = (place: Place): string => {
  const segments: Array<string> = []
  for (let at: Place | undefined = place; at?.parent !== undefined; at = at.parent) {
    segments.push(typeof at.segment === "string" ? escapePointer(at.segment) : String(at.segment))
  }
  return segments.length === 0 ? "/" : `/${segments.reverse().join("/")}`
}

/**
 * The offending places in a parsed JSON body, as JSON pointers (`/customer/name`): strings and
 * keys that `problemWith` refuses, and nesting deeper than `maxDepth`. Empty when it is clean.
 * Iterative, so a hostile depth cannot exhaust the stack.
 */
export const checkJson = (value: unknown): ReadonlyArray<FieldError> => {
  const errors: Array<FieldError> = []
  const stack: Array<Place> = [{ value, parent: undefined, segment: "", depth: 0 }]
  while (stack.length > 0 && errors.length < maxErrors) {
    const place = stack.pop()!
    const current = place.value
    if (typeof current === "string") {
      const problem = problemWith(current)
      if (problem !== undefined) errors.push({ pointer: pointerOf(place), detail: problem })
      continue
    }
    if (typeof current !== "object" || current === null) continue
    const depth = place.depth
    if (depth >= maxDepth) {
      errors.push({ pointer: pointerOf(place), detail: `nested deeper than ${maxDepth} levels` })
      continue
    }
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) stack.push({ value: current[index], parent: place, segment: index, depth: depth + 1 })
      continue
    }
    const keys = Object.keys(current)
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!
      const child: Place = { value: (current as Record<string, unknown>)[key], parent: place, segment: key, depth: depth + 1 }
      const keyProblem = problemWith(key)
      if (keyProblem !== undefined) {
        errors.push({ pointer: pointerOf(child), detail: `the key ${keyProblem}` })
        continue
      }
      stack.push(child)
    }
  }
  return errors
}

/** The offending query parameters (`query:name`), decoded as the API reads them. */
export const checkQuery = (url: string): ReadonlyArray<FieldError> => {
  const question = url.indexOf("?")
  if (question < 0) return []
  const errors: Array<FieldError> = []
  let params: URLSearchParams
  try {
    params = new URLSearchParams(url.slice(question + 1))
  } catch {
    return [{ pointer: "query", detail: "the query string cannot be read" }]
  }
  for (const [name, value] of params) {
    const problem = problemWith(name) ?? problemWith(value)
    if (problem !== undefined) errors.push({ pointer: `query:${name.replace(control, "?")}`, detail: problem })
    if (errors.length >= maxErrors) break
  }
  return errors
}
