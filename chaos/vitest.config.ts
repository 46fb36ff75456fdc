import { defineConfig } from "vitest/config"

/**
 * The chaos suite: `pnpm test:chaos` from the repository root. Not one of the root `pnpm test`
 * projects — each scenario runs real processes, a real PostgreSQL and Redis for up to a minute.
 */
export default defineConfig({
  test: {
    name: "chaos",
    root: import.meta.dirname,
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: ["default"]
  }
})
