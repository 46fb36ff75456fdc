import { defineConfig } from "tsup"

export default defineConfig({
  // `bin`: the `bookbroker` command as production runs it (`node packages/cli/dist/bin.js`):
  // plain JavaScript, no TypeScript loader, the workspace's packages bundled in, every other
  // dependency from node_modules. `index`: the library entry.
  entry: { index: "src/index.ts", bin: "src/bin.ts" },
  format: ["esm"],
  platform: "node",
  noExternal: [/^@bookbroker\//],
  external: [/^(?!@bookbroker\/)[^./]/],
  // Private package (run from source or bundled): no declarations to publish.
  dts: false,
  clean: true,
  sourcemap: true,
  target: "node22"
})
