import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The soak test measures a host that lets the sync system collect garbage after it reopens store handles.
    execArgv: ["--expose-gc"],
    env: {
      AWS_EC2_METADATA_DISABLED: "true",
      LOG_LEVEL: "warn",
    },
  },
});
