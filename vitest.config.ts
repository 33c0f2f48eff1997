import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // Focused or skipped tests must not pass for green in CI.
    allowOnly: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
