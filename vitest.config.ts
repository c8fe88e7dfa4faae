import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // e2e files share one Podman service; run files one at a time so host ports and CPU are not contended.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 900_000,
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
