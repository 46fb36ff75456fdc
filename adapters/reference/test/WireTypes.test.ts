import { readFile } from "node:fs/promises"
import openapiTS, { astToString } from "openapi-typescript"
import { describe, expect, it } from "vitest"

// The adapter's wire types are generated from the SDK's OpenAPI document (`pnpm generate`).
// This fails when someone edits the document and forgets to regenerate.
describe("generated wire types", () => {
  it("match the reference seller OpenAPI document", async () => {
    const spec = new URL("../../../packages/adapter-sdk/openapi/reference-seller.v1.yaml", import.meta.url)
    const generated = astToString(await openapiTS(spec))
    const committed = await readFile(new URL("../src/internal/wire.generated.ts", import.meta.url), "utf8")
    const body = (text: string) => text.replace(/^\/\*\*[\s\S]*?\*\/\s*/, "").trim()
    expect(body(committed)).toBe(body(generated))
  })
})
