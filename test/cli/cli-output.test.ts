import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "../integration/support.js";

describe("what the CLI prints for people", () => {
  const temps: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const t of temps.splice(0)) t.cleanup();
  });

  it("singular counts read as such; compact explains versions that do not go down; ingest names a missing file once", async () => {
    const tmp = makeTempDir("lancedb-sync-output-");
    temps.push(tmp);
    const env = envFor(tmp.path);
    const cli = (...args: string[]) => runCli(args, { cwd: tmp.path, env });
    const docs = join(tmp.path, "docs");
    mkdirSync(docs);
    writeFileSync(join(docs, "one.md"), "# One\n\nA single short note about the harbour.\n");
    const sync = await cli("sync", docs, "--user", "alice");
    expect(sync.stdout, show(sync)).toContain("embedded 1 chunk (0 reused)");
    const list = await cli("documents", "list", "--user", "alice");
    expect(list.stdout).toContain("(1 chunk) One");

    const compact = await cli("compact");
    expect(compact.code, show(compact)).toBe(0);
    expect(compact.stdout).toMatch(/document_chunks: \d+ -> \d+ versions?, \d+ -> 1 fragment, 1 row\n/);
    expect(compact.stdout).toContain("versions did not go down: compaction commits new versions of its own");
    expect(compact.stdout).toContain("24 h");
    const zero = await cli("compact", "--retention-hours", "0");
    expect(zero.stdout, show(zero)).not.toContain("did not go down");

    const missing = join(tmp.path, "nope.pdf");
    const ingest = await cli("ingest", missing, "--user", "alice");
    expect(ingest.code).toBe(1);
    expect(ingest.stderr).toBe(`lancedb-sync: SYNC_E_READ_FAILED: ${missing} does not exist\n`);
  });
});
