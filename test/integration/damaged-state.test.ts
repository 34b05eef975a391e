import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, expectStoreMatchesFiles, keyOf, listFiles, show, writeCorpus } from "./support.js";

const USER = "alice";
const SOURCE = "notes";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

/** A corpus synced twice (so that older table versions exist), and helpers bound to it. */
async function setup(seed: number) {
  const tmp = makeTempDir("lancedb-sync-damage-");
  temps.push(tmp);
  const docs = join(tmp.path, "docs");
  mkdirSync(docs);
  writeCorpus(docs, 12, seed);
  // RUST_BACKTRACE=1 as many developer shells have it: the terminal must stay clean anyway.
  const env = envFor(tmp.path, { WRITE_BATCH_DOCS: "4", RUST_BACKTRACE: "1" });
  const run = (args: string[]) => runCli(args, { cwd: tmp.path, env });
  const sync = () => run(["sync", docs, "--user", USER, "--source", SOURCE, "--json"]);
  const first = await sync();
  expect(first.code, show(first)).toBe(0);
  writeCorpus(join(docs, "later"), 4, seed + 1, "later");
  const second = await sync();
  expect(second.code, show(second)).toBe(0);
  return { dir: tmp.path, docs, env, run, sync };
}

/** Overwrites `length` bytes of `file` at `offset` with 0xff. */
function scribble(file: string, offset: number, length: number): void {
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, Buffer.alloc(length, 0xff), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

/** The newest manifest of a table (V2 names: the smallest sorts first). */
function newestManifest(uri: string, table: string): string {
  const dir = join(uri, `${table}.lance`, "_versions");
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".manifest"))
    .sort();
  return join(dir, names[0] as string);
}

/** One clean line naming the code and the table; nothing from Rust. */
function expectCleanFailure(r: CliResult, code: string, ...mentions: string[]) {
  expect(r.code, show(r)).toBe(1);
  expect(r.stderr, show(r)).toMatch(new RegExp(`^lancedb-sync: ${code}: `));
  for (const m of mentions) expect(r.stderr).toContain(m);
  expect(r.stderr).not.toMatch(/cargo|panicked|stack backtrace|\.rs:\d+|Panic in async function/);
  expect(r.stderr.trim().split("\n"), "one line on stderr").toHaveLength(1);
}

describe("a damaged LanceDB table", () => {
  it("corrupt newest manifest: clear SYNC_E_STORE_DAMAGED, status says damaged, doctor --repair + sync restore it", async () => {
    const s = await setup(11);
    const manifest = newestManifest(s.env.LANCEDB_URI, "document_chunks");
    // Offset 0 holds a section length: LanceDB 0.31 panics in Rust on this one.
    scribble(manifest, 0, 64);

    const synced = await s.sync();
    expectCleanFailure(synced, "SYNC_E_STORE_DAMAGED", "document_chunks", manifest);
    expect(synced.json.error.code).toBe("SYNC_E_STORE_DAMAGED");
    const searched = await s.run(["search", "river stone", "--user", USER]);
    expectCleanFailure(searched, "SYNC_E_STORE_DAMAGED", "document_chunks");

    const status = await s.run(["status", "--json"]);
    expect(status.code, show(status)).toBe(0);
    expect(status.json.store.state).toBe("damaged");
    expect(status.json.store.detail).toContain("document_chunks");
    expect(status.stderr).not.toMatch(/cargo|panicked|stack backtrace/);

    const doctor = await s.run(["doctor", "--json"]);
    expect(doctor.code, show(doctor)).toBe(1);
    const byName = (r: CliResult, name: string) =>
      r.json.tables.find((t: { name: string }) => t.name === name);
    expect(byName(doctor, "document_chunks").ok).toBe(false);
    expect(byName(doctor, "document_chunks").problem).toContain(manifest);
    expect(byName(doctor, "processed_documents").ok).toBe(true);

    const repair = await s.run(["doctor", "--repair", "--json"]);
    expect(repair.code, show(repair)).toBe(0);
    expect(repair.json.repaired.map((x: { name: string }) => x.name)).toEqual(["document_chunks"]);
    expect(repair.json.tables.every((t: { ok: boolean }) => t.ok)).toBe(true);

    const after = await s.sync();
    expect(after.code, show(after)).toBe(0);
    expect(after.json.failed).toBe(0);
    await expectStoreMatchesFiles(s.env, listFiles(s.docs), { userId: USER, sourceId: SOURCE });
    const found = await s.run(["search", "river stone", "--user", USER, "--json"]);
    expect(found.code, show(found)).toBe(0);
    expect(found.json.hits.length).toBeGreaterThan(0);
    expect((await s.run(["doctor"])).code).toBe(0);
  });

  it("a data file deleted: the error names it, doctor --repair + sync restore the tables", async () => {
    const s = await setup(12);
    const dataDir = join(s.env.LANCEDB_URI, "document_chunks.lance", "data");
    const newest = readdirSync(dataDir)
      .map((n) => join(dataDir, n))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] as string;
    rmSync(newest);
    writeCorpus(join(s.docs, "more"), 2, 99, "more");

    const synced = await s.sync();
    expectCleanFailure(synced, "SYNC_E_STORE_DAMAGED", "document_chunks", newest);
    const searched = await s.run(["search", "river stone", "--user", USER, "--mode", "vector"]);
    expectCleanFailure(searched, "SYNC_E_STORE_DAMAGED", "document_chunks");
    const status = await s.run(["status", "--json"]);
    expect(status.code, show(status)).toBe(0);
    expect(status.json.store.state).toBe("damaged");

    const doctor = await s.run(["doctor"]);
    expect(doctor.code, show(doctor)).toBe(1);
    expect(doctor.stdout).toContain(newest);
    const repair = await s.run(["doctor", "--repair"]);
    expect(repair.code, show(repair)).toBe(0);
    const after = await s.sync();
    expect(after.code, show(after)).toBe(0);
    await expectStoreMatchesFiles(s.env, listFiles(s.docs), { userId: USER, sourceId: SOURCE });
  });
});

describe("a damaged journal", () => {
  it("pages overwritten: moved aside with a warning, status and search work, the next sync rebuilds it without embedding", async () => {
    const s = await setup(13);
    const path = s.env.STATE_DB_PATH;
    expect(existsSync(`${path}-wal`), "journal checkpointed at close").toBe(false);
    const size = statSync(path).size;
    // Garbage over everything but the header page.
    scribble(path, 4096, size - 4096);

    const status = await s.run(["status", "--json"]);
    expect(status.code, show(status)).toBe(0);
    expect(status.stderr).toContain(path);
    expect(status.stderr).toMatch(/damaged/);
    const aside = readdirSync(dirname(path)).filter((n) => n.startsWith("state.db.damaged-"));
    expect(aside.length, readdirSync(dirname(path)).join(", ")).toBeGreaterThan(0);

    const searched = await s.run(["search", "river stone", "--user", USER, "--json"]);
    expect(searched.code, show(searched)).toBe(0);
    expect(searched.json.hits.length).toBeGreaterThan(0);

    const synced = await s.sync();
    expect(synced.code, show(synced)).toBe(0);
    expect(synced.json).toMatchObject({ failed: 0, embedded_chunks: 0 });
    await expectStoreMatchesFiles(s.env, listFiles(s.docs), { userId: USER, sourceId: SOURCE });
  });
});

describe("reads never write", () => {
  /** Manifest names of both tables: any commit adds one. */
  const manifests = (uri: string) =>
    ["processed_documents", "document_chunks"].flatMap((t) =>
      readdirSync(join(uri, `${t}.lance`, "_versions")).filter((n) => n.endsWith(".manifest")),
    );

  it("searches of every mode leave the table versions alone and need no writer lock", async () => {
    const s = await setup(14);
    const before = manifests(s.env.LANCEDB_URI).sort();
    // Another host holds the writer lock for an hour: a search that wanted it would fail (LOCK_WAIT_SECONDS=1).
    const db = new Database(s.env.STATE_DB_PATH);
    db.prepare(
      `INSERT INTO leases (name, owner, purpose, pid, host, acquired_at, expires_at)
       VALUES ('store-writer', 'someone', 'compact', 1, 'otherhost/pid:[1]', ?, ?)`,
    ).run(new Date().toISOString(), Date.now() + 3_600_000);
    db.close();
    for (const mode of ["hybrid", "fts", "vector"]) {
      const r = await runCli(["search", "river stone lantern", "--user", USER, "--mode", mode, "--json"], {
        cwd: s.dir,
        env: { ...s.env, LOCK_WAIT_SECONDS: "1" },
      });
      expect(r.code, `${mode}: ${show(r)}`).toBe(0);
      expect(r.json.hits.length, mode).toBeGreaterThan(0);
    }
    expect(manifests(s.env.LANCEDB_URI).sort(), "no commit").toEqual(before);
  });

  it("a multi-word full-text query finds a document synced after the index was built", async () => {
    const s = await setup(15);
    const first = await s.run(["search", "river stone", "--user", USER, "--mode", "fts", "--json"]);
    expect(first.code, show(first)).toBe(0);
    const phrase = "copper meadow harbor signal ledger compass thunder willow";
    const file = join(s.docs, "late-arrival.txt");
    writeFileSync(file, `${Array.from({ length: 12 }, () => phrase).join(". ")}.\n`);
    const synced = await s.sync();
    expect(synced.code, show(synced)).toBe(0);
    expect(synced.json.added).toBe(1);
    const r = await s.run(["search", phrase, "--user", USER, "--mode", "fts", "--json"]);
    expect(r.code, show(r)).toBe(0);
    expect(
      r.json.hits[0]?.item_key,
      JSON.stringify(r.json.hits.map((h: { item_key: string }) => h.item_key)),
    ).toBe(keyOf(file));
  });
});
