import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  // Private package (run from source or bundled): no declarations to publish.
  dts: false,
  clean: true,
  sourcemap: true,
  target: "node20"
})
