import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "../integration/support.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** README's table of `--json` outputs: output label → documented field names (parenthesised notes dropped). */
function documentedFields(): Map<string, string[]> {
  const start = README.indexOf("| output | fields |");
  expect(start, "README has the table of --json outputs").toBeGreaterThan(0);
  const rows = new Map<string, string[]>();
  for (const line of README.slice(start).split("\n").slice(2)) {
    if (!line.startsWith("|")) break;
    const [, label, fields] = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const names = [...(fields ?? "").replace(/\([^)]*\)/g, "").matchAll(/`([a-z0-9_]+)`/g)].map(
      (m) => m[1] as string,
    );
    rows.set((label ?? "").replace(/`/g, ""), names);
  }
  return rows;
}

describe("README documents every --json output, and the real output has exactly those fields", () => {
  const tmp = makeTempDir("lancedb-sync-readme-json-");
  const env = envFor(tmp.path);
  const cli = async (...args: string[]) => {
    const r = await runCli(args, { cwd: tmp.path, env });
    expect(r.json, show(r)).toBeTypeOf("object");
    return r.json as Record<string, unknown>;
  };
  const real = new Map<string, Set<string>>();
  const note = (label: string, value: unknown) => {
    const keys = real.get(label) ?? new Set<string>();
    for (const k of Object.keys(value as object)) keys.add(k);
    real.set(label, keys);
  };

  beforeAll(async () => {
    const docs = join(tmp.path, "docs");
    mkdirSync(docs);
    writeFileSync(join(docs, "a.md"), "# Alpha\n\nThe lighthouse keeper lights the lamp at dusk.\n");
    note("sync --json", await cli("sync", docs, "--user", "alice", "--json"));
    const status = await cli("status", "--json");
    note("status --json", status);
    for (const t of status.tables as object[]) note("status --json → tables[]", t);
    const search = await cli("search", "lighthouse", "--user", "alice", "--json");
    note("search --json", search);
    for (const h of search.hits as object[]) note("search --json → hits[]", h);
    note("search --json", await cli("search", "lighthouse", "--user", "nobody", "--json"));
    const compact = await cli("compact", "--json");
    note("compact --json", compact);
    for (const t of [...(compact.before as object[]), ...(compact.after as object[])])
      note("compact tables", t);
    const setup = await cli("setup", "--json");
    note("setup --json", setup);
    for (const c of setup.checks as object[]) note("setup --json → checks[]", c);
    note("sync --all --json", await cli("sync", "--all", "--json"));
    note("demo --json", await cli("demo", "--json"));
    note("reset --json", await cli("reset", "--yes", "--json"));
  }, 240_000);
  afterAll(() => tmp.cleanup());

  it("lists a row for every output the tests produce, with exactly the real fields", () => {
    const doc = documentedFields();
    for (const [label, keys] of real) {
      if (label === "compact tables") continue;
      expect(doc.has(label), `README has a row for ${label}`).toBe(true);
      expect([...keys].sort(), label).toEqual([...(doc.get(label) ?? [])].sort());
    }
    // compact's before/after lists are status's tables rows.
    expect([...(real.get("compact tables") ?? [])].sort()).toEqual(
      [...(doc.get("status --json → tables[]") ?? [])].sort(),
    );
  });

  it("keys are snake_case everywhere", () => {
    for (const [label, keys] of real) for (const k of keys) expect(k, label).toMatch(/^[a-z0-9_]+$/);
  });
});
