import { spawnSync } from "node:child_process";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, expectStoreMatchesFiles, listFiles, readTables, show } from "./support.js";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

/** A temp dir (canonical) with `notes` (3 files, one in a subfolder) and `papers` (2 files). */
function world() {
  const tmp = makeTempDir("lancedb-sync-roots-");
  temps.push(tmp);
  const base = realpathSync(tmp.path);
  const env = envFor(base);
  const notes = join(base, "notes");
  const papers = join(base, "papers");
  mkdirSync(join(notes, "sub"), { recursive: true });
  mkdirSync(papers);
  writeFileSync(join(notes, "one.md"), "# One\n\nThe lighthouse keeper counts the gulls.\n");
  writeFileSync(join(notes, "two.txt"), "Two: the orchard needs new fences.\n");
  writeFileSync(join(notes, "sub", "three.md"), "# Three\n\nTidal charts for the harbour.\n");
  writeFileSync(join(papers, "a.md"), "# Paper A\n\nOn the migration of eels.\n");
  writeFileSync(join(papers, "b.txt"), "Paper B: a survey of quarry stones.\n");
  const cli = (...args: string[]) => runCli(args, { cwd: base, env });
  const sync = (...args: string[]) => cli("sync", ...args, "--user", "alice", "--json");
  return { base, env, notes, papers, cli, sync };
}

describe("roots shared by two sources", () => {
  it("`sync notes` then `sync notes papers` is refused, naming the first source and both roots", async () => {
    const { env, notes, papers, cli, sync } = world();
    const first = await sync(notes);
    expect(first.code, show(first)).toBe(0);
    expect(first.json.added).toBe(3);
    const source = first.json.source as string;

    const both = await sync(notes, papers);
    expect(both.code, show(both)).toBe(1);
    expect(both.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(both.json.error.message).toContain(`source "${source}"`);
    expect(both.json.error.message).toContain(`root ${notes} is the same folder as root ${notes}`);

    // A folder inside, or one containing, the first source's root: refused too, with or without --source.
    for (const args of [[join(notes, "sub")], [notes, "--source", "other"], [join(notes, "..")]]) {
      const r = await sync(...args);
      expect(r.code, show(r)).toBe(1);
      expect(r.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
      expect(r.json.error.message).toContain(`source "${source}"`);
      expect(r.json.error.message).toContain(notes);
    }

    // papers alone does not overlap: a second source; no document is ever stored twice.
    const second = await sync(papers);
    expect(second.code, show(second)).toBe(0);
    expect(second.json.added).toBe(2);
    const { docs } = await readTables(env.LANCEDB_URI);
    expect(docs).toHaveLength(5);
    expect(new Set(docs.map((d) => d.item_key)).size).toBe(5);
    await expectStoreMatchesFiles(env, listFiles(notes), { userId: "alice", sourceId: source });
    const s = await cli("status", "--json");
    expect(s.json.sources).toHaveLength(2);
  });

  it("a symlinked or dotted spelling of the same folder syncs the same source, under canonical keys", async () => {
    const { base, env, notes, sync } = world();
    const first = await sync(notes);
    expect(first.code, show(first)).toBe(0);
    const source = first.json.source as string;
    const link = join(base, "link-to-notes");
    symlinkSync(notes, link);

    for (const spelling of [link, join(notes, "sub", ".."), `${notes}/`]) {
      const r = await sync(spelling);
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ source, added: 0, unchanged: 3, deleted: 0, moved: 0 });
    }
    // Naming the source along with a new spelling of its root keeps its keys.
    const byLink = await sync(link, "--source", source);
    expect(byLink.code, show(byLink)).toBe(0);
    await expectStoreMatchesFiles(env, listFiles(notes), { userId: "alice", sourceId: source });

    // A new source given through a symlink records (and keys by) the canonical path.
    const other = makeTempDir("lancedb-sync-roots-env-");
    temps.push(other);
    const env2 = envFor(other.path);
    const viaLink = await runCli(["sync", link, "--user", "bob", "--json"], { cwd: base, env: env2 });
    expect(viaLink.code, show(viaLink)).toBe(0);
    const { docs } = await readTables(env2.LANCEDB_URI);
    expect(docs.map((d) => d.item_key).sort()).toEqual(listFiles(notes));
  });
});

describe("failure lines", () => {
  it("name a file relative to its root: two bad.docx in different folders are told apart", async () => {
    const { notes, cli, sync } = world();
    for (const dir of ["a", "b"]) {
      mkdirSync(join(notes, dir));
      writeFileSync(join(notes, dir, "bad.docx"), "this is not a zip file at all");
    }
    const r = await sync(notes);
    expect(r.code, show(r)).toBe(2);
    const errors = (r.json.failures as Array<{ error: string }>).map((f) => f.error).sort();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^notes\/a\/bad\.docx: /);
    expect(errors[1]).toMatch(/^notes\/b\/bad\.docx: /);

    const human = await cli("sync", notes, "--user", "alice");
    expect(human.code, show(human)).toBe(2);
    const lines = human.stdout.split("\n").filter((l) => l.includes("failed: "));
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes("notes/a/bad.docx"))).toBe(true);
    expect(lines.some((l) => l.includes("notes/b/bad.docx"))).toBe(true);

    const s = await cli("status", "--json");
    const recorded = (s.json.failures as Array<{ error: string }>).map((f) => f.error).sort();
    expect(recorded[0]).toMatch(/^notes\/a\/bad\.docx: /);
    expect(recorded[1]).toMatch(/^notes\/b\/bad\.docx: /);
  });
});

describe("paths longer than PATH_MAX", () => {
  it("warn with a short message; the rest of the folder is synced", async () => {
    const { notes, sync } = world();
    const segment = "d".repeat(200);
    const script =
      'cd "$1" && i=0; while [ "$i" -lt 24 ]; do mkdir "$2" && cd -P "$2" || exit 1; i=$((i+1)); done; echo deep > deep.txt';
    try {
      const made = spawnSync("sh", ["-c", script, "sh", notes, segment]);
      expect(made.status, made.stderr.toString()).toBe(0);
      const r = await sync(notes);
      expect(r.code, show(r)).toBe(0);
      expect(r.json.added).toBe(3);
      const long = (r.json.warnings as string[]).filter((w) => w.includes("ENAMETOOLONG"));
      expect(long).toHaveLength(1);
      expect(long[0]?.length).toBeLessThan(400);
      expect(r.stdout.length).toBeLessThan(4000);
    } finally {
      spawnSync("rm", ["-rf", join(notes, segment)]);
    }
  });
});
