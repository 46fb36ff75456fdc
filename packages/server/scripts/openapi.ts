/** Writes `openapi.json` and `src/client/schema.generated.ts` from the API definition. */
import { writeFile } from "node:fs/promises"
import { generate, openApiPath, schemaPath } from "./generate.js"

const { openapi, schema } = await generate()
await writeFile(openApiPath, openapi)
await writeFile(schemaPath, schema)
console.log(`wrote ${openApiPath}\nwrote ${schemaPath}`)
