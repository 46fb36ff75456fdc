#!/usr/bin/env node
// Runs the TypeScript sources in the workspace (published builds point `bin` at dist instead).
// The CLI's tsconfig is named explicitly: it sets the JSX runtime for the ink views, whatever
// directory the command runs from.
import { fileURLToPath, URL } from "node:url"
import { register } from "tsx/esm/api"

register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) })
await import("../src/bin.ts")
