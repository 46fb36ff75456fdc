/**
 * fast-check arbitraries for HTTP requests, derived from an OpenAPI 3.1 document: one request
 * arbitrary per operation (every path and method the document lists, so a new endpoint is fuzzed
 * without touching this file). A request is valid-ish (bodies, parameters and headers generated
 * from the schemas, with hints for fields whose schema says little, e.g. `isbn`) or mutated: wrong
 * types, huge and tiny numbers, NUL, lone surrogates and control characters, deep nesting,
 * `__proto__` / `constructor` keys, duplicate keys (as raw text), broken JSON, odd content types,
 * oversized and chunked bodies, forged ids and cursors in the path and query, other methods, and
 * every credential (none, forged, each principal's key in odd forms).
 */
import * as fc from "fast-check"

// ---------------------------------------------------------------------------------------------
// The document

export interface JsonSchema {
  readonly $ref?: string
  readonly type?: string | ReadonlyArray<string>
  readonly properties?: Readonly<Record<string, JsonSchema>>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: boolean | JsonSchema
  readonly items?: JsonSchema
  readonly enum?: ReadonlyArray<unknown>
  readonly const?: unknown
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly oneOf?: ReadonlyArray<JsonSchema>
  readonly allOf?: ReadonlyArray<JsonSchema>
  readonly minimum?: number
  readonly maximum?: number
  readonly exclusiveMinimum?: number
  readonly exclusiveMaximum?: number
  readonly minLength?: number
  readonly maxLength?: number
  readonly pattern?: string
  readonly minItems?: number
  readonly maxItems?: number
}

export interface Parameter {
  readonly name: string
  readonly in: "path" | "query" | "header" | "cookie"
  readonly required: boolean
  readonly schema: JsonSchema
}

export interface Operation {
  readonly method: string
  /** The path template, `/v1/purchase-requests/{id}`. */
  readonly path: string
  /** `GET /v1/purchase-requests/{id}`. */
  readonly label: string
  readonly parameters: ReadonlyArray<Parameter>
  /** The `application/json` request body's schema, when the operation takes a body. */
  readonly body: JsonSchema | undefined
  readonly secured: boolean
  /** The statuses the document says the operation answers. */
  readonly statuses: ReadonlyArray<number>
}

interface Document {
  readonly paths?: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly components?: { readonly schemas?: Readonly<Record<string, JsonSchema>> }
  readonly security?: ReadonlyArray<unknown>
}

const httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

/** Follows `$ref`s (local ones, `#/...`) until a schema without one. */
const resolver =
  (document: Document) =>
  (schema: JsonSchema | undefined): JsonSchema => {
    let current = schema ?? {}
    for (let hops = 0; current.$ref !== undefined && hops < 32; hops++) {
      const ref = current.$ref
      if (!ref.startsWith("#/")) return {}
      let target: unknown = document
      for (const segment of ref.slice(2).split("/")) target = (target as Record<string, unknown> | undefined)?.[segment.replaceAll("~1", "/").replaceAll("~0", "~")]
      current = (target ?? {}) as JsonSchema
    }
    return current
  }

/** Every operation of the document, with `$ref`s in parameters and bodies resolved lazily (see `Arbitraries`). */
export const operations = (raw: unknown): ReadonlyArray<Operation> => {
  const document = raw as Document
  const resolve = resolver(document)
  const found: Array<Operation> = []
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    const shared = (item["parameters"] ?? []) as ReadonlyArray<JsonSchema & Parameter>
    for (const method of httpMethods) {
      const operation = item[method] as
        | {
            readonly parameters?: ReadonlyArray<JsonSchema & Parameter>
            readonly requestBody?: JsonSchema & { readonly content?: Record<string, { readonly schema?: JsonSchema }> }
            readonly security?: ReadonlyArray<Record<string, unknown>>
            readonly responses?: Record<string, unknown>
          }
        | undefined
      if (operation === undefined) continue
      const parameters = [...shared, ...(operation.parameters ?? [])].map((parameter) => {
        const resolved = resolve(parameter) as unknown as Parameter
        return { name: resolved.name, in: resolved.in, required: resolved.required === true, schema: resolve(resolved.schema) }
      })
      const requestBody = resolve(operation.requestBody) as { readonly content?: Record<string, { readonly schema?: JsonSchema }> }
      const content = requestBody.content ?? {}
      const jsonType = Object.keys(content).find((type) => /json/i.test(type))
      const security = operation.security ?? document.security ?? []
      found.push({
        method: method.toUpperCase(),
        path,
        label: `${method.toUpperCase()} ${path}`,
        parameters,
        body: jsonType === undefined ? undefined : (content[jsonType]?.schema ?? {}),
        secured: security.some((requirement) => Object.keys(requirement as object).length > 0),
        statuses: Object.keys(operation.responses ?? {})
          .map(Number)
          .filter(Number.isFinite)
      })
    }
  }
  return found
}

// ---------------------------------------------------------------------------------------------
// What a request looks like

/** Whom an operation is for, read off its path (the document's security says only "bearer"). */
export type Principal = "none" | "customer" | "seller" | "operator"

export const principalFor = (operation: Operation): Principal =>
  !operation.secured ? "none" : operation.path.startsWith("/v1/operator/") ? "operator" : operation.path.startsWith("/v1/sellers/me") ? "seller" : "customer"

/** How a known key is sent: right, or subtly wrong. */
export type AuthForm = "bearer" | "lowercase-scheme" | "no-scheme" | "double-space" | "trailing-space" | "truncated" | "extended" | "last-char-changed" | "twice" | "basic"

export type Auth =
  | { readonly _tag: "None" }
  /** A credential of the setup by name (its current value is looked up when the request is sent). */
  | { readonly _tag: "Key"; readonly credential: string; readonly form: AuthForm }
  /** An `Authorization` header value sent as is (forged). */
  | { readonly _tag: "Raw"; readonly header: string }

export interface Body {
  readonly bytes: string | Uint8Array
  /** `undefined`: no `Content-Type` header. */
  readonly contentType: string | undefined
  /** Sent with `Transfer-Encoding: chunked` (no length announced). */
  readonly chunked: boolean
  /** Larger than the server's body limit. */
  readonly oversized: boolean
}

export interface FuzzRequest {
  readonly operation: string
  readonly method: string
  /** Path and query as sent (already percent-encoded, or broken on purpose). */
  readonly path: string
  readonly auth: Auth
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Body | undefined
  /** What was done to the request, for statistics and reports. */
  readonly tags: ReadonlyArray<string>
}

/** What the running server holds that requests may name. */
export interface World {
  /** Credential names by principal: the first of each is the one an operation for that principal gets by default. */
  readonly credentials: Readonly<Record<Exclude<Principal, "none">, ReadonlyArray<string>>>
  /** Ids of rows that exist (requests, sellers, customers, of every principal). */
  readonly ids: ReadonlyArray<string>
  /** List cursors the API handed out. */
  readonly cursors: ReadonlyArray<string>
  readonly isbns: ReadonlyArray<string>
  /** Adapter configs that work (the simulated sellers'). */
  readonly sellerConfigs: ReadonlyArray<unknown>
  readonly maxBodyBytes: number
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Percent-encodes `text` as a path segment or query value; a lone surrogate is encoded as the
 * bytes of its code point (WTF-8, `%ED%A0%80`), which a decoder must refuse or replace.
 */
export const percentEncode = (text: string): string => {
  let out = ""
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index)
    let codePoint = unit
    if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        codePoint = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00)
        index++
      }
    }
    const char = String.fromCodePoint(codePoint)
    if (/^[A-Za-z0-9\-._~]$/.test(char)) {
      out += char
      continue
    }
    const bytes =
      codePoint < 0x80
        ? [codePoint]
        : codePoint < 0x800
          ? [0xc0 | (codePoint >> 6), 0x80 | (codePoint & 63)]
          : codePoint < 0x10000
            ? [0xe0 | (codePoint >> 12), 0x80 | ((codePoint >> 6) & 63), 0x80 | (codePoint & 63)]
            : [0xf0 | (codePoint >> 18), 0x80 | ((codePoint >> 12) & 63), 0x80 | ((codePoint >> 6) & 63), 0x80 | (codePoint & 63)]
    out += bytes.map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")
  }
  return out
}

/** JSON text of `value`; lone surrogates are written as `\uD800` escapes, as JSON.stringify does. */
const json = (value: unknown): string => JSON.stringify(value) ?? "null"

// ---------------------------------------------------------------------------------------------
// Hostile values

const hostileTexts = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfffy",
  "\udbff\udbff",
  "\u0007bell",
  "\u001b[2J",
  "\u007f",
  "\u0085",
  "\u202eevil",
  "\ufeffbom",
  "\u2028\u2029",
  "\r\n",
  "\t",
  "null",
  "undefined",
  "NaN",
  "-0",
  "true",
  "[object Object]",
  "__proto__",
  "constructor",
  "'; DROP TABLE purchase_requests; --",
  '" OR 1=1 --',
  "$1",
  "%s%n%x",
  "{{7*7}}",
  "${7*7}",
  "<script>alert(1)</script>",
  "../../../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "http://169.254.169.254/latest/meta-data/",
  "http://127.0.0.1:6379/",
  "file:///etc/passwd",
  "00000000-0000-0000-0000-000000000000",
  "𝕓𝕠𝕠𝕜",
  "é",
  "😀",
  "ｅｕｒ",
  "EUR\u0000",
  "9780306406157\u0000",
  "97803064061570000000000000000"
]

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...hostileTexts) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("\u0000", "\ud800", "\udc00", "\u0001", "\u001f", "a", "é", "\n"), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(256, 4_097, 70_000).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...hostileTexts)).map(([a, b]) => a + b) }
)

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(0, -0, -1, 1, 0.5, -0.5, 1e-300, 4.9e-324, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63, 1e21, 100_000_001, 86_401, 4, 300.5)
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer() }
)

/** Arrays or objects nested `depth` deep (the edge refuses past 32). */
export const nested = (depth: number, objects: boolean): unknown => {
  let value: unknown = objects ? { leaf: true } : []
  for (let level = 0; level < depth; level++) value = objects ? { a: value } : [value]
  return value
}

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 4, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom([], {}, [null], [[]], { "": "" }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(20, 31, 32, 33, 64, 500), fc.boolean()).map(([depth, objects]) => nested(depth, objects)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) }
)

export const hostileKey: fc.Arbitrary<string> = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "",
  " ",
  "\u0000",
  "\ud800",
  "a/b",
  "~0~1",
  "$where",
  "k".repeat(300),
  "unknown_field"
)

/** Extra request headers: spoofed addresses, other encodings, odd accepts. */
const extraHeaders: fc.Arbitrary<ReadonlyArray<readonly [string, string]>> = fc.array(
  fc.constantFrom<readonly [string, string]>(
    ["x-forwarded-for", "1.2.3.4"],
    ["x-forwarded-for", "127.0.0.1, 10.0.0.1"],
    ["x-real-ip", "10.0.0.1"],
    ["forwarded", "for=192.0.2.60;proto=http"],
    ["accept", "text/html"],
    ["accept", "application/xml"],
    ["accept-encoding", "gzip, br"],
    ["content-encoding", "gzip"],
    ["content-language", "de"],
    ["origin", "https://evil.example"],
    ["cookie", "session=1; __proto__=x"],
    ["x-http-method-override", "DELETE"],
    ["range", "bytes=0-1"],
    ["if-none-match", "*"],
    ["x-request-id", "r".repeat(8_000)],
    ["idempotency-key", "again"],
    ["x-note", "latin1 value \u00e9"]
  ),
  { maxLength: 2 }
)

// ---------------------------------------------------------------------------------------------
// JSON values: paths, edits

type Segment = string | number
type JsonPath = ReadonlyArray<Segment>

/** The path of every node of `value` (the root is `[]`), depth first. */
export const pathsOf = (value: unknown): ReadonlyArray<JsonPath> => {
  const found: Array<JsonPath> = []
  const stack: Array<{ readonly value: unknown; readonly path: JsonPath }> = [{ value, path: [] }]
  while (stack.length > 0 && found.length < 500) {
    const { value: current, path } = stack.pop()!
    found.push(path)
    if (Array.isArray(current)) current.forEach((child, index) => stack.push({ value: child, path: [...path, index] }))
    else if (typeof current === "object" && current !== null) for (const [key, child] of Object.entries(current)) stack.push({ value: child, path: [...path, key] })
  }
  return found
}

/** Sets an own, enumerable property, also for `__proto__` (plain assignment would set the prototype). */
const define = (target: object, key: Segment, value: unknown) => Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })

/** A deep copy that keeps own `__proto__` keys as data. */
const copy = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(copy)
  if (typeof value !== "object" || value === null) return value
  const out = {}
  for (const [key, child] of Object.entries(value)) define(out, key, copy(child))
  return out
}

const edit = (root: unknown, path: JsonPath, change: (parent: Record<Segment, unknown>, key: Segment) => void, onRoot: () => unknown): unknown => {
  if (path.length === 0) return onRoot()
  const out = copy(root)
  let parent = out as Record<Segment, unknown>
  for (const segment of path.slice(0, -1)) parent = parent[segment] as Record<Segment, unknown>
  change(parent, path[path.length - 1]!)
  return out
}

export type Mutation = "replace" | "delete" | "add-key" | "wrap-in-array" | "stringify-number"

/** `value` with one node changed. */
export const mutate = (value: unknown, pick: number, mutation: Mutation, replacement: unknown, key: string): unknown => {
  const paths = pathsOf(value)
  const path = paths[pick % paths.length]!
  switch (mutation) {
    case "replace":
      return edit(value, path, (parent, last) => define(parent, last, replacement), () => replacement)
    case "delete":
      return edit(
        value,
        path,
        (parent, last) => (Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last]),
        () => undefined
      )
    case "add-key": {
      // Into the object at `path`, or the nearest one above it.
      let target = path
      for (;;) {
        let node: unknown = value
        for (const segment of target) node = (node as Record<Segment, unknown>)[segment]
        if ((typeof node === "object" && node !== null && !Array.isArray(node)) || target.length === 0) break
        target = target.slice(0, -1)
      }
      const out = copy(value)
      let node = out as Record<Segment, unknown>
      for (const segment of target) node = node[segment] as Record<Segment, unknown>
      if (typeof node !== "object" || node === null) return out
      define(node, key, replacement)
      return out
    }
    case "wrap-in-array":
      return edit(
        value,
        path,
        (parent, last) => define(parent, last, [parent[last]]),
        () => [value]
      )
    case "stringify-number":
      return edit(
        value,
        path,
        (parent, last) => define(parent, last, typeof parent[last] === "number" ? String(parent[last]) : typeof parent[last] === "string" ? Number(parent[last]) || 0 : parent[last]),
        () => json(value)
      )
  }
}

/** Changes to a body's JSON text that no value can produce. */
export type TextMutation =
  | "duplicate-key-first"
  | "duplicate-key-last"
  | "proto-key"
  | "constructor-prototype"
  | "truncate"
  | "bom"
  | "trailing-garbage"
  | "huge-number-literal"
  | "float-literal"
  | "overflow-literal"
  | "single-quotes"
  | "comments"
  | "nul-escape"
  | "surrogate-escape"
  | "invalid-utf8"

export const mutateText = (text: string, mutation: TextMutation, value: unknown, cut: number): string | Uint8Array => {
  const isObject = text.startsWith("{") && text.length > 2
  const firstKey = /^\{"((?:[^"\\]|\\.)*)"/.exec(text)?.[1]
  switch (mutation) {
    case "duplicate-key-first":
      // The same key twice, the hostile one first: a parser that keeps the last sees a valid body.
      return isObject && firstKey !== undefined ? `{"${firstKey}":${json(value)},${text.slice(1)}` : `{"a":1,"a":${json(value)}}`
    case "duplicate-key-last":
      return isObject && firstKey !== undefined ? `${text.slice(0, -1)},"${firstKey}":${json(value)}}` : `{"a":${json(value)},"a":1}`
    case "proto-key":
      return isObject ? `{"__proto__":{"polluted":"yes","admin":true},${text.slice(1)}` : `{"__proto__":{"polluted":"yes"}}`
    case "constructor-prototype":
      return isObject ? `{"constructor":{"prototype":{"polluted":"yes"}},${text.slice(1)}` : `{"constructor":{"prototype":{"polluted":"yes"}}}`
    case "truncate":
      return text.slice(0, cut % Math.max(1, text.length))
    case "bom":
      return `\ufeff${text}`
    case "trailing-garbage":
      return `${text}${["x", "}", "]", ",", "\u0000", " {}", "\n\n{}"][cut % 7]}`
    case "huge-number-literal":
      return text.replace(/-?\d+(\.\d+)?([eE][-+]?\d+)?/, ["1e999", "-1e999", "9".repeat(400), "1e-999", "-0", "0.0000000000000000000000001"][cut % 6]!)
    case "float-literal":
      // An integer written as a float (100.0, 1e2): equal in value, not in text.
      return text.replace(/(?<![\d.eE-])(\d+)(?![\d.eE])/, (digits) => [`${digits}.0`, `${digits}e0`, `${digits}.00001`][cut % 3]!)
    case "overflow-literal":
      return text.replace(/:(-?\d+)/, `:${"1".repeat(30)}`)
    case "single-quotes":
      return text.replaceAll('"', "'")
    case "comments":
      return `/* c */${text}// end`
    case "nul-escape":
      return text.replace(/:"/, ':"\\u0000')
    case "surrogate-escape":
      return text.replace(/:"/, ':"\\ud800')
    case "invalid-utf8": {
      const bytes = Buffer.from(text, "utf8")
      const at = cut % Math.max(1, bytes.length)
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), bytes.subarray(at)])
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The arbitraries

const trimmed = (text: string): string => text.replace(/^\s+/, "x").replace(/\s+$/, "x")

/** The `Arbitraries` for a document's operations over what the server holds (`world`). */
export const make = (document: unknown, world: World) => {
  const resolve = resolver(document as Document)
  const ids = world.ids.length > 0 ? world.ids : ["00000000-0000-0000-0000-000000000000"]

  /** Values for fields whose schema says little ("string"): what the server would accept. */
  const hints: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
    isbn: fc.constantFrom(...world.isbns, "9780306406157", "0306406152"),
    currency: fc.constantFrom("EUR", "USD", "GBP", "JPY"),
    email: fc.constantFrom("ada@example.com", "shop@sellers.example", "a@b.co"),
    country: fc.constantFrom("FR", "DE", "US", "GB"),
    token: fc.constantFrom("tok_approve", "tok_decline"),
    notify_url: fc.constantFrom("https://hooks.example.com/bookbroker", "https://example.org/hook?x=1"),
    config: world.sellerConfigs.length > 0 ? fc.constantFrom(...world.sellerConfigs) : fc.constant({}),
    kind: fc.constant("reference"),
    id: fc.constantFrom(...ids),
    request_id: fc.constantFrom(...ids),
    cursor: world.cursors.length > 0 ? fc.constantFrom(...world.cursors) : fc.constant("AAAA"),
    limit: fc.constantFrom("1", "2", "10", "100"),
    name: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 24 }).map((text) => `fz ${trimmed(text)}`),
    contact: fc.constantFrom("ops@sellers.example"),
    credentials: fc.constant({ apiKey: "fuzz-seller-credential" }),
    "idempotency-key": fc.oneof(fc.constantFrom("k1", "k2", "again"), fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 40 }).map(trimmed)),
    amount: fc.integer({ min: 1, max: 100_000 }),
    answer_within_seconds: fc.integer({ min: 5, max: 120 })
  }

  const stringFor = (schema: JsonSchema): fc.Arbitrary<string> => {
    const minLength = schema.minLength ?? 0
    const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 24, 40))
    const plain = fc.string({ unit: "grapheme-ascii", minLength, maxLength })
    if (schema.pattern === undefined) return plain
    // The API's "no surrounding whitespace" pattern.
    if (schema.pattern.includes("^\\S[\\s\\S]*\\S$")) return fc.string({ unit: "grapheme-ascii", minLength: Math.max(minLength, 1), maxLength }).map(trimmed)
    try {
      return fc.stringMatching(new RegExp(schema.pattern), { maxLength }).filter((text) => text.length >= minLength)
    } catch {
      return plain
    }
  }

  const cache = new Map<JsonSchema, fc.Arbitrary<unknown>>()

  /** A value the schema allows (valid-ish: hints may stray, e.g. an ISBN of the wrong checksum). */
  const valid = (raw: JsonSchema | undefined, name?: string, depth = 0): fc.Arbitrary<unknown> => {
    const schema = resolve(raw)
    const hint = name === undefined ? undefined : hints[name]
    if (hint !== undefined && schema.enum === undefined && schema.const === undefined) return fc.oneof({ weight: 5, arbitrary: hint }, { weight: 1, arbitrary: plain(schema, depth) })
    return plain(schema, depth)
  }

  const plain = (schema: JsonSchema, depth: number): fc.Arbitrary<unknown> => {
    const known = cache.get(schema)
    if (known !== undefined) return known
    const built = build(schema, depth)
    cache.set(schema, built)
    return built
  }

  const build = (schema: JsonSchema, depth: number): fc.Arbitrary<unknown> => {
    if (schema.const !== undefined) return fc.constant(schema.const)
    if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum)
    const alternatives = schema.anyOf ?? schema.oneOf
    if (alternatives !== undefined && alternatives.length > 0) return fc.oneof(...alternatives.map((alternative) => valid(alternative, undefined, depth)))
    if (schema.allOf !== undefined) {
      const merged = schema.allOf.map(resolve).reduce<JsonSchema>(
        (all, part) => ({ ...all, ...part, properties: { ...all.properties, ...part.properties }, required: [...(all.required ?? []), ...(part.required ?? [])] }),
        {}
      )
      return valid(merged, undefined, depth)
    }
    const types = typeof schema.type === "string" ? [schema.type] : (schema.type ?? [])
    if (types.length > 1) return fc.oneof(...types.map((type) => valid({ ...schema, type }, undefined, depth)))
    const type = types[0] ?? (schema.properties !== undefined ? "object" : undefined)
    switch (type) {
      case "null":
        return fc.constant(null)
      case "boolean":
        return fc.boolean()
      case "integer": {
        const min = schema.minimum ?? (schema.exclusiveMinimum === undefined ? -1_000_000 : Math.floor(schema.exclusiveMinimum) + 1)
        const max = schema.maximum ?? (schema.exclusiveMaximum === undefined ? 1_000_000 : Math.ceil(schema.exclusiveMaximum) - 1)
        const clamp = (n: number) => Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, n))
        return fc.integer({ min: clamp(Math.min(min, max)), max: clamp(Math.max(min, max)) })
      }
      case "number": {
        const min = schema.minimum ?? schema.exclusiveMinimum ?? -1_000_000
        const max = schema.maximum ?? schema.exclusiveMaximum ?? 1_000_000
        return fc.double({ min: Math.min(min, max), max: Math.max(min, max), noNaN: true, noDefaultInfinity: true })
      }
      case "string":
        return stringFor(schema)
      case "array": {
        const minLength = schema.minItems ?? 0
        return fc.array(
          valid(schema.items, undefined, depth + 1),
          { minLength, maxLength: Math.max(minLength, Math.min(schema.maxItems ?? 3, 3)) }
        )
      }
      case "object": {
        const properties = schema.properties ?? {}
        const keys = Object.keys(properties)
        if (keys.length === 0) {
          const additional = typeof schema.additionalProperties === "object" ? valid(schema.additionalProperties, undefined, depth + 1) : fc.jsonValue({ maxDepth: 2 })
          return fc.dictionary(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }), additional, { maxKeys: 3 })
        }
        const model: Record<string, fc.Arbitrary<unknown>> = {}
        for (const key of keys) model[key] = valid(properties[key], key, depth + 1)
        return fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => keys.includes(key)) })
      }
      default:
        return fc.jsonValue({ maxDepth: 2 })
    }
  }

  const credentialNames = Object.values(world.credentials).flat()

  const auth = (operation: Operation): fc.Arbitrary<Auth> => {
    const principal = principalFor(operation)
    const own = principal === "none" ? undefined : world.credentials[principal][0]
    const key = (credential: string, form: AuthForm = "bearer"): Auth => ({ _tag: "Key", credential, form })
    return fc.oneof(
      { weight: own === undefined ? 0 : 8, arbitrary: fc.constant(own === undefined ? { _tag: "None" as const } : key(own)) },
      { weight: 3, arbitrary: fc.constantFrom(...credentialNames).map((credential) => key(credential)) },
      { weight: 1, arbitrary: fc.constant<Auth>({ _tag: "None" }) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom(...credentialNames),
            fc.constantFrom<AuthForm>("lowercase-scheme", "no-scheme", "double-space", "trailing-space", "truncated", "extended", "last-char-changed", "twice", "basic")
          )
          .map(([credential, form]) => key(credential, form))
      },
      {
        weight: 2,
        arbitrary: fc
          .oneof(
            fc.constantFrom("Bearer", "Bearer ", "Basic YWRhOnB3", "Token abc", "bearer", "Bearer bb_cus_", "Bearer bb_sel_", "Bearer null", "Bearer undefined", `Bearer ${"x".repeat(5_000)}`),
            fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 40 }).map((text) => `Bearer bb_cus_${text.trim() || "x"}`),
            fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 60 }).map((text) => `Bearer ${text.trim() || "x"}`)
          )
          .map((header): Auth => ({ _tag: "Raw", header }))
      }
    )
  }

  /** A forged path segment or query value (already encoded, or broken on purpose). */
  const forged: fc.Arbitrary<string> = fc.oneof(
    { weight: 3, arbitrary: fc.uuid() },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...ids), fc.constantFrom("upper", "space", "nul", "chop", "append", "dotdot", "slash", "double"))
        .map(([id, how]) =>
          how === "upper"
            ? id.toUpperCase()
            : how === "space"
              ? `${id}%20`
              : how === "nul"
                ? `${id}%00`
                : how === "chop"
                  ? id.slice(0, -1)
                  : how === "append"
                    ? `${id}0`
                    : how === "dotdot"
                      ? `${id}/..`
                      : how === "slash"
                        ? `${id}%2F`
                        : `${id},${id}`
        )
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "00000000-0000-0000-0000-000000000000",
        // The length and alphabet of a uuid, not its shape (PostgreSQL refused it: a 500 once).
        "-".repeat(36),
        "g0000000-0000-0000-0000-000000000000",
        "0000000000000000000000000000000000-0",
        "%00",
        "%ZZ",
        "%",
        "%ED%A0%80",
        "%C0%AF",
        "%FF",
        "..",
        "%2e%2e%2f%2e%2e",
        "null",
        "-1",
        "0",
        "1e999",
        "9".repeat(400),
        "%27%20OR%20%271%27%3D%271",
        "%F0%9F%98%80",
        "a".repeat(5_000),
        "a".repeat(20_000),
        "AAAAAAAAAAAA",
        "eyJpZCI6MX0",
        "eyJjcmVhdGVkX2F0IjoiMjAyNi0wMS0wMSIsImlkIjoiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIn0"
      )
    },
    { weight: 2, arbitrary: hostileString.map(percentEncode) }
  )

  const pathValue = (parameter: Parameter): fc.Arbitrary<string> =>
    fc.oneof({ weight: 6, arbitrary: valid(parameter.schema, parameter.name).map((value) => percentEncode(String(value))) }, { weight: 3, arbitrary: forged })

  const queryExtras = fc.array(
    fc.constantFrom(
      "__proto__=1",
      "__proto__[polluted]=1",
      "constructor[prototype][polluted]=1",
      "limit=1&limit=2",
      "status=received&status=failed",
      "cursor=",
      "x",
      "=",
      "&&",
      "a[]=1",
      "%00=1",
      "limit=1e309",
      "limit=-1",
      "limit=0",
      "limit=1.5",
      "limit=99999999999999999999",
      "limit=0x10",
      "%ZZ=1",
      "status=%00",
      "cursor=%ED%A0%80",
      "open=TRUE",
      `pad=${"q".repeat(4_000)}`
    ),
    { maxLength: 2 }
  )

  const query = (operation: Operation): fc.Arbitrary<string> => {
    const parameters = operation.parameters.filter((parameter) => parameter.in === "query")
    return fc
      .tuple(
        fc.tuple(
          ...parameters.map((parameter) =>
            fc.option(
              fc.oneof(
                { weight: 5, arbitrary: valid(parameter.schema, parameter.name).map((value) => `${parameter.name}=${percentEncode(String(value))}`) },
                { weight: 2, arbitrary: forged.map((value) => `${parameter.name}=${value}`) }
              ),
              { nil: undefined, freq: parameter.required ? 20 : 2 }
            )
          )
        ),
        fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: queryExtras })
      )
      .map(([values, extras]) => {
        const parts = [...values.filter((value): value is string => value !== undefined), ...(extras ?? [])]
        return parts.length === 0 ? "" : `?${parts.join("&")}`
      })
  }

  /** Header parameters (e.g. `idempotency-key`): valid, missing, or odd (only bytes an HTTP client may send). */
  const headerParameters = (operation: Operation): fc.Arbitrary<ReadonlyArray<readonly [string, string]>> => {
    const parameters = operation.parameters.filter((parameter) => parameter.in === "header")
    if (parameters.length === 0) return fc.constant([])
    return fc
      .tuple(
        ...parameters.map((parameter) =>
          fc.oneof(
            { weight: 8, arbitrary: valid(parameter.schema, parameter.name).map((value) => [[parameter.name, String(value)] as const]) },
            { weight: 1, arbitrary: fc.constant([]) },
            {
              weight: 2,
              arbitrary: fc.constantFrom("", " ", "\t", "x".repeat(256), "x".repeat(10_000), "\u00e9t\u00e9", "a, b", "${jndi:ldap://x/a}").map((value) => [[parameter.name, value] as const])
            }
          )
        )
      )
      .map((groups) => groups.flat())
  }

  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant<string | undefined>("application/json") },
    {
      weight: 2,
      arbitrary: fc.constantFrom<string | undefined>("application/json; charset=utf-8", "APPLICATION/JSON", "application/json;charset=latin1", "application/json ; x=y", "application/json, text/plain")
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom<string | undefined>(
        undefined,
        "",
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/vnd.api+json",
        "application/problem+json",
        "application/jsonx",
        "application/xml",
        "*/*",
        "application/json\u00e9"
      )
    }
  )

  /** A body for a JSON schema: valid-ish, a value mutated, its text mutated, something else, or too large. */
  const bodyFor = (schema: JsonSchema | undefined): fc.Arbitrary<{ readonly bytes: string | Uint8Array; readonly tag: string; readonly oversized: boolean }> => {
    const value = schema === undefined ? fc.jsonValue({ maxDepth: 2 }) : valid(schema)
    const validBody = value.map((v) => ({ bytes: json(v), tag: "valid", oversized: false }))
    const mutated = fc
      .tuple(value, fc.nat(), fc.constantFrom<Mutation>("replace", "replace", "replace", "delete", "add-key", "wrap-in-array", "stringify-number"), hostileValue, hostileKey)
      .map(([v, pick, mutation, replacement, key]) => ({ bytes: json(mutate(v, pick, mutation, replacement, key)), tag: `mutated:${mutation}`, oversized: false }))
    const textual = fc
      .tuple(
        value,
        fc.constantFrom<TextMutation>(
          "duplicate-key-first",
          "duplicate-key-last",
          "proto-key",
          "constructor-prototype",
          "truncate",
          "bom",
          "trailing-garbage",
          "huge-number-literal",
          "float-literal",
          "overflow-literal",
          "single-quotes",
          "comments",
          "nul-escape",
          "surrogate-escape",
          "invalid-utf8"
        ),
        hostileValue,
        fc.nat()
      )
      .map(([v, mutation, replacement, cut]) => ({ bytes: mutateText(json(v), mutation, replacement, cut), tag: `text:${mutation}`, oversized: false }))
    const other = fc.oneof(
      fc.constantFrom("", " ", "\n", "null", "true", "0", '""', "[]", "{}", "{", "}", "[[[[", '{"a":', "\u0000", "NaN", "Infinity", "undefined", "\ufeff").map((bytes) => ({ bytes, tag: "other", oversized: false })),
      fc.constantFrom(33, 1_000, 30_000).map((depth) => ({ bytes: "[".repeat(depth) + "]".repeat(depth), tag: `deep:${depth}`, oversized: false })),
      fc.constantFrom(1_000, 30_000).map((depth) => ({ bytes: '{"a":'.repeat(depth) + "1" + "}".repeat(depth), tag: `deep-object:${depth}`, oversized: false })),
      fc.constant({ bytes: "[".repeat(100_000), tag: "deep-unbalanced", oversized: true }),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes, tag: "binary", oversized: false }))
    )
    const oversized = fc
      .tuple(value, fc.constantFrom(world.maxBodyBytes + 1, world.maxBodyBytes * 2, 1024 * 1024))
      .map(([v, size]) => {
        const text = json(v)
        const padded = text.startsWith("{") && text.length > 2 ? `{"pad":"${"x".repeat(size)}",${text.slice(1)}` : `"${"x".repeat(size)}"`
        return { bytes: padded, tag: "oversized", oversized: true }
      })
    return fc.oneof(
      { weight: 4, arbitrary: validBody },
      { weight: 5, arbitrary: mutated },
      { weight: 3, arbitrary: textual },
      { weight: 1, arbitrary: other },
      { weight: 1, arbitrary: oversized }
    )
  }

  const otherMethods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

  /** Requests for one operation. */
  const request = (operation: Operation): fc.Arbitrary<FuzzRequest> => {
    const pathParameters = operation.parameters.filter((parameter) => parameter.in === "path")
    const takesBody = operation.body !== undefined
    const withBody = fc.record({ content: bodyFor(operation.body), contentType, chunked: fc.boolean() })
    // A body-taking operation gets one nearly always; the others now and then.
    const body = fc.oneof({ weight: takesBody ? 12 : 1, arbitrary: withBody }, { weight: takesBody ? 1 : 4, arbitrary: fc.constant(undefined) })
    return fc
      .record({
        method: fc.oneof({ weight: 19, arbitrary: fc.constant(operation.method) }, { weight: 1, arbitrary: fc.constantFrom(...otherMethods) }),
        values: fc.tuple(...pathParameters.map(pathValue)),
        query: query(operation),
        twist: fc.oneof({ weight: 19, arbitrary: fc.constant("none") }, { weight: 1, arbitrary: fc.constantFrom("trailing-slash", "double-slash", "dot-segment", "upper-case", "encoded-slash") }),
        parameterHeaders: headerParameters(operation),
        extraHeaders: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: extraHeaders }),
        auth: auth(operation),
        body
      })
      .map(({ method, values, query, twist, parameterHeaders, extraHeaders, auth, body }) => {
        let path = operation.path
        pathParameters.forEach((parameter, index) => (path = path.replace(`{${parameter.name}}`, values[index]!)))
        if (twist === "trailing-slash") path = `${path}/`
        else if (twist === "double-slash") path = `/${path}`
        else if (twist === "dot-segment") path = path.replace(/\/([^/]*)$/, "/./$1")
        else if (twist === "upper-case") path = path.toUpperCase()
        else if (twist === "encoded-slash") path = path.replace(/(.)\/([^/]*)$/, "$1%2F$2")
        // A HEAD or GET body is what a client library refuses to send; those go over raw sockets.
        const sendBody = body !== undefined && method !== "GET" && method !== "HEAD" ? body : undefined
        const tags = [
          operation.label,
          ...(method === operation.method ? [] : [`method:${method}`]),
          ...(twist === "none" ? [] : [`path:${twist}`]),
          `auth:${auth._tag === "Key" ? auth.form : auth._tag}`,
          ...(sendBody === undefined ? ["no-body"] : [sendBody.content.tag, sendBody.chunked ? "chunked" : "length", `type:${sendBody.contentType ?? "none"}`])
        ]
        return {
          operation: operation.label,
          method,
          path: `${path}${query}`,
          auth,
          headers: [...parameterHeaders, ...(extraHeaders ?? [])],
          body:
            sendBody === undefined
              ? undefined
              : { bytes: sendBody.content.bytes, contentType: sendBody.contentType, chunked: sendBody.chunked, oversized: sendBody.content.oversized || byteLength(sendBody.content.bytes) > world.maxBodyBytes },
          tags
        } satisfies FuzzRequest
      })
  }

  return { request, valid }
}

export const byteLength = (bytes: string | Uint8Array): number => (typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length)

/** The `Authorization` header values for `auth`, given the credentials' current values. */
export const authorization = (auth: Auth, keys: Readonly<Record<string, string>>): ReadonlyArray<string> => {
  if (auth._tag === "None") return []
  if (auth._tag === "Raw") return [auth.header]
  const key = keys[auth.credential] ?? "missing-credential"
  switch (auth.form) {
    case "bearer":
      return [`Bearer ${key}`]
    case "lowercase-scheme":
      return [`bearer ${key}`]
    case "no-scheme":
      return [key]
    case "double-space":
      return [`Bearer  ${key}`]
    case "trailing-space":
      return [`Bearer ${key} `]
    case "truncated":
      return [`Bearer ${key.slice(0, -1)}`]
    case "extended":
      return [`Bearer ${key}x`]
    case "last-char-changed":
      return [`Bearer ${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`]
    case "twice":
      return [`Bearer ${key}`, `Bearer ${key}`]
    case "basic":
      return [`Basic ${Buffer.from(`${key}:`).toString("base64")}`]
  }
}

/** A request in a form fit for a report: what to send again to see the same answer. */
export const show = (request: FuzzRequest, keys: Readonly<Record<string, string>>): string => {
  const lines = [`${request.method} ${request.path.length > 300 ? `${request.path.slice(0, 300)}… (${request.path.length} chars)` : request.path}`]
  for (const value of authorization(request.auth, keys)) lines.push(`authorization: ${request.auth._tag === "Key" ? `<${request.auth.credential}, ${request.auth.form}>` : value.slice(0, 120)}`)
  for (const [name, value] of request.headers) lines.push(`${name}: ${value.length > 120 ? `${value.slice(0, 120)}… (${value.length} chars)` : value}`)
  if (request.body !== undefined) {
    const { bytes, contentType, chunked } = request.body
    if (contentType !== undefined) lines.push(`content-type: ${contentType}`)
    lines.push(chunked ? "transfer-encoding: chunked" : `content-length: ${byteLength(bytes)}`)
    const text = typeof bytes === "string" ? bytes : `<bytes ${Buffer.from(bytes).toString("hex")}>`
    lines.push("", JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}… (${text.length} chars)` : text))
  }
  return lines.join("\n")
}
