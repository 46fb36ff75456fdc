/**
 * Corrections to the generated OpenAPI document, so it reads well and says what the server
 * answers: problem schemas keep their own names (`BadRequest`, not `BadRequestEncoded`), the 400
 * says everything it covers, and the 422 that `InputErrors` declares on the whole API is listed
 * only on operations that take input (a body, a query, a path value that can fail to decode).
 * Applied to the served `/openapi.json` and the committed `openapi.json` alike.
 */
type Json = Record<string, unknown>

const problemRef = (name: string) => ({ $ref: `#/components/schemas/${name}` })

const problem = (name: string, description: string) => ({ description, content: { "application/problem+json": { schema: problemRef(name) } } })

/** Renames `XEncoded` components to `X` (when `X` is free), references included. */
const plainNames = (spec: Json): Json => {
  const schemas = ((spec["components"] as Json | undefined)?.["schemas"] ?? {}) as Json
  const renames = new Map<string, string>()
  for (const name of Object.keys(schemas)) {
    const plain = name.replace(/Encoded$/, "")
    if (plain !== name && !(plain in schemas)) renames.set(name, plain)
  }
  if (renames.size === 0) return spec
  const text = JSON.stringify(spec).replace(/"#\/components\/schemas\/([A-Za-z0-9_.-]+)"/g, (whole, name: string) =>
    renames.has(name) ? `"#/components/schemas/${renames.get(name)}"` : whole
  )
  const renamed = JSON.parse(text) as Json
  const renamedSchemas = (renamed["components"] as Json)["schemas"] as Json
  ;(renamed["components"] as Json)["schemas"] = Object.fromEntries(Object.entries(renamedSchemas).map(([name, schema]) => [renames.get(name) ?? name, schema]))
  return renamed
}

export const transform = (raw: Record<string, unknown>): Record<string, unknown> => {
  const spec = plainNames(raw)
  const paths = (spec["paths"] ?? {}) as Record<string, Record<string, Json>>
  for (const item of Object.values(paths)) {
    for (const operation of Object.values(item)) {
      const responses = (operation["responses"] ?? {}) as Record<string, Json>
      if (responses["400"] !== undefined) {
        responses["400"] = problem("BadRequest", "Bad request: a malformed body, a missing or invalid header, an unknown cursor")
      }
      const takesInput =
        operation["requestBody"] !== undefined ||
        ((operation["parameters"] as ReadonlyArray<Json> | undefined) ?? []).some(
          // A path parameter that is any string never fails to decode.
          (parameter) => parameter["in"] === "query" || (parameter["in"] === "path" && JSON.stringify(parameter["schema"]) !== '{"type":"string"}')
        )
      if (!takesInput) delete responses["422"]
      else if (responses["422"] !== undefined) {
        responses["422"] = problem("Unprocessable", "422 problem details: the request does not match the schema (one entry per offending field), or the engine refused it")
      }
    }
  }
  return spec
}
