import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "../integration/support.js";

describe("sync --all: the re-index after reset --yes in one command", () => {
  const temps: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const t of temps.splice(0)) t.cleanup();
  });

  it("re-syncs every registered source of every user; one that fails does not stop the others", async () => {
    const tmp = makeTempDir("lancedb-sync-all-");
    temps.push(tmp);
    const env = envFor(tmp.path);
    const cli = (...args: string[]) => runCli(args, { cwd: tmp.path, env });
    const folders = ["alice-notes", "bob-notes", "gone"].map((n) => join(tmp.path, n));
    for (const [i, dir] of folders.entries()) {
      mkdirSync(dir);
      writeFileSync(join(dir, `n${i}.md`), `# Note ${i}\n\nThe harbour opens at dawn, day ${i}.\n`);
    }
    expect((await cli("sync", folders[0] as string, "--user", "alice")).code).toBe(0);
    expect((await cli("sync", folders[1] as string, "--user", "bob")).code).toBe(0);
    expect((await cli("sync", folders[2] as string, "--user", "bob", "--source", "gone")).code).toBe(0);
    expect((await cli("reset", "--yes")).code).toBe(0);
    mkdirSync(join(tmp.path, "moved"));
    const { renameSync } = await import("node:fs");
    renameSync(folders[2] as string, join(tmp.path, "moved", "gone"));

    const r = await cli("sync", "--all", "--json");
    expect(r.code, show(r)).toBe(1);
    expect(r.json.runs.map((x: { source: string; added: number }) => x.added)).toEqual([1, 1]);
    expect(r.json.errors).toEqual([
      expect.objectContaining({ user_id: "bob", source: "gone", code: "SYNC_E_SOURCE_UNAVAILABLE" }),
    ]);
    const status = await cli("status", "--json");
    expect(status.json.documents).toBe(2);

    const one = await cli("sync", "--all", "--user", "alice");
    expect(one.code, show(one)).toBe(0);
    expect(one.stdout).toContain("alice/");
    expect(one.stdout).not.toContain("bob/");
    expect(one.stdout).toContain("synced 1 source, 0 could not be synced");

    const noUser = await cli("sync", folders[0] as string);
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toContain("required option '-u, --user <id>' not specified (or --all");
  });
});
