import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The soak test samples memory after a full collection (and the sync system collects after reopening its
    // store handles when the collector is exposed).
    execArgv: ["--expose-gc"],
    env: {
      AWS_EC2_METADATA_DISABLED: "true",
      LOG_LEVEL: "warn",
    },
  },
});
