import { spawnSync } from "node:child_process";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "./support.js";

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
