import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  type CliEnv,
  envFor,
  expectStoreMatchesFiles,
  keyOf,
  listFiles,
  makeText,
  prng,
  readTables,
  show,
  writeCorpus,
} from "./support.js";

const USER = "alice";
const SOURCE = "notes";
const COUNT = 30;

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

/** A temp dir with a corpus of COUNT multi-chunk files, and helpers bound to it. */
function setup(seed: number) {
  const tmp = makeTempDir("lancedb-sync-drift-");
  temps.push(tmp);
  const docs = join(tmp.path, "docs");
  mkdirSync(docs);
  writeCorpus(docs, COUNT, seed);
  const env = envFor(tmp.path, { WRITE_BATCH_DOCS: "8" });
  const run = (args: string[], extra: Record<string, string> = {}) =>
    runCli(args, { cwd: tmp.path, env: { ...env, ...extra } });
  const sync = (extra: Record<string, string> = {}) =>
    run(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], extra);
  return { dir: tmp.path, docs, env, run, sync };
}

type Setup = ReturnType<typeof setup>;

/** The tables (at `env`) hold exactly the files of the corpus, with every chunk's text checked. */
async function expectConsistent(env: CliEnv, docs: string) {
  const files = listFiles(docs);
  const r = await expectStoreMatchesFiles(env, files, { userId: USER, sourceId: SOURCE });
  expect(r.chunks.length, "multi-chunk files").toBeGreaterThan(files.length);
  expect(r.textChecked).toBe(r.chunks.length);
  return r;
}

/** A search for the first sentence of `file` ranks a chunk of that file first. */
async function expectFound(s: Setup, file: string, extra: Record<string, string> = {}) {
  const text = readFileSync(file, "utf8").replace(/^# .*\n\n/, "");
  const sentence = text.slice(0, text.indexOf(".") + 1);
  const r = await s.run(["search", sentence, "--user", USER, "--json"], extra);
  expect(r.code, show(r)).toBe(0);
  expect(r.json.hits.length, `hits for "${sentence}"`).toBeGreaterThan(0);
  expect(r.json.hits[0].item_key).toBe(keyOf(file));
}

/** The store-drift warnings of a sync result. */
function storeWarnings(json: { warnings: string[] }): string[] {
  return json.warnings.filter((w) => w.startsWith("store "));
}

/** Sync 1 of the corpus: everything added, no repair, no store warning. */
async function firstSync(s: Setup) {
  const r = await s.sync();
  expect(r.code, show(r)).toBe(0);
  expect(r.json).toMatchObject({ added: COUNT, repaired: 0, failed: 0 });
  expect(storeWarnings(r.json)).toEqual([]);
  await expectConsistent(s.env, s.docs);
  return r;
}

/** `status --json` and its `store` field. */
async function storeStatus(s: Setup, extra: Record<string, string> = {}) {
  const r = await s.run(["status", "--json"], extra);
  expect(r.code, show(r)).toBe(0);
  return r.json.store as { state: string; detail: string | null };
}

/** Manifest names of a table, newest first (V2 names: the smallest is the newest). */
function manifests(uri: string, table: string): string[] {
  return readdirSync(join(uri, `${table}.lance`, "_versions"))
    .filter((n) => n.endsWith(".manifest"))
    .sort();
}

describe("a store that is not the one the journal's items were written to", () => {
  it("a. LANCEDB_URI deleted: status says so, the next sync re-processes every file", async () => {
    const s = setup(1);
    await firstSync(s);
    expect((await storeStatus(s)).state).toBe("ok");

    rmSync(s.env.LANCEDB_URI, { recursive: true, force: true });
    const st = await storeStatus(s);
    expect(st.state, JSON.stringify(st)).not.toBe("ok");
    expect(st.state).toMatch(/missing|replaced/);
    expect(st.detail).toBeTruthy();

    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ repaired: COUNT, added: 0, updated: 0, deleted: 0, failed: 0 });
    const w = storeWarnings(r.json);
    expect(w.length, JSON.stringify(r.json.warnings)).toBe(1);
    expect(w[0]).toMatch(/^store (missing|replaced):/);
    await expectConsistent(s.env, s.docs);
    expect((await storeStatus(s)).state).toBe("ok");
    await expectFound(s, listFiles(s.docs)[3] as string);

    // Repaired for good: the next run is a no-op.
    const again = await s.sync();
    expect(again.code, show(again)).toBe(0);
    expect(again.json).toMatchObject({ unchanged: COUNT, repaired: 0, embedded_chunks: 0 });
    expect(storeWarnings(again.json)).toEqual([]);
  });

  it("b. LANCEDB_URI changed to a new empty directory: the tables there are filled", async () => {
    const s = setup(2);
    await firstSync(s);
    const moved = { LANCEDB_URI: join(s.dir, "db2") };
    const st = await storeStatus(s, moved);
    expect(st.state).not.toBe("ok");

    const r = await s.sync(moved);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ repaired: COUNT, added: 0, updated: 0, deleted: 0, failed: 0 });
    expect(storeWarnings(r.json)[0]).toMatch(/^store (missing|replaced):/);
    await expectConsistent({ ...s.env, ...moved }, s.docs);
    await expectFound(s, listFiles(s.docs)[5] as string, moved);

    const again = await s.sync(moved);
    expect(again.json).toMatchObject({ unchanged: COUNT, repaired: 0, embedded_chunks: 0 });
    expect(storeWarnings(again.json)).toEqual([]);
  });

  it("c. table names changed: the new tables are filled", async () => {
    const s = setup(3);
    await firstSync(s);
    const renamed = { LANCEDB_TABLE_NAME: "docs_v2", LANCEDB_CHUNKS_TABLE_NAME: "chunks_v2" };
    expect((await storeStatus(s, renamed)).state).not.toBe("ok");

    const r = await s.sync(renamed);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ repaired: COUNT, added: 0, updated: 0, deleted: 0, failed: 0 });
    expect(storeWarnings(r.json)[0]).toMatch(/^store (missing|replaced):/);

    // readTables reads the default names: move the new tables under them (in a copy) to check them.
    const check = join(s.dir, "check");
    mkdirSync(check);
    cpSync(join(s.env.LANCEDB_URI, "docs_v2.lance"), join(check, "processed_documents.lance"), {
      recursive: true,
    });
    cpSync(join(s.env.LANCEDB_URI, "chunks_v2.lance"), join(check, "document_chunks.lance"), {
      recursive: true,
    });
    await expectConsistent({ ...s.env, LANCEDB_URI: check }, s.docs);
    await expectFound(s, listFiles(s.docs)[7] as string, renamed);
  });

  /**
   * Sync 1, copy of the db dir, changes (edits, additions, deletions as `deletions` says), sync 2, then the
   * copy put back in place of the db dir. Returns the changed files.
   */
  async function restoreOlderCopy(s: Setup, deletions: number) {
    await firstSync(s);
    const old = join(s.dir, "db-old");
    cpSync(s.env.LANCEDB_URI, old, { recursive: true });

    const files = listFiles(s.docs);
    const rand = prng(40);
    const edited = files.slice(0, 4);
    for (const f of edited) appendFileSync(f, `\n${makeText(rand, 1500, "edited")}`);
    const deleted = files.slice(4, 4 + deletions);
    for (const f of deleted) rmSync(f);
    const added = writeCorpus(join(s.docs, "added"), 5, 41, "added");
    const r2 = await s.sync();
    expect(r2.code, show(r2)).toBe(0);
    expect(r2.json).toMatchObject({ updated: edited.length, deleted: deleted.length, added: added.length });
    await expectConsistent(s.env, s.docs);

    rmSync(s.env.LANCEDB_URI, { recursive: true });
    renameSync(old, s.env.LANCEDB_URI);
    const st = await storeStatus(s);
    expect(st.state, JSON.stringify(st)).toMatch(/behind|replaced/);
    return { edited, deleted, added };
  }

  it("d. an older copy of the tables restored: behind, the files edited or added since are re-processed", async () => {
    const s = setup(4);
    const { edited, added } = await restoreOlderCopy(s, 0);
    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json.failed).toBe(0);
    expect(r.json.repaired).toBeGreaterThan(0);
    // The edited and the added files are what the old copy lacks.
    expect(r.json.repaired).toBe(edited.length + added.length);
    expect(storeWarnings(r.json)[0]).toMatch(/^store (behind|replaced):/);
    await expectConsistent(s.env, s.docs);
    await expectFound(s, added[2] as string);
    await expectFound(s, edited[1] as string);
  });

  it("d2. an older copy restored after files were deleted: their rows, back with the copy, go again", async () => {
    const s = setup(4);
    const { edited, deleted, added } = await restoreOlderCopy(s, 2);
    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json.failed).toBe(0);
    expect(r.json.repaired).toBe(edited.length + added.length);
    // The old copy holds rows of the files deleted since: the tables must hold the current files only.
    const t = await readTables(s.env.LANCEDB_URI);
    const deletedKeys = new Set(deleted.map(keyOf));
    expect(
      t.docs.filter((d) => deletedKeys.has(d.item_key)).map((d) => d.item_key),
      "document rows of files deleted before the restore",
    ).toEqual([]);
    await expectConsistent(s.env, s.docs);
  });

  it("e. the last LanceDB commits lost (newest manifests deleted): the next sync repairs", async () => {
    const s = setup(5);
    await firstSync(s);
    const before = manifests(s.env.LANCEDB_URI, "document_chunks");
    const added = writeCorpus(join(s.docs, "added"), 10, 51, "late");
    const r2 = await s.sync();
    expect(r2.code, show(r2)).toBe(0);
    expect(r2.json.added).toBe(added.length);

    const versions = join(s.env.LANCEDB_URI, "document_chunks.lance", "_versions");
    const after = manifests(s.env.LANCEDB_URI, "document_chunks");
    const newer = after.filter((m) => !before.includes(m));
    expect(newer.length, "commits of the second sync").toBeGreaterThan(0);
    expect(
      newer.every((m) => m < (before[0] as string)),
      "V2 names: newer sorts first",
    ).toBe(true);
    for (const m of newer) rmSync(join(versions, m));
    rmSync(join(versions, "latest_version_hint.json"), { force: true });
    // The chunks of the added files are gone from the table (their document rows are not).
    const t = await readTables(s.env.LANCEDB_URI);
    const addedKeys = new Set(added.map(keyOf));
    expect(t.chunks.filter((c) => addedKeys.has(c.item_key))).toEqual([]);
    expect((await storeStatus(s)).state).toBe("behind");

    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ repaired: added.length, added: 0, updated: 0, failed: 0 });
    expect(storeWarnings(r.json)[0]).toMatch(/^store behind:/);
    await expectConsistent(s.env, s.docs);
    await expectFound(s, added[4] as string);
  });

  it("f. control: a no-op sync right after a normal sync repairs nothing and warns of nothing", async () => {
    const s = setup(6);
    await firstSync(s);
    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({
      unchanged: COUNT,
      added: 0,
      updated: 0,
      deleted: 0,
      repaired: 0,
      embedded_chunks: 0,
    });
    expect(r.json.warnings).toEqual([]);
    expect((await storeStatus(s)).state).toBe("ok");
    await expectConsistent(s.env, s.docs);
  });
});
