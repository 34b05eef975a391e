import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ENV_VARS } from "../../src/config/schema.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("documents every environment variable in its configuration table", () => {
    const missing = Object.keys(ENV_VARS).filter((name) => !readme.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });

  it("shows the two commands: the main job and the tests", () => {
    expect(readme).toContain("npx lancedb-sync demo");
    expect(readme).toContain("npm run check");
  });
});
