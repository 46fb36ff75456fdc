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

/** Why `text` is refused, or `undefined` when it is fine. */
export const problemWith = (text: string): string | undefined => {
  if (text.includes("\u0000")) return "contains a NUL character"
  if (control.test(text)) return "contains a control character"
  if (loneSurrogate.test(text)) return "contains an unpaired UTF-16 surrogate (not valid Unicode text)"
  return undefined
}

/** `~` and `/` escaped, as RFC 6901 says. */
const escapePointer = (segment: string): string => segment.replaceAll("~", "~0").replaceAll("/", "~1")

/**
 * The offending places in a parsed JSON body, as JSON pointers (`/customer/name`): strings and
 * keys that `problemWith` refuses, and nesting deeper than `maxDepth`. Empty when it is clean.
 * Iterative, so a hostile depth cannot exhaust the stack.
 */
export const checkJson = (value: unknown): ReadonlyArray<FieldError> => {
  const errors: Array<FieldError> = []
  const stack: Array<{ readonly value: unknown; readonly pointer: string; readonly depth: number }> = [{ value, pointer: "", depth: 0 }]
  while (stack.length > 0 && errors.length < maxErrors) {
    const { value: current, pointer, depth } = stack.pop()!
    if (typeof current === "string") {
      const problem = problemWith(current)
      if (problem !== undefined) errors.push({ pointer: pointer || "/", detail: problem })
      continue
    }
    if (typeof current !== "object" || current === null) continue
    if (depth >= maxDepth) {
      errors.push({ pointer: pointer || "/", detail: `nested deeper than ${maxDepth} levels` })
      continue
    }
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) stack.push({ value: current[index], pointer: `${pointer}/${index}`, depth: depth + 1 })
      continue
    }
    const entries = Object.entries(current as Record<string, unknown>)
    for (let index = entries.length - 1; index >= 0; index--) {
      const [key, child] = entries[index]!
      const keyProblem = problemWith(key)
      const childPointer = `${pointer}/${escapePointer(key)}`
      if (keyProblem !== undefined) {
        errors.push({ pointer: childPointer, detail: `the key ${keyProblem}` })
        continue
      }
      stack.push({ value: child, pointer: childPointer, depth: depth + 1 })
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
