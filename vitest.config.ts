import { configDefaults, defineConfig } from "vitest/config";

const e2e = "test/e2e/**/*.e2e.test.ts";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, e2e],
          // Two cores on CI: more workers only thrash.
          maxWorkers: 2,
        },
      },
      {
        // Each e2e file starts a server and a chromium: one file at a time, after the rest is done.
        extends: true,
        test: {
          name: "e2e",
          include: [e2e],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
