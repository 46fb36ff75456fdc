/**
 * The API's OpenAPI 3.1 document and the TypeScript types generated from it, in memory: the
 * `openapi` script writes them, `test/OpenApi.test.ts` fails when the committed files differ.
 */
import { OpenApi } from "effect/http-api"
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript"
import { fileURLToPath } from "node:url"
import { BookbrokerApi } from "../src/Api.js"

export const openApiPath = fileURLToPath(new URL("../openapi.json", import.meta.url))
export const schemaPath = fileURLToPath(new URL("../src/client/schema.generated.ts", import.meta.url))

/** Object keys sorted at every depth (array order kept), so the document diffs cleanly. */
const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (typeof value !== "object" || value === null) return value
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])])
  )
}

export const document = () => sortKeys(OpenApi.fromApi(BookbrokerApi)) as OpenApi.OpenAPISpec

export const generate = async (): Promise<{ readonly openapi: string; readonly schema: string }> => {
  const spec = document()
  const openapi = `${JSON.stringify(spec, null, 2)}\n`
  const ast = await openapiTS(JSON.parse(openapi), { exportType: true, emptyObjectsUnknown: true })
  const schema = `${COMMENT_HEADER}// Generated from packages/server/openapi.json by \`pnpm --filter @bookbroker/server openapi\`.\n\n${astToString(ast)}`
  return { openapi, schema }
}
