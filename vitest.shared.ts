import { defineProject } from "vitest/config"

/** Shared per-package test settings: each package's vitest.config.ts calls this with its name. */
export const project = (name: string) =>
  defineProject({
    test: {
      name,
      include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
      testTimeout: 30_000,
      hookTimeout: 60_000
    }
  })
