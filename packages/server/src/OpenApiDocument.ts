/**
 * Corrections to the generated OpenAPI document, so it says what the server answers (see
 * `Edge.ts`): every error is `application/problem+json`, including the statuses several schemas
 * share (HttpApi falls back to `application/json` there); a decode failure is never
 * HttpApi's own error but a 400 problem (headers) or a 422 one (body, query, path), which every
 * operation that takes input may answer.
 * Applied to the served `/openapi.json` and the committed `openapi.json` alike.
 */
type Json = Record<string, unknown>

const problemRef = (name: string) => ({ $ref: `#/components/schemas/${name}` })

const problem = (name: string, description: string) => ({ description, content: { "application/problem+json": { schema: problemRef(name) } } })

/** `anyOf` of one and the same `$ref` twice (an error declared at two levels) is that `$ref`. */
const dedupe = (schema: Json): Json => {
  const anyOf = schema["anyOf"]
  if (!Array.isArray(anyOf)) return schema
  const unique = [...new Map(anyOf.map((entry) => [JSON.stringify(entry), entry as Json])).values()]
  return unique.length === 1 ? unique[0]! : { ...schema, anyOf: unique }
}

export const transform = (spec: Record<string, unknown>): Record<string, unknown> => {
  const paths = (spec["paths"] ?? {}) as Record<string, Record<string, Json>>
  for (const item of Object.values(paths)) {
    for (const operation of Object.values(item)) {
      const responses = (operation["responses"] ?? {}) as Record<string, Json>
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue
        if (status === "400") {
          responses[status] = problem("BadRequest", "Bad request: a malformed body, a missing or invalid header, an unknown cursor")
          continue
        }
        const content = response["content"] as Record<string, { schema: Json }> | undefined
        const media = content?.["application/json"] ?? content?.["application/problem+json"]
        if (media !== undefined) response["content"] = { "application/problem+json": { schema: dedupe(media.schema) } }
      }
      const takesInput =
        operation["requestBody"] !== undefined ||
        ((operation["parameters"] as ReadonlyArray<Json> | undefined) ?? []).some(
          // A path parameter that is any string never fails to decode.
          (parameter) => parameter["in"] === "query" || (parameter["in"] === "path" && JSON.stringify(parameter["schema"]) !== '{"type":"string"}')
        )
      if (takesInput && responses["422"] === undefined) {
        responses["422"] = problem("Unprocessable", "422 problem details: the request does not match the schema (one entry per offending field)")
      }
    }
  }
  const schemas = ((spec["components"] as Json | undefined)?.["schemas"] ?? {}) as Record<string, unknown>
  // Only HttpApi's own 400 used these; the server never answers them (decode errors become problems).
  if (!JSON.stringify(paths).includes("#/components/schemas/HttpApiDecodeError")) {
    delete schemas["HttpApiDecodeError"]
    delete schemas["Issue"]
    delete schemas["PropertyKey"]
  }
  return spec
}
